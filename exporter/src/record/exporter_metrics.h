#pragma once
// ExporterMetrics: the exporter's own series (events in, rejections by reason,
// label overflow, price table, budgets, build info). All label sets are known up
// front and created at zero, so rate() sees their first increments.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "config/exporter_config.h"
#include "event/event_error.h"
#include "event/otlp_attributes.h"
#include "pricing/price_table.h"
#include "record/metrics_state.h"

namespace llmcost {

enum class Transport : std::uint8_t { kHttp, kUdp, kOtlp };
// Every transport, declared once: counters, snapshots and restores loop over it.
inline constexpr std::array<Transport, 3> kTransports = {Transport::kHttp, Transport::kUdp, Transport::kOtlp};
std::string_view TransportName(Transport t);

// OTLP records by result: accepted (a usage event counted), rejected (see
// llm_exporter_events_rejected_total{transport="otlp"} for the reason), ignored
// (a log record that is not a usage event, e.g. Claude Code's user_prompt).
enum class OtlpRecordResult : std::uint8_t { kAccepted, kRejected, kIgnored };
inline constexpr std::array<std::string_view, 3> kOtlpRecordResults = {"accepted", "rejected", "ignored"};
inline constexpr std::array<std::string_view, 3> kOtlpSignals = {"logs", "metrics", "traces"};
inline constexpr std::size_t kOtlpLogsSignal = 0, kOtlpMetricsSignal = 1, kOtlpTracesSignal = 2;  // kOtlpSignals
// Distinct (service.name, service.version) sources shown by
// llm_exporter_otlp_source_last_seen_timestamp_seconds; later ones fold into __overflow__.
inline constexpr std::size_t kMaxOtlpSources = 200;

class ExporterMetrics {
 public:
  ExporterMetrics(prometheus::Registry& registry, const ExporterConfig& config, const std::string& version,
                  const std::string& revision);

  void Accepted(Transport t, double n = 1);
  // signal: an index into kOtlpSignals.
  void OtlpRecords(std::size_t signal, OtlpRecordResult result, double n);
  void Rejected(Transport t, RejectReason reason, double n = 1);
  // OTLP items (log records, data points, spans) not counted, by signal and reason.
  void OtlpIgnored(std::size_t signal, OtlpIgnoreReason reason, double n);
  void OtlpRejected(std::size_t signal, RejectReason reason, double n);
  // Metric streams tracked now, and evicted so far (cumulative).
  void OtlpStreamsTracked(std::size_t streams, std::uint64_t evicted_total);
  // A request from this source was received now (any signal, even if nothing in it was usage).
  void OtlpSourceSeen(const OtlpSource& source, double unix_seconds);
  void LabelOverflow(const std::string& label);
  void SetLabelSets(std::size_t n);
  // Thread-safe: SIGHUP and POST /-/reload may report at the same time.
  void PricingLoaded(const PriceTable& table);
  void PricingReloadFailed();

  ExporterCountersState Snapshot() const;
  // Matches the saved counters by transport, result and reason name; names this
  // build does not know are skipped and noted in `report`.
  void Restore(const ExporterCountersState& state, RestoreReport& report);

  // The state file: loads at start, checkpoints, and files set aside as unusable.
  void StateRestored(const std::string& result);  // "restored", "none", "corrupt", "incompatible"
  void CheckpointWritten(double unix_seconds);
  void CheckpointFailed();
  // Counts, by kind, the state entries a restore skipped for an unknown name.
  void StateEntriesSkipped(const RestoreReport& report);

  // Cumulative datagrams the kernel dropped on UDP socket `socket` (its queue was
  // full); each socket's count is followed on its own, the counter is their sum.
  static constexpr std::size_t kMaxUdpSockets = 64;  // --udp.workers' upper bound
  void UdpKernelDrops(std::size_t socket, std::uint32_t cumulative);

 private:
  std::array<prometheus::Counter*, kTransports.size()> accepted_{};
  std::array<prometheus::Counter*, kTransports.size()> rejected_total_{};
  std::array<std::array<prometheus::Counter*, kRejectReasonCount>, kTransports.size()> rejected_{};
  std::map<std::string, prometheus::Counter*> overflow_;
  std::array<std::array<prometheus::Counter*, kOtlpRecordResults.size()>, kOtlpSignals.size()> otlp_records_{};
  std::array<std::array<prometheus::Counter*, kOtlpIgnoreReasons.size()>, kOtlpSignals.size()> otlp_ignored_{};
  std::array<std::array<prometheus::Counter*, kRejectReasonCount>, kOtlpSignals.size()> otlp_rejected_{};
  prometheus::Gauge* otlp_streams_;
  prometheus::Counter* otlp_streams_evicted_;
  std::atomic<std::uint64_t> otlp_evicted_seen_{0};
  prometheus::Family<prometheus::Gauge>& otlp_sources_family_;
  std::mutex otlp_sources_mu_;
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> otlp_sources_;
  prometheus::Gauge* label_sets_;
  prometheus::Family<prometheus::Gauge>& pricing_info_family_;
  std::mutex pricing_mu_;                      // guards pricing_info_
  prometheus::Gauge* pricing_info_ = nullptr;
  prometheus::Gauge* pricing_as_of_;
  prometheus::Gauge* pricing_models_;
  prometheus::Gauge* pricing_last_ok_;
  prometheus::Counter* reload_success_;
  prometheus::Counter* reload_failure_;
  prometheus::Family<prometheus::Counter>& state_loads_;
  prometheus::Family<prometheus::Counter>& state_skipped_;
  prometheus::Counter* checkpoint_success_;
  prometheus::Counter* checkpoint_failure_;
  prometheus::Gauge* last_checkpoint_;
  prometheus::Counter* udp_dropped_;
  std::array<std::atomic<std::uint32_t>, kMaxUdpSockets> udp_dropped_seen_{};
};

}  // namespace llmcost
