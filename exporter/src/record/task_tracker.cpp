#include "record/task_tracker.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace llmcost {
namespace {

// Raw feature values remembered for the fast path; past it, values are sanitised
// and looked up each time (still bounded by the feature label's cap).
constexpr std::size_t kMaxRawFeatures = 4096;
// Ended tasks held for a feature not yet scraped (memory bound); past it they are
// observed at once.
constexpr std::size_t kMaxHeldEnds = 4096;

}  // namespace

struct TaskTracker::Feature {
  std::string value;
  RunawayLimits limits;
  prometheus::Histogram* hops = nullptr;
  prometheus::Histogram* cost = nullptr;
  std::array<prometheus::Counter*, kRunawayReasonNames.size()> runaway{};
  prometheus::Gauge* active = nullptr;
  prometheus::Gauge* max_hops = nullptr;
  prometheus::Gauge* max_cost = nullptr;
  // A feature's series are exposed at zero by one scrape before its counts go in
  // (Prometheus cannot take an increase() over a series' first sample, so a task
  // that passes a limit before its feature was ever scraped would page nothing).
  bool shown = false;
  std::array<std::uint64_t, kRunawayReasonNames.size()> held_runaway{};
  std::vector<std::pair<double, double>> held_ends;  // (hops, cost USD), at most kMaxHeldEnds
  // Scratch for Refresh().
  std::uint64_t scan_max_hops = 0;
  PicoUsd scan_max_cost = 0;
};

struct TaskTracker::Task {
  Feature* feature = nullptr;
  const std::string* tenant = nullptr;  // interned in tenants_; null without a tenant label
  std::uint64_t hops = 0;
  PicoUsd cost = 0;
  std::uint64_t tokens = 0;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::uint8_t crossed = 0;  // bit per RunawayReason: counted already
  Entry* prev = nullptr;     // older
  Entry* next = nullptr;     // newer
};

std::int64_t TaskTracker::SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TaskTracker::TaskTracker(prometheus::Registry& registry, const ExporterConfig& config, Clock clock)
    : config_(config.tasks),
      feature_label_(config.histogram_label),
      clock_(std::move(clock)),
      hops_(prometheus::BuildHistogram()
                .Name("llm_task_hops")
                .Help("Requests (hops) per task, observed when the task ends (idle timeout, task_end, eviction)")
                .Register(registry)),
      cost_(prometheus::BuildHistogram()
                .Name("llm_task_cost_usd")
                .Help("Cost per task in USD, observed when the task ends")
                .Register(registry)),
      runaway_(prometheus::BuildCounter()
                   .Name("llm_runaway_tasks_total")
                   .Help("Tasks that passed a runaway limit (reason hops, cost or duration), counted once per task "
                         "and reason when they pass it")
                   .Register(registry)),
      active_(prometheus::BuildGauge().Name("llm_active_tasks").Help("Tasks seen and not ended").Register(registry)),
      max_hops_(prometheus::BuildGauge()
                    .Name("llm_task_max_hops")
                    .Help("Most hops of any active task (as of the last scrape)")
                    .Register(registry)),
      max_cost_(prometheus::BuildGauge()
                    .Name("llm_task_max_cost_usd")
                    .Help("Highest cost in USD of any active task (as of the last scrape)")
                    .Register(registry)),
      evicted_(prometheus::BuildCounter()
                   .Name("llm_tasks_evicted_total")
                   .Help("Active tasks ended early because the table was full (tasks.max_tasks), oldest idle first")
                   .Register(registry)
                   .Add({})),
      feature_guard_(config.histogram_label, config.CapFor(config.histogram_label), config.max_label_value_length),
      has_tenant_(std::find(config.attribution_labels.begin(), config.attribution_labels.end(),
                            kDrillDownTenantLabel) != config.attribution_labels.end()),
      tenants_(std::string(kDrillDownTenantLabel), config.CapFor(std::string(kDrillDownTenantLabel)),
               config.max_label_value_length) {
  tasks_.reserve(std::min<std::size_t>(config_.max_tasks, 1024));
}

