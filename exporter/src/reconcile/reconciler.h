#pragma once
// Reconciler: billed (Anthropic's Admin API) against instrumented (this exporter's
// per-model UTC-day ledger, first-party traffic only) for the same settled window.
//
// A UTC day is settled once its end is --reconcile.settle-after old (billing data
// arrives late and is revised). Each poll re-reads the billed cost of every day
// from the first of the month of the last settled day through that day, and
// replaces what it held: a revised figure for a day already seen wins. A failed
// poll is logged and counted; the last good figures stay.
//
// Series (docs/metrics.md):
//   llm_billed_cost_usd{model,period}          billed, from the last good poll
//   llm_instrumented_cost_usd{model,period}    this exporter's share, same window
//   llm_billed_drift_ratio{model,period}       instrumented / billed - 1 (absent where billed is 0)
//   llm_billed_last_settled_timestamp_seconds  end of the last settled day the billed figures cover
//   llm_reconcile_last_success_timestamp_seconds  last good poll (the start time until one)
//   llm_reconcile_polls_total{result}
// period = last_settled_day | month_to_date_settled. With several replicas, one
// polls; its drift uses the sum across replicas of llm_instrumented_cost_usd read
// through --budgets.prometheus-url (`instrumented_sum`), its own share otherwise.
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pricing/money.h"
#include "reconcile/admin_api.h"
#include "record/spend_ledger.h"

namespace llmcost {

enum class ReconcilePeriod : std::uint8_t { kLastSettledDay, kMonthToDateSettled };
inline constexpr std::array<std::string_view, 2> kReconcilePeriodNames = {"last_settled_day", "month_to_date_settled"};

struct SettledWindow {
  std::int64_t day = 0;          // 00:00 UTC of the last settled day
  std::int64_t month_start = 0;  // 00:00 UTC of the first of its month
  std::int64_t end = 0;          // day + 1 day (exclusive)
  std::int64_t Start(ReconcilePeriod p) const { return p == ReconcilePeriod::kLastSettledDay ? day : month_start; }
};
// The last UTC day whose end is at least settle_after before now.
SettledWindow SettledAt(std::int64_t now, std::int64_t settle_after_seconds);

// (model, period name) -> pUSD
using ModelPeriodSums = std::map<std::pair<std::string, std::string>, PicoUsd>;

class Reconciler {
 public:
  using Clock = std::function<std::int64_t()>;
  using Resolve = std::function<std::string(std::string_view)>;        // API model id -> canonical name
  using InstrumentedSum = std::function<std::optional<ModelPeriodSums>(std::string* error)>;  // across replicas

  struct Options {
    std::int64_t settle_after_seconds = 48 * 3600;
    std::chrono::milliseconds interval{3600'000};
    // False on a replica that only exports its instrumented share for the poller
    // (--reconcile.export-instrumented): no poll series, so LLMReconcileStale stays quiet.
    bool polls = true;
  };

  Reconciler(const SpendLedger& ledger, Options options, Resolve resolve, Clock clock = &SpendLedger::SystemNow);
  ~Reconciler();

  // The billed figures of one successful fetch covering `window`: replaces what was held.
  void ApplyBilled(const SettledWindow& window, const std::vector<BilledCost>& rows,
                   const std::optional<ModelPeriodSums>& instrumented_sum);
  void PollFailed(PollResult result);

  // One poll now: fetch, apply or count the failure. Returns the result.
  PollResult PollOnce(AdminApi& api, const InstrumentedSum& instrumented_sum);
  // A thread polling at start and every interval until Stop (never blocks ingest:
  // the ledger is only read, under its own short lock).
  void Start(std::shared_ptr<AdminApi> api, InstrumentedSum instrumented_sum);
  void Stop();
  // Cuts a wait short when stopping (AdminApiOptions::sleep for the poller's API).
  bool Sleep(std::chrono::milliseconds d);

  std::vector<prometheus::MetricFamily> Collect() const;

  struct Row {
    std::string model;
    ReconcilePeriod period;
    std::optional<PicoUsd> billed;  // nullopt: no good poll yet
    PicoUsd instrumented = 0;       // this exporter's share
    std::optional<PicoUsd> compared;  // what the drift uses (sum across replicas or own share)
    std::optional<double> drift;
  };
  std::vector<Row> Rows() const;
  std::optional<SettledWindow> BilledWindow() const;

  static constexpr std::size_t kMaxModels = 100;  // beyond: "other"

 private:
  const SpendLedger& ledger_;
  Options options_;
  Resolve resolve_;
  Clock clock_;
  std::int64_t started_ = 0;

  mutable std::mutex mu_;
  std::optional<SettledWindow> window_;                      // of the billed figures held
  std::map<std::pair<std::int64_t, std::string>, PicoUsd> billed_days_;  // (day, canonical model)
  std::optional<ModelPeriodSums> instrumented_sum_;          // at the last good poll (multi-replica)
  std::int64_t last_success_ = 0;
  std::array<std::atomic<std::uint64_t>, kPollResultNames.size()> polls_{};

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llmcost
