#include "record/exporter_metrics.h"

#include "record/label_guard.h"

namespace llmcost {

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kHttp: return "http";
    case Transport::kUdp: return "udp";
    case Transport::kOtlp: return "otlp";
  }
  return "unknown";
}

ExporterMetrics::ExporterMetrics(prometheus::Registry& registry, const ExporterConfig& config,
                                 const std::string& version, const std::string& revision)
    : otlp_sources_family_(prometheus::BuildGauge()
                               .Name("llm_exporter_otlp_source_last_seen_timestamp_seconds")
                               .Help("When an OTLP request last arrived from this source (resource service.name and "
                                     "service.version; at most " + std::to_string(kMaxOtlpSources) +
                                     " sources, later ones as __overflow__), as a Unix time. A client that silently "
                                     "stops exporting: LLMTelemetrySourceSilent.")
                               .Register(registry)),
      pricing_info_family_(prometheus::BuildGauge()
                               .Name("llm_exporter_pricing_info")
                               .Help("The loaded price table: as_of date, source, origin (embedded or file) and file. Always 1.")
                               .Register(registry)),
      state_loads_(prometheus::BuildCounter()
                       .Name("llm_exporter_state_loads_total")
                       .Help("State file loads at start, by result: restored, none, corrupt (set aside), "
                             "incompatible (set aside).")
                       .Register(registry)),
      state_skipped_(prometheus::BuildCounter()
                         .Name("llm_exporter_state_entries_skipped_total")
                         .Help("State file entries not restored because this build does not know their type, "
                               "reason, status, transport, result or histogram name (a newer release's file), by kind.")
                         .Register(registry)) {
  for (const char* r : {"restored", "none", "corrupt", "incompatible"}) state_loads_.Add({{"result", r}});
  for (std::string_view kind : kStateNameKinds) state_skipped_.Add({{"kind", std::string(kind)}});
  auto& checkpoints = prometheus::BuildCounter()
                          .Name("llm_exporter_state_checkpoints_total")
                          .Help("State file checkpoints written, by result.")
                          .Register(registry);
  checkpoint_success_ = &checkpoints.Add({{"result", "success"}});
  checkpoint_failure_ = &checkpoints.Add({{"result", "failure"}});
  udp_dropped_ = &prometheus::BuildCounter()
                      .Name("llm_exporter_udp_receive_dropped_total")
                      .Help("UDP datagrams the kernel dropped because the receive queue was full (SO_RXQ_OVFL).")
                      .Register(registry)
                      .Add({});
  last_checkpoint_ = &prometheus::BuildGauge()
                          .Name("llm_exporter_state_last_checkpoint_timestamp_seconds")
                          .Help("When the state file was last written, as a Unix time (0: never).")
                          .Register(registry)
                          .Add({});
  prometheus::BuildGauge()
      .Name("llm_exporter_build_info")
      .Help("Build information of llm-cost-exporter. Always 1.")
      .Register(registry)
      .Add({{"version", version}, {"revision", revision}})
      .Set(1);

  auto& events = prometheus::BuildCounter()
                     .Name("llm_exporter_events_total")
                     .Help("Usage events received, by transport and result.")
                     .Register(registry);
  auto& rejected = prometheus::BuildCounter()
                       .Name("llm_exporter_events_rejected_total")
                       .Help("Usage events refused, by transport and reason.")
                       .Register(registry);
  for (Transport t : kTransports) {
    const auto ti = static_cast<std::size_t>(t);
    const std::string tn(TransportName(t));
    accepted_[ti] = &events.Add({{"transport", tn}, {"result", "accepted"}});
    rejected_total_[ti] = &events.Add({{"transport", tn}, {"result", "rejected"}});
    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
      rejected_[ti][r] =
          &rejected.Add({{"transport", tn}, {"reason", std::string(RejectReasonName(static_cast<RejectReason>(r)))}});
    }
  }

  auto& otlp = prometheus::BuildCounter()
                   .Name("llm_exporter_otlp_records_total")
                   .Help("OTLP log records received, by signal and result (accepted, rejected, ignored: not a usage "
                         "event). Reasons of rejections: llm_exporter_events_rejected_total{transport=\"otlp\"}.")
                   .Register(registry);
  for (std::size_t si = 0; si < kOtlpSignals.size(); ++si) {
    for (std::size_t ri = 0; ri < kOtlpRecordResults.size(); ++ri) {
      otlp_records_[si][ri] =
          &otlp.Add({{"signal", std::string(kOtlpSignals[si])}, {"result", std::string(kOtlpRecordResults[ri])}});
    }
  }

  auto& otlp_ignored = prometheus::BuildCounter()
                           .Name("llm_exporter_otlp_ignored_total")
                           .Help("OTLP log records, data points and spans not counted without being refused, by signal "
                                 "and reason (not_usage, duplicate, stale, baseline, unchanged, covered).")
                           .Register(registry);
  auto& otlp_rejected = prometheus::BuildCounter()
                            .Name("llm_exporter_otlp_rejected_total")
                            .Help("OTLP log records, data points and spans refused, by signal and reason.")
                            .Register(registry);
  for (std::size_t si = 0; si < kOtlpSignals.size(); ++si) {
    const std::string signal(kOtlpSignals[si]);
    for (std::size_t r = 0; r < kOtlpIgnoreReasons.size(); ++r) {
      otlp_ignored_[si][r] = &otlp_ignored.Add({{"signal", signal}, {"reason", std::string(kOtlpIgnoreReasons[r])}});
    }
    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
      otlp_rejected_[si][r] = &otlp_rejected.Add(
          {{"signal", signal}, {"reason", std::string(RejectReasonName(static_cast<RejectReason>(r)))}});
    }
  }
  otlp_streams_ = &prometheus::BuildGauge()
                       .Name("llm_exporter_otlp_streams")
                       .Help("OTLP metric streams tracked (delta intervals counted, cumulative last values).")
                       .Register(registry)
                       .Add({});
  otlp_streams_evicted_ = &prometheus::BuildCounter()
                               .Name("llm_exporter_otlp_streams_evicted_total")
                               .Help("OTLP metric streams forgotten because the stream table was full.")
                               .Register(registry)
                               .Add({});

  auto& overflow = prometheus::BuildCounter()
                       .Name("llm_exporter_label_overflow_total")
                       .Help("Events whose label values were folded into __overflow__ because a cardinality cap was "
                             "reached: a label's own cap (label=<its name>) or the cap on label sets "
                             "(label=__label_sets__).")
                       .Register(registry);
  std::vector<std::string> guarded = config.attribution_labels;
  guarded.push_back("model");
  guarded.push_back("provider");
  guarded.emplace_back(kLabelSetsCap);
  for (const auto& label : guarded) overflow_[label] = &overflow.Add({{"label", label}});

  label_sets_ = &prometheus::BuildGauge()
                     .Name("llm_exporter_label_sets")
                     .Help("Distinct request label sets held; each is a group of series.")
                     .Register(registry)
                     .Add({});

  auto& budgets = prometheus::BuildGauge()
                      .Name("llm_budget_usd")
                      .Help("Configured spend budgets in USD, by scope and period.")
                      .Register(registry);
  for (const auto& b : config.budgets) budgets.Add({{"scope", b.scope}, {"period", b.period}}).Set(b.usd);

  pricing_as_of_ = &prometheus::BuildGauge()
                        .Name("llm_exporter_pricing_as_of_timestamp_seconds")
                        .Help("The loaded price table's as_of date, as a Unix time.")
                        .Register(registry)
                        .Add({});
  pricing_models_ = &prometheus::BuildGauge()
                         .Name("llm_exporter_pricing_models")
                         .Help("Models in the loaded price table.")
                         .Register(registry)
                         .Add({});
  pricing_last_ok_ = &prometheus::BuildGauge()
                          .Name("llm_exporter_pricing_last_reload_successful")
                          .Help("1 if the last price table load succeeded, 0 if the previous table was kept.")
                          .Register(registry)
                          .Add({});
  auto& reloads = prometheus::BuildCounter()
                      .Name("llm_exporter_pricing_reloads_total")
                      .Help("Price table loads and reloads, by result.")
                      .Register(registry);
  reload_success_ = &reloads.Add({{"result", "success"}});
  reload_failure_ = &reloads.Add({{"result", "failure"}});
}

