#pragma once
// Batch splitting: a request body or datagram -> JSON values, one per event.
// Accepts one JSON object (pretty-printed or not), a JSON array of objects, or
// NDJSON (one object per line). Malformed parts become errors with their index;
// the well-formed parts are still returned.
#include <nlohmann/json.hpp>

#include <string_view>
#include <variant>
#include <vector>

#include "event/event_error.h"

namespace llmcost {

using BatchItem = std::variant<nlohmann::json, EventError>;

std::vector<BatchItem> SplitBatch(std::string_view body);

}  // namespace llmcost
