#include "record/spend_ledger.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace llmcost {
namespace {

constexpr std::int64_t kDay = 86400;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = FloorDiv(y, 400);
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t y;
  unsigned m, d;
};
Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = FloorDiv(z, 146097);
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// A budget's scope value as the label value it names ("feature:chat" -> feature, chat).
std::pair<std::string, std::string> SplitScope(const std::string& scope) {
  const auto colon = scope.find(':');
  return {scope.substr(0, colon), scope.substr(colon + 1)};
}

}  // namespace

std::optional<BudgetPeriod> BudgetPeriodByName(std::string_view name) {
  for (std::size_t i = 0; i < kBudgetPeriodNames.size(); ++i) {
    if (kBudgetPeriodNames[i] == name) return static_cast<BudgetPeriod>(i);
  }
  return std::nullopt;
}

PeriodBounds PeriodAt(BudgetPeriod period, std::int64_t t) {
  const std::int64_t days = FloorDiv(t, kDay);
  PeriodBounds b;
  switch (period) {
    case BudgetPeriod::kDay:
      b.start = days * kDay;
      b.end = b.start + kDay;
      b.previous_start = b.start - kDay;
      break;
    case BudgetPeriod::kWeek: {
      // 1970-01-01 was a Thursday: day -3 (1969-12-29) is a Monday.
      const std::int64_t monday = FloorDiv(days + 3, 7) * 7 - 3;
      b.start = monday * kDay;
      b.end = b.start + 7 * kDay;
      b.previous_start = b.start - 7 * kDay;
      break;
    }
    case BudgetPeriod::kMonth: {
      const Civil c = CivilFromDays(days);
      b.start = DaysFromCivil(c.y, c.m, 1) * kDay;
      b.end = (c.m == 12 ? DaysFromCivil(c.y + 1, 1, 1) : DaysFromCivil(c.y, c.m + 1, 1)) * kDay;
      b.previous_start = (c.m == 1 ? DaysFromCivil(c.y - 1, 12, 1) : DaysFromCivil(c.y, c.m - 1, 1)) * kDay;
      break;
    }
  }
  return b;
}

std::string FormatUtc(std::int64_t t) {
  const std::int64_t days = FloorDiv(t, kDay);
  const std::int64_t secs = t - days * kDay;
  const Civil c = CivilFromDays(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(c.y), c.m, c.d,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

std::int64_t SpendLedger::SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SpendLedger::SpendLedger(const ExporterConfig& config, Clock clock) : clock_(std::move(clock)), budgets_(config.budgets) {
  auto index_of = [this](const std::string& name) {
    for (std::size_t i = 0; i < scopes_.size(); ++i) {
      if (scopes_[i].name == name) return i;
    }
    scopes_.push_back(Scope{name, {}, {}});
    return scopes_.size() - 1;
  };
  index_of(std::string(kGlobalScope));
  for (const Budget& b : budgets_) {
    const std::size_t i = index_of(b.scope);
    if (const auto p = BudgetPeriodByName(b.period)) scopes_[i].budgets[static_cast<std::size_t>(*p)] = &b;
    if (i != 0) {
      auto [label, value] = SplitScope(b.scope);
      auto& list = by_label_[label];
      if (std::none_of(list.begin(), list.end(), [&](const auto& e) { return e.second == i; })) list.emplace_back(value, i);
    }
  }
  const std::int64_t now = clock_();
  for (Scope& s : scopes_) {
    for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) s.periods[p].start_unix = PeriodAt(static_cast<BudgetPeriod>(p), now).start;
  }
}

const SpendLedger::Bounds& SpendLedger::BoundsAt(std::int64_t now) const {
  const std::int64_t day = FloorDiv(now, kDay);
  if (day != cached_day_) {
    for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) cached_bounds_[p] = PeriodAt(static_cast<BudgetPeriod>(p), now);
    cached_day_ = day;
  }
  return cached_bounds_;
}