void ExporterMetrics::OtlpIgnored(std::size_t signal, OtlpIgnoreReason reason, double n) {
  if (n > 0 && signal < kOtlpSignals.size()) otlp_ignored_[signal][static_cast<std::size_t>(reason)]->Increment(n);
}

void ExporterMetrics::OtlpRejected(std::size_t signal, RejectReason reason, double n) {
  if (n > 0 && signal < kOtlpSignals.size()) otlp_rejected_[signal][static_cast<std::size_t>(reason)]->Increment(n);
}

void ExporterMetrics::OtlpStreamsTracked(std::size_t streams, std::uint64_t evicted_total) {
  otlp_streams_->Set(static_cast<double>(streams));
  std::uint64_t seen = otlp_evicted_seen_.load();
  while (evicted_total > seen && !otlp_evicted_seen_.compare_exchange_weak(seen, evicted_total)) {
  }
  if (evicted_total > seen) otlp_streams_evicted_->Increment(static_cast<double>(evicted_total - seen));
}

void ExporterMetrics::OtlpSourceSeen(const OtlpSource& source, double unix_seconds) {
  constexpr std::size_t kMaxValue = 64;
  std::pair<std::string, std::string> key{source.service_name.empty() ? "unknown" : SanitizeLabelValue(source.service_name, kMaxValue),
                                          source.service_version.empty() ? "unknown"
                                                                         : SanitizeLabelValue(source.service_version, kMaxValue)};
  std::lock_guard lock(otlp_sources_mu_);
  auto it = otlp_sources_.find(key);
  if (it == otlp_sources_.end()) {
    if (otlp_sources_.size() >= kMaxOtlpSources) key = {std::string(kOverflowValue), std::string(kOverflowValue)};
    it = otlp_sources_.find(key);
    if (it == otlp_sources_.end()) {
      it = otlp_sources_
               .emplace(key, &otlp_sources_family_.Add({{"service_name", key.first}, {"service_version", key.second}}))
               .first;
    }
  }
  it->second->Set(unix_seconds);
}

