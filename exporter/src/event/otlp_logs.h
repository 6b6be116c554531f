#pragma once
// Parse stage for OTLP logs: an ExportLogsServiceRequest (protobuf or proto3 JSON)
// -> one UsageEvent per Claude Code `claude_code.api_request` log record, or an
// EventError naming the record's attribute at fault. Other log records (Claude
// Code's user_prompt, tool_result, ... events) are not usage: they are counted as
// ignored, never refused. A body that is not an OTLP logs request at all is
// malformed (the receiver answers 400, not retryable).
//
// Attribution labels come only from the configured mapping (config `otlp.labels`):
// session.id, user.*, prompt.id and unmapped attributes never become labels.
// Claude Code's own cost_usd is kept as `reported_cost_usd`, for comparison beside
// the exporter's price, never as the price (see docs/otlp.md).
// A plain function, no sockets: unit-tested and fuzzed alone (fuzz/otlp_fuzz.cpp).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/event_parser.h"
#include "event/otlp_attributes.h"
#include "event/usage_event.h"

namespace llmcost {

inline constexpr std::string_view kClaudeCodeApiRequest = "claude_code.api_request";

struct OtlpLogsDecoded {
  bool malformed = false;
  std::string error;               // when malformed: what and where
  std::size_t records = 0;         // log records in the request
  std::size_t ignored = 0;         // of them: not usage events
  std::vector<ParseResult> items;  // one per usage record; EventError::index = the record's position
  std::vector<std::size_t> positions;  // items[i] is the request's log record positions[i]
  // Keys under which this request's api_request records cover the same client's
  // metrics (see OtlpOverlapKey): its metrics are then not counted again.
  std::vector<std::string> overlap_keys;
  std::vector<OtlpSource> sources;  // one per resource
};

OtlpLogsDecoded DecodeOtlpLogs(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping);

// ExportLogsServiceResponse in the request's encoding: empty partial_success
// when nothing was rejected.
std::string OtlpLogsResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message);

}  // namespace llmcost
