#pragma once
// Why an event was refused, and where. Every rejection carries the field at fault
// and is counted by reason; nothing else changes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmcost {

enum class RejectReason : std::uint8_t {
  kEmpty, kMalformedJson, kNotObject, kMissingModel, kBadField, kTooLarge,
  // Reserved for authentication, idempotency and back-pressure.
  kUnauthorized, kDuplicate, kOverloaded,
  // The event's own time (ts) is older than --ingest.max-event-age, or later than
  // now + --ingest.max-clock-skew.
  kTooOld, kInFuture,
  // An OTLP body that is not a protobuf ExportLogsServiceRequest.
  kMalformedProtobuf
};
inline constexpr std::size_t kRejectReasonCount = 12;
std::string_view RejectReasonName(RejectReason r);

struct EventError {
  std::size_t index = 0;  // position in the batch (array index or NDJSON line among non-empty lines)
  std::string field;      // JSON path of the offending field, "" for the whole event
  RejectReason reason = RejectReason::kBadField;
  std::string message;    // human-readable, never echoes label values or text content
};

}  // namespace llmcost
