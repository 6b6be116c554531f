#pragma once
// When a request happened, as events say it: RFC 3339 text ("2026-10-06T12:00:00Z",
// "2026-10-06T14:00:00.250+02:00") or Unix seconds. Used to price an event at the
// rates in force then and to refuse events outside the accepted time window.
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmcost {

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d);

// Whole Unix seconds (fractions truncated toward the past), or nullopt if `text` is
// not RFC 3339 with a time zone.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace llmcost
