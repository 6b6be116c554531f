#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "record/exposition.h"
#include "storage/state_file.h"

namespace llmcost {
namespace {

TEST(RequestIdWindow, RemembersWithinWindowAndForgetsByAgeAndSize) {
  RequestIdWindow w(3, 100);
  EXPECT_TRUE(w.FirstSeen("a", 1000));
  EXPECT_FALSE(w.FirstSeen("a", 1050));
  EXPECT_TRUE(w.FirstSeen("b", 1050));
  EXPECT_TRUE(w.FirstSeen("a", 1101));  // "a" was seen at 1000: older than 100 s
  EXPECT_TRUE(w.FirstSeen("c", 1101));
  EXPECT_TRUE(w.FirstSeen("d", 1101));  // past 3 ids the oldest ("b") goes
  EXPECT_EQ(w.size(), 3u);
  EXPECT_TRUE(w.FirstSeen("b", 1102));
  EXPECT_FALSE(w.FirstSeen("d", 1102));
}

TEST(RequestIdWindow, DisabledWithZeroIds) {
  RequestIdWindow w(0, 100);
  EXPECT_TRUE(w.FirstSeen("a", 1));
  EXPECT_TRUE(w.FirstSeen("a", 1));
}

TEST(RequestIdWindow, HashIsStableAcrossRuns) {
  // The state file stores these hashes: they must never change between versions.
  // Golden values computed independently (FNV-1a 64, then the splitmix64 finaliser).
  EXPECT_EQ(RequestIdWindow::Hash("msg_01XFDUDYJgAACzvnptvVoYEL"), 0x3b815c813459c819ULL);
  EXPECT_EQ(RequestIdWindow::Hash(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_NE(RequestIdWindow::Hash("msg_01"), RequestIdWindow::Hash("msg_02"));
}

// A whole exporter in process, to compare scrapes before and after a restore.
struct World {
  ExporterConfig config;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  RequestIdWindow ids{1000, 86400};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  Exposition exposition{registry, requests};
};

// The exposition's samples, sorted (series order follows hash-map insertion order),
// without those that legitimately differ between processes.
std::vector<std::string> Comparable(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("process_", 0) == 0 ||
        line.rfind("llm_exporter_state_", 0) == 0 || line.rfind("llm_exporter_pricing_reloads_total", 0) == 0) {
      continue;
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const char* kEvents = R"([
 {"model":"claude-sonnet-4-5","usage":{"input_tokens":1000,"output_tokens":200,"cache_read_input_tokens":5000,
  "cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}},"latency_ms":1200,"ttft_ms":300,
  "labels":{"feature":"chat","tenant":"acme"},"request_id":"r1"},
 {"model":"claude-sonnet-4-5","status":429,"labels":{"feature":"chat","tenant":"acme"},"latency_ms":10},
 {"model":"claude-opus-4-6","usage":{"input_tokens":7,"output_tokens":9,"server_tool_use":{"web_search_requests":1}},
  "labels":{"feature":"agent","tenant":"globex"},"request_id":"r2"},
 {"model":"mystery-model","usage":{"input_tokens":5}},
 {"model":"claude-haiku-4-5","usage":{"input_tokens":5},"cost_usd":0.5,"labels":{"tenant":"x"}}
])";

TEST(StateFile, SnapshotRestoreReproducesEveryValueIncludingUnscrapedEvents) {
  World before;
  before.pipeline.Ingest(kEvents, Transport::kHttp);
  before.exposition.Render();  // these label sets go live...
  before.pipeline.Ingest(R"({"model":"claude-haiku-4-5","usage":{"input_tokens":3},"labels":{"tenant":"new"}})",
                         Transport::kUdp);  // ...this one is still held back, unscraped
  before.pipeline.Ingest("{bad", Transport::kUdp);
  const MetricsState state = before.pipeline.Snapshot();
  before.exposition.Render();  // now everything is applied
  const std::vector<std::string> expected = Comparable(before.exposition.Render());
  ASSERT_GT(expected.size(), 200u);

  std::string error;
  auto decoded = DecodeState(EncodeState(state), error);
  ASSERT_TRUE(decoded) << error;
  World after;
  const RestoreReport report = after.pipeline.Restore(*decoded);
  ASSERT_EQ(report.incompatible, "");
  ASSERT_EQ(report.note, "");
  ASSERT_TRUE(report.skipped.empty());
  EXPECT_EQ(Comparable(after.exposition.Render()), expected);
  // Remembered ids survive: a retry of r1 is not counted again.
  const auto retry = after.pipeline.Ingest(R"({"model":"claude-sonnet-4-5","request_id":"r1"})", Transport::kHttp);
  EXPECT_EQ(retry.accepted, 0u);
  EXPECT_EQ(retry.duplicates, 1u);
}

TEST(StateFile, DetectsCorruptionTruncationAndOtherVersions) {
  World w;
  w.pipeline.Ingest(kEvents, Transport::kHttp);
  const std::string bytes = EncodeState(w.pipeline.Snapshot());
  std::string error;
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x20;
  EXPECT_FALSE(DecodeState(flipped, error));
  EXPECT_EQ(error, "checksum mismatch");
  EXPECT_FALSE(DecodeState(bytes.substr(0, bytes.size() - 7), error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  std::string v3 = bytes;
  v3.replace(v3.find(" 2 "), 3, " 3 ");
  EXPECT_FALSE(DecodeState(v3, error));
  EXPECT_NE(error.find("format version 3"), std::string::npos) << error;
  EXPECT_FALSE(DecodeState("", error));
  EXPECT_FALSE(DecodeState("garbage\n{}", error));
}

TEST(StateFile, SavesAtomicallyAndSetsCorruptFilesAside) {
  const auto dir = std::filesystem::temp_directory_path() / ("llm-state-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StateFile file(dir.string());
  file.Open();
  EXPECT_EQ(file.Load().result, "none");
  World w;
  w.pipeline.Ingest(kEvents, Transport::kHttp);
  file.Save(w.pipeline.Snapshot());
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();  // no temporary file left
  }
  auto loaded = file.Load();
  ASSERT_EQ(loaded.result, "restored");
  EXPECT_EQ(loaded.state->requests.requests.size(), w.pipeline.Snapshot().requests.requests.size());

  std::ofstream(file.path(), std::ios::trunc) << "LLMCOSTSTATE 2 00000000 5 0\n{}{}x";
  loaded = file.Load();
  EXPECT_EQ(loaded.result, "corrupt");
  EXPECT_FALSE(std::filesystem::exists(file.path()));  // moved aside, never loaded again
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) aside += e.path().string().find(".corrupt-") != std::string::npos;
  EXPECT_EQ(aside, 1);
  std::filesystem::remove_all(dir);
}

std::filesystem::path TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(StateFile, OpenCreatesParentsAndRefusesAFileInTheWay) {
  const auto root = TempDir("llm-state-open");
  StateFile nested((root / "a" / "b" / "c").string());
  nested.Open();
  EXPECT_TRUE(std::filesystem::is_directory(root / "a" / "b" / "c"));
  std::ofstream(root / "file") << "x";
  for (const auto& in_the_way : {root / "file", root / "file" / "sub"}) {
    StateFile f(in_the_way.string());
    try {
      f.Open();
      ADD_FAILURE() << in_the_way << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--storage.path=" + in_the_way.string() + ": ", 0), 0u) << e.what();
    }
  }
  std::filesystem::remove_all(root);
}

TEST(StateFile, ASecondOpenOfTheSameDirectoryIsRefusedWhileTheFirstHoldsIt) {
  const auto dir = TempDir("llm-state-lock");
  {
    StateFile first(dir.string());
    first.Open();
    StateFile second(dir.string());
    try {
      second.Open();
      ADD_FAILURE() << "second instance accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("in use by another llm-cost-exporter (pid " + std::to_string(::getpid()) + ")"),
                std::string::npos)
          << e.what();
    }
  }
  StateFile after(dir.string());  // the first one is gone: the lock is free
  EXPECT_NO_THROW(after.Open());
  std::filesystem::remove_all(dir);
}

TEST(StateFile, PlantedTemporaryFileSymlinksAreNeverFollowed) {
  const auto dir = TempDir("llm-state-symlink");
  const auto target = TempDir("llm-state-symlink-target");
  std::ofstream(target) << "precious";
  StateFile file(dir.string());
  // Planted before start: the old fixed name; removed (the link, not its target) by Open().
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink(target, file.path() + ".tmp");
  file.Open();
  EXPECT_FALSE(std::filesystem::is_symlink(file.path() + ".tmp"));
  // Planted while running, at the next names this process would pick.
  for (int i = 0; i < 4; ++i) {
    std::filesystem::create_symlink(target, file.path() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(i));
  }
  World w;
  w.pipeline.Ingest(kEvents, Transport::kHttp);
  file.Save(w.pipeline.Snapshot());
  file.Save(w.pipeline.Snapshot());
  std::ifstream in(target);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(file.path()));
  EXPECT_EQ(file.Load().result, "restored");
  std::filesystem::remove_all(dir);
  std::filesystem::remove(target);
}

TEST(StateFile, RefusesStateOfOtherLabels) {
  World w;
  w.pipeline.Ingest(kEvents, Transport::kHttp);
  MetricsState state = w.pipeline.Snapshot();
  state.requests.groups[0].labels["customer"] = "x";  // a label this configuration does not have
  World other;
  EXPECT_NE(other.pipeline.Restore(state).incompatible.find("label 'customer'"), std::string::npos);
  EXPECT_EQ(other.requests.label_sets(), 0u);
}

// Checkpoints are taken while batches are being recorded on other threads: each
// holds whole batches only, and constant overlapping ingest never keeps one out.
TEST(EventPipeline, SnapshotsHoldWholeBatchesAndAreNeverStarved) {
  World w;
  std::string batch = "[";
  for (int i = 0; i < 100; ++i) batch += std::string(i ? "," : "") + R"({"model":"claude-haiku-4-5","usage":{"input_tokens":3}})";
  batch += "]";
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      while (!stop.load()) w.pipeline.Ingest(batch, Transport::kHttp);
    });
  }
  double last = 0;
  for (int i = 0; i < 30; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const MetricsState s = w.pipeline.Snapshot();
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    double requests = 0;
    for (const auto& r : s.requests.requests) requests += r.count;
    EXPECT_EQ(static_cast<long long>(requests) % 100, 0) << "a snapshot held part of a batch: " << requests;
    EXPECT_GE(requests, last);
    last = requests;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  EXPECT_GT(last, 0);
}

TEST(EventPipeline, DuplicateRequestIdsInOneBatchCountOnce) {
  World w;
  const auto r = w.pipeline.Ingest(
      R"([{"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":"same"},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":"same"},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100}},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100}}])",
      Transport::kHttp);
  EXPECT_EQ(r.accepted, 3u);  // events without an id are never de-duplicated
  EXPECT_EQ(r.duplicates, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].index, 1u);
  EXPECT_EQ(r.errors[0].reason, RejectReason::kDuplicate);
  EXPECT_EQ(r.errors[0].field, "request_id");
}

