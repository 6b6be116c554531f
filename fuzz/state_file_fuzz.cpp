// libFuzzer target: the state file decoder and validator, then a restore of what
// it accepted. An input starting with the file magic is decoded as is; any other
// input is a JSON body that gets a valid header and CRC (its first byte picks
// format 1 or 2), so fuzzing reaches the field-by-field validation instead of
// stopping at the checksum. Contract: no crash; a decoded state restores without
// crashing and its snapshot encodes to a file that decodes again.
#include <prometheus/registry.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "config/exporter_config.h"
#include "event/event_parser.h"
#include "log/structured_log.h"
#include "pipeline/event_pipeline.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_metrics.h"
#include "storage/state_file.h"

#ifndef LLM_COST_SOURCE_DIR
#error "LLM_COST_SOURCE_DIR must point at the repository (for exporter/pricing/prices.yml)"
#endif

namespace {

using namespace llmcost;

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "contract violation: %s: %s\n", what, detail.c_str());
  std::abort();
}

std::string WithHeader(std::string_view input) {
  const int version = input.empty() || (static_cast<unsigned char>(input[0]) & 1) ? 1 : 2;
  const std::string body(input.empty() ? input : input.substr(1));
  char header[128];
  std::snprintf(header, sizeof header, "LLMCOSTSTATE %d %08lx %zu 0\n", version,
                crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())), body.size());
  return header + body;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitLogging(LogFormat::kLogfmt, LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static PriceBook prices(PriceTable::LoadFile(LLM_COST_SOURCE_DIR "/exporter/pricing/prices.yml"));
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string bytes = input.rfind("LLMCOSTSTATE", 0) == 0 ? std::string(input) : WithHeader(input);
  std::string error;
  const auto state = DecodeState(bytes, error);
  if (!state) {
    if (error.empty()) Fail("refused without a reason", "");
    return 0;
  }
  ExporterConfig config;
  config.max_values_per_label = 3;  // restore re-admits past the caps; keep live ones small
  auto registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter_metrics(*registry, config, "fuzz", "fuzz");
  RequestMetrics request_metrics(config, exporter_metrics);
  Exposition exposition(registry, request_metrics);
  RequestIdWindow ids(1000, 86400);
  EventPipeline pipeline(EventParser(config.attribution_labels), prices, request_metrics, exporter_metrics, &ids);
  const RestoreReport report = pipeline.Restore(*state);
  (void)exposition.Render();
  std::string again_error;
  if (!DecodeState(EncodeState(pipeline.Snapshot()), again_error)) {
    Fail("a restored state's snapshot does not decode", again_error);
  }
  (void)report;
  return 0;
}
