#pragma once
// LabelGuard: keeps one label's values safe and bounded. Sanitises a raw value
// (UTF-8, no control characters, length cap, "unknown" for empty) and admits at
// most `max_values` distinct values; later ones fold into "__overflow__", so a
// client sending a million tenants cannot grow the exporter without bound.
#include <cstddef>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace llmcost {

inline constexpr std::string_view kOverflowValue = "__overflow__";
inline constexpr std::string_view kUnknownValue = "unknown";
// The `label` value of llm_exporter_label_overflow_total for events folded by the
// global cap on label sets (ExporterConfig::max_label_sets) rather than by one
// label's cap; attribution label names cannot start with "__", so it never clashes.
inline constexpr std::string_view kLabelSetsCap = "__label_sets__";

std::string SanitizeLabelValue(std::string_view raw, std::size_t max_length);

class LabelGuard {
 public:
  LabelGuard(std::string name, std::size_t max_values, std::size_t max_length);

  struct Admitted {
    std::string value;
    bool overflowed = false;
  };
  Admitted Admit(std::string_view raw);
  // Re-admits a value saved before a restart, even past the cap, so its series
  // keep their identity.
  void Restore(const std::string& value);

  const std::string& name() const { return name_; }
  std::size_t size() const;

 private:
  std::string name_;
  std::size_t max_values_;
  std::size_t max_length_;
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> admitted_;
};

}  // namespace llmcost
