// In-process microbenchmarks of each stage (Google Benchmark): what one event costs
// to split, parse, price and record, and what a scrape costs at a given size.
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "event/batch_splitter.h"
#include "event/event_parser.h"
#include "pipeline/event_pipeline.h"
#include "pricing/price_book.h"
#include "pricing/pricer.h"
#include "record/exposition.h"
#include "record/spend_ledger.h"
#include "record/prompt_repeats.h"
#include "record/task_tracker.h"

namespace llmcost {
namespace {

const std::string kEvent =
    R"({"model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":1247,"output_tokens":612,)"
    R"("cache_read_input_tokens":28430,"cache_creation_input_tokens":0,"cache_creation":)"
    R"({"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"server_tool_use":)"
    R"({"web_search_requests":0},"service_tier":"standard"},"latency_ms":2300,"ttft_ms":420,)"
    R"("status":200,"error_type":null,"stop_reason":"end_turn","batch":false,)"
    R"("labels":{"feature":"chat","tenant":"acme","route":"/api/chat"},"request_id":"msg_01","task_id":"conv-42","prompt_hash":"9f2c1e"})";

std::shared_ptr<const PriceTable> Prices() {
  static auto t = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return t;
}

ExporterConfig BenchConfig() {
  ExporterConfig c;
  c.max_values_per_label = 100000;  // measure series, not the overflow fold
  c.max_label_sets = 100000;
  return c;
}

struct World {
  ExporterConfig config = BenchConfig();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "bench", "bench"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{Prices()};
  TaskTracker tasks{*registry, config};
  PromptRepeats prompts{*registry, config, TaskTracker::SteadyMs};
  EventPipeline pipeline{EventParser(config.attribution_labels, config.tasks.id_fields), prices, requests, exporter};
  Exposition exposition{registry, requests};
  // A new label set's series are served at zero by the first scrape and take
  // events from the next (zero-first; 0 s in process): two scrapes, so that a loop
  // records into live series, as production does after a set's first 30 s. (Until
  // 2026-12-02 the workloads scraped once, and every measured event was held
  // back in its set's pending queue instead.)
  void GoLive() {
    exposition.Render();
    exposition.Render();
  }
  explicit World(bool track_tasks = true) {
    if (!track_tasks) return;
    // kEvent carries a task_id and a prompt_hash: every event takes both recorders' paths.
    pipeline.SetTaskTracker(&tasks);
    pipeline.SetPromptRepeats(&prompts);
    exposition.AddCollector([this] {
      tasks.Refresh();
      return std::vector<prometheus::MetricFamily>{};
    });
    exposition.AddCollector([this] {
      prompts.Refresh();
      return std::vector<prometheus::MetricFamily>{};
    });
  }
};

void BM_SplitAndParse(benchmark::State& state) {
  const EventParser parser({"feature", "tenant", "route"});
  EventBatch batch;
  for (auto _ : state) {
    SplitBatch(kEvent, batch);
    benchmark::DoNotOptimize(parser.Parse(std::get<JsonValue>(batch.Item(0)), 0));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SplitAndParse);

void BM_Price(benchmark::State& state) {
  const EventParser parser({"feature", "tenant", "route"});
  EventBatch batch;
  SplitBatch(kEvent, batch);
  const auto event = std::get<UsageEvent>(parser.Parse(std::get<JsonValue>(batch.Item(0)), 0));
  const auto table = Prices();
  for (auto _ : state) benchmark::DoNotOptimize(PriceRequest(event, *table));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Price);

// The whole pipeline for one datagram, with label sets already live.
void BM_IngestOneEvent(benchmark::State& state) {
  World w;
  w.pipeline.Ingest(kEvent, Transport::kUdp, 0);
  w.GoLive();
  for (auto _ : state) w.pipeline.Ingest(kEvent, Transport::kUdp, 0);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IngestOneEvent);

// The same without the task tracker and the prompt-repeat detector: the
// difference is their cost per event.
void BM_IngestOneEventNoTaskTracker(benchmark::State& state) {
  World w(false);
  w.pipeline.Ingest(kEvent, Transport::kUdp, 0);
  w.GoLive();
  for (auto _ : state) w.pipeline.Ingest(kEvent, Transport::kUdp, 0);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IngestOneEventNoTaskTracker);

// A new task id on every event (worst case: insert, and eviction once the table
// is full at tasks.max_tasks).
void BM_IngestDistinctTasks(benchmark::State& state) {
  World w;
  w.pipeline.Ingest(kEvent, Transport::kUdp, 0);
  w.GoLive();
  std::string e = kEvent;
  const std::size_t at = e.find("conv-42");
  std::uint64_t n = 0;
  for (auto _ : state) {
    const std::string id = std::to_string(n++ % 1'000'000'000ULL);
    std::string body = e.substr(0, at) + id + e.substr(at + 7);
    w.pipeline.Ingest(body, Transport::kUdp, 0);
  }
  state.counters["active_tasks"] = static_cast<double>(w.tasks.active());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IngestDistinctTasks);

// /metrics render at N label sets (each is ~15 request series + shared histograms).
void BM_Render(benchmark::State& state) {
  World w;
  const int sets = static_cast<int>(state.range(0));
  for (int i = 0; i < sets; ++i) {
    std::string e = kEvent;
    e.replace(e.find("\"acme\""), 6, "\"t" + std::to_string(i) + "\"");
    w.pipeline.Ingest(e, Transport::kUdp, 0);
  }
  std::string text = w.exposition.Render();
  std::size_t series = 0;
  // Lines that are samples: not comments, and not the end after the final newline.
  for (std::size_t p = 0; (p = text.find('\n', p)) != std::string::npos; ++p)
    series += p + 1 < text.size() && text[p + 1] != '#';
  for (auto _ : state) benchmark::DoNotOptimize(text = w.exposition.Render());
  state.counters["series"] = static_cast<double>(series);
  state.counters["bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_Render)->Arg(60)->Arg(600)->Arg(6000)->Unit(benchmark::kMillisecond);

// The whole pipeline as production runs it: request-id de-duplication and the spend
// ledger on, every event a distinct request id, 64 live label sets (tenants) in
// turn. A fixed number of iterations, so that `valgrind --tool=callgrind
// --toggle-collect='*IngestWorkload*'` gives instructions per event that repeat
// from run to run (Ir / kWorkloadEvents); docs/benchmarks.md, "Instructions per event".
constexpr int kWorkloadEvents = 20000;
constexpr int kWorkloadTenants = 64;

std::vector<std::string> WorkloadBodies() {
  std::vector<std::string> bodies;
  bodies.reserve(kWorkloadEvents);
  for (int i = 0; i < kWorkloadEvents; ++i) {
    std::string e = kEvent;
    e.replace(e.find("\"acme\""), 6, "\"t" + std::to_string(i % kWorkloadTenants) + "\"");
    e.replace(e.find("\"msg_01\""), 8, "\"msg_" + std::to_string(i) + "\"");
    bodies.push_back(std::move(e));
  }
  return bodies;
}

struct DedupWorld : World {
  RequestIdWindow ids{1000000, 600};
  SpendLedger ledger{config};
  EventPipeline dedup_pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  DedupWorld() { dedup_pipeline.SetSpendLedger(&ledger); }
};

__attribute__((noinline)) std::size_t IngestWorkload(EventPipeline& pipeline, const std::vector<std::string>& bodies,
                                                     std::size_t from, std::size_t to) {
  std::size_t accepted = 0;
  for (std::size_t i = from; i < to; ++i) accepted += pipeline.Ingest(bodies[i], Transport::kUdp, 0).accepted;
  return accepted;
}

void BM_PipelineWorkload(benchmark::State& state) {
  static const std::vector<std::string> bodies = WorkloadBodies();
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<DedupWorld>();
    // Every tenant's label set created and live first: the loop measures steady state.
    for (int t = 0; t < kWorkloadTenants; ++t) w->pipeline.Ingest(bodies[static_cast<std::size_t>(t)], Transport::kUdp, 0);
    w->GoLive();
    state.ResumeTiming();
    const std::size_t accepted = IngestWorkload(w->dedup_pipeline, bodies, 0, bodies.size());
    if (accepted != bodies.size()) state.SkipWithError("events refused");
    state.PauseTiming();
    w.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kWorkloadEvents);
}
BENCHMARK(BM_PipelineWorkload)->Iterations(1)->Unit(benchmark::kMillisecond);

// The same, wired as main.cpp wires production: de-duplication, the spend ledger,
// the task tracker and the prompt-repeat detector all on. A task spans 20 events
// (an agent loop's calls) and one request in 8 repeats an earlier prompt hash, so
// both recorders do their insert, update and lookup work. Counted by the same
// method: `valgrind --tool=callgrind --toggle-collect='*IngestProduction*'
// build/bench/llm-bench-pipeline --benchmark_filter=BM_ProductionWorkload`.
std::vector<std::string> ProductionBodies(int events, int first_id) {
  std::vector<std::string> bodies;
  bodies.reserve(static_cast<std::size_t>(events));
  for (int i = 0; i < events; ++i) {
    const int n = first_id + i;
    std::string e = kEvent;
    e.replace(e.find("\"acme\""), 6, "\"t" + std::to_string(n % kWorkloadTenants) + "\"");
    e.replace(e.find("\"msg_01\""), 8, "\"msg_" + std::to_string(n) + "\"");
    e.replace(e.find("\"conv-42\""), 9, "\"conv-" + std::to_string(n / 20) + "\"");
    e.replace(e.find("\"9f2c1e\""), 8, "\"p" + std::to_string(n % 8 == 0 ? n / 8 : n) + "\"");
    bodies.push_back(std::move(e));
  }
  return bodies;
}

struct ProductionWorld : World {
  RequestIdWindow ids{1000000, 600};
  SpendLedger ledger{config};
  EventPipeline production{EventParser(config.attribution_labels, config.tasks.id_fields), prices, requests, exporter,
                           &ids};
  ProductionWorld() {
    production.SetTaskTracker(&tasks);
    production.SetPromptRepeats(&prompts);
    production.SetSpendLedger(&ledger);
    exposition.AddCollector([this] { return ledger.Collect(); });
  }
};

__attribute__((noinline)) std::size_t IngestProduction(EventPipeline& pipeline, const std::vector<std::string>& bodies) {
  std::size_t accepted = 0;
  for (const auto& body : bodies) accepted += pipeline.Ingest(body, Transport::kUdp, 0).accepted;
  return accepted;
}

void BM_ProductionWorkload(benchmark::State& state) {
  static const std::vector<std::string> warm = ProductionBodies(kWorkloadTenants, 10'000'000);
  static const std::vector<std::string> bodies = ProductionBodies(kWorkloadEvents, 0);
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<ProductionWorld>();
    for (const auto& body : warm) w->production.Ingest(body, Transport::kUdp, 0);
    w->GoLive();
    state.ResumeTiming();
    if (IngestProduction(w->production, bodies) != bodies.size()) state.SkipWithError("events refused");
    state.PauseTiming();
    w.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kWorkloadEvents);
}
BENCHMARK(BM_ProductionWorkload)->Iterations(1)->Unit(benchmark::kMillisecond);

// Does the pipeline scale with threads? The production workload split over N
// threads ingesting into one pipeline at once, as N UDP workers do, without the
// kernel or a load generator taking cores: wall-clock events/s at N threads over
// the rate at 1 is the scaling this stage allows (on an otherwise idle machine
// with at least N cores; compare the /1 and /2 rows of one run).
void BM_ProductionThreads(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr int kPerThread = 40000;
  static std::vector<std::vector<std::string>> slices;
  if (slices.size() < static_cast<std::size_t>(threads)) {
    for (int t = static_cast<int>(slices.size()); t < threads; ++t) slices.push_back(ProductionBodies(kPerThread, t * kPerThread));
  }
  static const std::vector<std::string> warm = ProductionBodies(kWorkloadTenants, 10'000'000);
  for (auto _ : state) {
    auto w = std::make_unique<ProductionWorld>();
    for (const auto& body : warm) w->production.Ingest(body, Transport::kUdp, 0);
    w->GoLive();
    std::vector<std::size_t> accepted(static_cast<std::size_t>(threads));
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { accepted[static_cast<std::size_t>(t)] = IngestProduction(w->production, slices[static_cast<std::size_t>(t)]); });
    }
    for (auto& th : pool) th.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    for (auto a : accepted) {
      if (a != kPerThread) state.SkipWithError("events refused");
    }
  }
  state.SetItemsProcessed(state.iterations() * threads * kPerThread);
}
BENCHMARK(BM_ProductionThreads)->Arg(1)->Arg(2)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace llmcost

BENCHMARK_MAIN();