void SpendLedger::Roll(Scope& s, std::int64_t now, const Bounds& bounds) {
  for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) {
    PeriodSpendState& ps = s.periods[p];
    const PeriodBounds& b = bounds[p];
    if (ps.start_unix == b.start) continue;  // the common case: one compare
    if (now < ps.start_unix) continue;  // the clock went back: keep the figures, never move a period backwards
    ps.previous_pusd = ps.start_unix == b.previous_start ? ps.spent_pusd : 0;
    ps.spent_pusd = 0;
    ps.start_unix = b.start;
  }
}

void SpendLedger::RecordModelDay(std::int64_t day, const std::string& model, PicoUsd amount, std::int64_t now) {
  std::lock_guard lock(model_mu_);
  const std::int64_t oldest = (FloorDiv(now, kDay) - kModelDayRetentionDays) * kDay;
  while (!model_days_.empty() && model_days_.begin()->first < oldest) model_days_.erase(model_days_.begin());
  if (day < oldest) return;
  auto& models = model_days_[day];
  auto it = models.find(model);
  if (it == models.end()) {
    it = models.size() >= kMaxModelsPerDay ? models.try_emplace(std::string(kOverflowModel), 0).first
                                           : models.emplace(model, 0).first;
  }
  it->second += amount;
}

void SpendLedger::Record(const UsageEvent& event, const RequestCost& cost) {
  const PicoUsd amount = cost.RequestTotal();
  if (amount == 0) return;
  if (cost.platform == Platform::kAnthropic) {  // what Anthropic bills (reconcile/)
    const std::int64_t now = clock_();
    const std::int64_t day = FloorDiv(std::min(cost.priced_at_unix == 0 ? now : cost.priced_at_unix, now), kDay) * kDay;
    if (cost.billed && cost.Total() != 0) RecordModelDay(day, cost.model, cost.Total(), now);
    for (const CostPart& p : cost.others) {
      if (p.billed && p.Total() != 0) RecordModelDay(day, p.model, p.Total(), now);
    }
  }
  // Which scopes: global, and each budget scope whose label value the event sent.
  std::array<std::size_t, 16> hit{};
  std::size_t hits = 0;
  hit[hits++] = 0;
  if (!by_label_.empty()) {
    for (const auto& [name, value] : event.labels) {
      const auto it = by_label_.find(name);
      if (it == by_label_.end()) continue;
      for (const auto& [want, index] : it->second) {
        if (want == value && hits < hit.size()) hit[hits++] = index;
      }
    }
  }
  const std::int64_t now = clock_();
  const std::int64_t at = std::min(cost.priced_at_unix == 0 ? now : cost.priced_at_unix, now);
  std::lock_guard lock(mu_);
  const Bounds& bounds = BoundsAt(now);
  // Where the event's time falls, per period: 0 current, 1 previous, 2 older.
  std::array<int, kBudgetPeriodCount> slot{};
  for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) {
    slot[p] = at >= bounds[p].start ? 0 : at >= bounds[p].previous_start ? 1 : 2;
  }
  for (std::size_t h = 0; h < hits; ++h) {
    Scope& s = scopes_[hit[h]];
    Roll(s, now, bounds);
    for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) {
      PeriodSpendState& ps = s.periods[p];
      if (ps.start_unix != bounds[p].start) continue;  // the clock went back past a boundary: not placeable
      if (slot[p] == 0) {
        ps.spent_pusd += amount;
      } else if (slot[p] == 1) {
        ps.previous_pusd += amount;
      }
    }
  }
}

SpendLedger::ScopeView SpendLedger::ViewOf(const Scope& s) const {
  ScopeView v;
  v.scope = s.name;
  for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) {
    PeriodView& pv = v.periods[p];
    pv.period = static_cast<BudgetPeriod>(p);
    pv.bounds = PeriodAt(pv.period, s.periods[p].start_unix);
    pv.spent = s.periods[p].spent_pusd;
    pv.previous = s.periods[p].previous_pusd;
    pv.budget = s.budgets[p];
  }
  return v;
}

SpendLedger::View SpendLedger::Read() const {
  View view;
  view.as_of = clock_();
  std::lock_guard lock(mu_);
  view.scopes.reserve(scopes_.size());
  const Bounds& bounds = BoundsAt(view.as_of);
  for (const Scope& s : scopes_) {
    Roll(const_cast<Scope&>(s), view.as_of, bounds);  // rolling over is not a change of the figures
    view.scopes.push_back(ViewOf(s));
  }
  return view;
}

