#include "record/request_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <map>
#include <sstream>

#include "record/exposition.h"

namespace llmcost {
namespace {

using Labels = std::map<std::string, std::string>;

// Finds one sample's value in the exposition text (label order does not matter),
// or -1 when absent.
double Sample(const std::string& text, const std::string& name, const Labels& want) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto brace = line.find('{');
    const auto space = line.rfind(' ');
    const std::string series_name = line.substr(0, brace == std::string::npos ? space : brace);
    if (series_name != name) continue;
    Labels got;
    if (brace != std::string::npos) {
      std::string body = line.substr(brace + 1, line.rfind('}') - brace - 1);
      std::size_t pos = 0;
      while (pos < body.size()) {
        const auto eq = body.find('=', pos);
        const auto end = body.find('"', eq + 2);
        got[body.substr(pos, eq - pos)] = body.substr(eq + 2, end - eq - 2);
        pos = end + 2;
      }
    }
    if (got == want) return std::stod(line.substr(space + 1));
  }
  return -1;
}

Labels With(Labels base, const std::string& k, const std::string& v) {
  base[k] = v;
  return base;
}

class RequestMetricsTest : public testing::Test {
 protected:
  RequestMetricsTest() {
    config_.attribution_labels = {"feature", "tenant"};
    config_.histogram_label = "feature";
    config_.max_values_per_label = 2;
    registry_ = std::make_shared<prometheus::Registry>();
    exporter_ = std::make_unique<ExporterMetrics>(*registry_, config_, "test", "rev");
    metrics_ = std::make_unique<RequestMetrics>(config_, *exporter_);
    exposition_ = std::make_unique<Exposition>(registry_, *metrics_);
  }

  void Record(const std::string& tenant, std::uint64_t input_tokens, PicoUsd input_cost,
              RequestStatus status = RequestStatus::kOk) {
    UsageEvent e;
    e.model_id = "claude-haiku-4-5";
    e.status = status;
    e.tokens[TokenType::kInput] = input_tokens;
    e.latency_seconds = 1.5;
    e.labels = {{"feature", "chat"}, {"tenant", tenant}};
    RequestCost c;
    c.model = "claude-haiku-4-5";
    c.tokens = e.tokens;
    c.billed = input_cost > 0;
    c[CostType::kInput] = input_cost;
    metrics_->Record(e, c);
  }

  ExporterConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ExporterMetrics> exporter_;
  std::unique_ptr<RequestMetrics> metrics_;
  std::unique_ptr<Exposition> exposition_;
};

// A request defaults to first-party, standard tier: platform and service_tier say so.
const Labels kAcme = {{"feature", "chat"},  {"model", "claude-haiku-4-5"}, {"provider", "anthropic"},
                      {"tenant", "acme"},   {"platform", "anthropic"},     {"service_tier", "standard"}};
const Labels kHist = {{"feature", "chat"}, {"model", "claude-haiku-4-5"}, {"provider", "anthropic"}};

TEST_F(RequestMetricsTest, NewLabelSetIsExposedAtZeroBeforeItsFirstEvents) {
  Record("acme", 100, 100'000'000);  // $0.0001
  const std::string first = exposition_->Render();
  EXPECT_EQ(Sample(first, "llm_requests_total", With(kAcme, "status", "ok")), 0);
  EXPECT_EQ(Sample(first, "llm_tokens_total", With(kAcme, "token_type", "input")), 0);
  EXPECT_EQ(Sample(first, "llm_cost_usd_total", With(kAcme, "cost_type", "input")),
            0);
  Record("acme", 50, 50'000'000);  // arrives between scrapes: also held until the set is live
  const std::string second = exposition_->Render();
  EXPECT_EQ(Sample(second, "llm_requests_total", With(kAcme, "status", "ok")), 2);
  EXPECT_EQ(Sample(second, "llm_tokens_total", With(kAcme, "token_type", "input")), 150);
  EXPECT_DOUBLE_EQ(Sample(second, "llm_cost_usd_total", With(kAcme, "cost_type", "input")),
                   0.00015);
  EXPECT_EQ(Sample(second, "llm_request_duration_seconds_count", kHist),
            2);
  Record("acme", 1, 0);  // live now: applied at once
  EXPECT_EQ(Sample(exposition_->Render(), "llm_requests_total", With(kAcme, "status", "ok")), 3);
}

TEST_F(RequestMetricsTest, NothingIsLostWhenNobodyScrapes) {
  for (std::size_t i = 0; i < RequestMetrics::kMaxPendingPerSet + 10; ++i) Record("acme", 1, 0);
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_requests_total", With(kAcme, "status", "ok")),
            static_cast<double>(RequestMetrics::kMaxPendingPerSet + 10));
}

