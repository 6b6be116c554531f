#pragma once
// ExporterConfig: what a user sets in --config.file (YAML): attribution labels and
// their caps, histogram buckets, budgets. Defaults match docs/metrics.md, so the
// exporter runs without a config file.
#include <array>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/usage_event.h"

namespace llmcost {

// The calendar periods a budget and the spend ledger (record/spend_ledger.h) know,
// in UTC: a day, an ISO week (Monday 00:00 to Monday), a calendar month.
inline constexpr std::array<std::string_view, 3> kBudgetPeriodNames = {"day", "week", "month"};
inline constexpr std::size_t kBudgetPeriodCount = kBudgetPeriodNames.size();
// The scope every event counts in, whether or not it has a budget.
inline constexpr std::string_view kGlobalScope = "global";
// Fractions of a budget at which /v1/budgets reports `warn` and `exceeded`, unless a
// budget sets its own warn_at / block_at.
inline constexpr double kDefaultWarnAt = 0.8;
inline constexpr double kDefaultBlockAt = 1.0;

struct Budget {
  std::string scope;   // "global" or "<attribution label>:<value>"
  std::string period;  // one of kBudgetPeriodNames
  double usd = 0;
  double warn_at = kDefaultWarnAt;    // state `warn` from spent >= warn_at * usd
  double block_at = kDefaultBlockAt;  // state `exceeded` from spent >= block_at * usd
};

struct HistogramBuckets {
  std::vector<double> duration_seconds{0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300};
  std::vector<double> ttft_seconds{0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30};
  std::vector<double> input_tokens{256, 1024, 4096, 16384, 32768, 65536, 131072, 200000, 500000, 1000000};
  std::vector<double> output_tokens{64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  std::vector<double> cost_usd{0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10};
};

// When a task counts as a runaway: MORE than this many hops (requests), this cost
// or this long from its first to its latest request.
struct RunawayLimits {
  std::uint64_t hops = 12;
  std::int64_t cost_pico = 500'000'000'000;  // 0.50 USD
  std::int64_t duration_seconds = 30 * 60;
};

// The task tracker (record/task_tracker.h): which fields name a task, when a task
// ends, how many are kept, and the runaway limits (per feature where given; a
// feature's entry replaces only the limits it names).
struct TaskConfig {
  std::vector<std::string> id_fields = kDefaultTaskIdFields;
  std::int64_t idle_timeout_seconds = 10 * 60;
  std::size_t max_tasks = 100'000;
  RunawayLimits runaway;
  std::map<std::string, RunawayLimits> runaway_by_feature;
  std::vector<double> hops_buckets{1, 2, 3, 5, 8, 12, 20, 30, 50, 100};
  std::vector<double> cost_usd_buckets{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10};
};

// Repeated prompts (record/prompt_repeats.h): a request is a repeat when its
// prompt_hash was already seen at least max_repeats times in the feature within
// the last window_seconds (so the 6th identical prompt in 60 s is the first repeat).
struct PromptConfig {
  std::int64_t window_seconds = 60;
  std::uint32_t max_repeats = 5;
  std::size_t max_hashes = 100'000;
};

struct ExporterConfig {
  std::vector<std::string> attribution_labels{"feature", "tenant", "route"};
  std::string histogram_label = "feature";
  std::size_t max_values_per_label = 500;
  std::map<std::string, std::size_t> max_values_by_label;  // per-label overrides
  std::size_t max_models = 200;
  std::size_t max_providers = 20;
  std::size_t max_label_value_length = 64;
  // Cap on distinct request label sets (their product), beyond which events fold into
  // one `__overflow__` label set: each label's cap bounds its values, not how many
  // combinations of them arrive. Sized so that a full scrape stays under 1 s and RSS
  // under ~200 MiB on a 2-core machine (docs/reliability.md, "Cardinality").
  std::size_t max_label_sets = 5000;
  HistogramBuckets buckets;
  std::vector<Budget> budgets;
  TaskConfig tasks;
  PromptConfig prompts;
  // OTLP ingest (config `otlp`): attribution label -> the OTLP attributes it is
  // read from (first present wins; record attributes before resource ones).
  std::vector<std::pair<std::string, std::vector<std::string>>> otlp_labels;
  // An undivided Claude Code cache_creation_tokens count: 1-hour writes (Claude
  // Code's), or 5-minute ones (`otlp.cache_write_default: 5m`).
  bool otlp_cache_writes_1h = true;

  std::size_t CapFor(const std::string& label) const;

  // Throw ConfigError naming the file and the key at fault.
  static ExporterConfig LoadFile(const std::string& path);
  static ExporterConfig Parse(const std::string& yaml_text, const std::string& origin = "<string>");
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace llmcost
