#pragma once
// ScrapedValue: the sum of a metric's series that carry `labels` (a subset match), as
// a scrape of an in-process registry would show them: new label sets made live first
// (zero-first duration 0), and the record stage's series, which are written by
// RequestMetrics::WriteText rather than kept in the registry, included. Counters and
// gauges alike. One copy for the OTLP tests.
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>
#include <string>

#include "exposition_text.h"
#include "record/request_metrics.h"

namespace llmcost {

inline double ScrapedValue(prometheus::Registry& registry, RequestMetrics& requests, const std::string& name,
                           const std::map<std::string, std::string>& labels) {
  requests.FinishScrape(requests.BeginScrape());
  requests.FinishScrape(requests.BeginScrape());
  std::string text;
  requests.WriteText(text);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry.Collect());
  text += out.str();
  double sum = 0;
  for (const auto& [key, value] : ParseExposition(text)) {
    if (key.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const auto it = key.labels.find(k);
      match = match && it != key.labels.end() && it->second == v;
    }
    if (match) sum += std::stod(value);
  }
  return sum;
}

}  // namespace llmcost