// Issue 13 item 9: a numeric request_id was silently ignored, so a retried event
// counted twice. Integers are ids (42 and "42" are the same id); other types are
// refused as bad_field naming request_id.
TEST(EventPipeline, IntegerRequestIdsDeduplicateRetries) {
  World w;
  const auto r = w.pipeline.Ingest(
      R"([{"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":42},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":42},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":"42"},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":-7},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":1.5},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":true},
          {"model":"claude-haiku-4-5","usage":{"input_tokens":100},"request_id":null}])",
      Transport::kHttp);
  EXPECT_EQ(r.accepted, 3u);  // 42, -7 and the one without an id
  EXPECT_EQ(r.duplicates, 2u);
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].index, 1u);
  EXPECT_EQ(r.errors[0].reason, RejectReason::kDuplicate);
  EXPECT_EQ(r.errors[1].index, 2u);
  EXPECT_EQ(r.errors[1].reason, RejectReason::kDuplicate);
  for (std::size_t i : {2u, 3u}) {
    EXPECT_EQ(r.errors[i].reason, RejectReason::kBadField);
    EXPECT_EQ(r.errors[i].field, "request_id");
    EXPECT_NE(r.errors[i].message.find("string or an integer"), std::string::npos) << r.errors[i].message;
  }
  EXPECT_EQ(r.errors[2].index, 4u);
  EXPECT_EQ(r.errors[3].index, 5u);
}

