#pragma once
// Parse stage for OTLP traces: an ExportTraceServiceRequest (protobuf or proto3
// JSON) -> one UsageEvent per span carrying OpenTelemetry GenAI usage
// (gen_ai.usage.input_tokens / output_tokens), priced like any event:
//   - input: under the conventions gen_ai.usage.input_tokens INCLUDES cache reads
//     and writes; the exporter's fresh input is input - cache_read - cache_creation
//     (a span whose input is smaller than its cache tokens is refused, bad_field);
//   - cache writes (gen_ai.usage.cache_creation.input_tokens) carry no TTL: 5-minute
//     writes, the Messages API's default;
//   - model: gen_ai.response.model, else gen_ai.request.model; provider:
//     gen_ai.provider.name, else the older gen_ai.system;
//   - de-duplication: gen_ai.response.id, else the span's trace and span id.
// Spans without GenAI usage are ignored (counted), never refused.
// Plain function, no sockets: unit-tested and fuzzed alone (fuzz/otlp_fuzz.cpp).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "event/event_parser.h"
#include "event/otlp_attributes.h"

namespace llmcost {

struct OtlpTracesDecoded {
  bool malformed = false;
  std::string error;
  std::size_t spans = 0;
  std::size_t ignored = 0;  // spans without GenAI usage
  std::vector<ParseResult> items;
  std::vector<std::size_t> positions;
  std::vector<std::string> overlap_keys;  // resources whose GenAI histograms these spans cover
  std::vector<OtlpSource> sources;
};

OtlpTracesDecoded DecodeOtlpTraces(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping);

std::string OtlpTracesResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message);

}  // namespace llmcost
