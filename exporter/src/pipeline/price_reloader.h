#pragma once
// PriceReloader: reloads the price table (SIGHUP, POST /-/reload) and reports it
// (llm_exporter_pricing_* series, a log line). Reloads are serialized: the signal
// thread and an HTTP worker may reload at once, and without this one could publish
// its table's series after the other had swapped in a newer table (and both wrote
// the pricing_info series handle unsynchronized: a data race, issue 13 item 9).
#include <mutex>
#include <string>

#include "pricing/price_book.h"
#include "record/exporter_metrics.h"

namespace llmcost {

class PriceReloader {
 public:
  PriceReloader(PriceBook& prices, ExporterMetrics& metrics, std::string path)
      : prices_(prices), metrics_(metrics), path_(std::move(path)) {}

  // "" when the file loaded and is in force; else why not (the old table stays).
  std::string Reload();

 private:
  PriceBook& prices_;
  ExporterMetrics& metrics_;
  const std::string path_;
  std::mutex mu_;
};

}  // namespace llmcost
