#include "record/request_metrics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "record/request_series.h"
#include "record/text_format.h"

namespace llmcost {

RequestMetrics::RequestMetrics(const ExporterConfig& config, ExporterMetrics& exporter_metrics)
    : exporter_metrics_(exporter_metrics),
      attribution_labels_(config.attribution_labels),
      max_label_sets_(config.max_label_sets),
      buckets_(config.buckets),
      provider_guard_("provider", config.max_providers, config.max_label_value_length),
      model_guard_("model", config.max_models, config.max_label_value_length) {
  const auto it = std::find(attribution_labels_.begin(), attribution_labels_.end(), config.histogram_label);
  histogram_label_index_ = static_cast<std::size_t>(it - attribution_labels_.begin());
  for (const auto& label : attribution_labels_) {
    attribution_guards_.push_back(
        std::make_unique<LabelGuard>(label, config.CapFor(label), config.max_label_value_length));
  }
  route_cache_ = 2 + attribution_labels_.size() <= 64;
  const std::vector<std::string> names = LabelNames();
  for (std::size_t i = 0; i < names.size(); ++i) sorted_labels_.emplace_back(names[i], i);
  std::sort(sorted_labels_.begin(), sorted_labels_.end());
  for (std::size_t i = 0; i < kRequestHistograms.size(); ++i) {
    const std::vector<double>& bounds = buckets_.*kRequestHistograms[i].buckets;
    histogram_offsets_[i + 1] = histogram_offsets_[i] + bounds.size() + 1;
    for (double b : bounds) {
      std::string text;
      AppendTextValue(text, b);
      le_text_[i].push_back(std::move(text));
    }
    le_text_[i].emplace_back("+Inf");
  }
}

RequestMetrics::~RequestMetrics() = default;

std::string_view RequestMetrics::AttributionValue(const UsageEvent& event, std::size_t i) const {
  for (const auto& [name, value] : event.labels) {
    if (name == attribution_labels_[i]) return value;
  }
  return {};
}

RequestMetrics::RawRoute RequestMetrics::Route(const UsageEvent& event, const RequestCost& cost,
                                               std::string_view model) {
  // The raw tuple, each value prefixed by its length so that no value can run into
  // the next; values too long to be worth remembering take the full path.
  thread_local std::string raw;
  raw.clear();
  bool cacheable = route_cache_;
  auto append = [&](std::string_view v) {
    if (v.size() > 255) cacheable = false;
    raw.push_back(static_cast<char>(v.size() & 0xFF));
    raw.append(v.data(), std::min<std::size_t>(v.size(), 255));
  };
  append(event.provider);
  append(model);
  raw.push_back(static_cast<char>(cost.platform));
  raw.push_back(static_cast<char>(cost.tier));
  for (std::size_t i = 0; i < attribution_labels_.size(); ++i) append(AttributionValue(event, i));
  raw.push_back(static_cast<char>(event.status));
  // The shard from the tuple's last bytes (the attribution values and status) and
  // its length: cheap, and only spreads lock traffic; the map inside is keyed by
  // the seeded hash, which is what resists flooding.
  std::uint64_t tail = 0;
  std::memcpy(&tail, raw.data() + (raw.size() >= 8 ? raw.size() - 8 : 0), std::min<std::size_t>(raw.size(), 8));
  tail = (tail ^ raw.size()) * 0x9E3779B97F4A7C15ULL;
  RouteShard& shard = route_shards_[(tail >> 60) % kRouteShards];
  if (cacheable) {
    std::shared_lock lock(shard.mu);
    if (auto it = shard.routes.find(std::string_view(raw)); it != shard.routes.end()) return it->second;
  }

  // values: kRecordLabels (provider, model, platform, service_tier), then the
  // attribution labels in configured order.
  RawRoute route;
  std::vector<std::string> values;
  values.reserve(kFixedLabels + attribution_labels_.size());
  auto admit = [&](LabelGuard& guard, std::string_view value, std::size_t bit) {
    auto admitted = guard.Admit(value);
    if (admitted.overflowed) route.overflowed |= std::uint64_t{1} << bit;
    values.push_back(std::move(admitted.value));
  };
  admit(provider_guard_, event.provider, 0);
  admit(model_guard_, model, 1);
  // Bounded enums: no guard needed.
  values.emplace_back(PlatformName(cost.platform));
  values.emplace_back(ServiceTierName(cost.tier));
  for (std::size_t i = 0; i < attribution_labels_.size(); ++i) {
    admit(*attribution_guards_[i], AttributionValue(event, i), 2 + i);
  }
  std::string key = GroupKey(values);
  key += RequestStatusName(event.status);
  route.set = &FindOrCreate(values, event.status, key, &route.folded);
  if (cacheable) {
    std::unique_lock lock(shard.mu);
    if (shard.routes.size() < kMaxRawKeys / kRouteShards) shard.routes.emplace(raw, route);
  }
  return route;
}

void RequestMetrics::Record(const UsageEvent& event, const RequestCost& cost) {
  const TokenCounts request_tokens = cost.RequestTokens();
  std::optional<PicoUsd> request_cost;
  if (cost.billed) request_cost = cost.RequestTotal();
  Observation obs{cost.tokens, static_cast<const CostAmounts&>(cost), !event.from_aggregate, request_tokens, request_cost,
                  event.latency_seconds, event.ttft_seconds};
  if (event.reported_cost_usd) obs.client_reported = static_cast<PicoUsd>(std::llround(*event.reported_cost_usd * 1e12));
  RecordObservation(event, cost, cost.model, std::move(obs));
  for (const CostPart& part : cost.others) {
    RecordObservation(event, cost, part.model,
                      Observation{part.tokens, static_cast<const CostAmounts&>(part), false, {}, {}, {}, {}});
  }
}

void RequestMetrics::RecordObservation(const UsageEvent& event, const RequestCost& cost, std::string_view model,
                                       Observation obs) {
  const RawRoute route = Route(event, cost, model);
  for (std::uint64_t bits = route.overflowed; bits != 0; bits &= bits - 1) {
    const int bit = std::countr_zero(bits);
    const LabelGuard& guard = bit == 0   ? provider_guard_
                              : bit == 1 ? model_guard_
                                         : *attribution_guards_[static_cast<std::size_t>(bit - 2)];
    exporter_metrics_.LabelOverflow(guard.name());
  }
  if (route.folded) {
    static const std::string kCap(kLabelSetsCap);
    exporter_metrics_.LabelOverflow(kCap);
  }
  SeriesSet& set = *route.set;
  if (!set.live.load(std::memory_order_acquire)) {
    std::lock_guard lock(set.pending_mu);
    if (!set.live.load(std::memory_order_relaxed)) {
      if (set.pending.size() < kMaxPendingPerSet) {
        set.pending.push_back(std::move(obs));
        return;
      }
      // Nobody is scraping: stop holding events back rather than grow without bound.
      for (const auto& p : set.pending) Apply(set, p);
      set.pending.clear();
      set.live.store(true, std::memory_order_release);
    }
  }
  Apply(set, obs);
}

RequestMetrics::SeriesSet& RequestMetrics::FindOrCreate(const std::vector<std::string>& values,
                                                        RequestStatus status, const std::string& key,
                                                        bool* folded) {
  {
    std::shared_lock lock(sets_mu_);
    if (auto it = sets_.find(key); it != sets_.end()) return *it->second;
  }
  std::unique_lock lock(sets_mu_);
  if (auto it = sets_.find(key); it != sets_.end()) return *it->second;
  if (folded != nullptr && sets_.size() >= max_label_sets_) {
    *folded = true;
    lock.unlock();
    const std::vector<std::string> overflow(values.size(), std::string(kOverflowValue));
    return FindOrCreate(overflow, status, GroupKey(overflow) + std::string(RequestStatusName(status)));
  }

  auto set = std::make_unique<SeriesSet>();
  set->status = status;
  std::string group_key = GroupKey(values);
  auto& group = group_by_key_[group_key];
  if (group == nullptr) {
    groups_.push_back(std::make_unique<SeriesGroup>());
    group = groups_.back().get();
    group->values = values;
    std::vector<std::pair<std::string_view, std::string_view>> labels;
    for (const auto& [name, i] : sorted_labels_) labels.emplace_back(name, values[i]);
    group->labels = RenderLabels(std::move(labels));
  }
  set->group = group;
  set->unpriced = &UnpricedFor(values[0], values[1]);

  const std::string& hist_value = values[kFixedLabels + histogram_label_index_];
  const std::string hist_key = values[0] + kKeySeparator + values[1] + kKeySeparator + hist_value;
  auto& hist = histograms_[hist_key];
  if (!hist) {
    hist = std::make_unique<HistogramSet>();
    hist->labels = RenderLabels(
        {{"provider", values[0]}, {"model", values[1]}, {attribution_labels_[histogram_label_index_], hist_value}});
    hist->counts = std::make_unique<std::atomic<std::uint64_t>[]>(histogram_offsets_.back());
    histogram_order_.push_back(hist.get());
  }
  set->histograms = hist.get();
  set->created_epoch = epoch_;

  SeriesSet& ref = *set;
  not_live_.push_back(set.get());
  set_order_.push_back(set.get());
  sets_.emplace(key, std::move(set));
  exporter_metrics_.SetLabelSets(sets_.size());
  return ref;
}

RequestMetrics::UnpricedSet& RequestMetrics::UnpricedFor(const std::string& provider, const std::string& model) {
  auto& u = unpriced_by_key_[provider + kKeySeparator + model];
  if (u == nullptr) {
    unpriced_sets_.push_back(std::make_unique<UnpricedSet>());
    u = unpriced_sets_.back().get();
    u->provider = provider;
    u->model = model;
    u->labels = RenderLabels({{"provider", provider}, {"model", model}});
  }
  return *u;
}

// The live sink of RecordObservationTo: increments the label set's series.
struct RequestMetrics::LiveSink {
  const RequestMetrics& metrics;
  SeriesSet& set;
  void Request() { set.requests.fetch_add(1, std::memory_order_relaxed); }
  void Tokens(TokenType t, std::uint64_t n) {
    set.group->tokens[static_cast<std::size_t>(t)].fetch_add(n, std::memory_order_relaxed);
  }
  void ClientReported(PicoUsd p) { set.group->client_reported.Add(p); }
  void Unpriced(UnpricedReason r) {
    set.unpriced->count[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void Cost(CostType c, PicoUsd p) { set.group->cost[static_cast<std::size_t>(c)].Add(p); }
  void Savings(PicoUsd p) { set.group->savings.Add(p); }
  void Premium(PicoUsd p) { set.group->premium.Add(p); }
  void Observe(std::size_t histogram, double v) { metrics.ObserveInto(*set.histograms, histogram, v); }
};

void RequestMetrics::ObserveInto(HistogramSet& h, std::size_t histogram, double v) const {
  // The first bound >= v (le semantics), or +Inf; as prometheus-cpp's Observe, NaN included.
  const std::vector<double>& bounds = buckets_.*kRequestHistograms[histogram].buckets;
  const std::size_t bucket =
      static_cast<std::size_t>(std::find_if(bounds.begin(), bounds.end(), [v](double b) { return b >= v; }) -
                               bounds.begin());
  h.counts[histogram_offsets_[histogram] + bucket].fetch_add(1, std::memory_order_relaxed);
  h.sums[histogram].fetch_add(v, std::memory_order_relaxed);
}

void RequestMetrics::Apply(SeriesSet& set, const Observation& obs) {
  LiveSink sink{*this, set};
  RecordObservationTo(obs, sink);
}

std::string RequestMetrics::GroupKey(const std::vector<std::string>& values) {
  std::string key;
  for (const auto& v : values) {
    key += v;
    key.push_back(kKeySeparator);
  }
  return key;
}

void RequestMetrics::SetZeroFirstDuration(std::chrono::milliseconds duration, SteadyClock clock) {
  std::unique_lock lock(sets_mu_);
  zero_first_duration_ = duration;
  clock_ = std::move(clock);
}

namespace {

// Applies what a label set held back and makes it live; the caller took the set
// out of not_live_.
template <typename Set, typename ApplyFn>
void GoLive(Set& set, ApplyFn apply) {
  std::lock_guard lock(set.pending_mu);
  if (set.live.load(std::memory_order_relaxed)) return;  // went live on its own (pending cap)
  for (const auto& obs : set.pending) apply(set, obs);
  set.pending.clear();
  set.pending.shrink_to_fit();
  set.live.store(true, std::memory_order_release);
}

}  // namespace

std::uint64_t RequestMetrics::BeginScrape() {
  std::vector<SeriesSet*> ready;
  std::uint64_t token;
  {
    std::unique_lock lock(sets_mu_);
    scrape_started_ = clock_();
    const auto now = scrape_started_;
    const auto duration = zero_first_duration_;
    auto keep = std::partition(not_live_.begin(), not_live_.end(), [&](const SeriesSet* s) {
      return !s->zero_scraped_at || now - *s->zero_scraped_at < duration;
    });
    ready.assign(keep, not_live_.end());
    not_live_.erase(keep, not_live_.end());
    token = epoch_++;
  }
  // Before the registry is collected: this scrape already shows their events.
  for (SeriesSet* set : ready) GoLive(*set, [this](SeriesSet& s, const Observation& o) { Apply(s, o); });
  return token;
}

void RequestMetrics::FinishScrape(std::uint64_t token) {
  // Label sets that existed when this scrape began were rendered at zero by it: their
  // time at zero starts with it (only the first scrape that showed them counts).
  std::unique_lock lock(sets_mu_);
  for (SeriesSet* set : not_live_) {
    if (set->created_epoch <= token && !set->zero_scraped_at) set->zero_scraped_at = scrape_started_;
  }
}

std::size_t RequestMetrics::label_sets() const {
  std::shared_lock lock(sets_mu_);
  return sets_.size();
}

}  // namespace llmcost

