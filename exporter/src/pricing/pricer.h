#pragma once
// Pricing stage: UsageEvent + PriceTable -> RequestCost. Pure function, no state.
//
// A request is priced at the rates in force at its own time (event.ts, else now),
// for its platform, endpoint, service tier, speed and residency. With
// usage.iterations, the sum over the iterations is billed, each at its own model's
// rates; the top-level counts are then not added on top. Anything the table cannot
// price exactly is left unpriced with a reason: never a guess.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "event/usage_event.h"
#include "pricing/money.h"
#include "pricing/price_table.h"

namespace llmcost {

enum class CostType : std::uint8_t {
  kInput, kOutput, kCacheRead, kCacheWrite5m, kCacheWrite1h, kWebSearch, kClientReported
};
inline constexpr std::size_t kCostTypeCount = 7;
std::string_view CostTypeName(CostType t);

enum class UnpricedReason : std::uint8_t {
  kNone, kUnknownModel, kNoTierPrice, kUnsupportedOption, kUnpublishedRate, kUnpublishedCredit
};
inline constexpr std::size_t kUnpricedReasonCount = 6;  // including kNone
std::string_view UnpricedReasonName(UnpricedReason r);

// The amounts of one priced model within a request: numbers only, so the record
// stage can hold them for pending label sets without copying the model name.
struct CostAmounts {
  // True when a cost was recorded (from the table or the client). False for failed
  // requests (not billed) and for unpriced ones (see unpriced).
  bool billed = false;
  // Why (part of) the cost is not known. With kUnpublishedCredit the cost IS
  // recorded (billed): it is an upper bound, the credit's size is not published.
  UnpricedReason unpriced = UnpricedReason::kNone;
  bool long_context = false;  // a prompt-length tier above the base rates applied
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

// How a model's tokens were priced, for `llm-cost-exporter price` and logs.
struct AppliedRates {
  TokenRates per_token;            // after every factor below
  std::string rates_from;          // the dated period used ("" = the entry's own rates)
  std::uint64_t prompt_tier = 0;   // the prompt-length tier's threshold, 0 = base rates
  std::uint64_t prompt_tokens = 0; // what the tier was chosen on
  MicroFactor batch = kUnitFactor, us_inference = kUnitFactor, fast = kUnitFactor, regional = kUnitFactor;
};

// One model's share of a request: its tokens, what they cost, the rates applied.
struct CostPart : CostAmounts {
  std::string model;  // canonical name (priced or not)
  TokenCounts tokens;
  std::vector<std::string> iterations;  // iteration types billed here ("request" without iterations)
  AppliedRates applied;
};

struct RequestCost : CostPart {
  // `model`, `tokens` and the amounts above are the request's own model: the request
  // is counted under it. Other models billed within it (an advisor, a fallback hop)
  // are in `others`, each counted under its own model.
  Platform platform = Platform::kAnthropic;
  ServiceTier tier = ServiceTier::kStandard;
  bool regional = false;
  std::int64_t priced_at_unix = 0;
  std::vector<CostPart> others;

  PicoUsd RequestTotal() const;
  TokenCounts RequestTokens() const;
};

// Prices one request at `now_unix` unless the event carries its own time. Failed
// requests are not billed (Anthropic does not charge them) unless the client
// reported a cost. A client-supplied cost wins over the table.
RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table, std::int64_t now_unix);
RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table);  // now = the system clock

}  // namespace llmcost
