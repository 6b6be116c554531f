// Scrapes while several threads record, creating label sets as they go (the
// zero-first protocol, the label-set lock, the atomics the serialiser reads): every
// page parses, totals never go backwards, and nothing recorded is lost. Also built
// under ThreadSanitizer (tsan_reload_tests, scripts/test-sanitizers).
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "config/exporter_config.h"
#include "exposition_text.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_metrics.h"

namespace llmcost {
namespace {

double Sum(const std::map<SeriesKey, std::string>& page, const std::string& name) {
  double s = 0;
  for (const auto& [key, value] : page) {
    if (key.name == name) s += std::stod(value);
  }
  return s;
}

TEST(ScrapeWhileRecording, PagesParseTotalsNeverGoBackAndNothingIsLost) {
  ExporterConfig config;
  config.attribution_labels = {"feature", "tenant"};
  config.histogram_label = "feature";
  config.max_values_per_label = 100;
  config.max_label_sets = 60;  // some threads fold into the overflow set meanwhile
  auto registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter(*registry, config, "t", "t");
  RequestMetrics metrics(config, exporter);
  Exposition exposition(registry, metrics);
  metrics.SetZeroFirstDuration(std::chrono::milliseconds(0));

  constexpr int kThreads = 4, kPerThread = 1500;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> recorders;
  for (int t = 0; t < kThreads; ++t) {
    recorders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        UsageEvent e;
        e.model_id = "claude-haiku-4-5";
        e.tokens[TokenType::kInput] = 10;
        e.latency_seconds = 0.5;
        e.labels = {{"feature", "f" + std::to_string(i % 4)}, {"tenant", "t" + std::to_string((i * 7 + t) % 40)}};
        RequestCost c;
        c.model = e.model_id;
        c.tokens = e.tokens;
        c.billed = true;
        c[CostType::kInput] = 30'000'000;  // 10 tokens at $3 per million
        metrics.Record(e, c);
      }
      running.fetch_sub(1);
    });
  }
  double last_requests = 0, last_tokens = 0;
  int pages = 0;
  while (running.load() > 0 || pages < 3) {
    const auto page = ParseExposition(exposition.Render());
    const double requests = Sum(page, "llm_requests_total"), tokens = Sum(page, "llm_tokens_total");
    EXPECT_GE(requests, last_requests);
    EXPECT_GE(tokens, last_tokens);
    last_requests = requests;
    last_tokens = tokens;
    ++pages;
  }
  for (auto& t : recorders) t.join();
  exposition.Render();  // the last label sets go live
  const auto page = ParseExposition(exposition.Render());
  EXPECT_EQ(Sum(page, "llm_requests_total"), kThreads * kPerThread);
  EXPECT_EQ(Sum(page, "llm_tokens_total"), kThreads * kPerThread * 10.0);
  EXPECT_EQ(Sum(page, "llm_request_duration_seconds_count"), kThreads * kPerThread);
  // Exact money: each series' USD back in pico-dollars, summed: 10 tokens at $3 per million each.
  long long pico = 0;
  for (const auto& [key, value] : page) {
    if (key.name == "llm_cost_usd_total") pico += std::llround(std::stod(value) * 1e12);
  }
  EXPECT_EQ(pico, kThreads * kPerThread * 10LL * 3'000'000);
}

}  // namespace
}  // namespace llmcost
