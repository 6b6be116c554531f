#include "transport/client_api.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace llmcost {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr std::int64_t kDaySeconds = 86400;

HttpResponse JsonAnswer(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.Content(body.dump(), kJson);
  return r;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decoded; a malformed escape is kept literally (it then names no scope).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The remainder after `prefix` + '/', decoded; nullopt for the bare prefix.
std::optional<std::string> Tail(std::string_view path, std::string_view prefix) {
  if (path.size() <= prefix.size() + 1) return std::nullopt;
  return PercentDecode(path.substr(prefix.size() + 1));
}

std::string_view Query(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      return pair.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

// ---- budgets

enum class BudgetState { kOk, kWarn, kExceeded };
constexpr std::string_view kStateNames[] = {"ok", "warn", "exceeded"};

BudgetState StateOf(const SpendLedger::PeriodView& p) {
  if (p.budget == nullptr) return BudgetState::kOk;
  // Thresholds to the nearest pUSD, compared with the exact spend: 90% of $0.05 is
  // $0.045 exactly, not the double 0.045000000000000005.
  auto threshold = [&](double fraction) { return std::llround(fraction * p.budget->usd * 1e12); };
  if (p.spent >= threshold(p.budget->block_at)) return BudgetState::kExceeded;
  if (p.spent >= threshold(p.budget->warn_at)) return BudgetState::kWarn;
  return BudgetState::kOk;
}

// The last day's pace, in pUSD per day: the spend of the trailing 24 hours, taking
// yesterday's spend as spread evenly over yesterday (the ledger keeps calendar
// days, not hours): today so far + yesterday x (the share of it within 24 h).
double DailyPace(const SpendLedger::ScopeView& s, std::int64_t now) {
  const auto& day = s.periods[static_cast<std::size_t>(BudgetPeriod::kDay)];
  const double elapsed = static_cast<double>(std::clamp<std::int64_t>(now - day.bounds.start, 0, kDaySeconds));
  return static_cast<double>(day.spent) + static_cast<double>(day.previous) * (1.0 - elapsed / kDaySeconds);
}

json ScopeJson(const SpendLedger::ScopeView& s, std::int64_t now) {
  json periods = json::object();
  BudgetState worst = BudgetState::kOk;
  const double pace = DailyPace(s, now);
  for (const auto& p : s.periods) {
    const double spent = PicoToUsd(p.spent);
    const double left = static_cast<double>(std::max<std::int64_t>(p.bounds.end - now, 0));
    const BudgetState state = StateOf(p);
    worst = std::max(worst, state);
    json j = {{"spent_usd", spent},
              {"previous_usd", PicoToUsd(p.previous)},
              {"projected_usd", (static_cast<double>(p.spent) + pace * left / kDaySeconds) / 1e12},
              {"state", kStateNames[static_cast<int>(state)]},
              {"period_start", FormatUtc(p.bounds.start)},
              {"resets_at", FormatUtc(p.bounds.end)}};
    if (p.budget != nullptr) {
      j["budget_usd"] = p.budget->usd;
      j["remaining_usd"] = p.budget->usd - spent;
      j["warn_at"] = p.budget->warn_at;
      j["block_at"] = p.budget->block_at;
    } else {
      j["budget_usd"] = nullptr;
      j["remaining_usd"] = nullptr;
      j["warn_at"] = nullptr;
      j["block_at"] = nullptr;
    }
    periods[std::string(kBudgetPeriodNames[static_cast<std::size_t>(p.period)])] = std::move(j);
  }
  return {{"scope", s.scope}, {"state", kStateNames[static_cast<int>(worst)]}, {"periods", std::move(periods)}};
}

// FNV-1a over what the figures are made of: period starts, amounts, budgets. Not
// over as_of or projected_usd (they move with the clock): the tag is weak.
struct Fnv {
  std::uint64_t h = 1469598103934665603ull;
  void Add(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void Add(std::int64_t v) { Add(&v, sizeof v); }
  void Add(std::string_view s) {
    Add(s.data(), s.size());
    Add(static_cast<std::int64_t>(s.size()));
  }
};

std::string ETagOf(const std::vector<const SpendLedger::ScopeView*>& scopes, bool one) {
  Fnv f;
  f.Add(static_cast<std::int64_t>(one));
  for (const auto* s : scopes) {
    f.Add(s->scope);
    for (const auto& p : s->periods) {
      f.Add(p.bounds.start);
      f.Add(p.spent);
      f.Add(p.previous);
      f.Add(static_cast<std::int64_t>(p.budget != nullptr));
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "W/\"%016llx\"", static_cast<unsigned long long>(f.h));
  return buf;
}

// If-None-Match: a list of tags, or "*"; weak comparison (RFC 9110 13.1.2).
bool Matches(std::string_view if_none_match, std::string_view etag) {
  auto opaque = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*" || (!tag.empty() && opaque(tag) == opaque(etag))) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

// ---- prices

json RatesJson(const TokenRates& r) {
  json usd = json::object(), pusd = json::object();
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
    const std::string name(TokenTypeName(static_cast<TokenType>(t)));
    if (r.unpublished[t]) {
      usd[name] = nullptr;
      pusd[name] = nullptr;
    } else {
      // pUSD per token is the same integer as micro-USD per MTok: exact both ways.
      usd[name] = static_cast<double>(r.per_token[t]) / 1e6;
      pusd[name] = r.per_token[t];
    }
  }
  return {{"usd_per_mtok", usd}, {"pusd_per_token", pusd}};
}

json Factor(const std::optional<MicroFactor>& f) {
  return f ? json(static_cast<double>(*f) / kUnitFactor) : json(nullptr);
}

json PeriodJson(const RatePeriod& p) {
  json j = RatesJson(p.rates);
  j["from"] = p.from.empty() ? json(nullptr) : json(p.from);
  json tiers = json::array();
  for (const auto& t : p.prompt_tiers) {
    json tj = RatesJson(t.rates);
    tj["above_prompt_tokens"] = t.above_prompt_tokens;
    tiers.push_back(std::move(tj));
  }
  j["prompt_tiers"] = std::move(tiers);
  j["us_inference_factor"] = Factor(p.us_inference_factor);
  j["fast_factor"] = Factor(p.fast_factor);
  j["regional_factor"] = Factor(p.regional_factor);
  return j;
}

json ModelJson(const ModelPrice& m, std::int64_t now) {
  json periods = json::array();
  for (const auto& p : m.periods) periods.push_back(PeriodJson(p));
  json j = {{"provider", m.provider}, {"model", m.model}, {"as_of", m.as_of}, {"source", m.source},
            {"retired", m.retired.empty() ? json(nullptr) : json(m.retired)}};
  j["current"] = PeriodJson(m.At(now));
  j["periods"] = std::move(periods);
  return j;
}

json TableJson(const PriceTable& t) {
  return {{"as_of", t.as_of()},
          {"source", t.source()},
          {"origin", t.origin()},
          {"batch_factor", static_cast<double>(t.batch_factor()) / kUnitFactor},
          {"web_search_usd_per_request", PicoToUsd(t.web_search_per_request())}};
}

HttpResponse MethodNotAllowed() {
  HttpResponse r = JsonAnswer(405, {{"error", "method not allowed; use GET"}});
  r.Header("Allow", "GET, HEAD");
  return r;
}

bool UnderPrefix(std::string_view path, std::string_view prefix) {
  return path == prefix || (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
                            path[prefix.size()] == '/');
}

// Replaces the local period-to-date figures with the replicas' sums; returns the
// answer's `source` and sets *error when the query failed.
std::string ApplyRemote(PrometheusSpend* remote, std::vector<SpendLedger::ScopeView*> scopes, std::string* error) {
  if (remote == nullptr) return "local";
  const PrometheusSpend::Answer a = remote->Get();
  if (!a.sums) {
    *error = a.error;
    return "local_fallback";
  }
  for (auto* s : scopes) {
    for (auto& p : s->periods) {
      const auto it = a.sums->find({s->scope, std::string(kBudgetPeriodNames[static_cast<std::size_t>(p.period)])});
      if (it != a.sums->end()) p.spent = it->second;  // not scraped yet: this replica's own figure
    }
  }
  return "prometheus";
}

}  // namespace

bool IsClientApiPath(std::string_view path) {
  return UnderPrefix(path, kBudgetsPath) || UnderPrefix(path, kPricesPath) || path == kTasksTopPath ||
         path == kPromptsTopPath;
}

// ---- drill-down (tasks, prompts)

namespace {

// Ids are client text: invalid UTF-8 is shown with U+FFFD rather than refused.
HttpResponse DrillDownAnswer(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.Content(body.dump(-1, ' ', false, json::error_handler_t::replace), kJson);
  r.Header("Cache-Control", "no-store");
  return r;
}

HttpResponse BadParameter(std::string_view name, const std::string& reason) {
  return DrillDownAnswer(400, {{"error", std::string(name) + ": " + reason}, {"field", name}});
}

// A query parameter's value; nullopt when absent (an empty value is present).
std::optional<std::string_view> Param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (true) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.size() >= key.size() + 1 && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      return pair.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) return std::nullopt;
    rest = rest.substr(amp + 1);
  }
}

// n from the query: absent is kTopDefault; else an integer in [1, kTopMax].
std::optional<std::size_t> TopCount(std::string_view target, std::string* reason) {
  const std::optional<std::string_view> param = Param(target, "n");
  if (!param) return kTopDefault;
  const std::string_view raw = *param;
  std::size_t n = 0;
  for (const char c : raw) {
    if (c < '0' || c > '9' || n > kTopMax) {  // n > kTopMax: stop before it can overflow
      *reason = "must be an integer from 1 to " + std::to_string(kTopMax);
      return std::nullopt;
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n < 1 || n > kTopMax) {
    *reason = "must be an integer from 1 to " + std::to_string(kTopMax);
    return std::nullopt;
  }
  return n;
}

json Seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

HttpResponse ServeTasksTop(TaskTracker& tasks, std::string_view target) {
  std::string reason;
  const auto n = TopCount(target, &reason);
  if (!n) return BadParameter("n", reason);
  const std::optional<std::string_view> by_raw = Param(target, "by");
  TaskOrder by = TaskOrder::kCost;
  if (by_raw) {
    const auto it = std::find(kTaskOrderNames.begin(), kTaskOrderNames.end(), *by_raw);
    if (it == kTaskOrderNames.end()) return BadParameter("by", "must be cost or hops");
    by = static_cast<TaskOrder>(it - kTaskOrderNames.begin());
  }
  json list = json::array();
  for (const auto& t : tasks.Top(by, *n)) {
    json reasons = json::array();
    for (std::size_t r = 0; r < kRunawayReasonNames.size(); ++r) {
      if (t.crossed & (1u << r)) reasons.push_back(kRunawayReasonNames[r]);
    }
    list.push_back({{"task_id", t.task_id},
                    {"feature", t.feature},
                    {"tenant", t.tenant.empty() ? json(nullptr) : json(t.tenant)},
                    {"hops", t.hops},
                    {"cost_usd", PicoToUsd(t.cost)},
                    {"cost_pusd", t.cost},
                    {"tokens", t.tokens},
                    {"age_seconds", Seconds(t.age_ms)},
                    {"idle_seconds", Seconds(t.idle_ms)},
                    {"runaway", reasons}});
  }
  return DrillDownAnswer(200, {{"by", kTaskOrderNames[static_cast<std::size_t>(by)]},
                               {"n", *n},
                               {"active_tasks", tasks.active()},
                               {"evicted_total", tasks.evicted()},
                               {"tasks", list}});
}

HttpResponse ServePromptsTop(PromptRepeats& prompts, std::string_view target) {
  std::string reason;
  const auto n = TopCount(target, &reason);
  if (!n) return BadParameter("n", reason);
  json list = json::array();
  for (const auto& p : prompts.Top(*n)) {
    list.push_back({{"prompt_hash", p.prompt_hash},
                    {"feature", p.feature},
                    {"tenant", p.tenant.empty() ? json(nullptr) : json(p.tenant)},
                    {"requests_in_window", p.in_window},
                    {"repeated_requests", p.repeated},
                    {"repeated_cost_usd", PicoToUsd(p.repeated_cost)},
                    {"repeated_cost_pusd", p.repeated_cost},
                    {"idle_seconds", Seconds(p.idle_ms)}});
  }
  return DrillDownAnswer(200, {{"n", *n}, {"tracked_hashes", prompts.hashes()}, {"prompts", list}});
}

HttpResponse ServeBudgets(const SpendLedger& ledger, std::string_view path, std::string_view if_none_match,
                          PrometheusSpend* remote) {
  const std::optional<std::string> scope = Tail(path, kBudgetsPath);
  std::string source, source_error;
  std::int64_t now = 0;
  json body;
  std::string etag;
  if (scope) {
    auto view = ledger.Read(*scope, &now);
    if (!view) {
      return JsonAnswer(404, {{"error", "unknown scope '" + scope->substr(0, 256) +
                                            "': a scope is global or one with a budget in the config"},
                              {"scopes", ledger.Scopes()}});
    }
    source = ApplyRemote(remote, {&*view}, &source_error);
    etag = ETagOf({&*view}, true);
    if (!if_none_match.empty() && Matches(if_none_match, etag)) {
      HttpResponse r;
      r.status = 304;
      r.Header("ETag", etag).Header("Cache-Control", "private, max-age=" + std::to_string(kBudgetsMaxAgeSeconds));
      return r;
    }
    body = ScopeJson(*view, now);
  } else {
    SpendLedger::View view = ledger.Read();
    now = view.as_of;
    std::vector<SpendLedger::ScopeView*> mutable_all;
    for (auto& s : view.scopes) mutable_all.push_back(&s);
    source = ApplyRemote(remote, mutable_all, &source_error);
    std::vector<const SpendLedger::ScopeView*> all(mutable_all.begin(), mutable_all.end());
    etag = ETagOf(all, false);
    if (!if_none_match.empty() && Matches(if_none_match, etag)) {
      HttpResponse r;
      r.status = 304;
      r.Header("ETag", etag).Header("Cache-Control", "private, max-age=" + std::to_string(kBudgetsMaxAgeSeconds));
      return r;
    }
    json scopes = json::array();
    for (const auto& s : view.scopes) scopes.push_back(ScopeJson(s, now));
    body = {{"scopes", std::move(scopes)}};
  }
  body["as_of"] = FormatUtc(now);
  body["source"] = source;  // docs/budgets.md, "One replica or several"
  if (!source_error.empty()) body["source_error"] = source_error;
  HttpResponse r = JsonAnswer(200, body);
  r.Header("ETag", etag).Header("Cache-Control", "private, max-age=" + std::to_string(kBudgetsMaxAgeSeconds));
  return r;
}

HttpResponse ServePrices(const PriceTable& table, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  const std::int64_t now = SpendLedger::SystemNow();
  json body = TableJson(table);
  if (const auto raw = Tail(path, kPricesPath)) {
    std::string provider = PercentDecode(Query(target, "provider"));
    if (provider.empty()) provider = "anthropic";
    const std::string model = table.ResolveModel(*raw);
    const ModelPrice* price = table.Find(provider, model);
    if (price == nullptr) {
      // Never priced as something else: the client gets a clear no.
      return JsonAnswer(404, {{"error", "model not in the price table; the exporter counts it as unpriced"},
                              {"requested", raw->substr(0, 256)},
                              {"provider", provider.substr(0, 64)},
                              {"model", model.substr(0, 256)}});
    }
    body["requested"] = raw->substr(0, 256);
    body["price"] = ModelJson(*price, now);
    return JsonAnswer(200, body);
  }
  json models = json::array();
  for (const ModelPrice* m : table.Models()) models.push_back(ModelJson(*m, now));
  body["models"] = std::move(models);
  return JsonAnswer(200, body);
}

HttpResponse ServeClientApi(const ClientApi& api, const HttpRequest& request) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (UnderPrefix(request.path, kBudgetsPath) && api.ledger != nullptr) {
    if (!get) return MethodNotAllowed();
    return ServeBudgets(*api.ledger, request.path, request.Header("If-None-Match"), api.remote);
  }
  if (UnderPrefix(request.path, kPricesPath) && api.prices != nullptr) {
    if (!get) return MethodNotAllowed();
    return ServePrices(*api.prices->Current(), request.target);
  }
  if (request.path == kTasksTopPath && api.tasks != nullptr) {
    if (!get) return MethodNotAllowed();
    return ServeTasksTop(*api.tasks, request.target);
  }
  if (request.path == kPromptsTopPath && api.prompts != nullptr) {
    if (!get) return MethodNotAllowed();
    return ServePromptsTop(*api.prompts, request.target);
  }
  return JsonAnswer(404, {{"error", "not found"}});
}

}  // namespace llmcost
