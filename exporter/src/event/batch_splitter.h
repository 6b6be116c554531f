#pragma once
// Batch splitting: a request body or datagram -> JSON values, one per event.
// Accepts one JSON object (pretty-printed or not), a JSON array of objects, or
// NDJSON (one object per line). Malformed parts become errors with their index;
// the well-formed parts are still returned. A body whose values would not fit the
// document (JsonDocument::kMaxValues) is refused whole, as too_large.
//
// Memory: an item is 8 bytes (its value's node, or where its malformed line is),
// and a refusal is built only when it is read (Item()), so a 4 MiB body of tiny
// elements or bad lines costs tens of MB at most, not hundreds.
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "event/event_error.h"
#include "event/json_document.h"

namespace llmcost {

using BatchItem = std::variant<JsonValue, EventError>;

// The values point into `document` and the body, so a batch is filled in place,
// never moved, and read while the body lives.
struct EventBatch {
  JsonDocument document;

  EventBatch() = default;
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Item i: the value, or the refusal (its index is i).
  BatchItem Item(std::size_t i) const;
  // Bytes the batch's buffers hold (document and items), whatever the last body was.
  std::size_t held_bytes() const { return document.held_bytes() + entries_.capacity() * sizeof(Entry); }

 private:
  friend void SplitBatch(std::string_view body, EventBatch& batch);
  static constexpr std::uint32_t kValue = 0xFFFFFFFF;       // Entry::b of a value
  static constexpr std::uint32_t kWholeError = 0xFFFFFFFE;  // ... of the body's one refusal
  struct Entry {
    std::uint32_t a;  // a value: its node; a malformed line: its offset in body_
    std::uint32_t b;  // kValue, kWholeError, or a malformed line's length
  };
  std::string_view body_;
  std::vector<Entry> entries_;
  EventError whole_error_;  // kWholeError: the body's one refusal
};

// Replaces `batch`'s contents (its memory is reused).
void SplitBatch(std::string_view body, EventBatch& batch);

}  // namespace llmcost
