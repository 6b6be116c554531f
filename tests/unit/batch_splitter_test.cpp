#include "event/batch_splitter.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <tuple>

namespace llmcost {
namespace {

// Splits into a batch that lives as long as the test, and reads every item.
const std::vector<BatchItem>& Split(std::string_view body) {
  static std::deque<std::pair<std::string, EventBatch>> batches;
  static std::deque<std::vector<BatchItem>> items;
  auto& [text, batch] = batches.emplace_back(std::piecewise_construct, std::forward_as_tuple(body), std::forward_as_tuple());
  SplitBatch(text, batch);
  auto& out = items.emplace_back();
  for (std::size_t i = 0; i < batch.size(); ++i) out.push_back(batch.Item(i));
  return out;
}

const EventError* ErrorAt(const std::vector<BatchItem>& items, std::size_t i) {
  return std::get_if<EventError>(&items.at(i));
}

std::string_view Model(const std::vector<BatchItem>& items, std::size_t i) {
  return std::get<JsonValue>(items.at(i)).Find("model")->text();
}

TEST(BatchSplitter, OneObjectEvenPrettyPrinted) {
  const auto& one = Split("{\"model\": \"m\"}");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(Model(one, 0), "m");
  const auto& pretty = Split("{\n  \"model\": \"m\",\n  \"usage\": {\"input_tokens\": 1}\n}\n");
  ASSERT_EQ(pretty.size(), 1u);
  EXPECT_EQ(std::get<JsonValue>(pretty[0]).Find("usage")->Find("input_tokens")->as_unsigned(), 1u);
}

TEST(BatchSplitter, ArrayKeepsEveryElementInOrder) {
  const auto& items = Split(R"([{"model":"a"}, 5, {"model":"b"}])");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(Model(items, 0), "a");
  EXPECT_TRUE(std::get<JsonValue>(items[1]).is_number());  // the parser refuses it, not the splitter
  EXPECT_EQ(Model(items, 2), "b");
}

TEST(BatchSplitter, NdjsonKeepsGoodLinesAndIndexesBadOnes) {
  const auto& items = Split("{\"model\":\"a\"}\n\n{\"model\":\"b\"\n{\"model\":\"c\"}\r\n");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(Model(items, 0), "a");
  ASSERT_NE(ErrorAt(items, 1), nullptr);
  EXPECT_EQ(ErrorAt(items, 1)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(items, 1)->index, 1u);
  EXPECT_EQ(Model(items, 2), "c");
}

TEST(BatchSplitter, BadBodiesGetAReason) {
  EXPECT_EQ(ErrorAt(Split(""), 0)->reason, RejectReason::kEmpty);
  EXPECT_EQ(ErrorAt(Split(" \n\t "), 0)->reason, RejectReason::kEmpty);
  EXPECT_EQ(ErrorAt(Split("{\"model\":"), 0)->reason, RejectReason::kMalformedJson);  // truncated
  EXPECT_EQ(ErrorAt(Split("[{\"model\":\"a\"},"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(Split("{\"latency_ms\": NaN}"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(Split("{\"latency_ms\": Infinity}"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(Split("\xff\xfe"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(Split(std::string("{\"model\":\"a\0\"}", 14)), 0)->reason, RejectReason::kMalformedJson);
}

}  // namespace
}  // namespace llmcost
