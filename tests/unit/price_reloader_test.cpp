// Reloads from two threads (SIGHUP's and an HTTP worker's) while /metrics renders:
// exactly one llm_exporter_pricing_info series, every reload counted. The
// ThreadSanitizer run (scripts/test-sanitizers) runs this and the live reload test.
#include "pipeline/price_reloader.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "record/exposition.h"

namespace llmcost {
namespace {

std::size_t CountLines(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0;
  return n;
}

TEST(PriceReloader, ConcurrentReloadsKeepOnePricingInfoSeries) {
  const std::string good = std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml";
  ExporterConfig config;
  auto registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter(*registry, config, "t", "t");
  RequestMetrics requests(config, exporter);
  Exposition exposition(registry, requests);
  PriceBook prices(PriceTable::LoadFile(good));
  exporter.PricingLoaded(*prices.Current());
  PriceReloader reloader(prices, exporter, good);

  constexpr int kPerThread = 40;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) exposition.Render();
  });
  std::vector<std::thread> reloaders;
  for (int t = 0; t < 2; ++t) {
    reloaders.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) EXPECT_EQ(reloader.Reload(), "");
    });
  }
  for (auto& t : reloaders) t.join();
  done = true;
  scraper.join();
  const std::string text = exposition.Render();
  EXPECT_EQ(CountLines(text, "llm_exporter_pricing_info{"), 1u) << text;
  EXPECT_EQ(CountLines(text, "llm_exporter_pricing_reloads_total{result=\"success\"} " +
                                 std::to_string(1 + 2 * kPerThread)),
            1u);
}

}  // namespace
}  // namespace llmcost
