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
    metrics_ = std::make_unique<RequestMetrics>(*registry_, config_, *exporter_);
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

const Labels kAcme = {{"feature", "chat"}, {"model", "claude-haiku-4-5"}, {"provider", "anthropic"}, {"tenant", "acme"}};
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
  metrics_ = std::make_unique<RequestMetrics>(*registry_, config_, *exporter_);
  exposition_ = std::make_unique<Exposition>(registry_, *metrics_);
  const PicoUsd cost = 1247 * 1'000'000;  // 1247 input tokens at $1 per million
  for (const char* tenant : {"a", "b", "c", "d", "e", "d"}) Record(tenant, 1247, cost);
  Record("a", 1247, cost);  // an existing set is not folded
  exposition_->Render();
  const std::string text = exposition_->Render();
  const Labels overflow = {{"feature", "__overflow__"}, {"model", "__overflow__"},
                           {"provider", "__overflow__"}, {"tenant", "__overflow__"}};
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

// The zero-first sample is served for a fixed time from the first scrape (GET) that
// showed the label set, not to one request: a HEAD does not count, a second
// scraper within the time still sees the zero, and no event is lost.
TEST_F(RequestMetricsTest, ZeroIsServedForAFixedTimeFromTheFirstScrape) {
  using namespace std::chrono_literals;
  std::chrono::steady_clock::time_point now{};
  metrics_->SetZeroFirstDuration(30s, [&now] { return now; });
  auto at = [&](std::chrono::milliseconds t, Exposition::Request r = Exposition::Request::kScrape) {
    now = std::chrono::steady_clock::time_point{} + t;
    return Sample(exposition_->Render(r), "llm_requests_total", With(kAcme, "status", "ok"));
  };
  Record("acme", 100, 100'000'000);
  EXPECT_EQ(at(0s, Exposition::Request::kProbe), 0);  // a HEAD sees the zero...
  EXPECT_EQ(at(60s, Exposition::Request::kProbe), 0);  // ...and never starts the time
  EXPECT_EQ(at(61s), 0);                               // the first GET: time at zero starts
  Record("acme", 50, 50'000'000);
  EXPECT_EQ(at(75s), 0);   // the other Prometheus of the pair, 14 s later: zero too
  EXPECT_EQ(at(90s), 0);   // 29 s after the first scrape
  EXPECT_EQ(at(91s), 2);   // 30 s: live, with every event held meanwhile
  Record("acme", 1, 0);    // after the time: applied at once
  EXPECT_EQ(at(92s), 3);
  EXPECT_EQ(at(93s, Exposition::Request::kProbe), 3);
  const std::string text = exposition_->Render();
  EXPECT_EQ(Sample(text, "llm_tokens_total", With(kAcme, "token_type", "input")), 151);
  EXPECT_DOUBLE_EQ(Sample(text, "llm_cost_usd_total", With(kAcme, "cost_type", "input")), 150 * 1.0 / 1e6);
  EXPECT_EQ(Exposition::RequestFor("HEAD"), Exposition::Request::kProbe);
  EXPECT_EQ(Exposition::RequestFor("GET"), Exposition::Request::kScrape);
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