TaskTracker::~TaskTracker() = default;

TaskTracker::Feature& TaskTracker::FeatureFor(const UsageEvent& event) {
  std::string_view raw;
  for (const auto& [name, value] : event.labels) {
    if (name == feature_label_) {
      raw = value;
      break;
    }
  }
  if (const auto it = raw_features_.find(raw); it != raw_features_.end()) return *it->second;
  std::string value = feature_guard_.Admit(raw).value;
  auto& slot = features_[value];
  if (!slot) {
    auto f = std::make_unique<Feature>();
    f->value = value;
    const auto limits = config_.runaway_by_feature.find(value);
    f->limits = limits == config_.runaway_by_feature.end() ? config_.runaway : limits->second;
    const prometheus::Labels labels{{feature_label_, value}};
    f->hops = &hops_.Add(labels, prometheus::Histogram::BucketBoundaries(config_.hops_buckets));
    f->cost = &cost_.Add(labels, prometheus::Histogram::BucketBoundaries(config_.cost_usd_buckets));
    for (std::size_t r = 0; r < kRunawayReasonNames.size(); ++r) {
      f->runaway[r] = &runaway_.Add({{feature_label_, value}, {"reason", std::string(kRunawayReasonNames[r])}});
    }
    f->active = &active_.Add(labels);
    f->max_hops = &max_hops_.Add(labels);
    f->max_cost = &max_cost_.Add(labels);
    slot = std::move(f);
  }
  if (raw_features_.size() < kMaxRawFeatures) raw_features_.emplace(std::string(raw), slot.get());
  return *slot;
}

void TaskTracker::Unlink(Entry* e) {
  Task& t = e->second;
  (t.prev ? t.prev->second.next : oldest_) = t.next;
  (t.next ? t.next->second.prev : newest_) = t.prev;
  t.prev = t.next = nullptr;
}

void TaskTracker::LinkBack(Entry* e) {
  Task& t = e->second;
  t.prev = newest_;
  t.next = nullptr;
  (newest_ ? newest_->second.next : oldest_) = e;
  newest_ = e;
}

void TaskTracker::End(Table::iterator it) {
  Task& t = it->second;
  Feature& f = *t.feature;
  if (!f.shown && f.held_ends.size() < kMaxHeldEnds) {
    f.held_ends.emplace_back(static_cast<double>(t.hops), PicoToUsd(t.cost));
  } else {
    f.hops->Observe(static_cast<double>(t.hops));
    f.cost->Observe(PicoToUsd(t.cost));
  }
  f.active->Decrement();
  Unlink(&*it);
  tasks_.erase(it);
}

void TaskTracker::ExpireIdle(std::int64_t now_ms) {
  const std::int64_t idle_ms = config_.idle_timeout_seconds * 1000;
  while (oldest_ != nullptr && now_ms - oldest_->second.last_ms >= idle_ms) {
    End(tasks_.find(oldest_->first));
  }
}

