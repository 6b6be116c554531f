#include "record/request_metrics.h"

#include <algorithm>

namespace llmcost {

struct RequestMetrics::HistogramSet {
  prometheus::Histogram* duration;
  prometheus::Histogram* ttft;
  prometheus::Histogram* input_tokens;
  prometheus::Histogram* output_tokens;
  prometheus::Histogram* cost;
};

struct RequestMetrics::SeriesSet {
  prometheus::Counter* requests = nullptr;
  std::array<prometheus::Counter*, kTokenTypeCount> tokens{};
  std::array<prometheus::Counter*, kCostTypeCount> cost{};
  prometheus::Counter* savings = nullptr;
  prometheus::Counter* premium = nullptr;
  std::array<prometheus::Counter*, 4> unpriced{};  // by UnpricedReason (index 0 unused)
  HistogramSet* histograms = nullptr;

  std::uint64_t created_epoch = 0;
  std::atomic<bool> live{false};
  std::mutex pending_mu;
  std::vector<Observation> pending;
};

// What one request adds to its SeriesSet; kept small so pending ones are cheap.
struct RequestMetrics::Observation {
  TokenCounts tokens;
  RequestCost cost;  // model string unused here
  std::optional<double> latency_seconds;
  std::optional<double> ttft_seconds;
};

namespace {

constexpr char kKeySeparator = '\x1f';  // cannot appear in a sanitised label value

prometheus::Histogram::BucketBoundaries Bounds(const std::vector<double>& b) { return {b.begin(), b.end()}; }

}  // namespace

RequestMetrics::RequestMetrics(prometheus::Registry& registry, const ExporterConfig& config,
                               ExporterMetrics& exporter_metrics)
    : exporter_metrics_(exporter_metrics),
      attribution_labels_(config.attribution_labels),
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
}

RequestMetrics::~RequestMetrics() = default;

void RequestMetrics::Record(const UsageEvent& event, const RequestCost& cost) {
  // values: provider, model, attribution labels in configured order.
  std::vector<std::string> values;
  values.reserve(2 + attribution_labels_.size());
  auto admit = [&](LabelGuard& guard, std::string_view raw) {
    auto admitted = guard.Admit(raw);
    if (admitted.overflowed) exporter_metrics_.LabelOverflow(guard.name());
    values.push_back(std::move(admitted.value));
  };
  admit(provider_guard_, event.provider);
  admit(model_guard_, cost.model);
  for (std::size_t i = 0; i < attribution_labels_.size(); ++i) {
    std::string_view raw;
    for (const auto& [name, value] : event.labels) {
      if (name == attribution_labels_[i]) {
        raw = value;
        break;
      }
    }
    admit(*attribution_guards_[i], raw);
  }

  std::string key;
  for (const auto& v : values) {
    key += v;
    key.push_back(kKeySeparator);
  }
  key += RequestStatusName(event.status);

  SeriesSet& set = FindOrCreate(values, event.status, key);
  Observation obs{event.tokens, cost, event.latency_seconds, event.ttft_seconds};
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
                                                        RequestStatus status, const std::string& key) {
  {
    std::shared_lock lock(sets_mu_);
    if (auto it = sets_.find(key); it != sets_.end()) return *it->second;
  }
  std::unique_lock lock(sets_mu_);
  if (auto it = sets_.find(key); it != sets_.end()) return *it->second;

  std::map<std::string, std::string> labels{{"provider", values[0]}, {"model", values[1]}};
  for (std::size_t i = 0; i < attribution_labels_.size(); ++i) labels[attribution_labels_[i]] = values[2 + i];

  auto set = std::make_unique<SeriesSet>();
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
  for (std::size_t r = 1; r < set->unpriced.size(); ++r) {
    set->unpriced[r] = &unpriced_.Add({{"provider", values[0]},
                                       {"model", values[1]},
                                       {"reason", std::string(UnpricedReasonName(static_cast<UnpricedReason>(r)))}});
  }

  const std::string& hist_value = values[2 + histogram_label_index_];
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
  set.requests->Increment();
  for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
    if (obs.tokens.by_type[t] > 0) set.tokens[t]->Increment(static_cast<double>(obs.tokens.by_type[t]));
  }
  if (obs.cost.unpriced != UnpricedReason::kNone) {
    set.unpriced[static_cast<std::size_t>(obs.cost.unpriced)]->Increment();
  }
  if (obs.cost.billed) {
    for (std::size_t c = 0; c < kCostTypeCount; ++c) {
      if (obs.cost.by_type[c] > 0) set.cost[c]->Increment(PicoToUsd(obs.cost.by_type[c]));
    }
    if (obs.cost.cache_savings > 0) set.savings->Increment(PicoToUsd(obs.cost.cache_savings));
    if (obs.cost.cache_write_premium > 0) set.premium->Increment(PicoToUsd(obs.cost.cache_write_premium));
    set.histograms->cost->Observe(PicoToUsd(obs.cost.Total()));
  }
  HistogramSet& h = *set.histograms;
  if (obs.latency_seconds) h.duration->Observe(*obs.latency_seconds);
  if (obs.ttft_seconds) h.ttft->Observe(*obs.ttft_seconds);
  const std::uint64_t total_input = obs.tokens.TotalInput();
  const std::uint64_t output = obs.tokens[TokenType::kOutput];
  // Failed requests without usage would drag the size histograms to zero.
  if (total_input > 0 || output > 0) {
    h.input_tokens->Observe(static_cast<double>(total_input));
    h.output_tokens->Observe(static_cast<double>(output));
  }
}

std::uint64_t RequestMetrics::BeginScrape() {
  std::unique_lock lock(sets_mu_);
  return epoch_++;
}

void RequestMetrics::FinishScrape(std::uint64_t token) {
  std::vector<SeriesSet*> ready;
  {
    std::unique_lock lock(sets_mu_);
    auto keep = std::partition(not_live_.begin(), not_live_.end(),
                               [token](const SeriesSet* s) { return s->created_epoch > token; });
    ready.assign(keep, not_live_.end());
    not_live_.erase(keep, not_live_.end());
  }
  for (SeriesSet* set : ready) {
    std::lock_guard lock(set->pending_mu);
    if (set->live.load(std::memory_order_relaxed)) continue;
    for (const auto& obs : set->pending) Apply(*set, obs);
    set->pending.clear();
    set->pending.shrink_to_fit();
    set->live.store(true, std::memory_order_release);
  }
}

std::size_t RequestMetrics::label_sets() const {
  std::shared_lock lock(sets_mu_);
  return sets_.size();
}

}  // namespace llmcost
