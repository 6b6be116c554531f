#include "pricing/pricer.h"

#include <cmath>
#include <limits>
#include <optional>

namespace llmcost {

std::string_view CostTypeName(CostType t) {
  switch (t) {
    case CostType::kInput: return "input";
    case CostType::kOutput: return "output";
    case CostType::kCacheRead: return "cache_read";
    case CostType::kCacheWrite5m: return "cache_write_5m";
    case CostType::kCacheWrite1h: return "cache_write_1h";
    case CostType::kWebSearch: return "web_search";
    case CostType::kClientReported: return "client_reported";
  }
  return "unknown";
}

std::string_view UnpricedReasonName(UnpricedReason r) {
  switch (r) {
    case UnpricedReason::kNone: return "none";
    case UnpricedReason::kUnknownModel: return "unknown_model";
    case UnpricedReason::kNoTierPrice: return "no_tier_price";
    case UnpricedReason::kUnsupportedOption: return "unsupported_option";
  }
  return "unknown";
}

PicoUsd CostAmounts::Total() const {
  PicoUsd sum = 0;
  for (PicoUsd c : by_type) sum += c;
  return sum;
}

namespace {

constexpr std::array<TokenType, kTokenTypeCount> kTokenTypes = {
    TokenType::kInput, TokenType::kOutput, TokenType::kCacheRead, TokenType::kCacheWrite5m,
    TokenType::kCacheWrite1h};

// Costs are computed in 128 bits and must fit int64 pico-dollars (~9.2 million USD
// per request): absurd but loadable rates and factors (say $100,000 per MTok x6 x1.1)
// times a billion tokens do not, and once wrapped a $20M request was recorded as
// $1.55M, a negative histogram sum. Past the bound a request is refused, never wrapped.
constexpr WideInt kMaxPico = std::numeric_limits<PicoUsd>::max();

// rate x factor (half up), held at kMaxPico + 1 once past the bound: a rate that
// does not fit costs nothing for zero tokens and overflows for any other count.
WideInt Scaled(WideInt rate, MicroFactor factor) {
  if (rate > kMaxPico) return kMaxPico + 1;
  const WideInt r = (rate * factor + kUnitFactor / 2) / kUnitFactor;
  return r > kMaxPico ? kMaxPico + 1 : r;
}

// tokens x rate, or nullopt past the bound (both operands are below 2^64).
std::optional<PicoUsd> Times(std::uint64_t tokens, WideInt rate) {
  const WideInt product = static_cast<WideInt>(tokens) * rate;
  if (product > kMaxPico) return std::nullopt;
  return static_cast<PicoUsd>(product);
}

WideInt PositiveDiff(WideInt a, WideInt b) { return a > b ? a - b : 0; }

}  // namespace

RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table) {
  RequestCost cost;
  cost.model = table.ResolveModel(event.model_id);

  if (event.client_cost_usd) {
    cost.billed = true;
    cost[CostType::kClientReported] = static_cast<PicoUsd>(std::llround(*event.client_cost_usd * 1e12));
    return cost;
  }
  if (event.status != RequestStatus::kOk) return cost;  // failed requests are not billed

  const ModelPrice* price = table.Find(event.provider, cost.model);
  if (price == nullptr) {
    cost.unpriced = UnpricedReason::kUnknownModel;
    return cost;
  }
  if (event.tier == ServiceTier::kPriority || event.tier == ServiceTier::kOther) {
    cost.unpriced = UnpricedReason::kNoTierPrice;  // no public per-token price: count, don't invent
    return cost;
  }
  const bool batch = event.tier == ServiceTier::kBatch;
  if (event.speed == Speed::kOther || (event.speed == Speed::kFast && (!price->fast_factor || batch)) ||
      (event.us_only_inference && !price->us_inference_factor)) {
    cost.unpriced = UnpricedReason::kUnsupportedOption;
    return cost;
  }

  TokenRates table_rates = price->rates;
  if (price->long_context && event.tokens.TotalInput() > price->long_context->above_input_tokens) {
    table_rates = price->long_context->rates;  // the WHOLE request moves to the long-context rates
    cost.long_context = true;
  }
  std::array<WideInt, kTokenTypeCount> rates{};
  for (TokenType t : kTokenTypes) {
    const auto i = static_cast<std::size_t>(t);
    rates[i] = table_rates[t];
    if (batch) rates[i] = Scaled(rates[i], table.batch_factor());
    if (event.us_only_inference) rates[i] = Scaled(rates[i], *price->us_inference_factor);
    if (event.speed == Speed::kFast) rates[i] = Scaled(rates[i], *price->fast_factor);
  }
  auto rate = [&rates](TokenType t) { return rates[static_cast<std::size_t>(t)]; };

  bool fits = true;
  auto times = [&fits](std::uint64_t n, WideInt r) {
    const auto c = Times(n, r);
    fits = fits && c.has_value();
    return c.value_or(0);
  };
  cost[CostType::kInput] = times(event.tokens[TokenType::kInput], rate(TokenType::kInput));
  cost[CostType::kOutput] = times(event.tokens[TokenType::kOutput], rate(TokenType::kOutput));
  cost[CostType::kCacheRead] = times(event.tokens[TokenType::kCacheRead], rate(TokenType::kCacheRead));
  cost[CostType::kCacheWrite5m] = times(event.tokens[TokenType::kCacheWrite5m], rate(TokenType::kCacheWrite5m));
  cost[CostType::kCacheWrite1h] = times(event.tokens[TokenType::kCacheWrite1h], rate(TokenType::kCacheWrite1h));
  // Web search is a per-use fee: token multipliers (batch, US-only, fast) do not apply.
  cost[CostType::kWebSearch] = times(event.web_search_requests, table.web_search_per_request());

  const WideInt fresh = rate(TokenType::kInput);
  cost.cache_savings = times(event.tokens[TokenType::kCacheRead], PositiveDiff(fresh, rate(TokenType::kCacheRead)));
  const WideInt premium =
      static_cast<WideInt>(times(event.tokens[TokenType::kCacheWrite5m], PositiveDiff(rate(TokenType::kCacheWrite5m), fresh))) +
      times(event.tokens[TokenType::kCacheWrite1h], PositiveDiff(rate(TokenType::kCacheWrite1h), fresh));
  WideInt total = 0;
  for (PicoUsd c : cost.by_type) total += c;
  if (!fits || total > kMaxPico || premium > kMaxPico) {
    const std::string model = std::move(cost.model);
    cost = RequestCost{};
    cost.model = model;
    cost.overflow = true;
    return cost;
  }
  cost.cache_write_premium = static_cast<PicoUsd>(premium);
  cost.billed = true;
  return cost;
}

}  // namespace llmcost
