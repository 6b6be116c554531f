// Issue 12 pricing rules. Expected costs are computed here from the per-million
// rates of shared/design/pricing-facts.md, never read from the price file.
#include <gtest/gtest.h>

#include <string>

#include "commands/price_commands.h"
#include "event/event_parser.h"
#include "event/json_document.h"
#include "pricing/pricer.h"

namespace llmcost {
namespace {

const PriceTable& Table() {
  static const auto table = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return *table;
}

long double Usd(std::uint64_t tokens, long double per_million) { return tokens * per_million / 1e6L; }

void ExpectUsd(PicoUsd actual, long double expected, const std::string& what) {
  EXPECT_NEAR(static_cast<long double>(actual) / 1e12L, expected, 1e-12L) << what;
}

constexpr std::int64_t kDec1 = 1796083200;  // 2026-12-01T00:00:00Z
constexpr std::int64_t kOct7 = 1791331200;  // 2026-10-07T00:00:00Z

UsageEvent Parse(const std::string& text) {
  JsonDocument doc;
  std::string why;
  auto v = doc.Parse(text, why);
  EXPECT_TRUE(v) << text;
  EventParser parser({});
  auto r = parser.Parse(*v, 0);
  if (auto* e = std::get_if<EventError>(&r)) ADD_FAILURE() << e->field << ": " << e->message;
  return std::get<UsageEvent>(r);
}

EventError ParseError(const std::string& text) {
  JsonDocument doc;
  std::string why;
  auto v = doc.Parse(text, why);
  EXPECT_TRUE(v) << text;
  auto r = EventParser({}).Parse(*v, 0);
  EXPECT_TRUE(std::holds_alternative<EventError>(r)) << text;
  return std::holds_alternative<EventError>(r) ? std::get<EventError>(r) : EventError{};
}

RequestCost Price(const std::string& json, std::int64_t now = kDec1) { return PriceRequest(Parse(json), Table(), now); }

TEST(PricingRules, Haiku55PromptTierSwitchesTheWholeRequestAbove100000PromptTokens) {
  // prompt = input + cache reads + cache writes: 60,000 + 30,000 + 10,000 = 100,000.
  const auto at = Price(R"({"model":"claude-haiku-5-5","usage":{"input_tokens":60000,"cache_read_input_tokens":30000,
      "cache_creation_input_tokens":10000,"output_tokens":2000}})");
  EXPECT_FALSE(at.long_context);
  ExpectUsd(at.Total(), Usd(60'000, 0.10) + Usd(30'000, 0.01) + Usd(10'000, 0.125) + Usd(2'000, 0.50), "100,000");
  const auto above = Price(R"({"model":"claude-haiku-5-5","usage":{"input_tokens":60001,"cache_read_input_tokens":30000,
      "cache_creation_input_tokens":10000,"output_tokens":2000}})");
  EXPECT_TRUE(above.long_context);
  EXPECT_EQ(above.applied.prompt_tier, 100'000u);
  ExpectUsd(above.Total(), Usd(60'001, 0.50) + Usd(30'000, 0.05) + Usd(10'000, 0.625) + Usd(2'000, 2.50), "100,001");
  // 1-hour writes at the high tier, batch on top.
  const auto batch = Price(R"({"model":"claude-haiku-5-5","service_tier":"batch","usage":{"input_tokens":100001,
      "cache_creation":{"ephemeral_1h_input_tokens":1000}}})");
  ExpectUsd(batch.Total(), (Usd(100'001, 0.50) + Usd(1'000, 1)) / 2, "batch high tier");
}

