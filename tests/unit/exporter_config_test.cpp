#include "config/exporter_config.h"

#include <gtest/gtest.h>

namespace llmcost {
namespace {

void ExpectError(const std::string& yaml, const std::string& needle) {
  try {
    ExporterConfig::Parse(yaml, "config.yml");
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ExporterConfig, EmptyFileMeansDefaults) {
  const auto c = ExporterConfig::Parse("");
  EXPECT_EQ(c.attribution_labels, (std::vector<std::string>{"feature", "tenant", "route"}));
  EXPECT_EQ(c.histogram_label, "feature");
  EXPECT_EQ(c.CapFor("tenant"), 500u);
}

TEST(ExporterConfig, ShippedFileLoads) {
  const auto c = ExporterConfig::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/config/llm-cost-exporter.yml");
  EXPECT_EQ(c.CapFor("tenant"), 1000u);
  EXPECT_EQ(c.CapFor("feature"), 500u);
  ASSERT_FALSE(c.budgets.empty());
  EXPECT_EQ(c.budgets[0].scope, "global");
  EXPECT_EQ(c.buckets.cost_usd.back(), 10);
}

TEST(ExporterConfig, RejectsMistakesByName) {
  ExpectError("labels: {attribution: [feature, model]}", "'model' is reserved");
  ExpectError("labels: {attribution: [Feature]}", "not a valid Prometheus label name");
  ExpectError("labels: {attribution: [a, a]}", "listed twice");
  ExpectError("labels: {attribution: [tenant]}", "histogram_label");
  ExpectError("labels: {max_values: {nope: 3}}", "not an attribution label");
  ExpectError("labels: {colour: red}", "unknown key 'colour'");
  ExpectError("histograms: {cost_usd_buckets: [1, 0.5]}", "strictly increasing");
  ExpectError("budgets: [{scope: global, period: year, usd: 5}]", "one of day, week, month");
  ExpectError("budgets: [{scope: global, period: month, usd: -5}]", "positive");
  ExpectError("budgets: [{scope: 'customer:x', period: month, usd: 5}]", "attribution label");
  ExpectError("budgets: [{scope: global, period: month, usd: 5}, {scope: global, period: month, usd: 6}]", "duplicate");
  ExpectError("labels: [", "config.yml");
}

}  // namespace
}  // namespace llmcost
