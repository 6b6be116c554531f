#pragma once
// RequestObservation and the request histograms' table: what one priced request
// adds to its label set, and the one function that turns it into increments.
//
// Each request histogram is declared once, in kRequestHistograms (its state-file
// and config name, its /metrics name, help, buckets and the value it observes).
// Registration, live recording, the state snapshot of events held back for a label
// set not yet scraped (zero-first) and restore all loop over it.
//
// RecordObservationTo() is the one recording path: live recording (a sink that
// increments the exported series) and the snapshot of held-back events (a sink
// that adds to the saved values) both go through it, so they cannot disagree.
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "config/exporter_config.h"
#include "event/usage_event.h"
#include "pricing/money.h"
#include "pricing/pricer.h"

namespace llmcost {

// What one request adds to its label set: numbers only (no strings to copy), so
// recording and holding pending ones is cheap. A request that bills several models
// (usage.iterations with an advisor) adds one observation per model: the request
// itself, its latency and its size/cost histograms only under its own model.
struct RequestObservation {
  TokenCounts tokens;  // billed under this set's model
  CostAmounts cost;
  bool counts_request = true;
  TokenCounts request_tokens;           // the whole request, for the size histograms
  std::optional<PicoUsd> request_cost;  // the whole request when billed, for the cost histogram
  std::optional<double> latency_seconds;
  std::optional<double> ttft_seconds;
  PicoUsd client_reported = 0;  // the client's own figure, for comparison (never in `cost`)
};

struct RequestHistogram {
  std::string_view name;    // state file key and config histograms.<name>_buckets
  std::string_view metric;  // on /metrics
  std::string_view help;
  std::vector<double> HistogramBuckets::*buckets;
  // The value this request observes, if any (only requests, never the other models' parts).
  std::optional<double> (*value)(const RequestObservation&);
};

namespace request_histogram_values {
// Failed requests without usage would drag the size histograms to zero.
inline bool HasSize(const RequestObservation& o) {
  return o.request_tokens.TotalInput() > 0 || o.request_tokens[TokenType::kOutput] > 0;
}
inline std::optional<double> Latency(const RequestObservation& o) { return o.latency_seconds; }
inline std::optional<double> Ttft(const RequestObservation& o) { return o.ttft_seconds; }
inline std::optional<double> InputTokens(const RequestObservation& o) {
  if (!HasSize(o)) return std::nullopt;
  return static_cast<double>(o.request_tokens.TotalInput());
}
inline std::optional<double> OutputTokens(const RequestObservation& o) {
  if (!HasSize(o)) return std::nullopt;
  return static_cast<double>(o.request_tokens[TokenType::kOutput]);
}
inline std::optional<double> Cost(const RequestObservation& o) {
  if (!o.request_cost) return std::nullopt;
  return PicoToUsd(*o.request_cost);
}
}  // namespace request_histogram_values

// In /metrics order. A new request histogram is one line here (and its default
// buckets in HistogramBuckets).
inline const std::array<RequestHistogram, 5> kRequestHistograms = {{
    {"duration_seconds", "llm_request_duration_seconds", "End-to-end LLM request latency in seconds.",
     &HistogramBuckets::duration_seconds, &request_histogram_values::Latency},
    {"ttft_seconds", "llm_time_to_first_token_seconds", "Streaming time to first token in seconds.",
     &HistogramBuckets::ttft_seconds, &request_histogram_values::Ttft},
    {"input_tokens", "llm_request_input_tokens", "Total input tokens per request (fresh + cache read + cache write).",
     &HistogramBuckets::input_tokens, &request_histogram_values::InputTokens},
    {"output_tokens", "llm_request_output_tokens", "Output tokens per request.", &HistogramBuckets::output_tokens,
     &request_histogram_values::OutputTokens},
    {"cost_usd", "llm_request_cost_usd", "Cost per billed request in USD.", &HistogramBuckets::cost_usd,
     &request_histogram_values::Cost},
}};
inline constexpr std::size_t kRequestHistogramCount = 5;

// The index of a histogram by its state-file name, or -1.
inline int RequestHistogramIndex(std::string_view name) {
  for (std::size_t i = 0; i < kRequestHistograms.size(); ++i) {
    if (kRequestHistograms[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// Sink: Request(), Tokens(TokenType, n), ClientReported(pusd), Unpriced(reason),
// Cost(CostType, pusd), Savings(pusd), Premium(pusd), Observe(histogram index, value).
template <typename Sink>
void RecordObservationTo(const RequestObservation& obs, Sink& sink) {
  if (obs.counts_request) sink.Request();
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
    if (obs.tokens.by_type[t] > 0) sink.Tokens(static_cast<TokenType>(t), obs.tokens.by_type[t]);
  }
  if (obs.client_reported > 0) sink.ClientReported(obs.client_reported);
  if (obs.cost.unpriced != UnpricedReason::kNone) sink.Unpriced(obs.cost.unpriced);
  if (obs.cost.billed) {
    for (std::size_t c = 0; c < kCostTypeCount; ++c) {
      if (obs.cost.by_type[c] > 0) sink.Cost(static_cast<CostType>(c), obs.cost.by_type[c]);
    }
    if (obs.cost.cache_savings > 0) sink.Savings(obs.cost.cache_savings);
    if (obs.cost.cache_write_premium > 0) sink.Premium(obs.cost.cache_write_premium);
  }
  if (!obs.counts_request) return;
  for (std::size_t i = 0; i < kRequestHistograms.size(); ++i) {
    if (const auto v = kRequestHistograms[i].value(obs)) sink.Observe(i, *v);
  }
}

}  // namespace llmcost
