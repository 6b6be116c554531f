#pragma once
// What every OTLP decoder (logs, metrics, traces) shares: attribute values reduced
// to what usage fields and labels need, the configured label mapping, the request
// encodings, and the identity of a source. Plain data and functions, no sockets.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event_error.h"
#include "event/usage_event.h"

#include "otlp_common.pb.h"

namespace llmcost {

// One attribution label and the OTLP attributes it is read from, first present
// wins; record (point, span) attributes are looked at before resource attributes.
struct OtlpLabelSource {
  std::string label;
  std::vector<std::string> attributes;
};

struct OtlpMapping {
  std::vector<OtlpLabelSource> labels;
  // What an undivided cache_creation_tokens count is: Claude Code writes 1-hour
  // cache entries (pricing-facts.md, "Claude Code telemetry").
  TokenType cache_write_default = TokenType::kCacheWrite1h;
};

// Attributes that must never become labels, whatever the mapping says
// (unbounded or personal): checked when the config is loaded.
bool OtlpAttributeNeverALabel(std::string_view attribute);

enum class OtlpEncoding : std::uint8_t { kJson, kProtobuf };
// application/json and application/x-protobuf (parameters ignored); nullopt otherwise.
std::optional<OtlpEncoding> OtlpEncodingOf(std::string_view content_type);

// An attribute value reduced to what usage fields need; arrays, maps and bytes
// are kOther (never a token count, never a label).
struct OtlpValue {
  enum Kind : std::uint8_t { kNone, kString, kInt, kDouble, kBool, kOther } kind = kNone;
  std::string s;
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
};
using OtlpAttributes = std::vector<std::pair<std::string, OtlpValue>>;

OtlpAttributes OtlpAttributesFromProto(const google::protobuf::RepeatedPtrField<otlp::KeyValue>& kvs);
const OtlpValue* OtlpFind(const OtlpAttributes& a, std::string_view key);
// A string attribute, in `a` then in `resource` (may be null).
std::optional<std::string> OtlpText(const OtlpAttributes& a, const OtlpAttributes* resource, std::string_view key);

// A token count: an int, an integral double or a decimal string (Claude Code has
// sent each), 0..kMaxTokenCount. nullopt when absent; `error` set when present but bad.
std::optional<std::uint64_t> OtlpTokenCount(const OtlpValue* v, std::string_view field, std::size_t index,
                                            std::optional<EventError>& error);

// Attribution labels from the mapping: attributes first, then the resource's.
void OtlpMapLabels(const OtlpMapping& mapping, const OtlpAttributes& attributes, const OtlpAttributes* resource,
                   std::vector<std::pair<std::string, std::string>>& labels);

// Claude Code's anthropic.provider (firstParty, bedrock, vertex, foundry) as a platform.
Platform OtlpPlatformOf(const std::string& provider);

// Why an OTLP item (log record, data point, span) was not counted without being
// refused: none of these is an error, so none is reported to the client as rejected.
enum class OtlpIgnoreReason : std::uint8_t {
  kNotUsage,   // not a usage record/metric/span (Claude Code's user_prompt, other metrics)
  kDuplicate,  // already counted: a re-sent batch (request_id, or the same delta interval)
  kStale,      // an older cumulative value than one already counted (out of order)
  kBaseline,   // the first value of a cumulative stream that started before the exporter
  kUnchanged,  // nothing new: a zero delta
  kCovered     // an aggregate of usage this source also sends per request (logs, spans)
};
inline constexpr std::array<std::string_view, 6> kOtlpIgnoreReasons = {"not_usage", "duplicate", "stale",
                                                                         "baseline", "unchanged", "covered"};

// GenAI semantic conventions: the provider from gen_ai.provider.name (older:
// gen_ai.system) and the model. A Claude model served by Bedrock, Vertex AI or
// Azure is provider "anthropic" on that platform; no provider: "anthropic".
void OtlpGenAiProvider(const OtlpAttributes& attributes, const OtlpAttributes* resource, UsageEvent& e);

// Who sent it, for the per-source last-seen gauge: service.name and service.version
// of the resource ("" when absent).
struct OtlpSource {
  std::string service_name;
  std::string service_version;
};
OtlpSource OtlpSourceOf(const OtlpAttributes& resource);

// The key under which one client's per-request usage (Claude Code's api_request
// log records, GenAI spans) and its aggregates (metrics) are matched, so a client
// sending both is counted once: session.id when present, else the resource's
// attributes. Not a label: only compared in memory.
std::string OtlpOverlapKey(const OtlpAttributes& attributes, const OtlpAttributes& resource);
std::string OtlpResourceKey(const OtlpAttributes& resource);

}  // namespace llmcost
