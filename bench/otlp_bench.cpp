// OTLP ingest throughput in process (Google Benchmark): what the receiver's
// handler (decode, price, record; no sockets) takes per log record, data point and
// span, for protobuf bodies shaped like Claude Code's (api_request records, token
// and cost counters) and GenAI spans. Items/s are log records, data points or spans
// per second on one core. docs/benchmarks.md, "OTLP ingest", has the figures.
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "otlp_logs.pb.h"
#include "otlp_metrics.pb.h"
#include "otlp_traces.pb.h"
#include "pipeline/event_pipeline.h"
#include "pricing/price_book.h"
#include "transport/otlp_server.h"

namespace llmcost {
namespace {

constexpr int kPerRequest = 500;  // records, points or spans per request (an SDK batch)
constexpr int kBodies = 64;       // distinct bodies cycled through

std::uint64_t NowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

template <typename KVs>
void Add(KVs* kvs, const std::string& k, const std::string& v) {
  auto* kv = kvs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}
template <typename KVs>
void AddInt(KVs* kvs, const std::string& k, std::int64_t v) {
  auto* kv = kvs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_int_value(v);
}

std::string LogsBody(int b) {
  otlp::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  Add(rl->mutable_resource()->mutable_attributes(), "service.name", "claude-code");
  Add(rl->mutable_resource()->mutable_attributes(), "team.id", "team-" + std::to_string(b % 8));
  auto* sl = rl->add_scope_logs();
  const std::uint64_t now = NowNs();
  for (int i = 0; i < kPerRequest; ++i) {
    auto* r = sl->add_log_records();
    r->set_time_unix_nano(now);
    r->mutable_body()->set_string_value("claude_code.api_request");
    auto* a = r->mutable_attributes();
    Add(a, "event.name", "api_request");
    Add(a, "model", "claude-sonnet-4-5-20250929");
    AddInt(a, "input_tokens", 1247);
    AddInt(a, "output_tokens", 389);
    AddInt(a, "cache_read_tokens", 20000);
    AddInt(a, "cache_creation_tokens", 3000);
    AddInt(a, "duration_ms", 2500);
    Add(a, "request_id", "req_" + std::to_string(b) + "_" + std::to_string(i));
    Add(a, "session.id", "s-" + std::to_string(i % 50));
    Add(a, "query_source", "repl_main_thread");
  }
  return req.SerializeAsString();
}

// 100 streams x 5 points (Claude Code's four token types and its cost), delta.
std::string MetricsBody(int b) {
  otlp::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  Add(rm->mutable_resource()->mutable_attributes(), "service.name", "claude-code");
  auto* sm = rm->add_scope_metrics();
  const std::uint64_t end = NowNs() - static_cast<std::uint64_t>(kBodies - b) * 60'000'000'000ULL;
  auto* tokens = sm->add_metrics();
  tokens->set_name("claude_code.token.usage");
  tokens->mutable_sum()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_DELTA);
  auto* cost = sm->add_metrics();
  cost->set_name("claude_code.cost.usage");
  cost->mutable_sum()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_DELTA);
  for (int s = 0; s < kPerRequest / 5; ++s) {
    for (const char* type : {"input", "output", "cacheRead", "cacheCreation"}) {
      auto* p = tokens->mutable_sum()->add_data_points();
      p->set_start_time_unix_nano(end - 60'000'000'000ULL);
      p->set_time_unix_nano(end);
      p->set_as_double(1000);
      Add(p->mutable_attributes(), "type", type);
      Add(p->mutable_attributes(), "model", "claude-sonnet-4-5-20250929");
      Add(p->mutable_attributes(), "session.id", "s-" + std::to_string(s));
    }
    auto* p = cost->mutable_sum()->add_data_points();
    p->set_start_time_unix_nano(end - 60'000'000'000ULL);
    p->set_time_unix_nano(end);
    p->set_as_double(0.05);
    Add(p->mutable_attributes(), "model", "claude-sonnet-4-5-20250929");
    Add(p->mutable_attributes(), "session.id", "s-" + std::to_string(s));
  }
  return req.SerializeAsString();
}

std::string SpansBody(int b) {
  otlp::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  Add(rs->mutable_resource()->mutable_attributes(), "service.name", "chat-app");
  auto* ss = rs->add_scope_spans();
  const std::uint64_t now = NowNs();
  for (int i = 0; i < kPerRequest; ++i) {
    auto* s = ss->add_spans();
    s->set_trace_id(std::string(16, static_cast<char>(b)));
    s->set_span_id(std::to_string(100000000 + i));
    s->set_start_time_unix_nano(now - 2'000'000'000ULL);
    s->set_end_time_unix_nano(now);
    auto* a = s->mutable_attributes();
    Add(a, "gen_ai.provider.name", "anthropic");
    Add(a, "gen_ai.request.model", "claude-sonnet-4-5-20250929");
    Add(a, "gen_ai.response.id", "msg_" + std::to_string(b) + "_" + std::to_string(i));
    AddInt(a, "gen_ai.usage.input_tokens", 24000);
    AddInt(a, "gen_ai.usage.cache_read.input_tokens", 20000);
    AddInt(a, "gen_ai.usage.output_tokens", 389);
  }
  return req.SerializeAsString();
}

struct World {
  ExporterConfig config;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "bench", "bench"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  // No dedupe window: the cycled bodies would otherwise be duplicates after one round.
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, nullptr};
  OtlpOptions options = [] {
    OtlpOptions o;
    o.mapping.labels = {{"tenant", {"team.id"}}, {"feature", {"query_source"}}};
    o.aggregate_hold_seconds = 0;  // price at once: the cost of the hold is not what is measured
    o.max_body_bytes = 64 * 1024 * 1024;
    return o;
  }();
  HttpService service = OtlpService(pipeline, exporter, options, HttpSecurity{});
};

void Run(benchmark::State& state, std::string_view path, std::string (*make)(int)) {
  World w;
  std::vector<HttpRequest> requests(kBodies);
  for (int b = 0; b < kBodies; ++b) {
    requests[b].method = "POST";
    requests[b].path = requests[b].target = std::string(path);
    requests[b].body = make(b);
    requests[b].headers.emplace_back("Content-Type", "application/x-protobuf");
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const HttpResponse r = w.service.handle(requests[i++ % kBodies]);
    if (r.status != 200) state.SkipWithError("not 200");
  }
  state.SetItemsProcessed(state.iterations() * kPerRequest);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(requests[0].body.size()));
}

void BM_OtlpLogRecords(benchmark::State& state) { Run(state, kOtlpLogsPath, LogsBody); }
void BM_OtlpDataPoints(benchmark::State& state) { Run(state, kOtlpMetricsPath, MetricsBody); }
void BM_OtlpSpans(benchmark::State& state) { Run(state, kOtlpTracesPath, SpansBody); }
BENCHMARK(BM_OtlpLogRecords)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OtlpDataPoints)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OtlpSpans)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace llmcost

BENCHMARK_MAIN();
