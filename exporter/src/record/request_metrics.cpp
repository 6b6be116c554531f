#include "record/request_metrics.h"

#include <algorithm>
#include <cmath>
#include <bit>

namespace llmcost {

struct RequestMetrics::HistogramSet {
  prometheus::Histogram* duration;
  prometheus::Histogram* ttft;
  prometheus::Histogram* input_tokens;
  prometheus::Histogram* output_tokens;
  prometheus::Histogram* cost;
};

struct RequestMetrics::SeriesSet {
  std::vector<std::string> values;  // provider, model, attribution values
  RequestStatus status = RequestStatus::kOk;
  prometheus::Counter* requests = nullptr;
  std::array<prometheus::Counter*, kTokenTypeCount> tokens{};
  std::array<prometheus::Counter*, kCostTypeCount> cost{};
  prometheus::Counter* savings = nullptr;
  prometheus::Counter* premium = nullptr;
  prometheus::Counter* client_reported = nullptr;
  std::array<prometheus::Counter*, kUnpricedReasonCount> unpriced{};  // by UnpricedReason (index 0 unused)
  HistogramSet* histograms = nullptr;

  std::uint64_t created_epoch = 0;
  // When a scrape first showed this set at zero; guarded by sets_mu_.
  std::optional<std::chrono::steady_clock::time_point> zero_scraped_at;
  std::atomic<bool> live{false};
  std::mutex pending_mu;
  std::vector<Observation> pending;
};

// What one request adds to its SeriesSet: numbers only (no strings to copy), so
// recording and holding pending ones is cheap. A request that bills several models
// (usage.iterations with an advisor) adds one Observation per model: the request
// itself, its latency and its size/cost histograms only under its own model.
struct RequestMetrics::Observation {
  TokenCounts tokens;  // billed under this set's model
  CostAmounts cost;
  bool counts_request = true;
  TokenCounts request_tokens;             // the whole request, for the size histograms
  std::optional<PicoUsd> request_cost;    // the whole request when billed, for the cost histogram
  std::optional<double> latency_seconds;
  std::optional<double> ttft_seconds;
  PicoUsd client_reported = 0;  // the client's own figure, for comparison (never in `cost`)
};

namespace {

constexpr char kKeySeparator = '\x1f';  // cannot appear in a sanitised label value

prometheus::Histogram::BucketBoundaries Bounds(const std::vector<double>& b) { return {b.begin(), b.end()}; }

}  // namespace

RequestMetrics::RequestMetrics(prometheus::Registry& registry, const ExporterConfig& config,
                               ExporterMetrics& exporter_metrics)
    : exporter_metrics_(exporter_metrics),
      attribution_labels_(config.attribution_labels),
      max_label_sets_(config.max_label_sets),
      requests_(prometheus::BuildCounter()
                    .Name("llm_requests_total")
                    .Help("LLM API requests seen, by status.")
                    .Register(registry)),
      tokens_(prometheus::BuildCounter()
                  .Name("llm_tokens_total")
                  .Help("Tokens reported by clients, by token type (input excludes cache reads and writes).")
                  .Register(registry)),
      cost_(prometheus::BuildCounter()
                .Name("llm_cost_usd_total")
                .Help("Spend in USD, priced at ingest from the price table or as reported by the client.")
                .Register(registry)),
      savings_(prometheus::BuildCounter()
                   .Name("llm_cache_savings_usd_total")
                   .Help("USD saved by cache reads versus sending the same tokens as fresh input.")
                   .Register(registry)),
      premium_(prometheus::BuildCounter()
                   .Name("llm_cache_write_premium_usd_total")
                   .Help("USD paid for cache writes above the fresh input rate.")
                   .Register(registry)),
      client_reported_(prometheus::BuildCounter()
                           .Name("llm_client_reported_cost_usd_total")
                           .Help("USD the client itself reported for requests the exporter priced (Claude Code's "
                                 "cost_usd over OTLP), for comparison with llm_cost_usd_total; never added to it.")
                           .Register(registry)),
      unpriced_(prometheus::BuildCounter()
                    .Name("llm_unpriced_requests_total")
                    .Help("Requests that could not be priced exactly; their cost is not guessed.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("llm_request_duration_seconds")
                    .Help("End-to-end LLM request latency in seconds.")
                    .Register(registry)),
      ttft_(prometheus::BuildHistogram()
                .Name("llm_time_to_first_token_seconds")
                .Help("Streaming time to first token in seconds.")
                .Register(registry)),
      input_tokens_(prometheus::BuildHistogram()
                        .Name("llm_request_input_tokens")
                        .Help("Total input tokens per request (fresh + cache read + cache write).")
                        .Register(registry)),
      output_tokens_(prometheus::BuildHistogram()
                         .Name("llm_request_output_tokens")
                         .Help("Output tokens per request.")
                         .Register(registry)),
      request_cost_(prometheus::BuildHistogram()
                        .Name("llm_request_cost_usd")
                        .Help("Cost per billed request in USD.")
                        .Register(registry)),
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
  if (cacheable) {
    std::shared_lock lock(sets_mu_);
    if (auto it = routes_.find(std::string_view(raw)); it != routes_.end()) return it->second;
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
    std::unique_lock lock(sets_mu_);
    if (routes_.size() < kMaxRawKeys) routes_.emplace(raw, route);
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

  std::map<std::string, std::string> labels;
  for (std::size_t i = 0; i < kFixedLabels; ++i) labels[std::string(kRecordLabels[i].name)] = values[i];
  for (std::size_t i = 0; i < attribution_labels_.size(); ++i) labels[attribution_labels_[i]] = values[kFixedLabels + i];

  auto set = std::make_unique<SeriesSet>();
  set->values = values;
  set->status = status;
  auto with = [&labels](const char* name, std::string_view value) {
    auto l = labels;
    l[name] = std::string(value);
    return l;
  };
  set->requests = &requests_.Add(with("status", RequestStatusName(status)));
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
    set->tokens[t] = &tokens_.Add(with("token_type", TokenTypeName(static_cast<TokenType>(t))));
  }
  for (std::size_t c = 0; c < kCostTypeCount; ++c) {
    set->cost[c] = &cost_.Add(with("cost_type", CostTypeName(static_cast<CostType>(c))));
  }
  set->savings = &savings_.Add(labels);
  set->premium = &premium_.Add(labels);
  set->client_reported = &client_reported_.Add(labels);
  for (std::size_t r = 1; r < set->unpriced.size(); ++r) {
    set->unpriced[r] = &unpriced_.Add({{"provider", values[0]},
                                       {"model", values[1]},
                                       {"reason", std::string(UnpricedReasonName(static_cast<UnpricedReason>(r)))}});
  }

  const std::string& hist_value = values[kFixedLabels + histogram_label_index_];
  const std::string hist_key = values[0] + kKeySeparator + values[1] + kKeySeparator + hist_value;
  auto& hist = histograms_[hist_key];
  if (!hist) {
    const std::map<std::string, std::string> hl{
        {"provider", values[0]}, {"model", values[1]}, {attribution_labels_[histogram_label_index_], hist_value}};
    hist = std::make_unique<HistogramSet>(HistogramSet{
        &duration_.Add(hl, Bounds(buckets_.duration_seconds)), &ttft_.Add(hl, Bounds(buckets_.ttft_seconds)),
        &input_tokens_.Add(hl, Bounds(buckets_.input_tokens)), &output_tokens_.Add(hl, Bounds(buckets_.output_tokens)),
        &request_cost_.Add(hl, Bounds(buckets_.cost_usd))});
  }
  set->histograms = hist.get();
  set->created_epoch = epoch_;

  SeriesSet& ref = *set;
  not_live_.push_back(set.get());
  sets_.emplace(key, std::move(set));
  exporter_metrics_.SetLabelSets(sets_.size());
  return ref;
}

void RequestMetrics::Apply(SeriesSet& set, const Observation& obs) {
  if (obs.counts_request) set.requests->Increment();
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
    if (obs.tokens.by_type[t] > 0) set.tokens[t]->Increment(static_cast<double>(obs.tokens.by_type[t]));
  }
  if (obs.client_reported > 0) set.client_reported->Increment(PicoToUsd(obs.client_reported));
  if (obs.cost.unpriced != UnpricedReason::kNone) {
    set.unpriced[static_cast<std::size_t>(obs.cost.unpriced)]->Increment();
  }
  if (obs.cost.billed) {
    for (std::size_t c = 0; c < kCostTypeCount; ++c) {
      if (obs.cost.by_type[c] > 0) set.cost[c]->Increment(PicoToUsd(obs.cost.by_type[c]));
    }
    if (obs.cost.cache_savings > 0) set.savings->Increment(PicoToUsd(obs.cost.cache_savings));
    if (obs.cost.cache_write_premium > 0) set.premium->Increment(PicoToUsd(obs.cost.cache_write_premium));
  }
  if (!obs.counts_request) return;
  if (obs.request_cost) set.histograms->cost->Observe(PicoToUsd(*obs.request_cost));
  HistogramSet& h = *set.histograms;
  if (obs.latency_seconds) h.duration->Observe(*obs.latency_seconds);
  if (obs.ttft_seconds) h.ttft->Observe(*obs.ttft_seconds);
  const std::uint64_t total_input = obs.request_tokens.TotalInput();
  const std::uint64_t output = obs.request_tokens[TokenType::kOutput];
  // Failed requests without usage would drag the size histograms to zero.
  if (total_input > 0 || output > 0) {
    h.input_tokens->Observe(static_cast<double>(total_input));
    h.output_tokens->Observe(static_cast<double>(output));
  }
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

namespace llmcost {
namespace {

HistogramState HistogramValues(const prometheus::Histogram& h) {
  const auto m = const_cast<prometheus::Histogram&>(h).Collect();
  HistogramState state;
  std::uint64_t previous = 0;
  for (const auto& b : m.histogram.bucket) {
    state.bucket_counts.push_back(static_cast<double>(b.cumulative_count - previous));
    previous = b.cumulative_count;
  }
  state.sum = m.histogram.sample_sum;
  return state;
}

void AddToHistogram(HistogramState& h, const std::vector<double>& bounds, double v) {
  std::size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;  // le semantics: v <= bound
  h.bucket_counts[i] += 1;
  h.sum += v;
}

}  // namespace

std::vector<std::string> RequestMetrics::LabelNames() const {
  std::vector<std::string> names;
  for (const RecordLabel& l : kRecordLabels) names.emplace_back(l.name);
  names.insert(names.end(), attribution_labels_.begin(), attribution_labels_.end());
  return names;
}

LabelMap RequestMetrics::ToLabels(const std::vector<std::string>& values) const {
  LabelMap labels;
  const std::vector<std::string> names = LabelNames();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) labels[names[i]] = values[i];
  return labels;
}

RequestMetricsState RequestMetrics::Snapshot() const {
  RequestMetricsState s;
  const std::array<const std::vector<double>*, kRequestHistogramCount> bounds = {
      &buckets_.duration_seconds, &buckets_.ttft_seconds, &buckets_.input_tokens, &buckets_.output_tokens,
      &buckets_.cost_usd};
  for (std::size_t i = 0; i < kRequestHistogramCount; ++i) s.bucket_bounds[std::string(kRequestHistogramNames[i])] = *bounds[i];
  const std::string& histogram_label = attribution_labels_[histogram_label_index_];
  std::unordered_map<const prometheus::Counter*, std::size_t> group_index, unpriced_index;
  std::unordered_map<const HistogramSet*, std::size_t> histogram_index;

  std::shared_lock lock(sets_mu_);
  for (const auto& [key, set] : sets_) {
    std::lock_guard pending_lock(set->pending_mu);
    RequestCountState r{ToLabels(set->values), set->requests->Value()};
    r.labels["status"] = std::string(RequestStatusName(set->status));

    auto [git, new_group] = group_index.emplace(set->tokens[0], s.groups.size());
    if (new_group) {
      SeriesGroupState g;
      g.labels = ToLabels(set->values);
      for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
        g.tokens[std::string(TokenTypeName(static_cast<TokenType>(t)))] = set->tokens[t]->Value();
      }
      for (std::size_t c = 0; c < kCostTypeCount; ++c) {
        g.cost[std::string(CostTypeName(static_cast<CostType>(c)))] = set->cost[c]->Value();
      }
      g.cache_savings = set->savings->Value();
      g.cache_write_premium = set->premium->Value();
      g.client_reported_cost = set->client_reported->Value();
      s.groups.push_back(std::move(g));
    }
    std::array<std::size_t, kUnpricedReasonCount> unpriced_at{};
    for (std::size_t u = 1; u < set->unpriced.size(); ++u) {
      auto [uit, new_unpriced] = unpriced_index.emplace(set->unpriced[u], s.unpriced.size());
      if (new_unpriced) {
        s.unpriced.push_back({{{"provider", set->values[0]},
                               {"model", set->values[1]},
                               {"reason", std::string(UnpricedReasonName(static_cast<UnpricedReason>(u)))}},
                              set->unpriced[u]->Value()});
      }
      unpriced_at[u] = uit->second;
    }
    auto [hit, new_hist] = histogram_index.emplace(set->histograms, s.histogram_sets.size());
    if (new_hist) {
      HistogramSetState h;
      h.labels = {{"provider", set->values[0]},
                  {"model", set->values[1]},
                  {histogram_label, set->values[kFixedLabels + histogram_label_index_]}};
      const HistogramSet& hs = *set->histograms;
      const prometheus::Histogram* each[] = {hs.duration, hs.ttft, hs.input_tokens, hs.output_tokens, hs.cost};
      for (std::size_t i = 0; i < kRequestHistogramCount; ++i) {
        h.by_name[std::string(kRequestHistogramNames[i])] = HistogramValues(*each[i]);
      }
      s.histogram_sets.push_back(std::move(h));
    }

    // Events held back until this label set's first scrape are part of the state.
    const std::size_t hist_at = hit->second;  // (clang 14 cannot capture a structured binding)
    auto hist = [&s, hist_at](std::size_t i) -> HistogramState& {
      return s.histogram_sets[hist_at].by_name[std::string(kRequestHistogramNames[i])];
    };
    for (const Observation& obs : set->pending) {
      if (obs.counts_request) r.count += 1;
      SeriesGroupState& g = s.groups[git->second];
      for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
        g.tokens[std::string(TokenTypeName(static_cast<TokenType>(t)))] += static_cast<double>(obs.tokens.by_type[t]);
      }
      g.client_reported_cost += PicoToUsd(obs.client_reported);
      if (obs.cost.unpriced != UnpricedReason::kNone) {
        s.unpriced[unpriced_at[static_cast<std::size_t>(obs.cost.unpriced)]].count += 1;
      }
      if (obs.cost.billed) {
        for (std::size_t c = 0; c < kCostTypeCount; ++c) {
          g.cost[std::string(CostTypeName(static_cast<CostType>(c)))] += PicoToUsd(obs.cost.by_type[c]);
        }
        g.cache_savings += PicoToUsd(obs.cost.cache_savings);
        g.cache_write_premium += PicoToUsd(obs.cost.cache_write_premium);
      }
      if (!obs.counts_request) continue;
      if (obs.request_cost) AddToHistogram(hist(4), *bounds[4], PicoToUsd(*obs.request_cost));
      if (obs.latency_seconds) AddToHistogram(hist(0), *bounds[0], *obs.latency_seconds);
      if (obs.ttft_seconds) AddToHistogram(hist(1), *bounds[1], *obs.ttft_seconds);
      const std::uint64_t input = obs.request_tokens.TotalInput(), output = obs.request_tokens[TokenType::kOutput];
      if (input > 0 || output > 0) {
        AddToHistogram(hist(2), *bounds[2], static_cast<double>(input));
        AddToHistogram(hist(3), *bounds[3], static_cast<double>(output));
      }
    }
    s.requests.push_back(std::move(r));
  }
  return s;
}

