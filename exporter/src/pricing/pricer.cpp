#include "pricing/pricer.h"

#include <chrono>
#include <algorithm>
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
    case UnpricedReason::kUnpublishedRate: return "unpublished_rate";
    case UnpricedReason::kUnpublishedCredit: return "unpublished_credit";
  }
  return "unknown";
}

PicoUsd CostAmounts::Total() const {
  PicoUsd sum = 0;
  for (PicoUsd c : by_type) sum += c;
  return sum;
}

PicoUsd RequestCost::RequestTotal() const {
  PicoUsd sum = billed ? Total() : 0;
  for (const auto& p : others) sum += p.billed ? p.Total() : 0;
  return sum;
}

TokenCounts RequestCost::RequestTokens() const {
  TokenCounts sum = tokens;
  for (const auto& p : others) {
    for (std::size_t t = 0; t < kTokenTypeCount; ++t) sum.by_type[t] += p.tokens.by_type[t];
  }
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

void Add(TokenCounts& into, const TokenCounts& more) {
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) into.by_type[t] += more.by_type[t];
}

// The request-wide options every part of it is priced with.
struct Options {
  const UsageEvent& event;
  const PriceTable& table;
  Platform platform;
  bool regional;
  std::int64_t at_unix;
};

// Prices `part.tokens` for `part.model`. web_searches are charged on this part.
void PricePart(CostPart& part, const Options& o, std::uint64_t web_searches) {
  const UsageEvent& event = o.event;
  const ModelPrice* price = o.table.Find(event.provider, part.model);
  if (price == nullptr) {
    part.unpriced = UnpricedReason::kUnknownModel;
    return;
  }
  if (event.tier == ServiceTier::kPriority || event.tier == ServiceTier::kOther) {
    part.unpriced = UnpricedReason::kNoTierPrice;  // no public per-token price: count, don't invent
    return;
  }
  const RatePeriod& period = price->At(o.at_unix);
  const bool batch = event.tier == ServiceTier::kBatch;
  // A regional endpoint only exists on the cloud platforms.
  const bool regional_elsewhere = event.endpoint == Endpoint::kRegional && o.platform != Platform::kBedrock &&
                                  o.platform != Platform::kVertex;
  if (event.speed == Speed::kOther || (event.speed == Speed::kFast && (!period.fast_factor || batch)) ||
      (event.us_only_inference && !period.us_inference_factor) || regional_elsewhere) {
    part.unpriced = UnpricedReason::kUnsupportedOption;
    return;
  }

  AppliedRates& a = part.applied;
  a.rates_from = period.from;
  a.prompt_tokens = part.tokens.TotalInput();
  TokenRates rates = period.rates;
  for (const PromptTier& tier : period.prompt_tiers) {
    if (a.prompt_tokens > tier.above_prompt_tokens) {  // the WHOLE request moves to the tier's rates
      rates = tier.rates;
      a.prompt_tier = tier.above_prompt_tokens;
      part.long_context = true;
    }
  }
  for (TokenType t : kTokenTypes) {
    if (rates.Unpublished(t) && part.tokens[t] > 0) {
      part.unpriced = UnpricedReason::kUnpublishedRate;
      return;
    }
  }
  if (batch) a.batch = o.table.batch_factor();
  if (event.us_only_inference) a.us_inference = *period.us_inference_factor;
  if (event.speed == Speed::kFast) a.fast = *period.fast_factor;
  if (o.regional && period.regional_factor) a.regional = *period.regional_factor;
  for (TokenType t : kTokenTypes) {
    for (MicroFactor f : {a.batch, a.us_inference, a.fast, a.regional}) {
      if (f != kUnitFactor) rates[t] = ApplyFactor(rates[t], f);
    }
  }
  a.per_token = rates;

  part.billed = true;
  part[CostType::kInput] = Times(part.tokens[TokenType::kInput], rates[TokenType::kInput]);
  part[CostType::kOutput] = Times(part.tokens[TokenType::kOutput], rates[TokenType::kOutput]);
  part[CostType::kCacheRead] = Times(part.tokens[TokenType::kCacheRead], rates[TokenType::kCacheRead]);
  part[CostType::kCacheWrite5m] = Times(part.tokens[TokenType::kCacheWrite5m], rates[TokenType::kCacheWrite5m]);
  part[CostType::kCacheWrite1h] = Times(part.tokens[TokenType::kCacheWrite1h], rates[TokenType::kCacheWrite1h]);
  // Web search is a per-use fee: token multipliers (batch, US-only, fast) do not apply.
  part[CostType::kWebSearch] = Times(web_searches, o.table.web_search_per_request());

  const PicoUsd fresh = rates[TokenType::kInput];
  part.cache_savings = Times(part.tokens[TokenType::kCacheRead], PositiveDiff(fresh, rates[TokenType::kCacheRead]));
  part.cache_write_premium =
      Times(part.tokens[TokenType::kCacheWrite5m], PositiveDiff(rates[TokenType::kCacheWrite5m], fresh)) +
      Times(part.tokens[TokenType::kCacheWrite1h], PositiveDiff(rates[TokenType::kCacheWrite1h], fresh));
}

}  // namespace

RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table, std::int64_t now_unix) {
  RequestCost cost;
  cost.model = table.ResolveModel(event.model_id);
  cost.tier = event.tier;
  cost.priced_at_unix = event.ts_unix.value_or(now_unix);

  // Platform: what the id shows, else what the event says, else the provider's own API.
  const IdShape shape = ModelResolver::Shape(event.model_id);
  if (shape.platform) cost.platform = *shape.platform;
  else if (event.platform) cost.platform = *event.platform;
  else cost.platform = event.provider == "anthropic" ? Platform::kAnthropic
                       : event.provider == "openai"  ? Platform::kOpenAi
                                                     : Platform::kOther;
  const Endpoint endpoint = shape.endpoint != Endpoint::kUnspecified ? shape.endpoint : event.endpoint;
  cost.regional = endpoint == Endpoint::kRegional &&
                  (cost.platform == Platform::kBedrock || cost.platform == Platform::kVertex);

  // Tokens by billed model, in first-seen order; the request's model first. Each
  // iteration is its own sampling step: priced alone (its own prompt-length tier),
  // then added to its model's part.
  std::vector<std::pair<CostPart*, const UsageIteration*>> steps;
  if (event.iterations.empty()) {
    cost.tokens = event.tokens;
    cost.iterations = {"request"};
  } else {
    cost.others.reserve(event.iterations.size());  // parts are pointed at below
    for (const UsageIteration& it : event.iterations) {
      const std::string model = it.model_id.empty() ? cost.model : table.ResolveModel(it.model_id);
      CostPart* part = model == cost.model ? static_cast<CostPart*>(&cost) : nullptr;
      for (auto& other : cost.others) {
        if (other.model == model) part = &other;
      }
      if (part == nullptr) {
        cost.others.emplace_back();
        part = &cost.others.back();
        part->model = model;
      }
      Add(part->tokens, it.tokens);
      part->iterations.push_back(it.type);
      steps.emplace_back(part, &it);
    }
  }

  if (event.client_cost_usd) {
    cost.billed = true;
    cost[CostType::kClientReported] = static_cast<PicoUsd>(std::llround(*event.client_cost_usd * 1e12));
    for (auto& other : cost.others) other.billed = false;  // the client's figure covers the whole request
    return cost;
  }
  if (event.status != RequestStatus::kOk) return cost;  // failed requests are not billed

  const Options options{event, table, cost.platform, cost.regional, cost.priced_at_unix};
  if (steps.empty()) {
    PricePart(cost, options, event.web_search_requests);
  } else {
    // A part is billed only if every one of its steps is: never a partial cost.
    std::vector<CostPart*> started;
    for (const auto& [part, it] : steps) {
      CostPart step;
      step.model = part->model;
      step.tokens = it->tokens;
      PricePart(step, options, 0);
      const bool first = std::find(started.begin(), started.end(), part) == started.end();
      if (first) {
        started.push_back(part);
        part->billed = true;
        part->applied = step.applied;
      }
      if (!step.billed) {
        if (part->unpriced == UnpricedReason::kNone) part->unpriced = step.unpriced;
        part->billed = false;
        continue;
      }
      for (std::size_t c = 0; c < kCostTypeCount; ++c) part->by_type[c] += step.by_type[c];
      part->cache_savings += step.cache_savings;
      part->cache_write_premium += step.cache_write_premium;
      part->long_context = part->long_context || step.long_context;
      if (step.applied.prompt_tier > part->applied.prompt_tier) part->applied.prompt_tier = step.applied.prompt_tier;
      part->applied.prompt_tokens = std::max(part->applied.prompt_tokens, step.applied.prompt_tokens);
    }
    // Web search is a per-use fee of the request, charged on its own model.
    if (std::find(started.begin(), started.end(), &cost) == started.end()) {
      // No iteration of the request's own model: its fees alone (no tokens).
      PricePart(cost, options, event.web_search_requests);
    } else if (cost.billed) {
      cost[CostType::kWebSearch] = Times(event.web_search_requests, table.web_search_per_request());
    }
    for (CostPart* part : started) {
      if (part->billed) continue;
      const UnpricedReason why = part->unpriced;
      static_cast<CostAmounts&>(*part) = CostAmounts{};  // nothing partial is recorded
      part->unpriced = why;
    }
  }
  // A fallback credit lowers the bill by an amount that is not published: the
  // recorded cost is an upper bound, and the request is counted as not exact.
  if (event.fallback_credits > 0 && cost.unpriced == UnpricedReason::kNone) {
    cost.unpriced = UnpricedReason::kUnpublishedCredit;
  }
  return cost;
}

RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return PriceRequest(event, table, now);
}

}  // namespace llmcost