void ExporterMetrics::Accepted(Transport t, double n) { accepted_[static_cast<std::size_t>(t)]->Increment(n); }

void ExporterMetrics::OtlpRecords(std::size_t signal, OtlpRecordResult result, double n) {
  if (n > 0 && signal < kOtlpSignals.size()) otlp_records_[signal][static_cast<std::size_t>(result)]->Increment(n);
}

void ExporterMetrics::Rejected(Transport t, RejectReason reason, double n) {
  const auto ti = static_cast<std::size_t>(t);
  rejected_total_[ti]->Increment(n);
  rejected_[ti][static_cast<std::size_t>(reason)]->Increment(n);
}

void ExporterMetrics::LabelOverflow(const std::string& label) {
  if (auto it = overflow_.find(label); it != overflow_.end()) it->second->Increment();
}

void ExporterMetrics::SetLabelSets(std::size_t n) { label_sets_->Set(static_cast<double>(n)); }

void ExporterMetrics::PricingLoaded(const PriceTable& table) {
  std::lock_guard lock(pricing_mu_);
  if (pricing_info_ != nullptr) pricing_info_family_.Remove(pricing_info_);
  // origin: "embedded" (built into the binary) or "file" (--pricing.file, named in `file`).
  const bool embedded = table.origin() == "embedded";
  pricing_info_ = &pricing_info_family_.Add({{"as_of", table.as_of()},
                                             {"source", table.source()},
                                             {"origin", embedded ? "embedded" : "file"},
                                             {"file", embedded ? "" : table.origin()}});
  pricing_info_->Set(1);
  pricing_as_of_->Set(static_cast<double>(table.as_of_unix_seconds()));
  pricing_models_->Set(static_cast<double>(table.size()));
  pricing_last_ok_->Set(1);
  reload_success_->Increment();
}