TEST_F(RequestMetricsTest, OverflowFoldsAndCounts) {
  Record("a", 1, 0);
  Record("b", 1, 0);
  Record("c", 1, 0);  // the third tenant is over the cap of 2
  Record("d", 1, 0);
  exposition_->Render();
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "__overflow__"), "status", "ok")), 2);
  EXPECT_EQ(Sample(text, "llm_exporter_label_overflow_total", {{"label", "tenant"}}), 2);
  EXPECT_EQ(Sample(text, "llm_exporter_label_sets", {}), 3);
}

// Repeated raw label tuples take a remembered route (no sanitising, no admitting):
// the result must be what the full path gives, event by event.
TEST_F(RequestMetricsTest, RememberedRoutesGiveTheSameSeriesAndCounts) {
  const std::string long_value(300, 'x');  // too long to remember; cut to 64 bytes
  for (int i = 0; i < 3; ++i) {
    Record(" acme ", 1, 0);  // trimmed to "acme"
    Record("acme", 1, 0);
    Record(long_value, 1, 0);
    Record("over", 1, 0);  // the third tenant: over the cap of 2, every time
  }
  exposition_->Render();
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_requests_total", With(kAcme, "status", "ok")), 6);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", std::string(64, 'x')), "status", "ok")), 3);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "__overflow__"), "status", "ok")), 3);
  EXPECT_EQ(Sample(text, "llm_exporter_label_overflow_total", {{"label", "tenant"}}), 3);
  // A value holding what looks like the next value's length byte stays its own value.
  Record(std::string("a\x01") + "b", 1, 0);
  EXPECT_EQ(Sample(exposition_->Render(), "llm_exporter_label_overflow_total", {{"label", "tenant"}}), 4);
}

TEST_F(RequestMetricsTest, StatusIsPartOfTheLabelSetButTokensAreShared) {
  Record("acme", 10, 0);
  Record("acme", 0, 0, RequestStatus::kRateLimited);
  exposition_->Render();
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_requests_total", With(kAcme, "status", "ok")), 1);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(kAcme, "status", "rate_limited")), 1);
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(kAcme, "token_type", "input")), 10);
}

// Each label within its cap, their product not: past labels.max_label_sets, events of
// new label sets are counted in one overflow set (all values __overflow__), with
// their money, and in llm_exporter_label_overflow_total{label="__label_sets__"}.
TEST_F(RequestMetricsTest, LabelSetsPastTheGlobalCapFoldIntoOneOverflowSet) {
  config_.max_values_per_label = 100;
  config_.max_label_sets = 3;
  registry_ = std::make_shared<prometheus::Registry>();
  exporter_ = std::make_unique<ExporterMetrics>(*registry_, config_, "test", "rev");
  metrics_ = std::make_unique<RequestMetrics>(config_, *exporter_);
  exposition_ = std::make_unique<Exposition>(registry_, *metrics_);
  const PicoUsd cost = 1247 * 1'000'000;  // 1247 input tokens at $1 per million
  for (const char* tenant : {"a", "b", "c", "d", "e", "d"}) Record(tenant, 1247, cost);
  Record("a", 1247, cost);  // an existing set is not folded
  exposition_->Render();
  const std::string text = exposition_->Render();
  const Labels overflow = {{"feature", "__overflow__"},  {"model", "__overflow__"},
                           {"provider", "__overflow__"}, {"tenant", "__overflow__"},
                           {"platform", "__overflow__"}, {"service_tier", "__overflow__"}};
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "a"), "status", "ok")), 2);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "c"), "status", "ok")), 1);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "d"), "status", "ok")), -1);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(overflow, "status", "ok")), 3);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_cost_usd_total", With(overflow, "cost_type", "input")), 3 * 1247 * 1.0 / 1e6);
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(overflow, "token_type", "input")), 3 * 1247);
  EXPECT_EQ(Sample(text, "llm_exporter_label_overflow_total", {{"label", "__label_sets__"}}), 3);
  EXPECT_EQ(Sample(text, "llm_exporter_label_overflow_total", {{"label", "tenant"}}), 0);
  EXPECT_EQ(Sample(text, "llm_exporter_label_sets", {}), 4);  // three, and the overflow set
  // Another status past the cap gets the overflow set of that status.
  Record("f", 1, 0, RequestStatus::kServerError);
  exposition_->Render();
  EXPECT_EQ(Sample(exposition_->Render(), "llm_requests_total", With(overflow, "status", "server_error")), 1);
}

