#pragma once
// The record stage's per-label-set values, shared by request_metrics.cpp (live
// recording, the scrape protocol), request_metrics_state.cpp (snapshot and
// restore) and request_text.cpp (the /metrics text). Internal to record/.
//
// Plain atomics, not prometheus-cpp handles, and outside the registry: at 100,000
// series, a scrape through the registry copied every series (labels as strings,
// values) into MetricFamily objects before writing the text, and that copy was most
// of the scrape's time and peak memory. Here each group of series keeps its label
// block rendered once, escaped and in the sorted order prometheus-cpp used, and
// the scrape writes lines straight from these values (request_text.cpp).
// Counts are integers (uint64: one lock-free add, exact past 2^53); the state
// file's counts are whole numbers up to 2^53, so they restore exactly.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "record/pico_counter.h"
#include "record/request_metrics.h"

namespace llmcost {

inline constexpr char kKeySeparator = '\x1f';  // cannot appear in a sanitised label value

// A label block rendered for /metrics: `name="escaped value",` per label, sorted by
// name, each pair ending with ','. `cut` is where a series' own label sorts in (the
// byte offset before which all names sort lower), by RequestMetrics::ExtraLabel.
struct RenderedLabels {
  std::string text;
  std::array<std::uint32_t, 4> cut{};
};

struct RequestMetrics::HistogramSet {
  RenderedLabels labels;  // provider, model, the histogram label (le follows them, as in prometheus-cpp)
  // Per bucket (not cumulative, +Inf last), each histogram's after the one before
  // it (RequestMetrics::histogram_offsets_), so one allocation for all five.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts;
  std::array<std::atomic<double>, kRequestHistogramCount> sums{};
};

// The label sets that differ only by status: their tokens and money. Money is exact
// pico-dollars: a sum of doubles depends on the order of its terms, so with several
// ingest threads the same events could give totals that differ in the last digits.
// Rendered as USD (one division, at scrape).
struct RequestMetrics::SeriesGroup {
  std::vector<std::string> values;  // provider, model, platform, service_tier, attribution values (no status)
  RenderedLabels labels;
  std::array<std::atomic<std::uint64_t>, kTokenTypeCount> tokens{};
  std::array<PicoCounter, kCostTypeCount> cost{};
  PicoCounter savings;
  PicoCounter premium;
  PicoCounter client_reported;
};

// llm_unpriced_requests_total of one provider and model, by UnpricedReason (index 0 unused).
struct RequestMetrics::UnpricedSet {
  std::string provider;
  std::string model;
  RenderedLabels labels;
  std::array<std::atomic<std::uint64_t>, kUnpricedReasonCount> count{};
};

struct RequestMetrics::SeriesSet {
  SeriesGroup* group = nullptr;  // shared with the other statuses' sets
  RequestStatus status = RequestStatus::kOk;
  std::atomic<std::uint64_t> requests{0};
  UnpricedSet* unpriced = nullptr;
  HistogramSet* histograms = nullptr;

  std::uint64_t created_epoch = 0;
  // When a scrape first showed this set at zero; guarded by sets_mu_.
  std::optional<std::chrono::steady_clock::time_point> zero_scraped_at;
  std::atomic<bool> live{false};
  std::mutex pending_mu;
  std::vector<Observation> pending;
};

}  // namespace llmcost
