#include "event/batch_splitter.h"

#include <string>

namespace llmcost {
namespace {

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

EventError Malformed(std::size_t index, std::string what) {
  return EventError{index, "", RejectReason::kMalformedJson, std::move(what)};
}

EventError TooManyValues() {
  return EventError{0, "", RejectReason::kTooLarge,
                    "the body holds more than " + std::to_string(JsonDocument::kMaxValues) +
                        " JSON values; send it in smaller batches"};
}

}  // namespace

BatchItem EventBatch::Item(std::size_t i) const {
  const Entry& e = entries_[i];
  if (e.b == kValue) return JsonValue(&document, e.a);
  if (e.b == kWholeError) return whole_error_;
  // The reason is found again by reading the line alone (bounded by the line; only
  // refused lines pay it): keeping every bad line's message would cost ~150 bytes
  // per line of the body.
  JsonDocument scratch;
  std::string error;
  scratch.Parse(body_.substr(e.a, e.b), error);
  return Malformed(i, "NDJSON line is not valid JSON: " + error);
}

void SplitBatch(std::string_view body, EventBatch& batch) {
  batch.document.Clear();
  batch.entries_.clear();
  batch.body_ = body;
  auto& entries = batch.entries_;
  auto whole = [&](EventError error) {
    entries.clear();
    batch.whole_error_ = std::move(error);
    entries.push_back({0, EventBatch::kWholeError});
  };
  auto value = [&](const JsonValue& v) {
    entries.push_back({v.node(), EventBatch::kValue});
  };
  if (body.size() >= EventBatch::kWholeError) return whole(TooManyValues());  // offsets and lengths are 32 bits
  std::string error;
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return whole(EventError{0, "", RejectReason::kEmpty, "empty body"});

  if (trimmed.front() == '[') {
    const auto array = batch.document.Parse(trimmed, error);
    if (!array) {
      if (batch.document.over_budget()) return whole(TooManyValues());
      return whole(Malformed(0, "body starts with '[' but is not a valid JSON array: " + error));
    }
    entries.reserve(array->size());
    array->ForEachElement([&](const JsonValue& element) { value(element); });
    return;
  }

  // One object, possibly pretty-printed over several lines. Only when the whole
  // body is not one JSON value is it read as NDJSON.
  if (const auto v = batch.document.Parse(trimmed, error)) return value(*v);
  if (batch.document.over_budget()) return whole(TooManyValues());
  if (trimmed.find('\n') == std::string_view::npos) return whole(Malformed(0, "not valid JSON: " + error));
  std::size_t pos = 0;
  while (pos <= trimmed.size()) {
    auto end = trimmed.find('\n', pos);
    if (end == std::string_view::npos) end = trimmed.size();
    const std::string_view line = Trim(trimmed.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    if (const auto v = batch.document.Parse(line, error)) {
      value(*v);
    } else if (batch.document.over_budget()) {
      return whole(TooManyValues());
    } else {
      entries.push_back({static_cast<std::uint32_t>(line.data() - body.data()), static_cast<std::uint32_t>(line.size())});
    }
  }
}

}  // namespace llmcost
