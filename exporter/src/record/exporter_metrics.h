#pragma once
// ExporterMetrics: the exporter's own series (events in, rejections by reason,
// label overflow, price table, budgets, build info). All label sets are known up
// front and created at zero, so rate() sees their first increments.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <string>

#include "config/exporter_config.h"
#include "event/event_error.h"
#include "pricing/price_table.h"

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
  void PricingLoaded(const PriceTable& table);
  void PricingReloadFailed();

 private:
  std::array<prometheus::Counter*, 2> accepted_{};
  std::array<prometheus::Counter*, 2> rejected_total_{};
  std::array<std::array<prometheus::Counter*, kRejectReasonCount>, 2> rejected_{};
  std::map<std::string, prometheus::Counter*> overflow_;
  prometheus::Gauge* label_sets_;
  prometheus::Family<prometheus::Gauge>& pricing_info_family_;
  prometheus::Gauge* pricing_info_ = nullptr;
  prometheus::Gauge* pricing_as_of_;
  prometheus::Gauge* pricing_models_;
  prometheus::Gauge* pricing_last_ok_;
  prometheus::Counter* reload_success_;
  prometheus::Counter* reload_failure_;
};

}  // namespace llmcost
