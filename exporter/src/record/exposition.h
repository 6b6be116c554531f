#pragma once
// Exposition: renders /metrics (Prometheus text format 0.0.4) from the registry and
// the process metrics, and runs the request metrics' scrape protocol around it:
// every Render() is a scrape (it can start a new label set's time at zero). A HEAD
// of the telemetry path is not one: the web listener answers it without rendering.
#include <prometheus/registry.h>

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
  // Run before every scrape collects the registry (recorders that compute gauges
  // at scrape time, e.g. TaskTracker::Refresh). Add before serving.
  void AddScrapeHook(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  RequestMetrics& request_metrics_;
  std::vector<std::function<void()>> hooks_;
};

}  // namespace llmcost
