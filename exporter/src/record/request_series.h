#pragma once
// The record stage's per-label-set handles, shared by request_metrics.cpp (live
// recording, the scrape protocol) and request_metrics_state.cpp (snapshot and
// restore). Internal to record/.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "record/pico_counter.h"
#include "record/request_metrics.h"

namespace llmcost {

inline constexpr char kKeySeparator = '\x1f';  // cannot appear in a sanitised label value

struct RequestMetrics::HistogramSet {
  std::array<prometheus::Histogram*, kRequestHistogramCount> each{};  // by kRequestHistograms
};

// The money of the label sets that differ only by status, as exact pico-dollars:
// a sum of doubles depends on the order of its terms, so with several ingest
// threads the same events could give totals that differ in the last digits.
// Rendered as USD (one division, at scrape) by CollectMoney().
struct RequestMetrics::MoneyGroup {
  std::vector<std::string> values;  // provider, model, attribution values (no status)
  std::array<PicoCounter, kCostTypeCount> cost{};
  PicoCounter savings;
  PicoCounter premium;
  PicoCounter client_reported;
};

struct RequestMetrics::SeriesSet {
  std::vector<std::string> values;  // provider, model, attribution values
  RequestStatus status = RequestStatus::kOk;
  prometheus::Counter* requests = nullptr;
  std::array<prometheus::Counter*, kTokenTypeCount> tokens{};
  MoneyGroup* money = nullptr;  // shared with the other statuses' sets
  std::array<prometheus::Counter*, kUnpricedReasonCount> unpriced{};  // by UnpricedReason (index 0 unused)
  HistogramSet* histograms = nullptr;

  std::uint64_t created_epoch = 0;
  // When a scrape first showed this set at zero; guarded by sets_mu_.
  std::optional<std::chrono::steady_clock::time_point> zero_scraped_at;
  std::atomic<bool> live{false};
  std::mutex pending_mu;
  std::vector<Observation> pending;
};

}  // namespace llmcost
