#include "pricing/pricer.h"

#include <cmath>

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

PicoUsd Times(std::uint64_t tokens, PicoUsd rate) {
  // tokens <= 1e9 (parser cap) and rates <= a few 1e8 pUSD: fits in int64.
  return static_cast<PicoUsd>(static_cast<WideInt>(tokens) * rate);
}

PicoUsd PositiveDiff(PicoUsd a, PicoUsd b) { return a > b ? a - b : 0; }

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

  TokenRates rates = price->rates;
  if (price->long_context && event.tokens.TotalInput() > price->long_context->above_input_tokens) {
    rates = price->long_context->rates;  // the WHOLE request moves to the long-context rates
    cost.long_context = true;
  }
  for (TokenType t : kTokenTypes) {
    if (batch) rates[t] = ApplyFactor(rates[t], table.batch_factor());
    if (event.us_only_inference) rates[t] = ApplyFactor(rates[t], *price->us_inference_factor);
    if (event.speed == Speed::kFast) rates[t] = ApplyFactor(rates[t], *price->fast_factor);
  }

  cost.billed = true;
  cost[CostType::kInput] = Times(event.tokens[TokenType::kInput], rates[TokenType::kInput]);
  cost[CostType::kOutput] = Times(event.tokens[TokenType::kOutput], rates[TokenType::kOutput]);
  cost[CostType::kCacheRead] = Times(event.tokens[TokenType::kCacheRead], rates[TokenType::kCacheRead]);
  cost[CostType::kCacheWrite5m] = Times(event.tokens[TokenType::kCacheWrite5m], rates[TokenType::kCacheWrite5m]);
  cost[CostType::kCacheWrite1h] = Times(event.tokens[TokenType::kCacheWrite1h], rates[TokenType::kCacheWrite1h]);
  // Web search is a per-use fee: token multipliers (batch, US-only, fast) do not apply.
  cost[CostType::kWebSearch] = Times(event.web_search_requests, table.web_search_per_request());

  const PicoUsd fresh = rates[TokenType::kInput];
  cost.cache_savings = Times(event.tokens[TokenType::kCacheRead], PositiveDiff(fresh, rates[TokenType::kCacheRead]));
  cost.cache_write_premium =
      Times(event.tokens[TokenType::kCacheWrite5m], PositiveDiff(rates[TokenType::kCacheWrite5m], fresh)) +
      Times(event.tokens[TokenType::kCacheWrite1h], PositiveDiff(rates[TokenType::kCacheWrite1h], fresh));
  return cost;
}

}  // namespace llmcost