TEST(PricingRules, UsOnlyIsTenPercentForEvery46AndLaterModelAndRefusedBefore) {
  const std::pair<const char*, long double> models[] = {
      {"claude-fable-5-1", 10}, {"claude-mythos-5", 10}, {"claude-opus-5-5", 4}, {"claude-sonnet-5-5", 2},
      {"claude-haiku-5-5", 0.10}, {"claude-opus-4-6", 5}, {"claude-sonnet-4-6", 3}, {"claude-fable-5-2", 8}};
  for (const auto& [model, input] : models) {
    const auto c = Price(std::string(R"({"model":")") + model + R"(","usage":{"input_tokens":1000,"inference_geo":"us"}})");
    ExpectUsd(c.Total(), 1.1L * Usd(1'000, input), model);
  }
  for (const char* model : {"claude-opus-4-5", "claude-haiku-4-5", "claude-sonnet-4-5"}) {
    const auto c = Price(std::string(R"({"model":")") + model + R"(","usage":{"input_tokens":1000,"inference_geo":"us"}})");
    EXPECT_EQ(c.unpriced, UnpricedReason::kUnsupportedOption) << model;
  }
}

TEST(PricingRules, FastStacksWithUsOnlyAndRegionalAndIsRefusedWithBatch) {
  // Opus 5.5 fast on a Bedrock geographic profile with US-only: 2 x 1.1 x 1.1.
  const auto c = Price(R"({"model":"us.anthropic.claude-opus-5-5","usage":{"input_tokens":1000,"output_tokens":100,
      "cache_read_input_tokens":5000,"speed":"fast","inference_geo":"us"}})");
  ExpectUsd(c.Total(), 2 * 1.1L * 1.1L * (Usd(1'000, 4) + Usd(100, 20) + Usd(5'000, 0.20)), "stacked");
  const auto b = Price(R"({"model":"claude-opus-5-5","service_tier":"batch","usage":{"input_tokens":1,"speed":"fast"}})");
  EXPECT_EQ(b.unpriced, UnpricedReason::kUnsupportedOption);
}

TEST(PricingRules, EveryIdFormResolvesAndShowsPlatformAndEndpoint) {
  struct Case {
    const char* id;
    const char* model;
    Platform platform;
    bool regional;
  };
  const Case cases[] = {
      {"claude-sonnet-4-5-20250929", "claude-sonnet-4-5", Platform::kAnthropic, false},
      {"claude-3-7-sonnet-latest", "claude-3-7-sonnet", Platform::kAnthropic, false},
      {"global.anthropic.claude-opus-4-6-v1", "claude-opus-4-6", Platform::kBedrock, false},
      {"us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6", Platform::kBedrock, true},
      {"eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", Platform::kBedrock, true},
      {"jp.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5", Platform::kBedrock, true},
      {"apac.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6", Platform::kBedrock, true},
      {"au.anthropic.claude-sonnet-4-6", "claude-sonnet-4-6", Platform::kBedrock, true},
      {"ca.anthropic.claude-opus-5", "claude-opus-5", Platform::kBedrock, true},
      {"us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", Platform::kBedrock, true},
      {"anthropic.claude-opus-5-5-v1:0", "claude-opus-5-5", Platform::kBedrock, true},
      {"anthropic.claude-opus-5-5-v1", "claude-opus-5-5", Platform::kBedrock, true},
      {"anthropic.claude-opus-5-5", "claude-opus-5-5", Platform::kBedrock, true},
      {"arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-5-v1:0",
       "claude-sonnet-5", Platform::kBedrock, false},
      {"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-5-v1:0", "claude-sonnet-5",
       Platform::kBedrock, true},
      {"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5",
       Platform::kBedrock, true},
      {"claude-sonnet-4-5@20250929", "claude-sonnet-4-5", Platform::kVertex, false},
      {"projects/p1/locations/us-east5/publishers/anthropic/models/claude-opus-4-1@20250805", "claude-opus-4-1",
       Platform::kVertex, false},
      {"claude-opus-4-0", "claude-opus-4", Platform::kAnthropic, false},
      {"claude-4-sonnet-20250514", "claude-sonnet-4", Platform::kAnthropic, false},
      {"claude-sonnet-4-5[1m]", "claude-sonnet-4-5", Platform::kAnthropic, false},
  };
  for (const auto& c : cases) {
    const auto cost = Price(std::string(R"({"model":")") + c.id + R"(","usage":{"input_tokens":1000}})");
    EXPECT_EQ(cost.model, c.model) << c.id;
    EXPECT_EQ(cost.platform, c.platform) << c.id;
    EXPECT_EQ(cost.regional, c.regional) << c.id;
    EXPECT_TRUE(cost.billed) << c.id;
  }
  // An opaque application profile is not a model: unpriced, never a neighbour.
  const auto opaque = Price(R"({"model":"arn:aws:bedrock:us-east-1:1:application-inference-profile/abc123","usage":{"input_tokens":1}})");
  EXPECT_EQ(opaque.unpriced, UnpricedReason::kUnknownModel);
}

TEST(PricingRules, RegionalPremiumFromTheIdOrTheEventFor45AndLater) {
  const auto global = Price(R"({"model":"global.anthropic.claude-sonnet-4-5-20250929-v1:0","usage":{"input_tokens":1000,"output_tokens":1000}})");
  ExpectUsd(global.Total(), Usd(1'000, 3) + Usd(1'000, 15), "bedrock global");
  const auto eu = Price(R"({"model":"eu.anthropic.claude-sonnet-4-5-20250929-v1:0","usage":{"input_tokens":1000,"output_tokens":1000}})");
  ExpectUsd(eu.Total(), 1.1L * (Usd(1'000, 3) + Usd(1'000, 15)), "bedrock eu");
  // Google Cloud: the id does not show the endpoint; the event does.
  const auto vg = Price(R"({"model":"claude-opus-4-5@20251101","usage":{"input_tokens":1000}})");
  ExpectUsd(vg.Total(), Usd(1'000, 5), "vertex, endpoint unspecified = global");
  const auto vr = Price(R"({"model":"claude-opus-4-5@20251101","endpoint":"regional","usage":{"input_tokens":1000}})");
  ExpectUsd(vr.Total(), 1.1L * Usd(1'000, 5), "vertex regional");
  const auto undated = Price(R"({"model":"claude-opus-5","platform":"vertex","endpoint":"multi-region","usage":{"input_tokens":1000}})");
  EXPECT_EQ(undated.platform, Platform::kVertex);
  ExpectUsd(undated.Total(), 1.1L * Usd(1'000, 5), "vertex multi-region, undated id");
  // Before the 4.5 generation regional costs the same as global.
  const auto old = Price(R"({"model":"us.anthropic.claude-3-7-sonnet-20250219-v1:0","usage":{"input_tokens":1000}})");
  ExpectUsd(old.Total(), Usd(1'000, 3), "3.7 sonnet regional, no premium");
  // Regional and batch stack (batch is 50% of the regional rate).
  const auto rb = Price(R"({"model":"eu.anthropic.claude-haiku-4-5-20251001-v1:0","batch":true,"usage":{"input_tokens":1000}})");
  ExpectUsd(rb.Total(), 1.1L * Usd(1'000, 1) / 2, "regional batch");
  // A regional endpoint on the first-party API does not exist: not guessed.
  EXPECT_EQ(Price(R"({"model":"claude-opus-5","endpoint":"regional","usage":{"input_tokens":1}})").unpriced,
            UnpricedReason::kUnsupportedOption);
  // The platform label stays bounded.
  EXPECT_EQ(Price(R"({"model":"claude-opus-5","platform":"my-gateway","usage":{"input_tokens":1}})").platform,
            Platform::kOther);
}

TEST(PricingRules, DatedRatesPriceAnEventAtTheRateInForceAtItsOwnTime) {
  const std::string usage = R"("usage":{"input_tokens":1000,"cache_read_input_tokens":1000000,"output_tokens":100}})";
  const auto before = Price(R"({"model":"claude-sonnet-5-5","ts":"2026-10-06T23:59:59Z",)" + usage);
  const auto after = Price(R"({"model":"claude-sonnet-5-5","ts":"2026-10-07T00:00:00Z",)" + usage);
  ExpectUsd(before.Total(), Usd(1'000, 2) + Usd(1'000'000, 0.20) + Usd(100, 10), "before the cut");
  ExpectUsd(after.Total(), Usd(1'000, 2) + Usd(1'000'000, 0.10) + Usd(100, 10), "after the cut");
  EXPECT_EQ(after.applied.rates_from, "2026-10-07");
  // Unix seconds, and no ts = now.
  ExpectUsd(Price(R"({"model":"claude-sonnet-5-5","ts":)" + std::to_string(kOct7 - 1) + "," + usage).Total(),
            before.Total() / 1e12L, "unix seconds");
  ExpectUsd(Price(R"({"model":"claude-sonnet-5-5",)" + usage, kOct7 - 3600).Total(), before.Total() / 1e12L,
            "no ts: now");
  // Opus 4.8 fast: $10/$50 until 2026-11-30, then not offered (unpriced).
  const auto fast_before = Price(R"({"model":"claude-opus-4-8","ts":"2026-11-29T12:00:00+02:00","usage":{"input_tokens":1000,"speed":"fast"}})");
  ExpectUsd(fast_before.Total(), Usd(1'000, 10), "opus 4.8 fast before removal");
  const auto fast_after = Price(R"({"model":"claude-opus-4-8","ts":"2026-11-30T00:00:00Z","usage":{"input_tokens":1000,"speed":"fast"}})");
  EXPECT_EQ(fast_after.unpriced, UnpricedReason::kUnsupportedOption);
}

TEST(PricingRules, EventTimeOutsideTheWindowIsRefusedWithAReason) {
  const EventTimeWindow window;  // 35 days, 5 minutes
  UsageEvent e = Parse(R"({"model":"claude-opus-5","ts":"2026-10-26T23:59:59Z"})");
  auto error = EventPipeline::CheckTime(e, kDec1, window);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->reason, RejectReason::kTooOld);
  EXPECT_EQ(error->field, "ts");
  e.ts_unix = kDec1 - 35 * 86400;
  EXPECT_FALSE(EventPipeline::CheckTime(e, kDec1, window));
  e.ts_unix = kDec1 + 301;
  ASSERT_TRUE(EventPipeline::CheckTime(e, kDec1, window));
  EXPECT_EQ(EventPipeline::CheckTime(e, kDec1, window)->reason, RejectReason::kInFuture);
  e.ts_unix = kDec1 + 300;
  EXPECT_FALSE(EventPipeline::CheckTime(e, kDec1, window));
  EXPECT_EQ(RejectReasonName(RejectReason::kTooOld), "too_old");
  EXPECT_EQ(RejectReasonName(RejectReason::kInFuture), "in_future");
  for (const char* bad : {R"("2026-10-07")", R"("2026-10-07T00:00:00")", R"("2026-02-30T00:00:00Z")", R"(-5)",
                          R"("yesterday")", R"(true)"}) {
    const EventError err = ParseError(std::string(R"({"model":"claude-opus-5","ts":)") + bad + "}");
    EXPECT_EQ(err.field, "ts") << bad;
  }
}

// Anthropic's compaction page example: top level 23,000 in / 1,000 out; iterations
// 180,000 / 3,500 (compaction) + 23,000 / 1,000 (message). Bill the iterations.
TEST(PricingRules, CompactionBillsTheSumOfIterationsNotTheTopLevelToo) {
  const auto c = Price(R"({"model":"claude-opus-4-6","usage":{"input_tokens":23000,"output_tokens":1000,
      "iterations":[{"type":"compaction","input_tokens":180000,"output_tokens":3500},
                    {"type":"message","input_tokens":23000,"output_tokens":1000}]}})");
  EXPECT_TRUE(c.others.empty());
  EXPECT_EQ(c.tokens[TokenType::kInput], 203'000u);
  ExpectUsd(c.RequestTotal(), Usd(203'000, 5) + Usd(4'500, 25), "iterations");  // $1.1275
  EXPECT_NEAR(static_cast<double>(c.RequestTotal()) / 1e12, 1.13, 0.005);
}

TEST(PricingRules, EachIterationIsItsOwnSamplingStepForThePromptTier) {
  // Haiku 5.5 compaction: the 180,000-token compaction step is above 100,000, the
  // 23,000-token message step is not.
  const auto c = Price(R"({"model":"claude-haiku-5-5","usage":{"input_tokens":23000,"output_tokens":1000,
      "iterations":[{"type":"compaction","input_tokens":180000,"output_tokens":3500},
                    {"type":"message","input_tokens":23000,"output_tokens":1000}]}})");
  ExpectUsd(c.Total(), Usd(180'000, 0.50) + Usd(3'500, 2.50) + Usd(23'000, 0.10) + Usd(1'000, 0.50), "per step");
  EXPECT_TRUE(c.long_context);
  // One step that cannot be priced leaves its model unpriced, not partly priced.
  const auto u = Price(R"({"model":"claude-fable-5-2","usage":{"iterations":[
      {"type":"message","input_tokens":1000},{"type":"message","input_tokens":10,"cache_read_input_tokens":5}]}})");
  EXPECT_FALSE(u.billed);
  EXPECT_EQ(u.unpriced, UnpricedReason::kUnpublishedRate);
  EXPECT_EQ(u.Total(), 0);
  EXPECT_EQ(u.tokens[TokenType::kInput], 1010u);  // tokens are still counted
  // Web search fees are charged once, on the request's own model.
  const auto w = Price(R"({"model":"claude-sonnet-4-6","usage":{"server_tool_use":{"web_search_requests":2},
      "iterations":[{"type":"message","input_tokens":100},{"type":"message","input_tokens":100}]}})");
  ExpectUsd(w.Total(), Usd(200, 3) + 2 * 10.0L / 1000, "web search once");
}

TEST(PricingRules, AdvisorIterationsAreBilledAtTheAdvisorModelUnderItsOwnName) {
  const auto c = Price(R"({"model":"claude-sonnet-4-6","usage":{"input_tokens":3000,"output_tokens":600,
      "iterations":[{"type":"message","input_tokens":1200,"output_tokens":150},
                    {"type":"advisor_message","model":"claude-opus-4-6","input_tokens":12000,"output_tokens":1600},
                    {"type":"message","input_tokens":1800,"output_tokens":450}]}})");
  EXPECT_EQ(c.model, "claude-sonnet-4-6");
  ExpectUsd(c.Total(), Usd(3'000, 3) + Usd(600, 15), "executor");
  ASSERT_EQ(c.others.size(), 1u);
  EXPECT_EQ(c.others[0].model, "claude-opus-4-6");
  ExpectUsd(c.others[0].Total(), Usd(12'000, 5) + Usd(1'600, 25), "advisor at opus rates");
  ExpectUsd(c.RequestTotal(), Usd(3'000, 3) + Usd(600, 15) + Usd(12'000, 5) + Usd(1'600, 25), "request");
  // An advisor without a model cannot be priced: refused, naming the field.
  const EventError e = ParseError(R"({"model":"claude-sonnet-4-6","usage":{"iterations":[{"type":"advisor_message","input_tokens":1}]}})");
  EXPECT_EQ(e.field, "usage.iterations[0].model");
  // An advisor model not in the table: that part unpriced, the rest billed.
  const auto u = Price(R"({"model":"claude-sonnet-4-6","usage":{"iterations":[{"type":"message","input_tokens":1000},
      {"type":"advisor_message","model":"claude-mythos-5-2","input_tokens":1000}]}})");
  ExpectUsd(u.Total(), Usd(1'000, 3), "executor billed");
  EXPECT_EQ(u.others.at(0).unpriced, UnpricedReason::kUnknownModel);
}

TEST(PricingRules, FallbackHopsAreBilledAtTheirModelAndCreditsCountedNotGuessed) {
  const auto c = Price(R"({"model":"claude-fable-5","usage":{"iterations":[
      {"type":"fallback_message","model":"claude-opus-4-8","input_tokens":1000,"output_tokens":10},
      {"type":"fallback_credit"},
      {"type":"message","input_tokens":1000,"output_tokens":10}]}})");
  ExpectUsd(c.Total(), Usd(1'000, 10) + Usd(10, 50), "serving model");
  ExpectUsd(c.others.at(0).Total(), Usd(1'000, 5) + Usd(10, 25), "fallback hop");
  EXPECT_TRUE(c.billed);
  EXPECT_EQ(c.unpriced, UnpricedReason::kUnpublishedCredit);
}

TEST(PricingRules, UnpublishedRatesLeaveTheRequestUnpriced) {
  // Fable 5.2: $8/$40 published; cache rates third-party only.
  ExpectUsd(Price(R"({"model":"claude-fable-5-2","usage":{"input_tokens":1000,"output_tokens":1000}})").Total(),
            Usd(1'000, 8) + Usd(1'000, 40), "fable 5.2");
  const auto cached = Price(R"({"model":"claude-fable-5-2","usage":{"input_tokens":1000,"cache_read_input_tokens":1}})");
  EXPECT_FALSE(cached.billed);
  EXPECT_EQ(cached.unpriced, UnpricedReason::kUnpublishedRate);
}

TEST(PricingRules, CacheCreationTotalLargerThanTheSplitIsFiveMinuteWrites) {
  const UsageEvent e = Parse(R"({"model":"claude-opus-5","usage":{"cache_creation_input_tokens":1500,
      "cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":1000}}})");
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 500u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite1h], 1000u);
}

TEST(PriceCommand, PrintsEachComponentAndRefusesBadInputWithTheReason) {
  const std::int64_t now = kDec1;
  const CommandResult ok = PriceCommand(
      "{\"model\":\"eu.anthropic.claude-opus-4-6-v1\",\"usage\":{\"input_tokens\":1000000}}\n"
      "{\"model\":\"claude-sonnet-5-5\",\"ts\":\"2026-11-20T00:00:00Z\",\"usage\":{\"cache_read_input_tokens\":1000000}}\n",
      Table(), now);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"model\":\"claude-opus-4-6\",\"platform\":\"bedrock\",\"service_tier\":\"standard\""),
            std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\"regional\":\"1.1\""), std::string::npos);
  EXPECT_NE(ok.out.find("\"total_usd\":5.5"), std::string::npos) << ok.out;  // 1e6 x $5 x 1.1
  EXPECT_NE(ok.out.find("\"rates_from\":\"2026-10-07\""), std::string::npos);
  EXPECT_NE(ok.out.find("\"total_usd\":0.1}"), std::string::npos) << ok.out;  // 1e6 x $0.10
  const CommandResult bad =
      PriceCommand("{\"model\":\"claude-opus-5\",\"usage\":{\"input_tokens\":-1}}\n{\"model\":\"claude-opus-5\",\"ts\":1}\n",
                   Table(), now);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("event 0: bad_field: usage.input_tokens: must not be negative"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("event 1: too_old: ts"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

TEST(CheckPricing, SummarisesAGoodTableAndNamesTheEntryAndFieldOfABadOne) {
  const CommandResult ok = CheckPricingCommand(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("SUCCESS"), std::string::npos);
  EXPECT_NE(ok.out.find(std::to_string(Table().size()) + " models"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("claude-sonnet-5-5  as_of 2026-12-01  changes: 2026-10-07"), std::string::npos) << ok.out;
  const std::string path = ::testing::TempDir() + "/bad_prices.yml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("as_of: \"2026-12-01\"\nsource: t\nmodels:\n  - model: m-one\n    as_of: \"2026-12-01\"\n    source: t\n"
               "    usd_per_mtok: {input: \"1\", cache_write_5m: \"x\", cache_write_1h: \"2\", cache_read: \"0.1\", output: \"5\"}\n",
               f);
    std::fclose(f);
  }
  const CommandResult bad = CheckPricingCommand(path);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("models[0] (m-one).usd_per_mtok.cache_write_5m"), std::string::npos) << bad.err;
  EXPECT_EQ(CheckPricingCommand("/nonexistent.yml").exit_code, 1);
  EXPECT_TRUE(IsSubcommand({"check", "pricing", "x"}));
  EXPECT_TRUE(IsSubcommand({"price"}));
  EXPECT_FALSE(IsSubcommand({"--web.listen-address=:1"}));
  EXPECT_EQ(RunSubcommand({"check", "nothing"}, "", 0).exit_code, 2);
  EXPECT_EQ(RunSubcommand({"price", "--help"}, "", 0).out, SubcommandUsage());
  EXPECT_EQ(RunSubcommand({"price", "--no-such-flag"}, "", 0).exit_code, 2);
}

}  // namespace
}  // namespace llmcost
