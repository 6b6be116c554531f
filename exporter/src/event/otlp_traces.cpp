#include "event/otlp_traces.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "otlp_traces.pb.h"

namespace llmcost {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool HasUsage(const OtlpAttributes& a) {
  return OtlpFind(a, "gen_ai.usage.input_tokens") != nullptr || OtlpFind(a, "gen_ai.usage.output_tokens") != nullptr;
}

ParseResult ToUsageEvent(const otlp::Span& span, const OtlpAttributes& a, const OtlpAttributes& resource,
                         std::size_t index, const OtlpMapping& mapping) {
  UsageEvent e;
  std::optional<EventError> error;
  auto bad = [index](std::string_view attribute, RejectReason reason, std::string message) {
    return EventError{index, "attributes." + std::string(attribute), reason, std::move(message)};
  };
  auto model = OtlpText(a, nullptr, "gen_ai.response.model");
  if (!model || model->empty()) model = OtlpText(a, nullptr, "gen_ai.request.model");
  if (!model || model->empty()) {
    return bad("gen_ai.request.model", RejectReason::kMissingModel,
               "a GenAI span with usage needs gen_ai.response.model or gen_ai.request.model");
  }
  if (model->size() > 256) return bad("gen_ai.request.model", RejectReason::kBadField, "longer than 256 bytes");
  e.model_id = *model;
  OtlpGenAiProvider(a, &resource, e);
  auto count = [&](std::string_view key) {
    return OtlpTokenCount(OtlpFind(a, key), "attributes." + std::string(key), index, error).value_or(0);
  };
  const std::uint64_t input = count("gen_ai.usage.input_tokens");
  const std::uint64_t output = count("gen_ai.usage.output_tokens");
  const std::uint64_t read = count("gen_ai.usage.cache_read.input_tokens");
  const std::uint64_t write = count("gen_ai.usage.cache_creation.input_tokens");
  if (error) return *error;
  if (input < read + write) {
    return bad("gen_ai.usage.input_tokens", RejectReason::kBadField,
               "smaller than cache_read + cache_creation input tokens; under the GenAI conventions input includes "
               "cache tokens");
  }
  e.tokens[TokenType::kInput] = input - read - write;
  e.tokens[TokenType::kOutput] = output;
  e.tokens[TokenType::kCacheRead] = read;
  e.tokens[TokenType::kCacheWrite5m] = write;  // no TTL in the conventions: the API's default
  if (span.end_time_unix_nano() >= span.start_time_unix_nano() && span.start_time_unix_nano() != 0) {
    const double seconds = static_cast<double>(span.end_time_unix_nano() - span.start_time_unix_nano()) / 1e9;
    if (seconds <= kMaxLatencyMs / 1000.0) e.latency_seconds = seconds;
  }
  if (span.status().code() == otlp::SpanStatus::STATUS_CODE_ERROR) e.status = RequestStatus::kOtherError;
  if (auto id = OtlpText(a, nullptr, "gen_ai.response.id"); id && !id->empty()) {
    if (id->size() > 256) return bad("gen_ai.response.id", RejectReason::kBadField, "longer than 256 bytes");
    e.request_id = *id;
  } else if (!span.trace_id().empty() && span.trace_id().size() <= 64 && span.span_id().size() <= 64) {
    e.request_id = "span:" + Hex(span.trace_id()) + ":" + Hex(span.span_id());
  }
  const std::uint64_t t = span.end_time_unix_nano() != 0 ? span.end_time_unix_nano() : span.start_time_unix_nano();
  if (t != 0) e.ts_unix = static_cast<std::int64_t>(t / 1'000'000'000ULL);
  OtlpMapLabels(mapping, a, &resource, e.labels);
  return e;
}

}  // namespace

OtlpTracesDecoded DecodeOtlpTraces(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping) {
  OtlpTracesDecoded out;
  otlp::ExportTraceServiceRequest request;
  if (encoding == OtlpEncoding::kProtobuf) {
    if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      out.malformed = true;
      out.error = "body is not a protobuf ExportTraceServiceRequest";
      return out;
    }
  } else {
    // OTLP/JSON writes trace and span ids in hex where proto3 JSON has base64: hex
    // digits are base64 characters, so they decode (to other bytes) consistently,
    // which is all de-duplication needs.
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(body.data(), body.size()), &request, options);
    if (!status.ok()) {
      out.malformed = true;
      out.error = "body is not an OTLP/JSON ExportTraceServiceRequest: " + std::string(status.message());
      if (out.error.size() > 300) out.error.resize(300);
      return out;
    }
  }
  for (const auto& rs : request.resource_spans()) {
    const OtlpAttributes resource = OtlpAttributesFromProto(rs.resource().attributes());
    out.sources.push_back(OtlpSourceOf(resource));
    bool usage_here = false;
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        const std::size_t index = out.spans++;
        const OtlpAttributes a = OtlpAttributesFromProto(span.attributes());
        if (!HasUsage(a)) {
          ++out.ignored;
          continue;
        }
        out.items.push_back(ToUsageEvent(span, a, resource, index, mapping));
        out.positions.push_back(index);
        // Only a span that decoded covers the source's histograms.
        usage_here = usage_here || std::holds_alternative<UsageEvent>(out.items.back());
      }
    }
    if (usage_here) out.overlap_keys.push_back(OtlpResourceKey(resource));
  }
  return out;
}

std::string OtlpTracesResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message) {
  if (encoding == OtlpEncoding::kProtobuf) {
    otlp::ExportTraceServiceResponse response;
    if (rejected > 0 || !error_message.empty()) {
      response.mutable_partial_success()->set_rejected_spans(static_cast<std::int64_t>(rejected));
      response.mutable_partial_success()->set_error_message(error_message);
    }
    return response.SerializeAsString();
  }
  nlohmann::json j = nlohmann::json::object();
  if (rejected > 0 || !error_message.empty()) {
    j["partialSuccess"] = {{"rejectedSpans", std::to_string(rejected)}, {"errorMessage", error_message}};
  }
  return j.dump();
}

}  // namespace llmcost
