#include "event/batch_splitter.h"

namespace llmcost {
namespace {

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

EventError Malformed(std::size_t index, const char* what) {
  return EventError{index, "", RejectReason::kMalformedJson, what};
}

nlohmann::json ParseOrDiscard(std::string_view text) {
  // allow_exceptions=false: a parse failure returns a "discarded" value, no throw.
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
}

}  // namespace

std::vector<BatchItem> SplitBatch(std::string_view body) {
  std::vector<BatchItem> items;
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) {
    items.emplace_back(EventError{0, "", RejectReason::kEmpty, "empty body"});
    return items;
  }

  if (trimmed.front() == '[') {
    nlohmann::json array = ParseOrDiscard(trimmed);
    if (array.is_discarded()) {
      items.emplace_back(Malformed(0, "body starts with '[' but is not a valid JSON array"));
      return items;
    }
    if (!array.is_array()) {
      items.emplace_back(Malformed(0, "not a JSON array"));
      return items;
    }
    items.reserve(array.size());
    for (auto& element : array) items.emplace_back(std::move(element));
    return items;
  }

  // One object, possibly pretty-printed over several lines. Only when the whole
  // body is not one JSON value is it read as NDJSON.
  if (trimmed.find('\n') == std::string_view::npos) {
    nlohmann::json value = ParseOrDiscard(trimmed);
    if (value.is_discarded()) {
      items.emplace_back(Malformed(0, "not valid JSON (truncated, NaN/Infinity, or a syntax error)"));
    } else {
      items.emplace_back(std::move(value));
    }
    return items;
  }
  nlohmann::json whole = ParseOrDiscard(trimmed);
  if (!whole.is_discarded()) {
    items.emplace_back(std::move(whole));
    return items;
  }
  std::size_t index = 0;
  std::size_t pos = 0;
  while (pos <= trimmed.size()) {
    auto end = trimmed.find('\n', pos);
    if (end == std::string_view::npos) end = trimmed.size();
    const std::string_view line = Trim(trimmed.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    nlohmann::json value = ParseOrDiscard(line);
    if (value.is_discarded()) {
      items.emplace_back(Malformed(index, "NDJSON line is not valid JSON"));
    } else {
      items.emplace_back(std::move(value));
    }
    ++index;
  }
  return items;
}

}  // namespace llmcost
