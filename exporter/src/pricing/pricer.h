#pragma once
// Pricing stage: UsageEvent + PriceTable -> RequestCost. Pure function, no state.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "event/usage_event.h"
#include "pricing/money.h"
#include "pricing/price_table.h"

namespace llmcost {

enum class CostType : std::uint8_t {
  kInput, kOutput, kCacheRead, kCacheWrite5m, kCacheWrite1h, kWebSearch, kClientReported
};
inline constexpr std::size_t kCostTypeCount = 7;
std::string_view CostTypeName(CostType t);

enum class UnpricedReason : std::uint8_t { kNone, kUnknownModel, kNoTierPrice, kUnsupportedOption };
std::string_view UnpricedReasonName(UnpricedReason r);

// The amounts of one priced request: numbers only, so the record stage can hold
// them for pending label sets without copying the model name.
struct CostAmounts {
  // True when a cost was recorded (from the table or the client). False for failed
  // requests (not billed) and for unpriced ones (see unpriced).
  bool billed = false;
  UnpricedReason unpriced = UnpricedReason::kNone;
  bool long_context = false;
  // The request's cost does not fit int64 pico-dollars (~9.2 million USD) at the
  // table's rates and factors: nothing is billed, and the pipeline refuses the event
  // (bad_field) rather than count a wrapped amount.
  bool overflow = false;
  std::array<PicoUsd, kCostTypeCount> by_type{};
  PicoUsd cache_savings = 0;         // cache reads x (fresh input rate - read rate)
  PicoUsd cache_write_premium = 0;   // writes x (write rate - fresh input rate)

  PicoUsd& operator[](CostType t) { return by_type[static_cast<std::size_t>(t)]; }
  PicoUsd operator[](CostType t) const { return by_type[static_cast<std::size_t>(t)]; }
  PicoUsd Total() const;
};

struct RequestCost : CostAmounts {
  std::string model;  // canonical name (priced or not)
};

// Prices one request. Failed requests are not billed (Anthropic does not charge
// them) unless the client reported a cost. A client-supplied cost wins over the
// table. Anything the table cannot price exactly is left unpriced with a reason:
// never a guess.
RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table);

}  // namespace llmcost
