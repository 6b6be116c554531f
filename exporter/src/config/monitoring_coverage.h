#pragma once
// MonitoringCoverage: what the shipped Prometheus rules can alert on, read from the
// monitoring config the rules are generated from (prometheus/mixin/config.yml;
// --monitoring.config, default the copy compiled into the binary). The exporter
// refuses to start with a budget or a histogram layout no rule can alert on: a
// `route:` budget the rules never read, or a bucket bound a threshold needs that the
// histogram lacks, would otherwise be exported and silently never page.
#include <string>
#include <string_view>
#include <vector>

#include "config/exporter_config.h"

namespace llmcost {

struct HistogramThreshold {
  std::string name;       // e.g. expensive_request_usd (thresholds.yml llm:alert_threshold:<name>)
  std::string histogram;  // exporter config histograms.<histogram>_buckets, e.g. cost_usd
  double value = 0;       // must be one of that histogram's bucket bounds
};

struct MonitoringCoverage {
  std::string origin;                       // file name, or "built-in"
  std::vector<std::string> budget_labels;   // labels a budget scope may use besides "global"
  std::string histogram_label;              // the label the histogram rules group by
  std::vector<HistogramThreshold> histogram_thresholds;

  // Throw ConfigError naming the file and the key at fault.
  static MonitoringCoverage LoadFile(const std::string& path);
  static MonitoringCoverage Parse(const std::string& yaml_text, const std::string& origin);
  // The monitoring config compiled into the binary (the shipped prometheus/mixin/config.yml).
  static MonitoringCoverage Embedded();
  static std::string_view EmbeddedText();
};

// One message per budget, histogram label or threshold of `config` that no rule of
// `coverage` can alert on, naming the key and how to fix it; empty if none.
std::vector<std::string> UncoveredByRules(const ExporterConfig& config, const MonitoringCoverage& coverage);

}  // namespace llmcost
