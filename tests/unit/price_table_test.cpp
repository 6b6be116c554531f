#include "pricing/price_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace llmcost {
namespace {

const char* kMinimal = R"(
as_of: "2026-01-02"
source: test
models:
  - model: m-one
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1.25", cache_write_1h: "2", cache_read: "0.1", output: "5"}
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

void ExpectError(const std::string& yaml, const std::string& needle) {
  try {
    PriceTable::Parse(yaml, "prices.yml");
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const PriceTableError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PriceTable, LoadsAndReportsAsOf) {
  const auto t = PriceTable::Parse(kMinimal);
  EXPECT_EQ(t->size(), 1u);
  EXPECT_EQ(t->as_of(), "2026-01-02");
  EXPECT_EQ(t->as_of_unix_seconds(), 1767312000);  // 2026-01-02T00:00:00Z
  ASSERT_NE(t->Find("anthropic", "m-one"), nullptr);
  EXPECT_EQ(t->Find("anthropic", "m-one")->Latest().rates[TokenType::kCacheRead], 100'000);
  EXPECT_EQ(t->batch_factor(), 500'000);
}

TEST(PriceTable, RejectsBadFilesWithTheFieldAtFault) {
  ExpectError("[1, 2", "yaml");
  ExpectError(Replace(kMinimal, "output: \"5\"", "output: \"-5\""), "usd_per_mtok.output");
  ExpectError(Replace(kMinimal, "output: \"5\"", "ouput: \"5\""), "unknown key 'ouput'");
  ExpectError(Replace(kMinimal, "cache_read: \"0.1\", ", ""), "cache_read");
  ExpectError(Replace(kMinimal, "as_of: \"2026-01-02\"\nsource", "as_of: \"yesterday\"\nsource"), "YYYY-MM-DD");
  ExpectError(Replace(kMinimal, "model: m-one", "model: m-one-20250101"), "canonical");
  ExpectError(std::string(kMinimal) + "aliases: {m-two: m-nothing}\n", "has no price");
  ExpectError(std::string(kMinimal) + R"(  - model: m-one
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1", cache_write_1h: "1", cache_read: "1", output: "1"}
)",
              "duplicate");
  ExpectError("as_of: \"2026-01-02\"\nsource: x\nmodels: []\n", "non-empty");
  // 100,000,000,110 USD per 1000 searches is 1e17 micro-USD: x1000 would overflow.
  ExpectError(std::string(kMinimal) + "web_search_usd_per_1000: \"100000000110\"\n", "web_search_usd_per_1000");
  EXPECT_THROW(PriceTable::LoadFile("/nonexistent/prices.yml"), PriceTableError);
  // Dated changes: in order, each naming a date and a source, each changing something.
  const std::string change = "    changes:\n      - from: \"2026-10-07\"\n        source: s\n        fast_factor: \"2\"\n";
  ExpectError(std::string(kMinimal) + change + "      - from: \"2026-10-01\"\n        source: s\n        fast_factor: none\n",
              "models[0] (m-one).changes[1].from: '2026-10-01' is not after");
  ExpectError(std::string(kMinimal) + "    changes:\n      - from: \"2026-10-07\"\n        source: s\n",
              "changes[0]: a change must set at least one rate or factor");
  ExpectError(std::string(kMinimal) + "    changes:\n      - from: \"next week\"\n        source: s\n        fast_factor: \"2\"\n",
              "changes[0].from");
  ExpectError(std::string(kMinimal) +
                  "    prompt_tiers:\n      - above_prompt_tokens: 200\n        usd_per_mtok: {input: \"1\", "
                  "cache_write_5m: \"1\", cache_write_1h: \"1\", cache_read: \"1\", output: \"1\"}\n"
                  "      - above_prompt_tokens: 100\n        usd_per_mtok: {input: \"1\", cache_write_5m: \"1\", "
                  "cache_write_1h: \"1\", cache_read: \"1\", output: \"1\"}\n",
              "prompt_tiers[1].above_prompt_tokens: tiers must be in ascending order");
}

TEST(PriceTable, DatedChangesApplyFromTheirDateAndInheritTheRest) {
  const auto t = PriceTable::Parse(std::string(kMinimal) +
                                   "    fast_factor: \"2\"\n    changes:\n      - from: \"2026-10-07\"\n"
                                   "        source: cut\n        usd_per_mtok: {input: \"1\", cache_write_5m: "
                                   "\"1.25\", cache_write_1h: \"2\", cache_read: \"0.05\", output: \"5\"}\n"
                                   "      - from: \"2026-11-30\"\n        source: gone\n        fast_factor: none\n");
  const ModelPrice* m = t->Find("anthropic", "m-one");
  ASSERT_NE(m, nullptr);
  const std::int64_t oct7 = 1791331200;  // 2026-10-07T00:00:00Z
  EXPECT_EQ(m->At(oct7 - 1).rates[TokenType::kCacheRead], 100'000);
  EXPECT_EQ(m->At(oct7).rates[TokenType::kCacheRead], 50'000);
  EXPECT_EQ(m->At(oct7).fast_factor, 2'000'000);  // inherited
  EXPECT_FALSE(m->At(oct7 + 54 * 86400).fast_factor);  // removed 2026-11-30
  EXPECT_EQ(m->At(oct7 + 54 * 86400).rates[TokenType::kCacheRead], 50'000);
  EXPECT_EQ(t->rate_changes(), 2u);
}

TEST(PriceTable, EmbeddedTableIsTheShippedFile) {
  const auto embedded = PriceTable::Embedded();
  const auto file = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  EXPECT_EQ(embedded->origin(), "embedded");
  EXPECT_EQ(embedded->size(), file->size());
  EXPECT_EQ(embedded->as_of(), file->as_of());
  std::ifstream in(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(PriceTable::EmbeddedText(), text) << "the build embeds the file byte for byte";
}

TEST(PriceTable, ShippedFileLoadsWithEveryEntryDatedAndSourced) {
  const auto t = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  EXPECT_GE(t->size(), 17u);
  EXPECT_EQ(t->web_search_per_request(), 10'000'000'000);  // $0.01 in pUSD
  for (const char* m : {"claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5",
                        "claude-opus-5-5", "claude-sonnet-5", "claude-sonnet-5-5"}) {
    const ModelPrice* p = t->Find("anthropic", m);
    ASSERT_NE(p, nullptr) << m;
    EXPECT_EQ(p->Latest().us_inference_factor, 1'100'000) << m;
    EXPECT_FALSE(p->source.empty());
    EXPECT_FALSE(p->as_of.empty());
  }
  EXPECT_FALSE(t->Find("anthropic", "claude-sonnet-4-5")->Latest().us_inference_factor);
  EXPECT_FALSE(t->Find("anthropic", "claude-opus-4-6")->Latest().fast_factor);  // fast no longer exists
  EXPECT_EQ(t->Find("anthropic", "claude-opus-5-5")->Latest().fast_factor, 2'000'000);
  EXPECT_EQ(t->Find("anthropic", "claude-sonnet-4-5")->Latest().prompt_tiers.size(), 1u);
  EXPECT_EQ(t->Find("anthropic", "claude-sonnet-4")->Latest().prompt_tiers.size(), 1u);
  EXPECT_TRUE(t->Find("anthropic", "claude-sonnet-4-6")->Latest().prompt_tiers.empty());
  EXPECT_EQ(t->Find("anthropic", "claude-haiku-5-5")->Latest().prompt_tiers.at(0).above_prompt_tokens, 100'000u);
  for (const char* m : {"claude-opus-4-1", "claude-opus-4", "claude-3-opus", "claude-sonnet-4-5"}) {
    EXPECT_FALSE(t->Find("anthropic", m)->retired.empty()) << m << " is retired on the first-party API";
  }
  EXPECT_EQ(t->Find("anthropic", "claude-mythos-5-2"), nullptr) << "no published price: must stay unpriced";
}

}  // namespace
}  // namespace llmcost
