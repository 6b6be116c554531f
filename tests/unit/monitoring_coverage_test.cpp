// The start-up check of budgets and histogram thresholds against what the
// generated rules cover (config/monitoring_coverage.h).
#include "config/monitoring_coverage.h"

#include <gtest/gtest.h>

namespace llmcost {
namespace {

const char* kMixin = R"(
labels: {feature: feature, tenant: tenant, route: route, histogram: feature}
budget_scopes: [feature, tenant]
histogram_thresholds:
  expensive_request_usd: {histogram: cost_usd, value: 1}
  latency_p95_seconds: {histogram: duration_seconds, value: 30}
)";

bool Mentions(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

TEST(MonitoringCoverage, ShippedConfigsAgree) {
  // The bare binary (no --config.file) and the shipped config both start with the
  // built-in monitoring config.
  const auto m = MonitoringCoverage::Embedded();
  EXPECT_TRUE(UncoveredByRules(ExporterConfig{}, m).empty());
  const auto shipped =
      ExporterConfig::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/config/llm-cost-exporter.yml");
  EXPECT_TRUE(UncoveredByRules(shipped, m).empty());
  const auto file = MonitoringCoverage::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/prometheus/mixin/config.yml");
  EXPECT_EQ(file.budget_labels, m.budget_labels);
  EXPECT_EQ(file.histogram_thresholds.size(), m.histogram_thresholds.size());
}

TEST(MonitoringCoverage, RefusesBudgetOnUncoveredLabelNamingIt) {
  const auto m = MonitoringCoverage::Parse(kMixin, "mixin.yml");
  const auto c = ExporterConfig::Parse(
      "budgets:\n"
      "  - {scope: global, period: month, usd: 10}\n"
      "  - {scope: 'feature:chat', period: month, usd: 5}\n"
      "  - {scope: 'route:/api/chat', period: day, usd: 1}\n");
  const auto u = UncoveredByRules(c, m);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_TRUE(Mentions(u, "budgets[2].scope 'route:/api/chat'")) << u[0];
  EXPECT_TRUE(Mentions(u, "label route")) << u[0];
  EXPECT_TRUE(Mentions(u, "mixin.yml")) << u[0];
  // Covered once the monitoring config lists route.
  const auto with_route = MonitoringCoverage::Parse(
      std::string(kMixin) + "\n", "m2");
  auto m2 = with_route;
  m2.budget_labels.push_back("route");
  EXPECT_TRUE(UncoveredByRules(c, m2).empty());
}

TEST(MonitoringCoverage, RefusesMissingThresholdBucketAndOtherHistogramLabel) {
  const auto m = MonitoringCoverage::Parse(kMixin, "mixin.yml");
  const auto c = ExporterConfig::Parse(
      "labels: {attribution: [feature, tenant, route], histogram_label: tenant}\n"
      "histograms: {cost_usd_buckets: [0.01, 0.1, 2, 5]}\n");
  const auto u = UncoveredByRules(c, m);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_TRUE(Mentions(u, "histograms.cost_usd_buckets has no bound 1")) << u[1];
  EXPECT_TRUE(Mentions(u, "expensive_request_usd"));
  EXPECT_TRUE(Mentions(u, "labels.histogram_label 'tenant'"));
  // Latency's 30 s bound is still in the default duration buckets: not reported.
  EXPECT_FALSE(Mentions(u, "latency_p95_seconds"));
}

TEST(MonitoringCoverage, RejectsBadMonitoringConfigByKey) {
  auto expect = [](const std::string& yaml, const std::string& needle) {
    try {
      MonitoringCoverage::Parse(yaml, "m.yml");
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect("budget_scopes: [feature]", "labels");
  expect("labels: {feature: f, tenant: t, route: r, histogram: f}\nbudget_scopes: [model]", "'model' is not a label role");
  expect("labels: {feature: f, tenant: t, route: r, histogram: f}\n"
         "histogram_thresholds: {x: {histogram: nope, value: 1}}",
         "histogram_thresholds.x.histogram");
}

}  // namespace
}  // namespace llmcost
