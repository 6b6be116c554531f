#include "event/batch_splitter.h"

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

}  // namespace

void SplitBatch(std::string_view body, EventBatch& batch) {
  batch.document.Clear();
  batch.items.clear();
  auto& items = batch.items;
  std::string error;
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) {
    items.emplace_back(EventError{0, "", RejectReason::kEmpty, "empty body"});
    return;
  }

  if (trimmed.front() == '[') {
    const auto array = batch.document.Parse(trimmed, error);
    if (!array) {
      items.emplace_back(Malformed(0, "body starts with '[' but is not a valid JSON array: " + error));
      return;
    }
    for (const JsonValue& element : array->Elements()) items.emplace_back(element);
    return;
  }

  // One object, possibly pretty-printed over several lines. Only when the whole
  // body is not one JSON value is it read as NDJSON.
  if (const auto value = batch.document.Parse(trimmed, error)) {
    items.emplace_back(*value);
    return;
  }
  if (trimmed.find('\n') == std::string_view::npos) {
    items.emplace_back(Malformed(0, "not valid JSON: " + error));
    return;
  }
  std::size_t index = 0;
  std::size_t pos = 0;
  while (pos <= trimmed.size()) {
    auto end = trimmed.find('\n', pos);
    if (end == std::string_view::npos) end = trimmed.size();
    const std::string_view line = Trim(trimmed.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    if (const auto value = batch.document.Parse(line, error)) {
      items.emplace_back(*value);
    } else {
      items.emplace_back(Malformed(index, "NDJSON line is not valid JSON: " + error));
    }
    ++index;
  }
}

}  // namespace llmcost
