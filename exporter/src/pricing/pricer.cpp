#include "pricing/pricer.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <limits>

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

// Costs are computed in 128 bits and must fit int64 pico-dollars (~9.2 million USD
// per request): absurd but loadable rates and factors (say $100,000 per MTok x6 x1.1)
// times a billion tokens do not, and once wrapped a $20M request was recorded as
// $1.55M, a negative histogram sum. Past the bound a request is refused (`overflow`,
// the pipeline answers bad_field), never wrapped.
constexpr WideInt kMaxPico = std::numeric_limits<PicoUsd>::max();

// rate x factor (half up), held at kMaxPico + 1 once past the bound: a rate that
// does not fit costs nothing for zero tokens and overflows for any other count.
WideInt Scaled(WideInt rate, MicroFactor factor) {
  if (rate > kMaxPico) return kMaxPico + 1;
  const WideInt r = (rate * factor + kUnitFactor / 2) / kUnitFactor;
  return r > kMaxPico ? kMaxPico + 1 : r;
}

// tokens x rate; past the bound, 0 and `overflow` set (both operands are < 2^64).
PicoUsd Times(std::uint64_t tokens, WideInt rate, bool& overflow) {
  const WideInt product = static_cast<WideInt>(tokens) * rate;
  if (product > kMaxPico) {
    overflow = true;
    return 0;
  }
  return static_cast<PicoUsd>(product);
}

WideInt PositiveDiff(WideInt a, WideInt b) { return a > b ? a - b : 0; }

// into += more, or `overflow` set.
void AddTo(PicoUsd& into, PicoUsd more, bool& overflow) {
  if (__builtin_add_overflow(into, more, &into)) overflow = true;
}

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

