#pragma once
// Batch splitting: a request body or datagram -> JSON values, one per event.
// Accepts one JSON object (pretty-printed or not), a JSON array of objects, or
// NDJSON (one object per line). Malformed parts become errors with their index;
// the well-formed parts are still returned.
#include <string_view>
#include <variant>
#include <vector>

#include "event/event_error.h"
#include "event/json_document.h"

namespace llmcost {

using BatchItem = std::variant<JsonValue, EventError>;

// The values point into `document`, so a batch is filled in place and never moved.
struct EventBatch {
  JsonDocument document;
  std::vector<BatchItem> items;

  EventBatch() = default;
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;
};

// Replaces `batch`'s contents (its memory is reused).
void SplitBatch(std::string_view body, EventBatch& batch);

}  // namespace llmcost
