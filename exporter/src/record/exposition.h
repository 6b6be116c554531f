#pragma once
// Exposition: renders /metrics (Prometheus text format 0.0.4) from the registry and
// the process metrics, and runs the request metrics' scrape protocol around it.
// What counts as a scrape is decided here: a GET does; a HEAD (a health check, a
// load balancer) is a probe, which sees the same text but starts no label set's
// time at zero and makes none live (docs/metrics.md, "New series appear at zero
// first").
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "record/request_metrics.h"

namespace llmcost {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

class Exposition {
 public:
  Exposition(std::shared_ptr<prometheus::Registry> registry, RequestMetrics& request_metrics);
  enum class Request : std::uint8_t { kScrape, kProbe };
  std::string Render(Request request = Request::kScrape);
  // What an HTTP method of the telemetry path is: HEAD is a probe.
  static Request RequestFor(std::string_view http_method);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  RequestMetrics& request_metrics_;
};

}  // namespace llmcost