namespace {
constexpr std::array<std::string_view, 2> kEventResults = {"accepted", "rejected"};
}  // namespace

ExporterCountersState ExporterMetrics::Snapshot() const {
  ExporterCountersState s;
  for (Transport t : kTransports) {
    const auto ti = static_cast<std::size_t>(t);
    const std::string tn(TransportName(t));
    s.events[tn]["accepted"] = accepted_[ti]->Value();
    s.events[tn]["rejected"] = rejected_total_[ti]->Value();
    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
      s.rejected[tn][std::string(RejectReasonName(static_cast<RejectReason>(r)))] = rejected_[ti][r]->Value();
    }
  }
  for (const auto& [label, counter] : overflow_) s.label_overflow[label] = counter->Value();
  s.udp_receive_dropped = udp_dropped_->Value();
  return s;
}

void ExporterMetrics::Restore(const ExporterCountersState& s, RestoreReport& report) {
  auto add = [](prometheus::Counter* c, double v) {
    if (v > 0) c->Increment(v);
  };
  auto transport_of = [&](const std::string& name) -> int {
    for (Transport t : kTransports) {
      if (TransportName(t) == name) return static_cast<int>(t);
    }
    report.Unknown("transport", name);
    return -1;
  };
  for (const auto& [transport, results] : s.events) {
    const int t = transport_of(transport);
    if (t < 0) continue;
    for (const auto& [result, v] : results) {
      if (result == kEventResults[0]) {
        add(accepted_[static_cast<std::size_t>(t)], v);
      } else if (result == kEventResults[1]) {
        add(rejected_total_[static_cast<std::size_t>(t)], v);
      } else {
        report.Unknown("event_result", result);
      }
    }
  }
  for (const auto& [transport, reasons] : s.rejected) {
    const int t = transport_of(transport);
    if (t < 0) continue;
    for (const auto& [reason, v] : reasons) {
      std::size_t r = 0;
      while (r < kRejectReasonCount && RejectReasonName(static_cast<RejectReason>(r)) != reason) ++r;
      if (r == kRejectReasonCount) {
        report.Unknown("reject_reason", reason);
        continue;
      }
      add(rejected_[static_cast<std::size_t>(t)][r], v);
    }
  }
  // A label no longer guarded (removed from labels.attribution) has no series to restore into.
  for (const auto& [label, v] : s.label_overflow) {
    if (auto it = overflow_.find(label); it != overflow_.end()) add(it->second, v);
  }
  add(udp_dropped_, s.udp_receive_dropped);
}

void ExporterMetrics::StateEntriesSkipped(const RestoreReport& report) {
  for (const auto& [kind, n] : report.skipped) state_skipped_.Add({{"kind", kind}}).Increment(n);
}

void ExporterMetrics::StateRestored(const std::string& result) { state_loads_.Add({{"result", result}}).Increment(); }

void ExporterMetrics::CheckpointWritten(double unix_seconds) {
  checkpoint_success_->Increment();
  last_checkpoint_->Set(unix_seconds);
}

void ExporterMetrics::CheckpointFailed() { checkpoint_failure_->Increment(); }

void ExporterMetrics::UdpKernelDrops(std::size_t socket, std::uint32_t cumulative) {
  if (socket >= kMaxUdpSockets) return;
  // Each socket's thread reports its own count; the exchange keeps a late report
  // from counting twice.
  const std::uint32_t previous = udp_dropped_seen_[socket].exchange(cumulative);
  const std::uint32_t delta = cumulative - previous;  // wraps correctly at 2^32
  if (delta > 0 && delta < (1u << 31)) udp_dropped_->Increment(delta);
}

void ExporterMetrics::PricingReloadFailed() {
  std::lock_guard lock(pricing_mu_);
  pricing_last_ok_->Set(0);
  reload_failure_->Increment();
}

}  // namespace llmcost