void TaskTracker::Record(const UsageEvent& event, const RequestCost& cost) {
  if (event.task_id.empty()) return;
  const PicoUsd request_cost = cost.RequestTotal();
  const TokenCounts tokens = cost.RequestTokens();
  std::uint64_t token_sum = 0;
  for (const auto n : tokens.by_type) token_sum += n;
  const std::int64_t now = clock_();

  std::lock_guard lock(mu_);
  ExpireIdle(now);
  auto it = tasks_.find(event.task_id);
  if (it == tasks_.end()) {
    if (tasks_.size() >= config_.max_tasks && oldest_ != nullptr) {
      End(tasks_.find(oldest_->first));
      ++evicted_count_;
      evicted_.Increment();
    }
    Feature& feature = FeatureFor(event);
    it = tasks_.try_emplace(event.task_id).first;
    Task& t = it->second;
    t.feature = &feature;
    if (has_tenant_) t.tenant = tenants_.Get(LabelValueOf(event, kDrillDownTenantLabel));
    t.first_ms = now;
    feature.active->Increment();
  } else {
    Unlink(&*it);
  }
  LinkBack(&*it);
  Task& t = it->second;
  ++t.hops;
  t.cost += request_cost;
  t.tokens += token_sum;
  t.last_ms = now;

  const RunawayLimits& limits = t.feature->limits;
  const bool over[] = {t.hops > limits.hops, t.cost > limits.cost_pico,
                       t.last_ms - t.first_ms > limits.duration_seconds * 1000};
  for (std::size_t r = 0; r < kRunawayReasonNames.size(); ++r) {
    const auto bit = static_cast<std::uint8_t>(1u << r);
    if (over[r] && !(t.crossed & bit)) {
      t.crossed |= bit;
      if (t.feature->shown) t.feature->runaway[r]->Increment();
      else ++t.feature->held_runaway[r];
    }
  }
  if (event.task_end) End(it);
}

void TaskTracker::Refresh() {
  std::lock_guard lock(mu_);
  ExpireIdle(clock_());
  for (auto& [value, f] : features_) {
    f->scan_max_hops = 0;
    f->scan_max_cost = 0;
    if (f->shown) {  // its zeros were in an earlier scrape: this one shows the counts
      for (std::size_t r = 0; r < kRunawayReasonNames.size(); ++r) {
        if (f->held_runaway[r] != 0) f->runaway[r]->Increment(static_cast<double>(f->held_runaway[r]));
        f->held_runaway[r] = 0;
      }
      for (const auto& [hops, cost] : f->held_ends) {
        f->hops->Observe(hops);
        f->cost->Observe(cost);
      }
      f->held_ends.clear();
      f->held_ends.shrink_to_fit();
    }
    f->shown = true;  // this scrape shows its series (at zero if just created)
  }
  for (Entry* e = oldest_; e != nullptr; e = e->second.next) {
    const Task& t = e->second;
    t.feature->scan_max_hops = std::max(t.feature->scan_max_hops, t.hops);
    t.feature->scan_max_cost = std::max(t.feature->scan_max_cost, t.cost);
  }
  for (auto& [value, f] : features_) {
    f->max_hops->Set(static_cast<double>(f->scan_max_hops));
    f->max_cost->Set(PicoToUsd(f->scan_max_cost));
  }
}

std::optional<TaskTracker::Figures> TaskTracker::Find(std::string_view task_id) const {
  std::lock_guard lock(mu_);
  const auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return std::nullopt;
  const Task& t = it->second;
  return Figures{t.hops, t.cost, t.tokens, t.first_ms, t.last_ms, t.feature->value};
}

std::vector<TaskTracker::TaskView> TaskTracker::Top(TaskOrder by, std::size_t n) {
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  ExpireIdle(now);
  std::vector<const Entry*> all;
  all.reserve(tasks_.size());
  for (const Entry& e : tasks_) all.push_back(&e);
  const auto worse_first = [by](const Entry* a, const Entry* b) {
    const Task &x = a->second, &y = b->second;
    if (by == TaskOrder::kCost && x.cost != y.cost) return x.cost > y.cost;
    if (x.hops != y.hops) return x.hops > y.hops;
    if (x.cost != y.cost) return x.cost > y.cost;
    return a->first < b->first;
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), worse_first);
  std::vector<TaskView> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Task& t = all[i]->second;
    out.push_back({all[i]->first, t.feature->value, t.tenant ? *t.tenant : std::string(), t.hops, t.cost, t.tokens,
                   now - t.first_ms, now - t.last_ms, t.crossed});
  }
  return out;
}

std::size_t TaskTracker::active() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

std::uint64_t TaskTracker::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_count_;
}

}  // namespace llmcost
