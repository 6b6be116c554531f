#pragma once
// MetricsState: a point-in-time copy of every counter and histogram the exporter
// owns, as plain values, so it can be written to the state file and restored after
// a restart (Prometheus then sees no counter reset). Series are listed once each:
// token and cost series are shared by the label sets that differ only by status.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "event/event_error.h"
#include "event/usage_event.h"
#include "pricing/pricer.h"

namespace llmcost {

struct RequestCountState {
  std::vector<std::string> values;  // provider, model, attribution values in config order
  std::string status;
  double count = 0;
};

struct SeriesGroupState {
  std::vector<std::string> values;  // provider, model, attribution values
  std::array<double, kTokenTypeCount> tokens{};
  std::array<double, kCostTypeCount> cost{};
  double cache_savings = 0;
  double cache_write_premium = 0;
};

struct UnpricedState {
  std::string provider, model, reason;
  double count = 0;
};

struct HistogramState {
  std::vector<double> bucket_counts;  // per bucket (not cumulative), last is +Inf
  double sum = 0;
};

// The five request histograms, in the order duration, ttft, input, output, cost.
inline constexpr std::size_t kRequestHistogramCount = 5;

struct HistogramSetState {
  std::vector<std::string> values;  // provider, model, histogram label value
  std::array<HistogramState, kRequestHistogramCount> histograms;
};

struct RequestMetricsState {
  std::vector<std::string> attribution_labels;
  std::string histogram_label;
  std::array<std::vector<double>, kRequestHistogramCount> bucket_bounds;
  std::vector<RequestCountState> requests;
  std::vector<SeriesGroupState> groups;
  std::vector<UnpricedState> unpriced;
  std::vector<HistogramSetState> histogram_sets;
};

struct ExporterCountersState {
  // [transport][result]: accepted, rejected
  std::array<std::array<double, 2>, 2> events{};
  // [transport][reason]
  std::array<std::array<double, kRejectReasonCount>, 2> rejected{};
  std::map<std::string, double> label_overflow;
};

struct MetricsState {
  RequestMetricsState requests;
  ExporterCountersState exporter;
  std::vector<std::pair<std::int64_t, std::uint64_t>> request_ids;  // (seen unix seconds, hash)
};

}  // namespace llmcost
