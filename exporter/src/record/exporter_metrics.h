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
#include "pricing/price_table.h"
#include "record/metrics_state.h"

namespace llmcost {

enum class Transport : std::uint8_t { kHttp, kUdp };
std::string_view TransportName(Transport t);

class ExporterMetrics {
 public:
  ExporterMetrics(prometheus::Registry& registry, const ExporterConfig& config, const std::string& version,
                  const std::string& revision);

  void Accepted(Transport t, double n = 1);
  void Rejected(Transport t, RejectReason reason, double n = 1);
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

  // Cumulative datagrams the kernel dropped on the UDP socket (its queue was full).
  void UdpKernelDrops(std::uint32_t cumulative);

 private:
  std::array<prometheus::Counter*, 2> accepted_{};
  std::array<prometheus::Counter*, 2> rejected_total_{};
  std::array<std::array<prometheus::Counter*, kRejectReasonCount>, 2> rejected_{};
  std::map<std::string, prometheus::Counter*> overflow_;
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
  std::atomic<std::uint32_t> udp_dropped_seen_{0};
};

}  // namespace llmcost
