#include "event/member_table.h"

#include <gtest/gtest.h>

#include <string>

#include "event/event_parser.h"

namespace llmcost {
namespace {

TEST(MemberTable, FindsEachNameOnceAndNothingElse) {
  MemberTable t;
  const int model = t.Add("model");
  const int usage = t.Add("usage");
  EXPECT_EQ(t.Add("model"), model);  // a name added twice keeps its slot
  EXPECT_EQ(t.Add(""), 2);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Lookup("model"), model);
  EXPECT_EQ(t.Lookup("usage"), usage);
  EXPECT_EQ(t.Lookup(""), 2);
  for (const char* other : {"mode", "models", "Model", "model\n", "usag", "modal", "mxxxl"}) {
    EXPECT_EQ(t.Lookup(other), MemberTable::kNone) << other;
  }
  // A copy (the parser is copied into the pipeline) finds the same names.
  const MemberTable copy = t;
  EXPECT_EQ(copy.Lookup("usage"), usage);
  EXPECT_EQ(copy.Lookup("model"), model);
}

// Hash flooding (docs/reliability.md): a sender's member name is compared with the
// names of one bucket only, and only the parser's own names are in buckets, so the
// bound is a property of the configuration, not of the body.
TEST(MemberTable, ParserLookupsCompareWithAFewNamesWhateverTheSenderSends) {
  const EventParser parser({"feature", "tenant", "route", "user", "team", "project", "environment"});
  EXPECT_GE(parser.members().size(), 40u);
  EXPECT_LE(parser.members().LongestBucket(), 3u);
}

TEST(MemberTable, CollidingUnknownNamesAreSkippedAndTheLastRepeatWins) {
  // 20,000 names with the length and first and last byte of "model" (one bucket),
  // then "model" twice: the second is the one read.
  std::string body = "{";
  for (int i = 0; i < 20000; ++i) {
    char name[6] = {'m', char('a' + i % 26), char('a' + i / 26 % 26), char('a' + i / 676 % 26), 'l', 0};
    if (std::string_view(name) == "model") name[1] = 'z';
    body += "\"" + std::string(name) + "\":" + std::to_string(i) + ",";
  }
  body += R"("model":"first","usage":{"input_tokens":5},"model":"second"})";
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(body, error);
  ASSERT_TRUE(v) << error;
  const EventParser parser({"tenant"});
  const auto r = parser.Parse(*v, 0);
  ASSERT_TRUE(std::holds_alternative<UsageEvent>(r));
  EXPECT_EQ(std::get<UsageEvent>(r).model_id, "second");
  EXPECT_EQ(std::get<UsageEvent>(r).tokens[TokenType::kInput], 5u);
}

}  // namespace
}  // namespace llmcost