std::optional<SpendLedger::ScopeView> SpendLedger::Read(std::string_view scope, std::int64_t* as_of) const {
  const std::int64_t now = clock_();
  if (as_of != nullptr) *as_of = now;
  std::lock_guard lock(mu_);
  for (const Scope& s : scopes_) {
    if (s.name != scope) continue;
    Roll(const_cast<Scope&>(s), now, BoundsAt(now));
    return ViewOf(s);
  }
  return std::nullopt;
}

std::vector<std::string> SpendLedger::Scopes() const {
  std::vector<std::string> out;
  for (const Scope& s : scopes_) out.push_back(s.name);
  return out;
}

std::vector<prometheus::MetricFamily> SpendLedger::Collect() const {
  prometheus::MetricFamily f;
  f.name = "llm_spend_usd";
  f.help = "Exact spend in USD so far in the current UTC day, ISO week and calendar month, by budget scope and period.";
  f.type = prometheus::MetricType::Gauge;
  const View view = Read();
  for (const ScopeView& s : view.scopes) {
    for (const PeriodView& p : s.periods) {
      prometheus::ClientMetric m;
      m.label = {{"period", std::string(kBudgetPeriodNames[static_cast<std::size_t>(p.period)])}, {"scope", s.scope}};
      m.gauge.value = PicoToUsd(p.spent);
      f.metric.push_back(std::move(m));
    }
  }
  return {std::move(f)};
}

std::vector<ScopeSpendState> SpendLedger::Snapshot() const {
  std::vector<ScopeSpendState> out;
  std::lock_guard lock(mu_);
  for (const Scope& s : scopes_) {
    ScopeSpendState st;
    st.scope = s.name;
    for (std::size_t p = 0; p < kBudgetPeriodCount; ++p) st.periods[std::string(kBudgetPeriodNames[p])] = s.periods[p];
    out.push_back(std::move(st));
  }
  return out;
}

void SpendLedger::Restore(const std::vector<ScopeSpendState>& state, RestoreReport& report) {
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (const ScopeSpendState& saved : state) {
    auto it = std::find_if(scopes_.begin(), scopes_.end(), [&](const Scope& s) { return s.name == saved.scope; });
    if (it == scopes_.end()) {
      report.spend_scopes_dropped.push_back(saved.scope);
      continue;
    }
    for (const auto& [name, ps] : saved.periods) {
      const auto p = BudgetPeriodByName(name);
      if (!p) {
        report.Unknown("spend_period", name);
        continue;
      }
      // Only a period start that is one of this period's boundaries is believed.
      if (PeriodAt(*p, ps.start_unix).start != ps.start_unix) {
        report.Unknown("spend_period", name);
        continue;
      }
      it->periods[static_cast<std::size_t>(*p)] = ps;
    }
    Roll(*it, now, BoundsAt(now));
  }
}

std::map<std::string, PicoUsd> SpendLedger::ModelSpend(std::int64_t from_unix, std::int64_t to_unix) const {
  std::map<std::string, PicoUsd> out;
  std::lock_guard lock(model_mu_);
  for (auto it = model_days_.lower_bound(from_unix); it != model_days_.end() && it->first < to_unix; ++it) {
    for (const auto& [model, pusd] : it->second) out[model] += pusd;
  }
  return out;
}

std::vector<ModelDaySpendState> SpendLedger::ModelDaySnapshot() const {
  std::vector<ModelDaySpendState> out;
  std::lock_guard lock(model_mu_);
  for (const auto& [day, models] : model_days_) {
    for (const auto& [model, pusd] : models) out.push_back({day, model, pusd});
  }
  return out;
}

void SpendLedger::RestoreModelDays(const std::vector<ModelDaySpendState>& state, RestoreReport& report) {
  const std::int64_t now = clock_();
  for (const ModelDaySpendState& d : state) {
    if (FloorDiv(d.day_unix, kDay) * kDay != d.day_unix || d.model.empty()) {
      report.Unknown("model_day", d.model);
      continue;
    }
    if (d.spent_pusd > 0) RecordModelDay(d.day_unix, d.model, d.spent_pusd, now);
  }
}

}  // namespace llmcost