namespace {

// The index of `name` among the names an enum's Name() function gives, or -1.
template <typename Enum, typename NameFn>
int IndexOfName(std::string_view name, std::size_t count, NameFn name_of, std::size_t first = 0) {
  for (std::size_t i = first; i < count; ++i) {
    if (name_of(static_cast<Enum>(i)) == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

void RequestMetrics::Restore(const RequestMetricsState& state, RestoreReport& report) {
  const std::vector<std::string> names = LabelNames();
  const std::string& histogram_label = attribution_labels_[histogram_label_index_];
  auto default_for = [](std::string_view name) -> std::string_view {
    for (const RecordLabel& l : kRecordLabels) {
      if (l.name == name) return l.migration_default;
    }
    return kUnknownValue;
  };
  // A label the state has and this configuration does not would merge series that
  // were apart: refuse rather than mix (the file is set aside).
  auto check = [&](const LabelMap& labels, std::string_view also) -> bool {
    for (const auto& [name, value] : labels) {
      if (name != also && std::find(names.begin(), names.end(), name) == names.end()) {
        report.incompatible = "the saved state has label '" + name +
                              "', which this configuration does not (labels.attribution changed)";
        return false;
      }
    }
    return true;
  };
  for (const auto& r : state.requests) {
    if (!check(r.labels, "status")) return;
  }
  for (const auto& g : state.groups) {
    if (!check(g.labels, "")) return;
  }
  auto values_of = [&](const LabelMap& labels) {
    std::vector<std::string> values;
    values.reserve(names.size());
    for (const auto& name : names) {
      const auto it = labels.find(name);
      values.emplace_back(it != labels.end() ? std::string_view(it->second) : default_for(name));
    }
    return values;
  };
  auto restore_set = [&](const std::vector<std::string>& values, RequestStatus status) -> SeriesSet& {
    provider_guard_.Restore(values[0]);
    model_guard_.Restore(values[1]);
    for (std::size_t i = 0; i < attribution_labels_.size(); ++i) {
      attribution_guards_[i]->Restore(values[kFixedLabels + i]);
    }
    SeriesSet& set = FindOrCreate(values, status, GroupKey(values) + std::string(RequestStatusName(status)));
    set.live.store(true, std::memory_order_release);  // it existed before the restart
    return set;
  };

  std::unordered_map<std::string, SeriesSet*> by_group;
  for (const auto& r : state.requests) {
    const auto st = r.labels.find("status");
    const std::string status_name = st != r.labels.end() ? st->second : "ok";
    RequestStatus status;
    if (!RequestStatusFromName(status_name, status)) {
      report.Unknown("status", status_name);
      continue;
    }
    const std::vector<std::string> values = values_of(r.labels);
    SeriesSet& set = restore_set(values, status);
    if (r.count > 0) set.requests->Increment(r.count);
    by_group.emplace(GroupKey(values), &set);
  }
  for (const auto& g : state.groups) {
    const std::vector<std::string> values = values_of(g.labels);
    auto it = by_group.find(GroupKey(values));
    SeriesSet& set = it != by_group.end() ? *it->second : restore_set(values, RequestStatus::kOk);
    for (const auto& [name, v] : g.tokens) {
      const int t = IndexOfName<TokenType>(name, kTokenTypeCount, TokenTypeName);
      if (t < 0) {
        report.Unknown("token_type", name);
      } else if (v > 0) {
        set.tokens[static_cast<std::size_t>(t)]->Increment(v);
      }
    }
    for (const auto& [name, v] : g.cost) {
      const int c = IndexOfName<CostType>(name, kCostTypeCount, CostTypeName);
      if (c < 0) {
        report.Unknown("cost_type", name);
      } else if (v > 0) {
        set.cost[static_cast<std::size_t>(c)]->Increment(v);
      }
    }
    if (g.cache_savings > 0) set.savings->Increment(g.cache_savings);
    if (g.cache_write_premium > 0) set.premium->Increment(g.cache_write_premium);
    if (g.client_reported_cost > 0) set.client_reported->Increment(g.client_reported_cost);
  }
  for (const auto& u : state.unpriced) {
    auto label = [&](const char* name) {
      const auto it = u.labels.find(name);
      return it != u.labels.end() ? it->second : std::string(default_for(name));
    };
    const std::string reason = label("reason");
    if (IndexOfName<UnpricedReason>(reason, kUnpricedReasonCount, UnpricedReasonName, 1) < 0) {
      report.Unknown("unpriced_reason", reason);
      continue;
    }
    if (u.count > 0) {
      unpriced_.Add({{"provider", label("provider")}, {"model", label("model")}, {"reason", reason}}).Increment(u.count);
    }
  }
  const std::array<const std::vector<double>*, kRequestHistogramCount> bounds = {
      &buckets_.duration_seconds, &buckets_.ttft_seconds, &buckets_.input_tokens, &buckets_.output_tokens,
      &buckets_.cost_usd};
  for (const auto& h : state.histogram_sets) {
    bool same_label = true;
    for (const auto& [name, value] : h.labels) {
      if (name != "provider" && name != "model" && name != histogram_label) same_label = false;
    }
    if (!same_label) {
      report.note = "labels.histogram_label changed; the histograms start from zero";
      continue;
    }
    auto label = [&](const std::string& name) {
      const auto it = h.labels.find(name);
      return it != h.labels.end() ? it->second : std::string(default_for(name));
    };
    std::unique_lock lock(sets_mu_);
    const auto it = histograms_.find(label("provider") + kKeySeparator + label("model") + kKeySeparator +
                                     label(histogram_label));
    if (it == histograms_.end()) continue;
    prometheus::Histogram* targets[] = {it->second->duration, it->second->ttft, it->second->input_tokens,
                                        it->second->output_tokens, it->second->cost};
    for (const auto& [name, saved] : h.by_name) {
      const auto at = std::find(kRequestHistogramNames.begin(), kRequestHistogramNames.end(), name);
      if (at == kRequestHistogramNames.end()) {
        report.Unknown("histogram", name);
        continue;
      }
      const auto i = static_cast<std::size_t>(at - kRequestHistogramNames.begin());
      // Saved buckets only fit the same bounds; otherwise that histogram restarts.
      const auto saved_bounds = state.bucket_bounds.find(name);
      if (saved_bounds == state.bucket_bounds.end() || saved_bounds->second != *bounds[i] ||
          saved.bucket_counts.size() != bounds[i]->size() + 1) {
        report.note = "histogram buckets changed; those histograms start from zero";
        continue;
      }
      targets[i]->ObserveMultiple(saved.bucket_counts, saved.sum);
    }
  }
}

}  // namespace llmcost
