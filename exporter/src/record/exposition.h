#pragma once
// Exposition: renders /metrics (Prometheus text format 0.0.4): the record stage's
// request series written directly by RequestMetrics::WriteText (the bulk: 100,000
// series at scale), then the registry's families (the exporter's own metrics), the
// collectors' computed families and the process metrics through prometheus-cpp's
// TextSerializer. It runs the request metrics' scrape protocol around it:
// every Render() is a scrape (it can start a new label set's time at zero). A HEAD
// of the telemetry path is not one: the web listener answers it without rendering.
#include <prometheus/registry.h>

#include <prometheus/metric_family.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "record/request_metrics.h"

namespace llmcost {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// Scrape compression: Prometheus asks for gzip (Accept-Encoding: gzip), and at
// 100,000 series the text is ~20 MB, about 20x less compressed. True when the
// header accepts gzip (a "gzip" or "*" coding without q=0).
bool AcceptsGzip(std::string_view accept_encoding);
// The text gzip-compressed (fast level: a scrape's time is mostly rendering).
std::string GzipText(std::string_view text);

class Exposition {
 public:
  Exposition(std::shared_ptr<prometheus::Registry> registry, RequestMetrics& request_metrics);
  std::string Render();
  // Run at every scrape, in the order added, before anything is rendered:
  // returns families computed at scrape time (the spend ledger rolls its periods
  // over then), or none when it only updates registry series (TaskTracker::Refresh
  // sets its gauges). Add before the first scrape.
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;
  void AddCollector(Collector collect) { collectors_.push_back(std::move(collect)); }

 private:
  std::vector<Collector> collectors_;
  std::shared_ptr<prometheus::Registry> registry_;
  RequestMetrics& request_metrics_;
  std::atomic<std::size_t> last_size_{0};  // of the last text, to reserve the next
};

}  // namespace llmcost
