// Expected costs are computed here from the per-million rates in
// shared/design/pricing-facts.md, independently of the shipped price file.
#include "pricing/pricer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace llmcost {
namespace {

struct Rates {
  long double input, write_5m, write_1h, read, output;  // USD per million tokens
};

struct ModelCase {
  const char* model;
  Rates rates;
};

// The literal table of pricing-facts.md (and the Sonnet 5.5 model page).
const ModelCase kShipped[] = {
    {"claude-opus-4-8", {5, 6.25, 10, 0.50, 25}},     {"claude-opus-4-7", {5, 6.25, 10, 0.50, 25}},
    {"claude-opus-4-6", {5, 6.25, 10, 0.50, 25}},     {"claude-opus-4-5", {5, 6.25, 10, 0.50, 25}},
    {"claude-opus-4-1", {15, 18.75, 30, 1.50, 75}},   {"claude-opus-4", {15, 18.75, 30, 1.50, 75}},
    {"claude-sonnet-4-6", {3, 3.75, 6, 0.30, 15}},    {"claude-sonnet-4-5", {3, 3.75, 6, 0.30, 15}},
    {"claude-sonnet-4", {3, 3.75, 6, 0.30, 15}},      {"claude-3-7-sonnet", {3, 3.75, 6, 0.30, 15}},
    {"claude-haiku-4-5", {1, 1.25, 2, 0.10, 5}},      {"claude-3-5-haiku", {0.80, 1, 1.60, 0.08, 4}},
    {"claude-3-haiku", {0.25, 0.30, 0.50, 0.03, 1.25}}, {"claude-opus-5", {5, 6.25, 10, 0.50, 25}},
    {"claude-opus-5-5", {4, 5, 8, 0.20, 20}},         {"claude-sonnet-5", {2, 2.50, 4, 0.20, 10}},
    {"claude-sonnet-5-5", {2, 2.50, 4, 0.10, 10}},   // reads 0.10 since 2026-10-07
    {"claude-3-opus", {15, 18.75, 30, 1.50, 75}},     {"claude-3-5-sonnet", {3, 3.75, 6, 0.30, 15}},
    {"claude-fable-5-1", {10, 12.50, 20, 0.25, 50}},  {"claude-mythos-5-1", {10, 12.50, 20, 0.25, 50}},
    {"claude-fable-5", {10, 12.50, 20, 1, 50}},       {"claude-mythos-5", {10, 12.50, 20, 1, 50}},
};
// Tested in pricing_rules_test.cpp: Claude Fable 5.2 (only input and output are
// published) and Haiku 5.5 (two prompt-length tiers).
constexpr std::size_t kInputOutputOnly = 2;

const PriceTable& Table() {
  static const auto table = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return *table;
}

UsageEvent Event(const std::string& model, std::uint64_t in, std::uint64_t out, std::uint64_t read,
                 std::uint64_t w5, std::uint64_t w1h) {
  UsageEvent e;
  e.model_id = model;
  e.tokens[TokenType::kInput] = in;
  e.tokens[TokenType::kOutput] = out;
  e.tokens[TokenType::kCacheRead] = read;
  e.tokens[TokenType::kCacheWrite5m] = w5;
  e.tokens[TokenType::kCacheWrite1h] = w1h;
  return e;
}

long double Usd(std::uint64_t tokens, long double per_million) { return tokens * per_million / 1e6L; }

void ExpectUsd(PicoUsd actual, long double expected, const std::string& what) {
  EXPECT_NEAR(static_cast<long double>(actual) / 1e12L, expected, 1e-12L) << what;
}

TEST(Pricer, EveryShippedModelPricesAllFourTokenKindsFromItsLiteralRates) {
  EXPECT_EQ(Table().size(), std::size(kShipped) + kInputOutputOnly) << "a model was added to or removed from prices.yml without a test";
  for (const auto& m : kShipped) {
    SCOPED_TRACE(m.model);
    const auto e = Event(m.model, 12'345, 6'789, 98'765, 4'321, 1'234);
    const RequestCost c = PriceRequest(e, Table());
    ASSERT_TRUE(c.billed);
    EXPECT_EQ(c.unpriced, UnpricedReason::kNone);
    ExpectUsd(c[CostType::kInput], Usd(12'345, m.rates.input), "input");
    ExpectUsd(c[CostType::kOutput], Usd(6'789, m.rates.output), "output");
    ExpectUsd(c[CostType::kCacheRead], Usd(98'765, m.rates.read), "cache_read");
    ExpectUsd(c[CostType::kCacheWrite5m], Usd(4'321, m.rates.write_5m), "cache_write_5m");
    ExpectUsd(c[CostType::kCacheWrite1h], Usd(1'234, m.rates.write_1h), "cache_write_1h");
    const long double total = Usd(12'345, m.rates.input) + Usd(6'789, m.rates.output) + Usd(98'765, m.rates.read) +
                              Usd(4'321, m.rates.write_5m) + Usd(1'234, m.rates.write_1h);
    ExpectUsd(c.Total(), total, "total");
    // Savings: reads at the fresh rate minus what they cost; premium: writes above fresh.
    ExpectUsd(c.cache_savings, Usd(98'765, m.rates.input - m.rates.read), "savings");
    ExpectUsd(c.cache_write_premium,
              Usd(4'321, m.rates.write_5m - m.rates.input) + Usd(1'234, m.rates.write_1h - m.rates.input), "premium");
  }
}

TEST(Pricer, InputTokensAreNeverReducedByCacheTokens) {
  // Anthropic's input_tokens already excludes cache reads and writes.
  const RequestCost c = PriceRequest(Event("claude-sonnet-4-5", 1'000, 0, 50'000, 2'000, 0), Table());
  ExpectUsd(c[CostType::kInput], Usd(1'000, 3), "input stays 1000 tokens");
  ExpectUsd(c.Total(), Usd(1'000, 3) + Usd(50'000, 0.30) + Usd(2'000, 3.75), "total");
}

TEST(Pricer, BatchIsHalfOfEveryTokenRateIncludingCache) {
  for (const auto& m : kShipped) {
    SCOPED_TRACE(m.model);
    auto e = Event(m.model, 10'000, 2'000, 30'000, 4'000, 5'000);
    e.tier = ServiceTier::kBatch;
    const RequestCost c = PriceRequest(e, Table());
    const long double expected = (Usd(10'000, m.rates.input) + Usd(2'000, m.rates.output) +
                                  Usd(30'000, m.rates.read) + Usd(4'000, m.rates.write_5m) +
                                  Usd(5'000, m.rates.write_1h)) / 2;
    ExpectUsd(c.Total(), expected, "batch total");
  }
}

TEST(Pricer, LongContextSwitchesTheWholeRequestAbove200kTotalInput) {
  // Sonnet 4.5: 200,000 total input (fresh + reads + writes) is standard...
  auto at = Event("claude-sonnet-4-5", 150'000, 1'000, 40'000, 10'000, 0);
  ASSERT_EQ(at.tokens.TotalInput(), 200'000u);
  const RequestCost standard = PriceRequest(at, Table());
  EXPECT_FALSE(standard.long_context);
  ExpectUsd(standard.Total(), Usd(150'000, 3) + Usd(1'000, 15) + Usd(40'000, 0.30) + Usd(10'000, 3.75), "at 200k");
  // ...200,001 moves every token, output included, to 6 / 22.50 / 7.50 / 12 / 0.60.
  auto above = Event("claude-sonnet-4-5", 150'001, 1'000, 40'000, 10'000, 0);
  const RequestCost lc = PriceRequest(above, Table());
  EXPECT_TRUE(lc.long_context);
  ExpectUsd(lc.Total(), Usd(150'001, 6) + Usd(1'000, 22.50) + Usd(40'000, 0.60) + Usd(10'000, 7.50), "above 200k");
  // The cache counts toward the threshold even when fresh input is small.
  auto cached = Event("claude-sonnet-4", 10, 100, 250'000, 0, 1'000);
  const RequestCost c2 = PriceRequest(cached, Table());
  EXPECT_TRUE(c2.long_context);
  ExpectUsd(c2.Total(), Usd(10, 6) + Usd(100, 22.50) + Usd(250'000, 0.60) + Usd(1'000, 12), "cache-driven");
  // Batch stacks on long context.
  above.tier = ServiceTier::kBatch;
  ExpectUsd(PriceRequest(above, Table()).Total(),
            (Usd(150'001, 6) + Usd(1'000, 22.50) + Usd(40'000, 0.60) + Usd(10'000, 7.50)) / 2, "batch + lc");
  // Models without a premium price 1M tokens at the base rate.
  const RequestCost no_lc = PriceRequest(Event("claude-sonnet-4-6", 900'000, 0, 0, 0, 0), Table());
  EXPECT_FALSE(no_lc.long_context);
  ExpectUsd(no_lc.Total(), Usd(900'000, 3), "sonnet 4.6 has no premium");
}

TEST(Pricer, OneHourWritesCostTwiceBaseAndFiveMinuteWrites125) {
  const RequestCost w5 = PriceRequest(Event("claude-opus-4-6", 0, 0, 0, 1'000'000, 0), Table());
  const RequestCost w1h = PriceRequest(Event("claude-opus-4-6", 0, 0, 0, 0, 1'000'000), Table());
  ExpectUsd(w5.Total(), 6.25L, "5m");
  ExpectUsd(w1h.Total(), 10.0L, "1h");
}

TEST(Pricer, WebSearchIsTenDollarsPerThousandWithoutTokenMultipliers) {
  auto e = Event("claude-sonnet-4-5", 1'000, 0, 0, 0, 0);
  e.web_search_requests = 7;
  RequestCost c = PriceRequest(e, Table());
  ExpectUsd(c[CostType::kWebSearch], 7 * 10.0L / 1000, "web search");
  e.tier = ServiceTier::kBatch;
  c = PriceRequest(e, Table());
  ExpectUsd(c[CostType::kWebSearch], 7 * 10.0L / 1000, "web search, batch");
  ExpectUsd(c[CostType::kInput], Usd(1'000, 1.5), "input, batch");
}

TEST(Pricer, UsOnlyInferenceIsTenPercentMoreOnEveryTokenTypeWhereOffered) {
  auto e = Event("claude-opus-4-6", 1'000, 2'000, 3'000, 4'000, 5'000);
  e.us_only_inference = true;
  const RequestCost c = PriceRequest(e, Table());
  ExpectUsd(c.Total(), 1.1L * (Usd(1'000, 5) + Usd(2'000, 25) + Usd(3'000, 0.5) + Usd(4'000, 6.25) + Usd(5'000, 10)),
            "us x1.1");
  // A model without the option reporting it is not priced by guess.
  auto older = Event("claude-sonnet-4-5", 1'000, 0, 0, 0, 0);
  older.us_only_inference = true;
  const RequestCost u = PriceRequest(older, Table());
  EXPECT_FALSE(u.billed);
  EXPECT_EQ(u.unpriced, UnpricedReason::kUnsupportedOption);
}

TEST(Pricer, FastModeStacksWithCacheAndResidencyButNotBatch) {
  // Opus 5.5 fast: $8/$40 = 2x; cache rates move with it (2 x 0.20 read, 2 x 5 write).
  auto e = Event("claude-opus-5-5", 1'000, 1'000, 10'000, 2'000, 0);
  e.speed = Speed::kFast;
  ExpectUsd(PriceRequest(e, Table()).Total(), Usd(1'000, 8) + Usd(1'000, 40) + Usd(10'000, 0.40) + Usd(2'000, 10),
            "fast");
  e.us_only_inference = true;
  ExpectUsd(PriceRequest(e, Table()).Total(),
            1.1L * (Usd(1'000, 8) + Usd(1'000, 40) + Usd(10'000, 0.40) + Usd(2'000, 10)), "fast + us");
  // Opus 5 (research preview) $10/$50; Fable 5.2 2x of $8/$40.
  auto o5 = Event("claude-opus-5", 1'000, 1'000, 0, 0, 0);
  o5.speed = Speed::kFast;
  ExpectUsd(PriceRequest(o5, Table()).Total(), Usd(1'000, 10) + Usd(1'000, 50), "opus 5 fast");
  auto f52 = Event("claude-fable-5-2", 1'000, 1'000, 0, 0, 0);
  f52.speed = Speed::kFast;
  ExpectUsd(PriceRequest(f52, Table()).Total(), Usd(1'000, 16) + Usd(1'000, 80), "fable 5.2 fast");
  // Opus 4.6 and 4.7 have no fast mode: not priced as standard, not guessed.
  for (const char* m : {"claude-opus-4-6", "claude-opus-4-7"}) {
    auto none = Event(m, 1'000, 1'000, 0, 0, 0);
    none.speed = Speed::kFast;
    EXPECT_EQ(PriceRequest(none, Table()).unpriced, UnpricedReason::kUnsupportedOption) << m;
  }
  e.tier = ServiceTier::kBatch;
  EXPECT_EQ(PriceRequest(e, Table()).unpriced, UnpricedReason::kUnsupportedOption);
  auto other = Event("claude-haiku-4-5", 1'000, 0, 0, 0, 0);
  other.speed = Speed::kFast;
  EXPECT_EQ(PriceRequest(other, Table()).unpriced, UnpricedReason::kUnsupportedOption);
}

TEST(Pricer, UnknownModelAndPriorityTierAreNeverGuessed) {
  // Looks like a model, is not in the table: never priced as a neighbour.
  for (const char* id : {"claude-mythos-5-2", "claude-opus-5-6", "claude-sonnet-5-5-1", "claude-haiku-5"}) {
    const RequestCost unknown = PriceRequest(Event(id, 1'000, 1'000, 0, 0, 0), Table());
    EXPECT_FALSE(unknown.billed) << id;
    EXPECT_EQ(unknown.unpriced, UnpricedReason::kUnknownModel) << id;
    EXPECT_EQ(unknown.Total(), 0) << id;
    EXPECT_EQ(unknown.model, id);
  }
  auto priority = Event("claude-sonnet-4-5", 1'000, 1'000, 0, 0, 0);
  priority.tier = ServiceTier::kPriority;
  const RequestCost p = PriceRequest(priority, Table());
  EXPECT_FALSE(p.billed);
  EXPECT_EQ(p.unpriced, UnpricedReason::kNoTierPrice);
  // Another provider's model of the same name is not priced as Anthropic's.
  auto other = Event("claude-sonnet-4-5", 1'000, 0, 0, 0, 0);
  other.provider = "openai";
  EXPECT_EQ(PriceRequest(other, Table()).unpriced, UnpricedReason::kUnknownModel);
}

TEST(Pricer, ClientCostWinsAndFailedRequestsAreNotBilled) {
  auto e = Event("claude-opus-4-1", 1'000'000, 0, 0, 0, 0);
  e.client_cost_usd = 1.2345;
  RequestCost c = PriceRequest(e, Table());
  EXPECT_TRUE(c.billed);
  ExpectUsd(c[CostType::kClientReported], 1.2345L, "client cost");
  ExpectUsd(c.Total(), 1.2345L, "only the client cost");
  auto failed = Event("claude-opus-4-1", 1'000, 0, 0, 0, 0);
  failed.status = RequestStatus::kRateLimited;
  c = PriceRequest(failed, Table());
  EXPECT_FALSE(c.billed);
  EXPECT_EQ(c.unpriced, UnpricedReason::kNone);
  EXPECT_EQ(c.Total(), 0);
}

TEST(Pricer, AliasesPriceAsTheirCanonicalModel) {
  const auto a = PriceRequest(Event("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 1'000, 1'000, 0, 0, 0), Table());
  const auto b = PriceRequest(Event("claude-sonnet-4-5@20250929", 1'000, 1'000, 0, 0, 0), Table());
  const auto c = PriceRequest(Event("claude-4-opus-20250514", 1'000, 1'000, 0, 0, 0), Table());
  EXPECT_EQ(a.model, "claude-sonnet-4-5");
  EXPECT_EQ(b.model, "claude-sonnet-4-5");
  ExpectUsd(a.Total(), 1.1L * (Usd(1'000, 3) + Usd(1'000, 15)), "bedrock us. profile: regional +10%");
  ExpectUsd(b.Total(), Usd(1'000, 3) + Usd(1'000, 15), "vertex");
  ExpectUsd(c.Total(), Usd(1'000, 15) + Usd(1'000, 75), "claude-4-opus alias");
}

TEST(Pricer, LargestRequestsDoNotOverflow) {
  // 1e9 tokens of every type on the most expensive rates, fast and US-only.
  auto e = Event("us.anthropic.claude-fable-5-1-v1:0", 1'000'000'000, 1'000'000'000, 1'000'000'000,
                 1'000'000'000, 1'000'000'000);
  e.us_only_inference = true;
  const RequestCost c = PriceRequest(e, Table());
  ExpectUsd(c[CostType::kOutput], 1.1L * 1.1L * 1000 * 50, "output");
  EXPECT_GT(c.Total(), 0);
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// Issue 13 item 9: absurd but loadable rates and factors times a billion tokens
// wrapped int64 pico-dollars (a $20M request recorded as $1.55M, a negative
// histogram sum). Such a request is now marked `overflow` and billed nothing (the
// pipeline refuses it); one just inside the bound is exact.
TEST(Pricer, CostsBeyondInt64PicoDollarsOverflowInsteadOfWrapping) {
  const auto table = PriceTable::Parse(R"(
as_of: "2026-01-02"
source: test
models:
  - model: m-absurd
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1.25", cache_write_1h: "2", cache_read: "0.1", output: "20000"}
    us_inference_factor: "1.1"
    fast_factor: "6"
)");
  // 1e9 output tokens at $20,000 per million: $20,000,000 > int64 pUSD (~$9.22M).
  UsageEvent e = Event("m-absurd", 0, 1'000'000'000, 0, 0, 0);
  RequestCost c = PriceRequest(e, *table);
  EXPECT_TRUE(c.overflow);
  EXPECT_FALSE(c.billed);
  EXPECT_EQ(c.Total(), 0);
  EXPECT_EQ(c.model, "m-absurd");
  // 400M tokens: $8,000,000, inside the bound: exact.
  e.tokens[TokenType::kOutput] = 400'000'000;
  c = PriceRequest(e, *table);
  EXPECT_FALSE(c.overflow);
  ExpectUsd(c[CostType::kOutput], Usd(400'000'000, 20000), "output");
  // ...but x1.1 (US-only) x6 (fast): $52.8M, past it.
  e.us_only_inference = true;
  e.speed = Speed::kFast;
  EXPECT_TRUE(PriceRequest(e, *table).overflow);
  // Each cost type fits, their sum does not: 2 x $5M.
  UsageEvent two = Event("m-absurd", 0, 250'000'000, 0, 0, 0);
  two.tokens[TokenType::kInput] = 1'000'000'000;  // $1,000
  EXPECT_FALSE(PriceRequest(two, *table).overflow);
  two.tokens[TokenType::kInput] = 0;
  two.tokens[TokenType::kOutput] = 461'160'000;
  EXPECT_FALSE(PriceRequest(two, *table).overflow);
  two.tokens[TokenType::kInput] = 1'000'000'000;
  two.tokens[TokenType::kOutput] = 461'160'000;  // $9,223,200, within; + $1,000 is past $9,223,372
  EXPECT_TRUE(PriceRequest(two, *table).overflow);
}

}  // namespace
}  // namespace llmcost
