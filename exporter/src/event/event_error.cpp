#include "event/event_error.h"

namespace llmcost {

std::string_view RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kEmpty: return "empty";
    case RejectReason::kMalformedJson: return "malformed_json";
    case RejectReason::kNotObject: return "not_object";
    case RejectReason::kMissingModel: return "missing_model";
    case RejectReason::kBadField: return "bad_field";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kUnauthorized: return "unauthorized";
    case RejectReason::kDuplicate: return "duplicate";
    case RejectReason::kOverloaded: return "overloaded";
    case RejectReason::kTooOld: return "too_old";
    case RejectReason::kInFuture: return "in_future";
    case RejectReason::kMalformedProtobuf: return "malformed_protobuf";
  }
  return "unknown";
}

}  // namespace llmcost
