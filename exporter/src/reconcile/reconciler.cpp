#include "reconcile/reconciler.h"

#include <prometheus/client_metric.h>

#include <set>

#include "log/structured_log.h"

namespace llmcost {
namespace {
constexpr std::int64_t kDaySeconds = 86400;
std::int64_t FloorDay(std::int64_t t) { return (t >= 0 ? t / kDaySeconds : (t - kDaySeconds + 1) / kDaySeconds) * kDaySeconds; }
}  // namespace

SettledWindow SettledAt(std::int64_t now, std::int64_t settle_after) {
  SettledWindow w;
  w.end = FloorDay(now - settle_after);  // the last day ending at or before now - settle_after
  w.day = w.end - kDaySeconds;
  w.month_start = PeriodAt(BudgetPeriod::kMonth, w.day).start;
  return w;
}

Reconciler::Reconciler(const SpendLedger& ledger, Options options, Resolve resolve, Clock clock)
    : ledger_(ledger), options_(options), resolve_(std::move(resolve)), clock_(std::move(clock)) {
  started_ = clock_();
  last_success_ = started_;
}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::ApplyBilled(const SettledWindow& window, const std::vector<BilledCost>& rows,
                             const std::optional<ModelPeriodSums>& instrumented_sum) {
  std::map<std::pair<std::int64_t, std::string>, PicoUsd> days;
  std::set<std::string> models;
  for (const BilledCost& r : rows) {
    const std::int64_t day = FloorDay(r.start_unix);
    if (day < window.month_start || day >= window.end) continue;  // outside the window asked for
    std::string model = r.model == kUnattributedModel ? r.model : resolve_(r.model);
    if (!models.count(model) && models.size() >= kMaxModels) model = std::string(SpendLedger::kOverflowModel);
    models.insert(model);
    days[{day, model}] += r.pusd;
  }
  std::lock_guard lock(mu_);
  window_ = window;
  billed_days_ = std::move(days);
  instrumented_sum_ = instrumented_sum;
  last_success_ = clock_();
  polls_[static_cast<std::size_t>(PollResult::kSuccess)].fetch_add(1, std::memory_order_relaxed);
}

void Reconciler::PollFailed(PollResult result) {
  polls_[static_cast<std::size_t>(result)].fetch_add(1, std::memory_order_relaxed);
}

PollResult Reconciler::PollOnce(AdminApi& api, const InstrumentedSum& instrumented_sum) {
  const SettledWindow w = SettledAt(clock_(), options_.settle_after_seconds);
  const auto fetched = api.Cost(w.month_start, w.end, "1d");
  if (!fetched.ok()) {
    Log(LogLevel::kWarn, "billing poll failed; keeping the last good figures",
        {{"result", std::string(kPollResultNames[static_cast<std::size_t>(fetched.result)])},
         {"error", fetched.detail},
         {"retries", std::to_string(fetched.retries)}});
    PollFailed(fetched.result);
    return fetched.result;
  }
  std::optional<ModelPeriodSums> sums;
  if (instrumented_sum) {
    std::string error;
    sums = instrumented_sum(&error);
    if (!sums) Log(LogLevel::kWarn, "sum across replicas unavailable; drift uses this replica's share", {{"error", error}});
  }
  ApplyBilled(w, fetched.rows, sums);
  Log(LogLevel::kInfo, "billing poll succeeded",
      {{"source", std::string(CostSourceName(fetched.source))},
       {"settled_day", FormatUtc(w.day).substr(0, 10)},
       {"rows", std::to_string(fetched.rows.size())},
       {"pages", std::to_string(fetched.pages)},
       {"retries", std::to_string(fetched.retries)},
       {"note", fetched.detail}});
  return PollResult::kSuccess;
}

bool Reconciler::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(stop_mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Reconciler::Start(std::shared_ptr<AdminApi> api, InstrumentedSum instrumented_sum) {
  thread_ = std::thread([this, api = std::move(api), sum = std::move(instrumented_sum)] {
    do {
      try {
        PollOnce(*api, sum);
      } catch (const std::exception& e) {  // never let a poll take the exporter down
        Log(LogLevel::kError, "billing poll failed unexpectedly; keeping the last good figures", {{"error", e.what()}});
        PollFailed(PollResult::kBadResponse);
      }
    } while (Sleep(options_.interval));
  });
}

void Reconciler::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<SettledWindow> Reconciler::BilledWindow() const {
  std::lock_guard lock(mu_);
  return window_;
}

std::vector<Reconciler::Row> Reconciler::Rows() const {
  std::optional<SettledWindow> window;
  std::map<std::pair<std::int64_t, std::string>, PicoUsd> billed_days;
  std::optional<ModelPeriodSums> sums;
  {
    std::lock_guard lock(mu_);
    window = window_;
    billed_days = billed_days_;
    sums = instrumented_sum_;
  }
  // Before a good poll the instrumented side is shown for the clock's settled window.
  const SettledWindow w = window ? *window : SettledAt(clock_(), options_.settle_after_seconds);
  std::vector<Row> rows;
  for (std::size_t p = 0; p < kReconcilePeriodNames.size(); ++p) {
    const auto period = static_cast<ReconcilePeriod>(p);
    const std::string pname(kReconcilePeriodNames[p]);
    std::map<std::string, PicoUsd> instrumented = ledger_.ModelSpend(w.Start(period), w.end);
    std::map<std::string, PicoUsd> billed;
    if (window) {
      for (const auto& [key, pusd] : billed_days) {
        if (key.first >= w.Start(period) && key.first < w.end) billed[key.second] += pusd;
      }
    }
    std::set<std::string> models;
    for (const auto& [m, _] : instrumented) models.insert(m);
    for (const auto& [m, _] : billed) models.insert(m);
    if (sums) {
      for (const auto& [key, _] : *sums) {
        if (key.second == pname) models.insert(key.first);
      }
    }
    for (const std::string& m : models) {
      if (rows.size() >= 2 * kMaxModels) break;
      Row r;
      r.model = m;
      r.period = period;
      if (const auto it = instrumented.find(m); it != instrumented.end()) r.instrumented = it->second;
      if (window) {
        const auto it = billed.find(m);
        r.billed = it == billed.end() ? 0 : it->second;
        r.compared = r.instrumented;
        if (sums) {
          const auto s = sums->find({m, pname});
          r.compared = s == sums->end() ? 0 : s->second;
        }
        if (*r.billed != 0) r.drift = static_cast<double>(*r.compared) / static_cast<double>(*r.billed) - 1.0;
      }
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

std::vector<prometheus::MetricFamily> Reconciler::Collect() const {
  auto family = [](const char* name, const char* help, prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
  };
  auto billed = family("llm_billed_cost_usd",
                       "Cost Anthropic billed (Admin API) by model for the settled window, from the last good poll.",
                       prometheus::MetricType::Gauge);
  auto instrumented = family("llm_instrumented_cost_usd",
                             "This exporter's first-party cost by model for the same settled window as llm_billed_cost_usd.",
                             prometheus::MetricType::Gauge);
  auto drift = family("llm_billed_drift_ratio",
                      "Instrumented (sum across replicas when configured) / billed - 1, by model; absent where billed is 0.",
                      prometheus::MetricType::Gauge);
  for (const Row& r : Rows()) {
    const std::vector<prometheus::ClientMetric::Label> labels = {
        {"model", r.model}, {"period", std::string(kReconcilePeriodNames[static_cast<std::size_t>(r.period)])}};
    prometheus::ClientMetric m;
    m.label = labels;
    m.gauge.value = PicoToUsd(r.instrumented);
    instrumented.metric.push_back(m);
    if (r.billed) {
      m.gauge.value = PicoToUsd(*r.billed);
      billed.metric.push_back(m);
    }
    if (r.drift) {
      m.gauge.value = *r.drift;
      drift.metric.push_back(m);
    }
  }
  std::vector<prometheus::MetricFamily> out;
  const auto window = BilledWindow();
  if (window) {
    out.push_back(std::move(billed));
    out.push_back(std::move(drift));
    auto settled = family("llm_billed_last_settled_timestamp_seconds",
                          "End (exclusive, UTC midnight) of the last settled day the billed figures cover.",
                          prometheus::MetricType::Gauge);
    prometheus::ClientMetric m;
    m.gauge.value = static_cast<double>(window->end);
    settled.metric.push_back(m);
    out.push_back(std::move(settled));
  }
  out.push_back(std::move(instrumented));
  if (!options_.polls) return out;
  auto success = family("llm_reconcile_last_success_timestamp_seconds",
                        "When a billing poll last succeeded (the exporter's start until one has).",
                        prometheus::MetricType::Gauge);
  auto polls = family("llm_reconcile_polls_total", "Billing polls of the Admin API, by result.", prometheus::MetricType::Counter);
  {
    std::lock_guard lock(mu_);
    prometheus::ClientMetric m;
    m.gauge.value = static_cast<double>(last_success_);
    success.metric.push_back(m);
  }
  for (std::size_t i = 0; i < kPollResultNames.size(); ++i) {
    prometheus::ClientMetric m;
    m.label = {{"result", std::string(kPollResultNames[i])}};
    m.counter.value = static_cast<double>(polls_[i].load(std::memory_order_relaxed));
    polls.metric.push_back(m);
  }
  out.push_back(std::move(success));
  out.push_back(std::move(polls));
  return out;
}

}  // namespace llmcost
