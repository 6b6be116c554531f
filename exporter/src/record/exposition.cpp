#include "record/exposition.h"

#include <prometheus/text_serializer.h>

#include <malloc.h>

#include <sstream>

#include "record/process_metrics.h"

namespace llmcost {

Exposition::Exposition(std::shared_ptr<prometheus::Registry> registry, RequestMetrics& request_metrics)
    : registry_(std::move(registry)), request_metrics_(request_metrics) {}

std::string Exposition::Render() {
  std::vector<prometheus::MetricFamily> computed;
  for (const auto& collect : collectors_) {
    for (auto& f : collect()) computed.push_back(std::move(f));
  }
  const std::uint64_t token = request_metrics_.BeginScrape();
  auto families = registry_->Collect();
  for (auto& f : computed) families.push_back(std::move(f));
  for (auto& f : CollectProcessMetrics()) families.push_back(std::move(f));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  // Only now, with the zero values rendered, may new label sets receive their events.
  request_metrics_.FinishScrape(token);
  std::string text = out.str();
  families.clear();
  families.shrink_to_fit();
  // A scrape builds a full copy of every series (prometheus-cpp's Collect) and the
  // text; hand those pages back so RSS tracks the live series, not the last scrape.
  malloc_trim(0);
  return text;
}

}  // namespace llmcost
