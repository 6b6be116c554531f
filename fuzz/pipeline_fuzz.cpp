// libFuzzer target: the whole in-process pipeline (split -> parse -> price ->
// record) with the shipped price table, plus a scrape every few inputs so the
// record stage's scrape protocol and the text exposition run on fuzzed label
// values. The exporter's own counters are checked against what Ingest reported.
#include <prometheus/registry.h>

#include <algorithm>
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

#ifndef LLM_COST_SOURCE_DIR
#error "LLM_COST_SOURCE_DIR must point at the repository (for exporter/pricing/prices.yml)"
#endif

namespace {

using namespace llmcost;

// Small caps so label overflow is reached quickly; the whole state is rebuilt every
// kInputsPerState inputs so a long run's memory stays bounded.
constexpr std::size_t kInputsPerState = 2000;
constexpr std::size_t kInputsPerScrape = 128;

void Fail(const char* what) {
  std::fprintf(stderr, "contract violation: %s\n", what);
  std::abort();
}

ExporterConfig FuzzConfig() {
  ExporterConfig config;
  config.attribution_labels = {"feature", "tenant", "route"};
  config.histogram_label = "feature";
  config.max_values_per_label = 3;
  config.max_models = 4;
  config.max_providers = 2;
  config.max_label_value_length = 16;
  config.budgets = {{"global", "month", 100}};
  return config;
}

// The checks below scan the whole exposition text. They are left without coverage
// hooks: a hook on every byte cost more than the pipeline itself and guides the
// fuzzer nowhere.
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

// The sample value of llm_exporter_events_total{transport="http",result=...}, or -1.
NO_COVERAGE double EventsTotal(const std::string& text, std::string_view result) {
  const std::string want = "result=\"" + std::string(result) + "\"";
  std::size_t pos = 0;
  while ((pos = text.find("llm_exporter_events_total{", pos)) != std::string::npos) {
    const std::size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol - pos);
    pos = eol;
    if (line.find(want) != std::string::npos && line.find("transport=\"http\"") != std::string::npos) {
      return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return -1;
}

NO_COVERAGE bool ValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

struct State {
  ExporterConfig config = FuzzConfig();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter_metrics{*registry, config, "fuzz", "fuzz"};
  PriceBook prices{PriceTable::LoadFile(LLM_COST_SOURCE_DIR "/exporter/pricing/prices.yml")};
  RequestMetrics request_metrics{config, exporter_metrics};
  Exposition exposition{registry, request_metrics};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, request_metrics, exporter_metrics};
  std::size_t inputs = 0;
  double accepted = 0;
  double rejected = 0;

  State() { exporter_metrics.PricingLoaded(*prices.Current()); }

  void Scrape() {
    const std::string text = exposition.Render();
    if (!ValidUtf8(text)) Fail("the exposition is not valid UTF-8");
    if (EventsTotal(text, "accepted") != accepted) Fail("events_total{result=accepted} != accepted events");
    if (EventsTotal(text, "rejected") != rejected) Fail("events_total{result=rejected} != rejected events");
  }
};

std::unique_ptr<State> g_state;

// "[]" (white space allowed) is a batch of no events: the one body with no outcome.
bool IsEmptyArray(std::string_view body) {
  const auto open = body.find_first_not_of(" \t\r\n");
  if (open == std::string_view::npos || body[open] != '[') return false;
  const auto close = body.find_first_not_of(" \t\r\n", open + 1);
  return close != std::string_view::npos && body[close] == ']' &&
         body.find_first_not_of(" \t\r\n", close + 1) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Rejections are logged (rate-limited) through the real logger; errors only, so
  // the fuzzer's output stays readable.
  InitLogging(LogFormat::kLogfmt, LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!g_state || g_state->inputs >= kInputsPerState) {
    if (g_state) g_state->Scrape();
    g_state = std::make_unique<State>();
  }
  State& s = *g_state;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const IngestResult r = s.pipeline.Ingest(body, Transport::kHttp, 8);
  if (r.accepted + r.rejected == 0 && !IsEmptyArray(body)) {
    Fail("a body produced no accepted and no rejected event");
  }
  if (r.errors.size() != std::min<std::size_t>(r.rejected, 8)) Fail("errors do not match the rejected count");
  s.accepted += static_cast<double>(r.accepted);
  s.rejected += static_cast<double>(r.rejected);
  if (++s.inputs % kInputsPerScrape == 0) s.Scrape();
  return 0;
}
