#pragma once
// LabelIntern: one label's values for the drill-down tables (TaskTracker,
// PromptRepeats), sanitised and capped by a LabelGuard and stored once: entries
// hold a pointer, so a table of 100,000 tasks pays 8 bytes each for its tenant,
// not a string. Values are what the label would show in Prometheus (overflow
// folds into "__overflow__"). Not thread-safe: the owning table's lock guards it.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "event/seeded_hash.h"
#include "event/usage_event.h"
#include "record/label_guard.h"

namespace llmcost {

// The tenant shown by GET /v1/tasks/top and /v1/prompts/top (declared once; empty
// when "tenant" is not an attribution label).
inline constexpr std::string_view kDrillDownTenantLabel = "tenant";

// The event's value of `label` ("" when absent).
inline std::string_view LabelValueOf(const UsageEvent& event, std::string_view label) {
  for (const auto& [name, value] : event.labels) {
    if (name == label) return value;
  }
  return {};
}

class LabelIntern {
 public:
  LabelIntern(std::string name, std::size_t max_values, std::size_t max_length)
      : guard_(std::move(name), max_values, max_length) {}

  const std::string* Get(std::string_view raw) {
    if (const auto it = raw_.find(raw); it != raw_.end()) return it->second;
    const std::string* value = &*values_.insert(guard_.Admit(raw).value).first;
    // Raw spellings remembered for the fast path, bounded; past it, each new
    // entry sanitises again (the values themselves stay capped by the guard).
    if (raw_.size() < kMaxRaw) raw_.emplace(std::string(raw), value);
    return value;
  }

 private:
  static constexpr std::size_t kMaxRaw = 4096;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return SeededHash(s); }
  };
  LabelGuard guard_;
  std::unordered_set<std::string> values_;  // node-based: the pointers stay valid
  std::unordered_map<std::string, const std::string*, Hash, std::equal_to<>> raw_;
};

}  // namespace llmcost
