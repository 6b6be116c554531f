// The state file format across releases: the golden v1 file (written by the
// release before format 2, tests/state/golden_v1) migrates by name; names this
// build does not know are skipped and counted while the rest restores; names this
// build has and a file lacks (a type added since) restore at zero. The full value
// check of the golden file against its events is tests/state/upgrade_test.py.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>

#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "record/exposition.h"
#include "storage/state_file.h"

namespace llmcost {
namespace {

ExporterConfig GoldenConfig() {  // events.json's config
  ExporterConfig c;
  c.attribution_labels = {"feature", "tenant", "route"};
  c.histogram_label = "feature";
  c.max_values_by_label["tenant"] = 3;
  return c;
}

struct World {
  ExporterConfig config = GoldenConfig();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  RequestIdWindow ids{1000, 1LL << 40};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  Exposition exposition{registry, requests};
};

std::string ReadGolden() {
  std::ifstream in(std::string(LLM_COST_SOURCE_DIR) + "/tests/state/golden_v1/llm-cost-exporter.state",
                   std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

MetricsState DecodeGolden() {
  std::string error;
  int version = 0;
  auto state = DecodeState(ReadGolden(), error, &version);
  EXPECT_TRUE(state) << error;
  EXPECT_EQ(version, 1);
  return state ? *state : MetricsState{};
}

// The exposition's request and exporter-counter samples, sorted.
std::vector<std::string> Samples(World& w) {
  std::istringstream in(w.exposition.Render());
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("process_", 0) == 0 || line.rfind("llm_exporter_state_", 0) == 0 ||
        line.rfind("llm_exporter_pricing_", 0) == 0) {
      continue;
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Line(const std::vector<std::string>& samples, const std::string& prefix) {
  for (const auto& s : samples) {
    if (s.rfind(prefix, 0) == 0) return s;
  }
  return "";
}

TEST(StateFormat, GoldenV1MigratesByTheNamesV1Meant) {
  const MetricsState s = DecodeGolden();
  // v1 positions become the names they had in v1.
  ASSERT_FALSE(s.requests.groups.empty());
  for (const auto& g : s.requests.groups) {
    EXPECT_EQ(g.tokens.size(), 5u);
    EXPECT_EQ(g.cost.size(), 7u);
    EXPECT_EQ(g.labels.size(), 5u);  // provider, model, feature, tenant, route
  }
  EXPECT_EQ(s.exporter.rejected.at("http").at("too_large"), 1);  // events.json: one 9000-byte body
  EXPECT_EQ(s.exporter.rejected.at("udp").at("duplicate"), 1);
  EXPECT_EQ(s.exporter.events.at("http").at("accepted"), 17);
  EXPECT_EQ(s.requests.bucket_bounds.size(), 5u);
  EXPECT_EQ(s.request_ids.size(), 4u);  // req-golden-1..4
  for (const char* id : {"req-golden-1", "req-golden-2", "req-golden-3", "req-golden-4"}) {
    const auto hash = RequestIdWindow::Hash(id);
    EXPECT_TRUE(std::any_of(s.request_ids.begin(), s.request_ids.end(), [&](const auto& e) { return e.second == hash; }))
        << id;
  }
  World w;
  const RestoreReport report = w.pipeline.Restore(s);
  EXPECT_EQ(report.incompatible, "");
  EXPECT_EQ(report.note, "");
  EXPECT_TRUE(report.skipped.empty());
  // One value by hand from events.json: claude-sonnet-4-5 output tokens 389 (HTTP) + 20 (UDP) at $15/MTok.
  const auto samples = Samples(w);
  const std::string line = Line(samples, "llm_cost_usd_total{cost_type=\"output\",feature=\"chat\",model=\"claude-sonnet-4-5\",platform=\"anthropic\",provider=\"anthropic\",route=\"/v1/chat\",service_tier=\"standard\",tenant=\"acme\"}");
  ASSERT_FALSE(line.empty());
  EXPECT_DOUBLE_EQ(std::stod(line.substr(line.rfind(' ') + 1)), (389 + 20) * 15 / 1e6);
}

TEST(StateFormat, NamesThisBuildDoesNotKnowAreSkippedAndCountedTheRestRestores) {
  const MetricsState golden = DecodeGolden();
  World plain;
  plain.pipeline.Restore(golden);
  const auto expected = Samples(plain);

  // A file from a newer build: a test-only extra token type, cost type, status,
  // reason, transport, result and histogram, each beside the known ones.
  MetricsState newer = golden;
  newer.requests.groups[0].tokens["test_only_extra"] = 7;
  newer.requests.groups[1].cost["test_only_extra"] = 0.25;
  RequestCountState extra_status = newer.requests.requests[0];
  extra_status.labels["status"] = "test_only_extra";
  newer.requests.requests.push_back(extra_status);
  UnpricedState extra_reason = newer.requests.unpriced[0];
  extra_reason.labels["reason"] = "test_only_extra";
  extra_reason.count = 3;
  newer.requests.unpriced.push_back(extra_reason);
  newer.exporter.rejected["http"]["test_only_extra"] = 2;
  newer.exporter.events["http"]["test_only_extra"] = 2;
  newer.exporter.events["test_only_extra"]["accepted"] = 2;
  newer.requests.histogram_sets[0].by_name["test_only_extra"] = {{1, 0}, 1};
  // Through the file format, as an upgrade would read it.
  std::string error;
  auto decoded = DecodeState(EncodeState(newer), error);
  ASSERT_TRUE(decoded) << error;

  World w;
  const RestoreReport report = w.pipeline.Restore(*decoded);
  EXPECT_EQ(report.incompatible, "");
  const std::map<std::string, double> skipped = {{"token_type", 1}, {"cost_type", 1},  {"status", 1},
                                                 {"unpriced_reason", 1}, {"reject_reason", 1}, {"event_result", 1},
                                                 {"transport", 1}, {"histogram", 1}};
  EXPECT_EQ(report.skipped, skipped);
  EXPECT_EQ(Samples(w), expected);  // everything known restored exactly
  const std::string text = w.exposition.Render();
  EXPECT_NE(text.find("llm_exporter_state_entries_skipped_total{kind=\"token_type\"} 1"), std::string::npos);
  EXPECT_NE(text.find("llm_exporter_state_entries_skipped_total{kind=\"histogram\"} 1"), std::string::npos);
}

TEST(StateFormat, AFileWrittenBeforeATypeExistedLoadsWithThatTypeAtZero) {
  // As if this build had added cost type web_search and token type cache_write_1h
  // after the file was written: the file simply lacks those names.
  MetricsState older = DecodeGolden();
  for (auto& g : older.requests.groups) {
    g.cost.erase("web_search");
    g.tokens.erase("cache_write_1h");
  }
  older.exporter.rejected["http"].erase("too_large");
  std::string error;
  auto decoded = DecodeState(EncodeState(older), error);
  ASSERT_TRUE(decoded) << error;
  World w;
  const RestoreReport report = w.pipeline.Restore(*decoded);
  EXPECT_EQ(report.incompatible, "");
  EXPECT_TRUE(report.skipped.empty());
  World full;
  full.pipeline.Restore(DecodeGolden());
  const auto with = Samples(full), without = Samples(w);
  ASSERT_EQ(with.size(), without.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < with.size(); ++i) {
    if (with[i] == without[i]) continue;
    ++differ;
    // Only those series differ, and they are at zero.
    EXPECT_TRUE(with[i].find("web_search") != std::string::npos || with[i].find("cache_write_1h") != std::string::npos ||
                with[i].find("too_large") != std::string::npos)
        << with[i];
    EXPECT_EQ(without[i].substr(without[i].rfind(' ') + 1), "0") << without[i];
  }
  // opus web search ($0.03), sonnet 1h writes (200 tokens), the HTTP too_large rejection.
  EXPECT_EQ(differ, 3u);
}

TEST(StateFormat, V2RoundTripIsExactAndStable) {
  World w;
  w.pipeline.Restore(DecodeGolden());
  const MetricsState state = w.pipeline.Snapshot();
  const std::string bytes = EncodeState(state);
  ASSERT_EQ(bytes.rfind("LLMCOSTSTATE 2 ", 0), 0u);
  std::string error;
  int version = 0;
  auto decoded = DecodeState(bytes, error, &version);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(version, 2);
  EXPECT_EQ(EncodeState(*decoded), bytes);
  World again;
  const RestoreReport report = again.pipeline.Restore(*decoded);
  EXPECT_EQ(report.incompatible + report.note, "");
  EXPECT_EQ(Samples(again), Samples(w));
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// tests/state/invalid: CRC-valid files with one bad field each (make_invalid.py).
// Each must be refused naming the field; nothing of it loads.
TEST(StateValidation, EveryCrcValidButInvalidFixtureIsRefusedNamingTheField) {
  const std::map<std::string, std::string> field_of = {
      {"events-empty", "exporter.events"},
      {"count-1e308", "groups[0].tokens[0]"},
      {"request-count-negative", "requests[0].count"},
      {"cost-1e308", "groups[0].cost[1]"},
      {"label-control-character", "requests[0].values[2]"},
      {"label-too-long", "groups[0].values[3]"},
      {"label-empty", "requests[0].values[0]"},
      {"label-wrong-count", "groups[0].values"},
      {"bucket-negative", "histogram_sets[0].histograms[0].buckets[0]"},
      {"bucket-count-mismatch", "histogram_sets[0].histograms[1].buckets"},
      {"bucket-fractional", "histogram_sets[0].histograms[2].buckets[0]"},
      {"histogram-sum-negative", "histogram_sets[0].histograms[0].sum"},
      {"bounds-unsorted", "bucket_bounds[0]"},
      {"rejected-short", "exporter.rejected[1]"},
      {"status-not-a-string", "requests[0].status"},
      {"attribution-label-invalid", "attribution_labels"},
  };
  const std::string dir = std::string(LLM_COST_SOURCE_DIR) + "/tests/state/invalid/";
  for (const auto& [name, field] : field_of) {
    std::ifstream in(dir + "v1-" + name + ".state", std::ios::binary);
    ASSERT_TRUE(in) << name;
    std::stringstream buf;
    buf << in.rdbuf();
    std::string error;
    EXPECT_FALSE(DecodeState(buf.str(), error)) << name;
    EXPECT_NE(error.find(field + ":"), std::string::npos) << name << ": " << error;
    EXPECT_EQ(error.find("checksum"), std::string::npos) << name << ": the fixture's CRC must be valid";
  }
}

// The same checks on format 2, where the structure is by name.
std::string Rewrap(const std::string& v2_bytes, const std::function<void(std::string&)>& edit) {
  const auto nl = v2_bytes.find('\n');
  unsigned long crc = 0;
  std::size_t json_size = 0, ids = 0;
  int version = 0;
  char magic[16] = {};
  std::sscanf(v2_bytes.substr(0, nl).c_str(), "%15s %d %lx %zu %zu", magic, &version, &crc, &json_size, &ids);
  std::string json = v2_bytes.substr(nl + 1, json_size);
  const std::string tail = v2_bytes.substr(nl + 1 + json_size);
  edit(json);
  const std::string body = json + tail;
  char header[128];
  std::snprintf(header, sizeof header, "LLMCOSTSTATE %d %08lx %zu %zu\n", version,
                crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())), json.size(), ids);
  return header + body;
}

TEST(StateValidation, FormatTwoFieldsAreCheckedToo) {
  World w;
  w.pipeline.Restore(DecodeGolden());
  const std::string good = EncodeState(w.pipeline.Snapshot());
  std::string error;
  ASSERT_TRUE(DecodeState(Rewrap(good, [](std::string&) {}), error)) << error;
  auto replace = [](std::string from, std::string to) {
    return [from, to](std::string& j) {
      const auto at = j.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      j.replace(at, from.size(), to);
    };
  };
  const std::vector<std::tuple<std::string, std::function<void(std::string&)>, std::string>> cases = {
      {"events as an empty array", replace("\"events\":{", "\"events\":[],\"x\":{"), "exporter.events: not an object"},
      {"a count of 1e308", replace("\"cache_read\":5000.0", "\"cache_read\":1e308"), "not a finite count"},
      {"a negative count", replace("\"cache_read\":5000.0", "\"cache_read\":-1"), "not a finite count"},
      {"a label value with a newline", replace("\"tenant\":\"acme\"", "\"tenant\":\"ac\\nme\""), "not a sanitised label value"},
      {"an invalid label name", replace("\"tenant\":\"acme\"", "\"ten ant\":\"acme\""), "not a valid name"},
      {"invalid UTF-8 in a value", replace("\"tenant\":\"acme\"", "\"tenant\":\"ac\\udc00me\""), ""},
      {"the UDP drop counter negative", replace("\"udp_receive_dropped\":0.0", "\"udp_receive_dropped\":-2"),
       "exporter.udp_receive_dropped"},
  };
  for (const auto& [what, edit, message] : cases) {
    EXPECT_FALSE(DecodeState(Rewrap(good, edit), error)) << what;
    EXPECT_NE(error.find(message), std::string::npos) << what << ": " << error;
  }
}

}  // namespace
}  // namespace llmcost
