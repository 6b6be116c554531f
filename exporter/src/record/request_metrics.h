#pragma once
// RequestMetrics: the record stage. Turns a priced request into increments of the
// request-level series. Each distinct label set (provider, model, attribution
// labels, status) gets a SeriesSet of counters, found with one hash lookup.
//
// The request series are not in the prometheus-cpp registry: they are plain atomics
// (record/request_series.h) and WriteText() renders them straight into the /metrics
// text, which at 100,000 series is most of a scrape. The registry keeps the
// exporter's own metrics.
//
// Each label's values are capped (LabelGuard), and so is the number of label sets
// (config max_label_sets): past it, events of new label sets are counted in one set
// whose provider, model and attribution values are all "__overflow__" (per status).
//
// New label sets are exposed at zero before their first events are applied:
// Prometheus cannot take an increase() over a series' first sample, so without this
// the first request of every new tenant or model would be missing from every rate,
// dashboard and budget alert. The zero is served from the first scrape (GET) that
// shows the label set for a fixed time (--web.zero-first-duration), not to one
// request: every Prometheus of an HA pair, and a stray curl, sees it. A HEAD or
// other probe does not count as a scrape.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <unordered_map>
#include <vector>

#include "config/exporter_config.h"
#include "event/seeded_hash.h"
#include "event/usage_event.h"
#include "pricing/pricer.h"
#include "record/exporter_metrics.h"
#include "record/label_guard.h"
#include "record/metrics_state.h"
#include "record/request_observation.h"

namespace llmcost {

// The labels every request label set carries before the configured attribution
// labels, in the order of a label set's values, each with its migration default:
// the value a state file written before the label existed restores as. A new
// record label is declared here, once. A configured attribution label that a state
// file lacks restores as kUnknownValue, which is what an event without it records.
struct RecordLabel {
  std::string_view name;
  std::string_view migration_default;
};
// platform and service_tier (bounded enums: PlatformName, ServiceTierName) came in
// with state format 2's first release after it; older files restore as first-party
// standard traffic, which is all that build could price.
inline constexpr std::array<RecordLabel, 4> kRecordLabels = {
    {{"provider", "anthropic"}, {"model", "unknown"}, {"platform", "anthropic"}, {"service_tier", "standard"}}};

struct RenderedLabels;  // record/request_series.h

class RequestMetrics {
 public:
  RequestMetrics(const ExporterConfig& config, ExporterMetrics& exporter_metrics);
  ~RequestMetrics();

  void Record(const UsageEvent& event, const RequestCost& cost);

  // Scrape protocol: BeginScrape() before WriteText(), then FinishScrape(token)
  // after the exposition text is built. Label sets whose zero
  // was first scraped at least zero_first_duration ago go live in BeginScrape (this
  // scrape shows their events); label sets created before BeginScrape and never
  // scraped were exposed at zero by this scrape, which starts their time at zero.
  std::uint64_t BeginScrape();
  void FinishScrape(std::uint64_t token);

  using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
  // How long a new label set's zero is served, from the first scrape that showed
  // it. 0: until the next scrape (in-process tests). main() sets the flag's value.
  void SetZeroFirstDuration(std::chrono::milliseconds duration, SteadyClock clock = std::chrono::steady_clock::now);

  std::size_t label_sets() const;

  // Appends every request family (kRequestCounterFamilies, then kRequestHistograms)
  // in the Prometheus text format 0.0.4, as prometheus-cpp's TextSerializer would
  // write them (sorted labels; histograms _count, _sum, then _bucket with le last)
  // except that doubles are written shortest-round-trip (the exact double, where
  // prometheus-cpp rounds to 16 digits) and counts as integers. Money is exact
  // pico-dollars rendered as USD (one division). Label sets not yet live show zero.
  // Takes the label-set lock shared: recording into existing sets goes on meanwhile.
  void WriteText(std::string& out) const;

  // Every value, including events held for label sets not yet scraped. The caller
  // stops recording meanwhile (EventPipeline does) for an event-consistent copy.
  RequestMetricsState Snapshot() const;
  // Recreates the saved series with their values, matched by label name; restored
  // label sets are live at once (they existed before the restart). A label the
  // configuration has and the state lacks takes its migration default. Sets
  // report.incompatible (and restores nothing) when the state has a label this
  // configuration does not; report.note when some histograms could not be restored
  // (bucket bounds or the histogram label changed); skips and counts in report
  // entries of a type, reason or status this build does not know. Call before any Record().
  void Restore(const RequestMetricsState& state, RestoreReport& report);
  // provider, model (kRecordLabels), then the attribution labels: a label set's values.
  std::vector<std::string> LabelNames() const;

  // Events held for label sets that have not been scraped yet.
  static constexpr std::size_t kMaxPendingPerSet = 4096;
  // Raw label tuples remembered by the fast path (about 100 bytes each).
  static constexpr std::size_t kMaxRawKeys = 65536;

