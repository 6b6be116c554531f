#pragma once
// Standard process_* metrics (CPU, memory, file descriptors, start time) read from
// /proc/self, as every Prometheus client library exposes them.
#include <prometheus/metric_family.h>

#include <vector>

namespace llmcost {

std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace llmcost
