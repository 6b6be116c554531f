#pragma once
// Parse stage for OTLP metrics: an ExportMetricsServiceRequest (protobuf or proto3
// JSON) -> the data points that carry usage, and then (AggregateOtlpPoints, with
// the streams' state) usage events priced from aggregates:
//   - Claude Code's claude_code.token.usage (`type` = input, output, cacheRead,
//     cacheCreation) and claude_code.cost.usage (kept as the client's reported
//     cost, never the price), the fallback when its logs are not exported;
//   - GenAI gen_ai.client.token.usage histograms (their sum; `gen_ai.token.type` =
//     input or output only: cache tokens, which the conventions count in input,
//     are priced as fresh input).
// The points of one client, model, attribute set and interval make one event,
// marked `from_aggregate`: it adds tokens and cost, never a request or a histogram
// observation. Other metrics are ignored (counted), never refused.
// Plain functions, no sockets: unit-tested and fuzzed alone (fuzz/otlp_fuzz.cpp).
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/event_parser.h"
#include "event/otlp_attributes.h"
#include "event/otlp_streams.h"
#include "event/usage_event.h"

namespace llmcost {

inline constexpr std::string_view kClaudeCodeTokenUsage = "claude_code.token.usage";
inline constexpr std::string_view kClaudeCodeCostUsage = "claude_code.cost.usage";
inline constexpr std::string_view kGenAiClientTokenUsage = "gen_ai.client.token.usage";

enum class OtlpAggregate : std::uint8_t { kClaudeCodeTokens, kClaudeCodeCost, kGenAiTokens };

struct OtlpMetricPoint {
  std::size_t index = 0;  // the point's position among the request's data points
  OtlpAggregate kind = OtlpAggregate::kClaudeCodeTokens;
  OtlpStreamPoint stream;
  TokenType token_type = TokenType::kInput;  // token metrics
  std::string group;        // points with the same group make one event
  std::string overlap_key;  // OtlpOverlapKey of the point
  UsageEvent event;         // model, provider, labels, speed, platform, time; no tokens yet
};

struct OtlpMetricsDecoded {
  bool malformed = false;
  std::string error;
  std::size_t points = 0;   // data points in the request
  std::size_t ignored = 0;  // of them: not usage metrics
  std::vector<OtlpMetricPoint> usage;
  std::vector<EventError> errors;  // refused points; EventError::index = the point's position
  std::vector<OtlpSource> sources;  // one per resource
};

OtlpMetricsDecoded DecodeOtlpMetrics(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping);

struct OtlpAggregated {
  std::vector<ParseResult> items;          // events (from_aggregate) and refused points
  std::vector<std::size_t> positions;      // items[i]'s first point
  std::vector<std::size_t> item_points;    // points behind items[i]
  std::vector<std::string> item_keys;      // items[i]'s OtlpOverlapKey ("" for a refusal)
  std::array<std::size_t, kOtlpIgnoreReasons.size()> ignored{};  // points not counted, by reason
};

// Runs each point through its stream (delta/cumulative, duplicates), drops what a
// per-request signal of the same source already covers, and groups the rest into
// events. Updates `streams`.
OtlpAggregated AggregateOtlpPoints(OtlpMetricsDecoded& decoded, OtlpStreams& streams, std::int64_t now_unix,
                                   const OtlpMapping& mapping);

// ExportMetricsServiceResponse in the request's encoding.
std::string OtlpMetricsResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message);

}  // namespace llmcost