// The zero-first sample is served for a fixed time from the first scrape that showed
// the label set, not to one request: a second scraper within the time still sees the
// zero, and no event is lost. (HEAD never renders, so it is no scrape: the web
// listener; loopback ZeroFirstTest.)
TEST_F(RequestMetricsTest, ZeroIsServedForAFixedTimeFromTheFirstScrape) {
  using namespace std::chrono_literals;
  std::chrono::steady_clock::time_point now{};
  metrics_->SetZeroFirstDuration(30s, [&now] { return now; });
  auto at = [&](std::chrono::milliseconds t) {
    now = std::chrono::steady_clock::time_point{} + t;
    return Sample(exposition_->Render(), "llm_requests_total", With(kAcme, "status", "ok"));
  };
  Record("acme", 100, 100'000'000);
  EXPECT_EQ(at(61s), 0);   // the first scrape: time at zero starts
  Record("acme", 50, 50'000'000);
  EXPECT_EQ(at(75s), 0);   // the other Prometheus of the pair, 14 s later: zero too
  EXPECT_EQ(at(90s), 0);   // 29 s after the first scrape
  EXPECT_EQ(at(91s), 2);   // 30 s: live, with every event held meanwhile
  Record("acme", 1, 0);    // after the time: applied at once
  EXPECT_EQ(at(92s), 3);
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(kAcme, "token_type", "input")), 151);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_cost_usd_total", With(kAcme, "cost_type", "input")), 150 * 1.0 / 1e6);
}

// A label set created while others are at zero gets its own full time.
TEST_F(RequestMetricsTest, EachLabelSetGetsItsOwnTimeAtZero) {
  using namespace std::chrono_literals;
  std::chrono::steady_clock::time_point now{};
  metrics_->SetZeroFirstDuration(30s, [&now] { return now; });
  auto scrape_at = [&](std::chrono::milliseconds t) {
    now = std::chrono::steady_clock::time_point{} + t;
    return exposition_->Render();
  };
  Record("a", 1, 0);
  scrape_at(0s);
  Record("b", 1, 0);
  scrape_at(20s);  // b's first scrape
  std::string text = scrape_at(30s);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "a"), "status", "ok")), 1);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "b"), "status", "ok")), 0);
  text = scrape_at(50s);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(With(kAcme, "tenant", "b"), "status", "ok")), 1);
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// usage.iterations: the advisor's tokens and cost land under the advisor model, with
// the request's platform and tier; the request (and its histograms) count once,
// under the request's model.
TEST_F(RequestMetricsTest, IterationCostsLandUnderTheBilledModelAndTheRequestCountsOnce) {
  UsageEvent e;
  e.model_id = "claude-haiku-4-5";
  e.latency_seconds = 2;
  e.labels = {{"feature", "chat"}, {"tenant", "acme"}};
  RequestCost c;
  c.model = "claude-haiku-4-5";
  c.platform = Platform::kBedrock;
  c.tier = ServiceTier::kBatch;
  c.billed = true;
  c.tokens[TokenType::kInput] = 1000;
  c[CostType::kInput] = 500'000'000;  // $0.0005
  CostPart advisor;
  advisor.model = "claude-opus-4-6";
  advisor.billed = true;
  advisor.tokens[TokenType::kInput] = 4000;
  advisor[CostType::kInput] = 20'000'000'000;  // $0.02
  c.others.push_back(advisor);
  for (int i = 0; i < 2; ++i) {
    metrics_->Record(e, c);
    exposition_->Render();  // the first scrape exposes the new sets at zero
  }
  const std::string text = exposition_->Render();
  Labels haiku = With(With(kAcme, "platform", "bedrock"), "service_tier", "batch");
  Labels opus = With(haiku, "model", "claude-opus-4-6");
  EXPECT_EQ(Sample(text, "llm_requests_total", With(haiku, "status", "ok")), 2);
  EXPECT_EQ(Sample(text, "llm_requests_total", With(opus, "status", "ok")), 0);
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(haiku, "token_type", "input")), 2000);
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(opus, "token_type", "input")), 8000);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_cost_usd_total", With(opus, "cost_type", "input")), 2 * 0.02);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_cost_usd_total", With(haiku, "cost_type", "input")), 2 * 0.0005);
  // The whole request (both models) in the executor's cost histogram, once per request.
  EXPECT_EQ(Sample(text, "llm_request_cost_usd_count", kHist), 2);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_request_cost_usd_sum", kHist), 2 * 0.0205);
  EXPECT_EQ(Sample(text, "llm_request_input_tokens_sum", kHist), 2 * 5000);
}

}  // namespace
}  // namespace llmcost