// The pipeline refuses a request whose cost overflows (bad_field, field usage) and
// counts nothing of it; the rest of the batch is counted.
TEST(EventPipeline, RequestsWhoseCostOverflowsAreRefusedNotWrapped) {
  World w;
  const std::string path = testing::TempDir() + "/absurd-prices.yml";
  std::ofstream(path) << R"(
as_of: "2026-01-02"
source: test
models:
  - model: m-absurd
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1.25", cache_write_1h: "2", cache_read: "0.1", output: "20000"}
)";
  ASSERT_EQ(w.prices.Reload(path), nullptr);
  const auto r = w.pipeline.Ingest(
      R"([{"model":"m-absurd","usage":{"output_tokens":1000000000}},
          {"model":"m-absurd","usage":{"output_tokens":1000}}])",
      Transport::kHttp);
  EXPECT_EQ(r.accepted, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].index, 0u);
  EXPECT_EQ(r.errors[0].reason, RejectReason::kBadField);
  EXPECT_EQ(r.errors[0].field, "usage");
  w.exposition.Render();
  const std::string text = w.exposition.Render();
  EXPECT_NE(text.find("llm_exporter_events_rejected_total{reason=\"bad_field\",transport=\"http\"} 1"), std::string::npos);
  // Only the second request's $0.02 (1000 x $20,000 / 1e6) is counted.
  const std::string sum = "llm_request_cost_usd_sum{feature=\"unknown\",model=\"m-absurd\",provider=\"anthropic\"} ";
  const auto at = text.find(sum);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_DOUBLE_EQ(std::stod(text.substr(at + sum.size())), 1000 * 20000 / 1e6);
}

}  // namespace
}  // namespace llmcost
