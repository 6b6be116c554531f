#include "record/prompt_repeats.h"

#include <algorithm>

namespace llmcost {

struct PromptRepeats::Feature {
  std::string value;
  prometheus::Counter* requests = nullptr;
  prometheus::Counter* cost = nullptr;
  prometheus::Gauge* max = nullptr;
  // Shown at zero by one scrape before counts go in (see TaskTracker).
  bool shown = false;
  std::uint64_t held_requests = 0;
  PicoUsd held_cost = 0;
  std::size_t scan_max = 0;
};

PromptRepeats::PromptRepeats(prometheus::Registry& registry, const ExporterConfig& config, Clock clock)
    : config_(config.prompts),
      feature_label_(config.histogram_label),
      clock_(std::move(clock)),
      requests_(prometheus::BuildCounter()
                    .Name("llm_repeated_prompt_requests_total")
                    .Help("Requests whose prompt_hash was already seen prompts.max_repeats times in the feature "
                          "within the window (retry loops)")
                    .Register(registry)),
      cost_(prometheus::BuildCounter()
                .Name("llm_repeated_prompt_cost_usd_total")
                .Help("Cost in USD of the repeated-prompt requests (retry-amplified spend)")
                .Register(registry)),
      max_(prometheus::BuildGauge()
               .Name("llm_prompt_max_repeats")
               .Help("Most requests of one prompt_hash within the window (as of the scrape, capped at 64)")
               .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("llm_prompt_hashes_dropped_total")
                   .Help("Requests with a new prompt_hash not tracked because the table was full (prompts.max_hashes)")
                   .Register(registry)
                   .Add({})),
      feature_guard_(config.histogram_label, config.CapFor(config.histogram_label), config.max_label_value_length),
      has_tenant_(std::find(config.attribution_labels.begin(), config.attribution_labels.end(),
                            kDrillDownTenantLabel) != config.attribution_labels.end()),
      tenants_(std::string(kDrillDownTenantLabel), config.CapFor(std::string(kDrillDownTenantLabel)),
               config.max_label_value_length) {}

PromptRepeats::~PromptRepeats() = default;

PromptRepeats::Feature& PromptRepeats::FeatureFor(std::string_view raw) {
  std::string value = feature_guard_.Admit(raw).value;
  auto& slot = features_[value];
  if (!slot) {
    auto f = std::make_unique<Feature>();
    f->value = value;
    const prometheus::Labels labels{{feature_label_, value}};
    f->requests = &requests_.Add(labels);
    f->cost = &cost_.Add(labels);
    f->max = &max_.Add(labels);
    slot = std::move(f);
  }
  return *slot;
}

void PromptRepeats::Trim(Entry& e, std::int64_t now_ms) const {
  const std::int64_t oldest = now_ms - config_.window_seconds * 1000;  // times <= oldest are out
  const auto first_in = std::upper_bound(e.times.begin(), e.times.end(), oldest);
  e.times.erase(e.times.begin(), first_in);
}

void PromptRepeats::Sweep(std::int64_t now_ms) {
  last_sweep_ms_ = now_ms;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Trim(it->second, now_ms);
    it = it->second.times.empty() ? entries_.erase(it) : std::next(it);
  }
}

void PromptRepeats::Record(const UsageEvent& event, const RequestCost& cost) {
  if (event.prompt_hash.empty()) return;
  const std::string_view raw_feature = LabelValueOf(event, feature_label_);
  thread_local std::string key;
  key.assign(std::to_string(raw_feature.size()));
  key.push_back(':');
  key.append(raw_feature);
  const std::size_t hash_at = key.size();
  key.append(event.prompt_hash);
  const std::int64_t now = clock_();

  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= config_.max_hashes && now - last_sweep_ms_ >= 1000) Sweep(now);
    if (entries_.size() >= config_.max_hashes) {
      dropped_.Increment();
      return;
    }
    it = entries_.try_emplace(key).first;
    it->second.feature = &FeatureFor(raw_feature);
    it->second.hash_at = static_cast<std::uint32_t>(hash_at);
  }
  Entry& e = it->second;
  if (has_tenant_) e.tenant = tenants_.Get(LabelValueOf(event, kDrillDownTenantLabel));
  Trim(e, now);
  if (e.times.size() >= config_.max_repeats) {
    Feature& f = *e.feature;
    const PicoUsd c = cost.RequestTotal();
    ++e.repeated;
    e.repeated_cost += c;
    if (f.shown) {
      f.requests->Increment();
      f.cost->Increment(PicoToUsd(c));
    } else {
      ++f.held_requests;
      f.held_cost += c;
    }
  }
  if (e.times.size() >= kMaxCounted) e.times.erase(e.times.begin());
  e.times.push_back(now);
}

void PromptRepeats::Refresh() {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_();
  Sweep(now);
  for (auto& [value, f] : features_) {
    f->scan_max = 0;
    if (f->shown) {
      if (f->held_requests != 0) {
        f->requests->Increment(static_cast<double>(f->held_requests));
        f->cost->Increment(PicoToUsd(f->held_cost));
      }
      f->held_requests = 0;
      f->held_cost = 0;
    }
    f->shown = true;
  }
  for (const auto& [key, e] : entries_) e.feature->scan_max = std::max(e.feature->scan_max, e.times.size());
  for (auto& [value, f] : features_) f->max->Set(static_cast<double>(f->scan_max));
}

std::vector<PromptRepeats::PromptView> PromptRepeats::Top(std::size_t n) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_();
  Sweep(now);
  using Item = decltype(entries_)::value_type;
  std::vector<const Item*> all;
  all.reserve(entries_.size());
  for (const Item& e : entries_) all.push_back(&e);
  const auto worse_first = [](const Item* a, const Item* b) {
    if (a->second.times.size() != b->second.times.size()) return a->second.times.size() > b->second.times.size();
    if (a->second.repeated != b->second.repeated) return a->second.repeated > b->second.repeated;
    return a->first < b->first;
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), worse_first);
  std::vector<PromptView> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Entry& e = all[i]->second;
    out.push_back({all[i]->first.substr(e.hash_at), e.feature->value, e.tenant ? *e.tenant : std::string(),
                   e.times.size(), e.repeated, e.repeated_cost, e.times.empty() ? 0 : now - e.times.back()});
  }
  return out;
}

std::size_t PromptRepeats::hashes() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace llmcost
