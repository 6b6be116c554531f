#include "pricing/money.h"

#include <limits>

namespace llmcost {

std::optional<std::int64_t> ParseScaledDecimal(std::string_view text, int scale_digits) {
  if (text.empty()) return std::nullopt;
  std::int64_t whole = 0;
  std::size_t i = 0;
  bool any_digit = false;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 100;
  for (; i < text.size() && text[i] != '.'; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    whole = whole * 10 + (c - '0');
    if (whole > kMax) return std::nullopt;
    any_digit = true;
  }
  std::int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size()) {  // at '.'
    ++i;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') return std::nullopt;
      if (frac_digits == scale_digits) {
        if (c != '0') return std::nullopt;  // more precision than we keep: refuse, never round a price
        continue;
      }
      frac = frac * 10 + (c - '0');
      ++frac_digits;
      any_digit = true;
    }
  }
  if (!any_digit) return std::nullopt;
  for (; frac_digits < scale_digits; ++frac_digits) frac *= 10;
  std::int64_t scale = 1;
  for (int d = 0; d < scale_digits; ++d) scale *= 10;
  if (whole > (std::numeric_limits<std::int64_t>::max() - frac) / scale) return std::nullopt;
  return whole * scale + frac;
}

PicoUsd ApplyFactor(PicoUsd rate, MicroFactor factor) {
  const WideInt product = static_cast<WideInt>(rate) * factor;
  return static_cast<PicoUsd>((product + kUnitFactor / 2) / kUnitFactor);
}

std::string FormatUsdPerMillion(PicoUsd rate) {
  std::string whole = std::to_string(rate / 1'000'000);
  std::string frac = std::to_string(rate % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? whole : whole + "." + frac;
}

}  // namespace llmcost
