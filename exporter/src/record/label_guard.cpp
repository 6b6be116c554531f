#include "record/label_guard.h"

#include <mutex>

#include "event/utf8.h"

namespace llmcost {

std::string SanitizeLabelValue(std::string_view raw, std::size_t max_length) {
  const auto first = raw.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::string(kUnknownValue);
  raw = raw.substr(first, raw.find_last_not_of(" \t\r\n") - first + 1);

  std::string out;
  out.reserve(std::min(raw.size(), max_length));
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t len = Utf8SequenceLength(raw, i);
    if (len == 0) {  // invalid byte
      if (out.size() + 1 > max_length) break;
      out.push_back('_');
      ++i;
      continue;
    }
    if (out.size() + len > max_length) break;  // cut on a character boundary
    const auto c = static_cast<unsigned char>(raw[i]);
    if (len == 1 && (c < 0x20 || c == 0x7F)) {
      out.push_back('_');
    } else {
      out.append(raw.substr(i, len));
    }
    i += len;
  }
  return out;
}

LabelGuard::LabelGuard(std::string name, std::size_t max_values, std::size_t max_length)
    : name_(std::move(name)), max_values_(max_values), max_length_(max_length) {}

LabelGuard::Admitted LabelGuard::Admit(std::string_view raw) {
  std::string value = SanitizeLabelValue(raw, max_length_);
  {
    std::shared_lock lock(mu_);
    if (admitted_.count(value)) return {std::move(value), false};
  }
  std::unique_lock lock(mu_);
  if (admitted_.count(value)) return {std::move(value), false};
  if (admitted_.size() >= max_values_) return {std::string(kOverflowValue), true};
  admitted_.insert(value);
  return {std::move(value), false};
}

void LabelGuard::Restore(const std::string& value) {
  if (value == kOverflowValue) return;
  std::unique_lock lock(mu_);
  admitted_.insert(value);
}

std::size_t LabelGuard::size() const {
  std::shared_lock lock(mu_);
  return admitted_.size();
}

}  // namespace llmcost
