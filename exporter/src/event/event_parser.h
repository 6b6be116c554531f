#pragma once
// Parse stage: one JSON value -> UsageEvent, or an EventError naming the field and
// the reason. Accepts the Anthropic usage object verbatim, the flat field names of
// common logging wrappers, and OpenAI-shaped usage with provider "openai".
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "event/event_error.h"
#include "event/json_document.h"
#include "event/member_table.h"
#include "event/usage_event.h"

namespace llmcost {

inline constexpr std::uint64_t kMaxTokenCount = 1'000'000'000;   // per type, per request
inline constexpr std::uint64_t kMaxWebSearches = 1'000'000;
inline constexpr std::size_t kMaxIterations = 256;             // usage.iterations entries
inline constexpr double kMaxLatencyMs = 86'400'000.0;            // one day
inline constexpr double kMaxClientCostUsd = 1'000'000.0;

using ParseResult = std::variant<UsageEvent, EventError>;

class EventParser {
 public:
  // attribution_labels: the allowlist; only these keys are read from `labels` and
  // from the flat fields (with tenant_id -> tenant and user_id -> user).
  // task_id_fields: the fields read, in order, for the task id (first present wins).
  explicit EventParser(std::vector<std::string> attribution_labels,
                       std::vector<std::string> task_id_fields = kDefaultTaskIdFields);

  ParseResult Parse(const JsonValue& value, std::size_t index) const;
  // The same, into `event`, whose string and vector buffers are reused: a caller
  // parsing many events keeps one. Returns the error, if any (`event` is then
  // unspecified).
  std::optional<EventError> ParseInto(const JsonValue& value, std::size_t index, UsageEvent& event) const;

  // The member names this parser reads (tests check its lookup bound).
  const MemberTable& members() const { return table_; }

 private:
  std::vector<std::string> labels_;
  std::vector<std::string> task_id_fields_;
  MemberTable table_;               // every name read, the fixed ones first
  std::vector<int> label_slots_;    // labels_[i]'s slot in table_
  std::vector<int> task_id_slots_;  // task_id_fields_[i]'s slot
};

}  // namespace llmcost