 private:
  struct HistogramSet;
  struct SeriesSet;
  struct SeriesGroup;
  struct UnpricedSet;
  using Observation = RequestObservation;
  struct LiveSink;

  // Where an event's raw label values (as sent, before sanitising) lead, and which
  // of its labels overflowed (bit 0 provider, 1 model, 2+i attribution label i).
  struct RawRoute {
    SeriesSet* set = nullptr;
    std::uint64_t overflowed = 0;
    bool folded = false;  // into the overflow label set, by the cap on label sets
  };
  // Raw tuples are what clients send: hashed with the process's random key, so no
  // client can pile them onto one bucket (docs/reliability.md, "Hash flooding").
  struct RawKeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return SeededHash(s); }
  };

  static constexpr std::size_t kFixedLabels = kRecordLabels.size();
  LabelMap ToLabels(const std::vector<std::string>& values) const;

  RawRoute Route(const UsageEvent& event, const RequestCost& cost, std::string_view model);
  void RecordObservation(const UsageEvent& event, const RequestCost& cost, std::string_view model, Observation obs);
  std::string_view AttributionValue(const UsageEvent& event, std::size_t i) const;
  // With `folded`, a label set past max_label_sets_ is not created: the overflow set
  // is returned and *folded set. Without (restoring), the cap does not apply.
  SeriesSet& FindOrCreate(const std::vector<std::string>& values, RequestStatus status, const std::string& key,
                          bool* folded = nullptr);
  static std::string GroupKey(const std::vector<std::string>& values);
  void Apply(SeriesSet& set, const Observation& obs);

  ExporterMetrics& exporter_metrics_;
  std::vector<std::string> attribution_labels_;
  std::size_t histogram_label_index_ = 0;
  std::size_t max_label_sets_ = 0;

  HistogramBuckets buckets_;
  // Where each histogram's buckets start in a HistogramSet's counts (the last: their total).
  std::array<std::size_t, kRequestHistogramCount + 1> histogram_offsets_{};
  // Each histogram's le values as written (the bounds, then "+Inf").
  std::array<std::vector<std::string>, kRequestHistogramCount> le_text_;

  LabelGuard provider_guard_;
  LabelGuard model_guard_;
  std::vector<std::unique_ptr<LabelGuard>> attribution_guards_;

  // The label a series adds to its group's labels, by RenderedLabels::cut.
  enum ExtraLabel : std::size_t { kStatusLabel, kTokenTypeLabel, kCostTypeLabel, kReasonLabel };
  RenderedLabels RenderLabels(std::vector<std::pair<std::string_view, std::string_view>> labels) const;
  UnpricedSet& UnpricedFor(const std::string& provider, const std::string& model);  // sets_mu_ held
  void ObserveInto(HistogramSet& h, std::size_t histogram, double v) const;

  // Everything below is guarded by sets_mu_; the vectors keep creation order, which
  // is the order of the scrape's lines.
  mutable std::shared_mutex sets_mu_;
  std::unordered_map<std::string, std::unique_ptr<SeriesSet>> sets_;
  std::vector<SeriesSet*> set_order_;
  std::unordered_map<std::string, std::unique_ptr<HistogramSet>> histograms_;
  std::vector<HistogramSet*> histogram_order_;
  std::vector<SeriesSet*> not_live_;
  // By GroupKey (values without status).
  std::unordered_map<std::string, SeriesGroup*> group_by_key_;
  std::vector<std::unique_ptr<SeriesGroup>> groups_;
  // By provider, separator, model.
  std::unordered_map<std::string, UnpricedSet*> unpriced_by_key_;
  std::vector<std::unique_ptr<UnpricedSet>> unpriced_sets_;
  // Label names in /metrics order (sorted, as prometheus-cpp sorts them) with the
  // index of each in a set's values.
  std::vector<std::pair<std::string, std::size_t>> sorted_labels_;
  // Raw label tuple -> route. A guard's answer for a raw value never changes (admitted
  // values are never dropped), so most events skip sanitising and admitting their
  // labels. Bounded by kMaxRawKeys in all; past it, events take the full path.
  // Sharded by the tuple's hash, each shard with its own lock: this lookup is what
  // every event does, and one lock word for all would be shared by every ingest
  // thread (label sets themselves are created rarely, under sets_mu_).
  static constexpr std::size_t kRouteShards = 16;
  struct alignas(64) RouteShard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, RawRoute, RawKeyHash, std::equal_to<>> routes;
  };
  std::array<RouteShard, kRouteShards> route_shards_;
  bool route_cache_ = true;  // off when there are too many labels for the overflow mask
  std::uint64_t epoch_ = 0;           // guarded by sets_mu_
  std::chrono::steady_clock::time_point scrape_started_{};  // of the last BeginScrape; guarded by sets_mu_
  std::chrono::milliseconds zero_first_duration_{0};
  SteadyClock clock_ = std::chrono::steady_clock::now;
};

}  // namespace llmcost
