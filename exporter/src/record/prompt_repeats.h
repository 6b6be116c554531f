#pragma once
// PromptRepeats: the record stage's retry-storm detector. Fed the same priced
// events as RequestMetrics, it keeps, per feature and prompt_hash, the times of
// the hash's requests within a sliding window (config prompts.window_seconds,
// default 60) and counts a request as a repeat when its hash was already seen at
// least prompts.max_repeats (default 5) times in the window: the 6th identical
// prompt within 60 s is the first repeat (a client-side retry loop, almost
// always a bug). Exported by feature only:
//   llm_repeated_prompt_requests_total, llm_repeated_prompt_cost_usd_total
//     (the retry-amplified spend), llm_prompt_max_repeats (gauge, as of the scrape:
//     the most requests of one hash within the window, capped at kMaxCounted)
//   llm_prompt_hashes_dropped_total: requests whose new hash found the table full
// Bounded: a capped map (prompts.max_hashes, default 100,000) of exact time lists
// (each at most kMaxCounted long) rather than a sketch: exact counts for the
// hashes kept, and the cap only matters under a flood of distinct hashes, where
// expired hashes are swept first and new ones are then not tracked (counted).
// Hashes never become labels and are never logged; Top() lists the most repeated
// ones as sent, with feature and tenant, for GET /v1/prompts/top. Not persisted.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

class PromptRepeats {
 public:
  using Clock = std::function<std::int64_t()>;  // steady milliseconds
  static constexpr std::size_t kMaxCounted = 64;

  PromptRepeats(prometheus::Registry& registry, const ExporterConfig& config, Clock clock);
  ~PromptRepeats();

  void Record(const UsageEvent& event, const RequestCost& cost);
  // At every scrape: drops expired hashes, applies counts held for features the
  // previous scrape showed at zero, sets llm_prompt_max_repeats.
  void Refresh();
  std::size_t hashes() const;

  // A hash as the drill-down shows it: as sent (never a label, never logged), its
  // feature and (last) tenant label values, its requests within the window now,
  // and the repeats and their cost while it has stayed in the table.
  struct PromptView {
    std::string prompt_hash;
    std::string feature;
    std::string tenant;
    std::size_t in_window = 0;
    std::uint64_t repeated = 0;
    PicoUsd repeated_cost = 0;
    std::int64_t idle_ms = 0;  // since its last request
  };
  // The n hashes with the most requests in the window (then most repeats, then
  // by hash); sweeps expired ones first. O(hashes) under the lock.
  std::vector<PromptView> Top(std::size_t n);

 private:
  struct Feature;
  struct Entry {
    Feature* feature = nullptr;
    const std::string* tenant = nullptr;  // interned; null without a tenant label
    std::uint32_t hash_at = 0;            // the hash's offset in the key
    std::uint64_t repeated = 0;
    PicoUsd repeated_cost = 0;
    std::vector<std::int64_t> times;  // ascending, within the window, at most kMaxCounted
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return SeededHash(s); }
  };
  Feature& FeatureFor(std::string_view raw);  // holds mu_
  void Trim(Entry& e, std::int64_t now_ms) const;
  void Sweep(std::int64_t now_ms);  // holds mu_

  const PromptConfig config_;
  const std::string feature_label_;
  Clock clock_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& cost_;
  prometheus::Family<prometheus::Gauge>& max_;
  prometheus::Counter& dropped_;
  LabelGuard feature_guard_;
  const bool has_tenant_;

  mutable std::mutex mu_;
  LabelIntern tenants_;
  // Key: the raw feature's length, ':', the raw feature, the hash (unambiguous for
  // any bytes in either).
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
  std::unordered_map<std::string, std::unique_ptr<Feature>> features_;
  std::int64_t last_sweep_ms_ = 0;
};

}  // namespace llmcost
