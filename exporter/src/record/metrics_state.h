#pragma once
// MetricsState: a point-in-time copy of every counter and histogram the exporter
// owns, as plain values, so it can be written to the state file and restored after
// a restart (Prometheus then sees no counter reset). Series are listed once each:
// token and cost series are shared by the label sets that differ only by status.
//
// Everything is held BY NAME: labels as name -> value, token and cost types, reject
// reasons, transports, results and histograms by the names they have on /metrics.
// Adding a label, a type or a reason therefore never shifts what an older file
// means (a name this build does not know is skipped and counted, see RestoreReport).
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmcost {

using LabelMap = std::map<std::string, std::string>;  // label name -> value

struct RequestCountState {
  LabelMap labels;  // the record labels, the attribution labels and status
  double count = 0;
};

struct SeriesGroupState {
  LabelMap labels;                       // the record labels and the attribution labels
  std::map<std::string, double> tokens;  // by token_type (TokenTypeName)
  std::map<std::string, double> cost;    // by cost_type (CostTypeName), USD
  double cache_savings = 0;
  double cache_write_premium = 0;
  // llm_client_reported_cost_usd_total: a client's own figure (Claude Code's
  // cost_usd), beside ours, never in `cost`. Absent in files before it: 0.
  double client_reported_cost = 0;
};

struct UnpricedState {
  LabelMap labels;  // provider, model, reason
  double count = 0;
};

struct HistogramState {
  std::vector<double> bucket_counts;  // per bucket (not cumulative), last is +Inf
  double sum = 0;
};

// The request histograms by the names of their bucket settings (config
// histograms.<name>_buckets); llm_request_<name> on /metrics, except ttft.
inline constexpr std::array<std::string_view, 5> kRequestHistogramNames = {
    "duration_seconds", "ttft_seconds", "input_tokens", "output_tokens", "cost_usd"};
inline constexpr std::size_t kRequestHistogramCount = kRequestHistogramNames.size();

struct HistogramSetState {
  LabelMap labels;  // provider, model and the histogram label
  std::map<std::string, HistogramState> by_name;  // by kRequestHistogramNames
};

struct RequestMetricsState {
  std::map<std::string, std::vector<double>> bucket_bounds;  // by histogram name
  std::vector<RequestCountState> requests;
  std::vector<SeriesGroupState> groups;
  std::vector<UnpricedState> unpriced;
  std::vector<HistogramSetState> histogram_sets;
};

struct ExporterCountersState {
  std::map<std::string, std::map<std::string, double>> events;    // transport -> result -> count
  std::map<std::string, std::map<std::string, double>> rejected;  // transport -> reason -> count
  std::map<std::string, double> label_overflow;                   // label -> count
  double udp_receive_dropped = 0;  // datagrams the kernel dropped (SO_RXQ_OVFL)
};

// One calendar period of a scope's spend ledger (record/spend_ledger.h): exact
// pico-dollars, kept by the period's start so a restore after a rollover knows
// which period they belong to.
struct PeriodSpendState {
  std::int64_t start_unix = 0;  // the UTC start of the period `spent_pusd` is for
  std::int64_t spent_pusd = 0;
  std::int64_t previous_pusd = 0;  // the period before it
};

struct ScopeSpendState {
  std::string scope;                               // "global" or "<label>:<value>"
  std::map<std::string, PeriodSpendState> periods;  // by kBudgetPeriodNames
};

// One UTC day of one model's first-party spend (record/spend_ledger.h, for
// reconciling against Anthropic's bill): by the day's start and the model name.
struct ModelDaySpendState {
  std::int64_t day_unix = 0;  // 00:00:00 UTC of the day
  std::string model;          // canonical model name
  std::int64_t spent_pusd = 0;
};

struct MetricsState {
  RequestMetricsState requests;
  ExporterCountersState exporter;
  std::vector<ScopeSpendState> spend;  // absent in files before the ledger: empty
  std::vector<ModelDaySpendState> model_days;  // absent in files before issue 16: empty
  std::vector<std::pair<std::int64_t, std::uint64_t>> request_ids;  // (seen unix seconds, hash)
};

// What a restore did. An entry whose type, reason, status, transport, result or
// histogram name this build does not know (a file from a newer release) is skipped,
// counted by kind and named here; everything else restores.
struct RestoreReport {
  std::string incompatible;  // non-empty: the state does not fit this configuration; nothing restored
  std::string note;          // non-empty: restored, but some histograms start from zero (why)
  std::map<std::string, double> skipped;  // kind -> entries skipped for an unknown name
  std::vector<std::string> unknown_names;  // "kind=name", the first few, for the log
  // Spend ledger scopes in the file that no longer have a budget in the config
  // (a config change, not data from a newer release): not restored, logged.
  std::vector<std::string> spend_scopes_dropped;

  void Unknown(std::string_view kind, std::string_view name) {
    skipped[std::string(kind)] += 1;
    std::string entry = std::string(kind) + "=" + std::string(name);
    if (unknown_names.size() < 20 && std::find(unknown_names.begin(), unknown_names.end(), entry) == unknown_names.end()) {
      unknown_names.push_back(std::move(entry));
    }
  }
};

// The kinds of name a state file entry is keyed by (the `kind` label of
// llm_exporter_state_entries_skipped_total).
inline constexpr std::array<std::string_view, 10> kStateNameKinds = {
    "token_type", "cost_type", "status", "unpriced_reason", "transport", "event_result", "reject_reason",
    "histogram", "spend_period", "model_day"};

}  // namespace llmcost
