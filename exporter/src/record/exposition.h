#pragma once
// Exposition: renders /metrics (Prometheus text format 0.0.4) from the registry and
// the process metrics, and runs the request metrics' scrape protocol around it:
// every Render() is a scrape (it can start a new label set's time at zero). A HEAD
// of the telemetry path is not one: the web listener answers it without rendering.
#include <prometheus/registry.h>

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "record/request_metrics.h"

namespace llmcost {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

class Exposition {
 public:
  Exposition(std::shared_ptr<prometheus::Registry> registry, RequestMetrics& request_metrics);
  std::string Render();
  // Families computed at scrape time (the spend ledger rolls its periods over then).
  // Add before the first scrape.
  void AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect) {
    collectors_.push_back(std::move(collect));
  }
  // Run before every scrape collects the registry (recorders that compute gauges
  // at scrape time, e.g. TaskTracker::Refresh). Add before serving.
  void AddScrapeHook(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

 private:
  std::vector<std::function<std::vector<prometheus::MetricFamily>()>> collectors_;
  std::shared_ptr<prometheus::Registry> registry_;
  RequestMetrics& request_metrics_;
  std::vector<std::function<void()>> hooks_;
};

}  // namespace llmcost
