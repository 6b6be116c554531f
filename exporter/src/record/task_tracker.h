#pragma once
// TaskTracker: the record stage's view of agent tasks. Fed the same priced events
// as RequestMetrics, it keeps a bounded table of active tasks keyed by the event's
// task id (config tasks.id_fields: task_id, conversation_id, session_id) with
// their hops (requests), cost (pico-dollars), tokens, first and last seen and
// feature, and condenses them into low-cardinality series by feature:
//   llm_task_hops, llm_task_cost_usd        histograms, observed when a task ends
//   llm_runaway_tasks_total{feature,reason} +1 once per task and reason, the moment
//                                           it passes its limit (hops, cost, duration)
//   llm_active_tasks, llm_task_max_hops, llm_task_max_cost_usd   gauges over active tasks
//   llm_tasks_evicted_total                 tasks dropped at the cap (oldest idle first)
// Ids never become labels and are never logged: a task id is attacker-chosen text
// and one series per task would explode any Prometheus.
//
// A task ends after tasks.idle_timeout_seconds without a request, when an event
// says "task_end": true, or when evicted at tasks.max_tasks. The table is ordered
// by last request (an intrusive list), so expiry and eviction take the oldest
// first in O(1). Per event: one hash lookup under one mutex; events without a
// task id cost nothing. State is not persisted (a restart forgets active tasks).
//
// Drill-down without labels: Top() lists the worst active tasks by cost or hops
// with their ids as sent, feature and tenant, for GET /v1/tasks/top
// (transport/client_api.h); it is the only way an id leaves the tracker.
//
// Like the request series, a feature's series are exposed at zero before its
// counts: a feature's runaway counts and ended tasks are held until one scrape
// (Refresh) has shown its series, then applied at the next.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/exporter_config.h"
#include "event/seeded_hash.h"
#include "event/usage_event.h"
#include "pricing/money.h"
#include "pricing/pricer.h"
#include "record/label_guard.h"
#include "record/label_intern.h"

namespace llmcost {

// The `reason` label of llm_runaway_tasks_total, declared once.
enum class RunawayReason : std::uint8_t { kHops, kCost, kDuration };
inline constexpr std::array<std::string_view, 3> kRunawayReasonNames = {"hops", "cost", "duration"};

// The orders of Top() and of /v1/tasks/top?by=, declared once.
enum class TaskOrder : std::uint8_t { kCost, kHops };
inline constexpr std::array<std::string_view, 2> kTaskOrderNames = {"cost", "hops"};

class TaskTracker {
 public:
  // Milliseconds on a steady clock; tests inject their own.
  using Clock = std::function<std::int64_t()>;
  static std::int64_t SteadyMs();

  TaskTracker(prometheus::Registry& registry, const ExporterConfig& config, Clock clock = SteadyMs);
  ~TaskTracker();

  void Record(const UsageEvent& event, const RequestCost& cost);
  // At every scrape, before the registry is collected: ends idle tasks, applies
  // counts held for features the previous scrape showed at zero, and sets the max
  // gauges over active tasks.
  void Refresh();

  // One task's figures, for tests (never exported by id).
  struct Figures {
    std::uint64_t hops = 0;
    PicoUsd cost = 0;
    std::uint64_t tokens = 0;
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    std::string feature;
  };
  std::optional<Figures> Find(std::string_view task_id) const;

  // An active task as the drill-down shows it: its id as sent (never a label,
  // never logged), feature and tenant label values, figures, and the runaway
  // reasons it has passed (bit per RunawayReason).
  struct TaskView {
    std::string task_id;
    std::string feature;
    std::string tenant;
    std::uint64_t hops = 0;
    PicoUsd cost = 0;
    std::uint64_t tokens = 0;
    std::int64_t age_ms = 0;   // since its first request
    std::int64_t idle_ms = 0;  // since its last request
    std::uint8_t crossed = 0;
  };
  // The n worst active tasks, ends idle ones first: by cost (then hops) or by hops
  // (then cost), ties by id. O(active tasks) under the lock: an on-call query,
  // not a hot path.
  std::vector<TaskView> Top(TaskOrder by, std::size_t n);
  std::size_t active() const;
  std::uint64_t evicted() const;

 private:
  struct Feature;
  struct Task;
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return SeededHash(s); }
  };
  using Table = std::unordered_map<std::string, Task, IdHash, std::equal_to<>>;
  using Entry = Table::value_type;

  Feature& FeatureFor(const UsageEvent& event);  // holds mu_
  void End(Table::iterator it);                  // holds mu_
  void ExpireIdle(std::int64_t now_ms);          // holds mu_
  void Unlink(Entry* e);
  void LinkBack(Entry* e);

  const TaskConfig config_;
  const std::string feature_label_;
  Clock clock_;
  prometheus::Family<prometheus::Histogram>& hops_;
  prometheus::Family<prometheus::Histogram>& cost_;
  prometheus::Family<prometheus::Counter>& runaway_;
  prometheus::Family<prometheus::Gauge>& active_;
  prometheus::Family<prometheus::Gauge>& max_hops_;
  prometheus::Family<prometheus::Gauge>& max_cost_;
  prometheus::Counter& evicted_;
  LabelGuard feature_guard_;
  const bool has_tenant_;

  mutable std::mutex mu_;
  LabelIntern tenants_;
  Table tasks_;
  Entry* oldest_ = nullptr;  // least recently seen; the list runs oldest -> newest
  Entry* newest_ = nullptr;
  // Sanitised feature value -> its series; raw values seen -> the same (bounded).
  std::unordered_map<std::string, std::unique_ptr<Feature>> features_;
  std::unordered_map<std::string, Feature*, IdHash, std::equal_to<>> raw_features_;
  std::uint64_t evicted_count_ = 0;
};

}  // namespace llmcost