// Prices `part.tokens` for `part.model`, whose entry is `price` (nullptr: not in
// the table). web_searches are charged on this part.
void PricePart(CostPart& part, const Options& o, std::uint64_t web_searches, const ModelPrice* price) {
  const UsageEvent& event = o.event;
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
  // An aggregate (OTLP metrics) sums many requests: its total says nothing about
  // one request's prompt size, so it stays at the base rates (docs/otlp.md).
  for (const PromptTier& tier : period.prompt_tiers) {
    if (!event.from_aggregate && a.prompt_tokens > tier.above_prompt_tokens) {  // the WHOLE request moves to the tier's rates
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
  std::array<WideInt, kTokenTypeCount> wide{};
  for (TokenType t : kTokenTypes) {
    WideInt r = rates[t];
    for (MicroFactor f : {a.batch, a.us_inference, a.fast, a.regional}) {
      if (f != kUnitFactor) r = Scaled(r, f);
    }
    wide[static_cast<std::size_t>(t)] = r;
    rates[t] = static_cast<PicoUsd>(std::min(r, kMaxPico));  // for display; costs use `wide`
  }
  a.per_token = rates;
  auto rate = [&wide](TokenType t) { return wide[static_cast<std::size_t>(t)]; };

  part.billed = true;
  bool& over = part.overflow;
  part[CostType::kInput] = Times(part.tokens[TokenType::kInput], rate(TokenType::kInput), over);
  part[CostType::kOutput] = Times(part.tokens[TokenType::kOutput], rate(TokenType::kOutput), over);
  part[CostType::kCacheRead] = Times(part.tokens[TokenType::kCacheRead], rate(TokenType::kCacheRead), over);
  part[CostType::kCacheWrite5m] = Times(part.tokens[TokenType::kCacheWrite5m], rate(TokenType::kCacheWrite5m), over);
  part[CostType::kCacheWrite1h] = Times(part.tokens[TokenType::kCacheWrite1h], rate(TokenType::kCacheWrite1h), over);
  // Web search is a per-use fee: token multipliers (batch, US-only, fast) do not apply.
  part[CostType::kWebSearch] = Times(web_searches, o.table.web_search_per_request(), over);

  const WideInt fresh = rate(TokenType::kInput);
  part.cache_savings =
      Times(part.tokens[TokenType::kCacheRead], PositiveDiff(fresh, rate(TokenType::kCacheRead)), over);
  part.cache_write_premium =
      Times(part.tokens[TokenType::kCacheWrite5m], PositiveDiff(rate(TokenType::kCacheWrite5m), fresh), over);
  AddTo(part.cache_write_premium,
        Times(part.tokens[TokenType::kCacheWrite1h], PositiveDiff(rate(TokenType::kCacheWrite1h), fresh), over), over);
}

// True if any amount of the request, or the sum of every part's amounts (what
// Total() and RequestTotal() add up), does not fit int64 pico-dollars.
bool Overflows(const RequestCost& cost) {
  WideInt request_total = 0;
  auto part_overflows = [&request_total](const CostPart& p) {
    if (p.overflow) return true;
    WideInt total = 0;
    for (PicoUsd c : p.by_type) total += c;
    if (p.billed) request_total += total;
    return total > kMaxPico;
  };
  if (part_overflows(cost)) return true;
  for (const CostPart& p : cost.others) {
    if (part_overflows(p)) return true;
  }
  return request_total > kMaxPico;
}

}  // namespace

RequestCost PriceRequest(const UsageEvent& event, const PriceTable& table, std::int64_t now_unix) {
  RequestCost cost;
  const ModelLookup& lookup = table.LookupModel(event.provider, event.model_id);
  cost.model = lookup.model;
  const ModelPrice* const own_price = lookup.price;
  const IdShape shape = lookup.shape;
  cost.tier = event.tier;
  cost.priced_at_unix = event.ts_unix.value_or(now_unix);

  // Platform: what the id shows, else what the event says, else the provider's own API.
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
    PricePart(cost, options, event.web_search_requests, own_price);
  } else {
    // A part is billed only if every one of its steps is: never a partial cost.
    std::vector<CostPart*> started;
    for (const auto& [part, it] : steps) {
      CostPart step;
      step.model = part->model;
      step.tokens = it->tokens;
      PricePart(step, options, 0, part == &cost ? own_price : table.Find(event.provider, part->model));
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
      part->overflow = part->overflow || step.overflow;
      for (std::size_t c = 0; c < kCostTypeCount; ++c) AddTo(part->by_type[c], step.by_type[c], part->overflow);
      AddTo(part->cache_savings, step.cache_savings, part->overflow);
      AddTo(part->cache_write_premium, step.cache_write_premium, part->overflow);
      part->long_context = part->long_context || step.long_context;
      if (step.applied.prompt_tier > part->applied.prompt_tier) part->applied.prompt_tier = step.applied.prompt_tier;
      part->applied.prompt_tokens = std::max(part->applied.prompt_tokens, step.applied.prompt_tokens);
    }
    // Web search is a per-use fee of the request, charged on its own model.
    if (std::find(started.begin(), started.end(), &cost) == started.end()) {
      // No iteration of the request's own model: its fees alone (no tokens).
      PricePart(cost, options, event.web_search_requests, own_price);
    } else if (cost.billed) {
      cost[CostType::kWebSearch] = Times(event.web_search_requests, table.web_search_per_request(), cost.overflow);
    }
    for (CostPart* part : started) {
      if (part->billed) continue;
      const UnpricedReason why = part->unpriced;
      static_cast<CostAmounts&>(*part) = CostAmounts{};  // nothing partial is recorded
      part->unpriced = why;
    }
  }
  if (Overflows(cost)) {  // nothing of it is recorded: the pipeline refuses the event
    RequestCost refused;
    refused.model = std::move(cost.model);
    refused.tokens = cost.tokens;
    refused.platform = cost.platform;
    refused.tier = cost.tier;
    refused.regional = cost.regional;
    refused.priced_at_unix = cost.priced_at_unix;
    refused.overflow = true;
    return refused;
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
