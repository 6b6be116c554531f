#pragma once
// ScrapedValue: the sum of a metric's series that carry `labels` (a subset match), as
// a scrape of an in-process registry would show them: new label sets made live first
// (zero-first duration 0), and the record stage's exact money series, which are not in
// the registry, included. Counters and gauges alike. One copy for the OTLP tests.
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "record/request_metrics.h"

namespace llmcost {

inline double ScrapedValue(prometheus::Registry& registry, RequestMetrics& requests, const std::string& name,
                           const std::map<std::string, std::string>& labels) {
  requests.FinishScrape(requests.BeginScrape());
  requests.FinishScrape(requests.BeginScrape());
  auto families = registry.Collect();
  for (auto& f : requests.CollectMoney()) families.push_back(std::move(f));
  double sum = 0;
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (match) sum += m.counter.value + m.gauge.value;
    }
  }
  return sum;
}

}  // namespace llmcost
