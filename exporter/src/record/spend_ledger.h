#pragma once
// SpendLedger: the record stage's calendar view of cost. For every scope with a
// budget in the config, and for `global`, it keeps the exact spend (pico-dollars)
// of the current UTC day, ISO week and calendar month and of the period before
// each, so an application can ask "may I spend?" (GET /v1/budgets) and rules can
// read period-to-date spend without a 31-day subquery.
//
// Fed the same priced events as RequestMetrics (the request's billed total, the
// same sum as llm_cost_usd_total). An event counts in the periods of its own time
// (event ts, clamped to now): a late event for yesterday lands in yesterday; one
// older than the previous period is in the counters but not in the ledger.
// Periods roll over at UTC boundaries read from an injectable clock, on every
// event and every read, so a quiet midnight still resets the day.
//
// Exported as llm_spend_usd{scope,period} (period-to-date). Persisted by scope
// and period name in the state file (MetricsState::spend).
//
// Beside the budget periods it keeps, for reconciling with Anthropic's bill
// (reconcile/), each UTC day's spend by canonical model of first-party traffic
// (platform anthropic: Bedrock, Vertex and Foundry are billed by their clouds),
// for the last kModelDayRetentionDays days, under its own mutex so the budget
// path's lock is not held longer. At most kMaxModelsPerDay models a day; later
// ones count under "other". Persisted by day and model (MetricsState::model_days).
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/exporter_config.h"
#include "event/usage_event.h"
#include "pricing/money.h"
#include "pricing/pricer.h"
#include "record/metrics_state.h"

namespace llmcost {

enum class BudgetPeriod : std::uint8_t { kDay, kWeek, kMonth };  // the order of kBudgetPeriodNames
std::optional<BudgetPeriod> BudgetPeriodByName(std::string_view name);

// UTC calendar arithmetic (proleptic Gregorian).
struct PeriodBounds {
  std::int64_t start = 0;  // first second of the period containing t
  std::int64_t end = 0;    // first second of the next one (resets_at)
  std::int64_t previous_start = 0;
};
PeriodBounds PeriodAt(BudgetPeriod period, std::int64_t unix_seconds);
// "2026-12-01T00:00:00Z"
std::string FormatUtc(std::int64_t unix_seconds);

class SpendLedger {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  static std::int64_t SystemNow();

  explicit SpendLedger(const ExporterConfig& config, Clock clock = &SystemNow);

  // A few integer adds under the ledger's mutex: global plus the budget scopes
  // whose label value the event carries.
  void Record(const UsageEvent& event, const RequestCost& cost);

  struct PeriodView {
    BudgetPeriod period = BudgetPeriod::kDay;
    PeriodBounds bounds;
    PicoUsd spent = 0;
    PicoUsd previous = 0;
    const Budget* budget = nullptr;  // null: no budget for this scope and period
  };
  struct ScopeView {
    std::string scope;
    std::array<PeriodView, kBudgetPeriodCount> periods;
  };
  struct View {
    std::int64_t as_of = 0;
    std::vector<ScopeView> scopes;  // global first, then the config's order
  };
  // Every scope (or one; nullopt when unknown), rolled over to the clock's now.
  View Read() const;
  std::optional<ScopeView> Read(std::string_view scope, std::int64_t* as_of = nullptr) const;
  std::vector<std::string> Scopes() const;
  std::int64_t Now() const { return clock_(); }

  // llm_spend_usd{scope,period}, rolled over to now.
  std::vector<prometheus::MetricFamily> Collect() const;

  std::vector<ScopeSpendState> Snapshot() const;
  // By scope name; a saved scope no longer in the config is dropped (named in
  // report.spend_scopes_dropped), a configured scope the file lacks starts at zero.
  // Periods that ended while the exporter was down roll over as at a boundary.
  void Restore(const std::vector<ScopeSpendState>& state, RestoreReport& report);

  // First-party spend by model over the UTC days starting in [from_unix, to_unix).
  std::map<std::string, PicoUsd> ModelSpend(std::int64_t from_unix, std::int64_t to_unix) const;
  std::vector<ModelDaySpendState> ModelDaySnapshot() const;
  // Days outside the retention window are dropped; a day start that is not a UTC
  // midnight is refused (report.Unknown("model_day", ...)).
  void RestoreModelDays(const std::vector<ModelDaySpendState>& state, RestoreReport& report);
  static constexpr std::int64_t kModelDayRetentionDays = 70;  // a month-to-date window plus a settle delay
  static constexpr std::size_t kMaxModelsPerDay = 128;
  static constexpr std::string_view kOverflowModel = "other";

  // Bytes held per scope (for docs/budgets.md): the figures, not the name.
  static constexpr std::size_t kBytesPerScope = sizeof(std::array<PeriodSpendState, kBudgetPeriodCount>);

 private:
  struct Scope {
    std::string name;
    std::array<PeriodSpendState, kBudgetPeriodCount> periods{};
    std::array<const Budget*, kBudgetPeriodCount> budgets{};
  };
  using Bounds = std::array<PeriodBounds, kBudgetPeriodCount>;
  // The periods containing `now`, recomputed only when the UTC day changes. Held mu_.
  const Bounds& BoundsAt(std::int64_t now) const;
  // Moves every period of `s` forward to `b` (the periods containing `now`). Held mu_.
  static void Roll(Scope& s, std::int64_t now, const Bounds& b);
  ScopeView ViewOf(const Scope& s) const;

  Clock clock_;
  std::vector<Budget> budgets_;  // stable: Scope::budgets point here
  std::vector<Scope> scopes_;    // [0] is global; fixed after construction
  // Attribution label -> (value, index into scopes_), for matching events.
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::size_t>>> by_label_;
  void RecordModelDay(std::int64_t day, const std::string& model, PicoUsd amount, std::int64_t now);
  // UTC day start -> canonical model -> pUSD (a lookup by the event's model copies nothing).
  std::map<std::int64_t, std::map<std::string, PicoUsd, std::less<>>> model_days_;
  mutable std::mutex model_mu_;  // guards model_days_
  mutable std::mutex mu_;  // guards scopes_[*].periods and the bounds cache
  mutable std::int64_t cached_day_ = INT64_MIN;
  mutable Bounds cached_bounds_{};
};

}  // namespace llmcost
