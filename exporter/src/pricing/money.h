#pragma once
// Exact money arithmetic. Prices are per million tokens with a few decimals
// ($0.30, $0.015 after a batch discount). Storing a per-token rate in pico-dollars
// (1e-12 USD) makes "USD per MTok" an integer number of micro-dollars, so every
// shipped rate, multiplier and per-request cost is an exact integer; only the final
// conversion to a Prometheus float happens in double.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmcost {

// Pico-dollars (1e-12 USD). A $75/MTok rate is 75,000,000 pUSD per token; 1e9
// tokens at that rate x6 x1.1 is ~5e17, inside int64.
using PicoUsd = std::int64_t;

// A multiplier in millionths (0.5 -> 500000, 1.1 -> 1100000, 6 -> 6000000).
using MicroFactor = std::int64_t;
inline constexpr MicroFactor kUnitFactor = 1'000'000;

// Wide intermediate for products of tokens and rates (GCC/Clang extension).
__extension__ using WideInt = __int128;

// Parses a non-negative decimal ("3", "0.30", "22.50") with up to `scale_digits`
// fractional digits into an integer scaled by 10^scale_digits. Returns nullopt on
// anything else (sign, exponent, too many digits, overflow).
std::optional<std::int64_t> ParseScaledDecimal(std::string_view text, int scale_digits);

// "$ per million tokens" text -> pUSD per token (the same integer as micro-USD per MTok).
inline std::optional<PicoUsd> ParseUsdPerMillion(std::string_view text) {
  return ParseScaledDecimal(text, 6);
}

inline std::optional<MicroFactor> ParseFactor(std::string_view text) {
  return ParseScaledDecimal(text, 6);
}

// rate x factor, rounded half up to a whole pUSD (exact for every shipped table).
PicoUsd ApplyFactor(PicoUsd rate, MicroFactor factor);

inline double PicoToUsd(PicoUsd p) { return static_cast<double>(p) / 1e12; }

// Formats pUSD/token back as "$ per MTok" text, for logs and errors.
std::string FormatUsdPerMillion(PicoUsd rate);

}  // namespace llmcost
