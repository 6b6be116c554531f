#include "record/task_tracker.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <string>

#include "config/exporter_config.h"
#include "event/batch_splitter.h"
#include "event/event_parser.h"
#include "pricing/price_table.h"
#include "pricing/pricer.h"

namespace llmcost {
namespace {

// claude-sonnet-4: $3 input, $15 output per million tokens; a pico-dollar per token
// is USD/MTok x 1e6. One request of the tests: 1000 input + 200 output tokens.
constexpr std::uint64_t kIn = 1000, kOut = 200;
constexpr PicoUsd kPerRequest = kIn * 3'000'000 + kOut * 15'000'000;  // 0.006 USD

struct World {
  explicit World(ExporterConfig c = {}) : config(std::move(c)), tracker(registry, config, [this] { return now_ms; }) {}
  ExporterConfig config;
  prometheus::Registry registry;
  std::int64_t now_ms = 1'000'000;
  TaskTracker tracker;
  std::shared_ptr<const PriceTable> table = PriceTable::Embedded();

  void Send(const std::string& task, const std::string& feature, bool end = false) {
    UsageEvent e;
    e.model_id = "claude-sonnet-4";
    e.tokens[TokenType::kInput] = kIn;
    e.tokens[TokenType::kOutput] = kOut;
    e.labels = {{"feature", feature}, {"tenant", "acme"}};
    e.task_id = task;
    e.task_end = end;
    tracker.Record(e, PriceRequest(e, *table, 1'790'000'000));
  }

  // The value of a sample: counters, gauges, and histograms' count (name_count) or sum (name_sum).
  double Value(const std::string& name, const prometheus::Labels& labels) {
    for (const auto& family : registry.Collect()) {
      const bool count = name == family.name + "_count", sum = name == family.name + "_sum";
      if (name != family.name && !count && !sum) continue;
      for (const auto& m : family.metric) {
        prometheus::Labels got;
        for (const auto& l : m.label) got[l.name] = l.value;
        if (got != labels) continue;
        if (count) return static_cast<double>(m.histogram.sample_count);
        if (sum) return m.histogram.sample_sum;
        if (family.type == prometheus::MetricType::Counter) return m.counter.value;
        return m.gauge.value;
      }
    }
    return -1;  // absent
  }
  double Runaway(const std::string& feature, const std::string& reason) {
    return Value("llm_runaway_tasks_total", {{"feature", feature}, {"reason", reason}});
  }
};

TEST(TaskTracker, CountsHopsCostAndTokensAcrossInterleavedTasks) {
  World w;
  for (int i = 0; i < 5; ++i) {
    w.Send("task-a", "chat");
    w.now_ms += 1000;
    if (i < 3) w.Send("task-b", "search");
    w.now_ms += 1000;
  }
  const auto a = w.tracker.Find("task-a");
  const auto b = w.tracker.Find("task-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->hops, 5u);
  EXPECT_EQ(a->cost, 5 * kPerRequest);
  EXPECT_EQ(a->tokens, 5 * (kIn + kOut));
  EXPECT_EQ(a->feature, "chat");
  EXPECT_EQ(a->first_ms, 1'000'000);
  EXPECT_EQ(a->last_ms, 1'000'000 + 8000);
  EXPECT_EQ(b->hops, 3u);
  EXPECT_EQ(b->cost, 3 * kPerRequest);
  EXPECT_EQ(b->feature, "search");
  EXPECT_EQ(w.tracker.active(), 2u);
  EXPECT_EQ(w.Value("llm_active_tasks", {{"feature", "chat"}}), 1);
  w.tracker.Refresh();
  EXPECT_EQ(w.Value("llm_task_max_hops", {{"feature", "chat"}}), 5);
  EXPECT_DOUBLE_EQ(w.Value("llm_task_max_cost_usd", {{"feature", "search"}}), 3 * kPerRequest / 1e12);
  // Nothing ended yet: no task observed.
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "chat"}}), 0);
}

TEST(TaskTracker, HopsLimitCountsOnceWhenPassed) {
  World w;
  w.Send("loop", "agent");
  w.tracker.Refresh();  // a scrape shows the feature's series at zero
  for (int i = 2; i <= 12; ++i) w.Send("loop", "agent");
  EXPECT_EQ(w.Runaway("agent", "hops"), 0);  // 12 hops is the limit, not past it
  w.Send("loop", "agent");
  EXPECT_EQ(w.Runaway("agent", "hops"), 1);
  for (int i = 0; i < 30; ++i) w.Send("loop", "agent");
  EXPECT_EQ(w.Runaway("agent", "hops"), 1);
  EXPECT_EQ(w.Runaway("agent", "cost"), 0);  // 43 x 0.006 = 0.258 USD < 0.50
  // A second task passing the limit counts again.
  for (int i = 0; i < 13; ++i) w.Send("loop-2", "agent");
  EXPECT_EQ(w.Runaway("agent", "hops"), 2);
}

TEST(TaskTracker, CostAndDurationLimitsCountOnceWhenPassed) {
  ExporterConfig c;
  c.tasks.runaway.hops = 1000;
  World w(c);
  // 0.50 USD / 0.006 USD = 83.3: the 84th request passes the cost limit.
  const int first_over = static_cast<int>(500'000'000'000 / kPerRequest) + 1;
  w.Send("pricey", "agent");
  w.tracker.Refresh();
  for (int i = 2; i < first_over; ++i) w.Send("pricey", "agent");
  EXPECT_EQ(w.Runaway("agent", "cost"), 0);
  w.Send("pricey", "agent");
  EXPECT_EQ(w.Runaway("agent", "cost"), 1);
  w.Send("pricey", "agent");
  EXPECT_EQ(w.Runaway("agent", "cost"), 1);

  // Duration: a request every 5 minutes (within the 10-minute idle timeout);
  // 30 minutes after the first is the limit, 35 is past it.
  for (int minute = 0; minute <= 30; minute += 5) {
    w.Send("slow", "agent");
    if (minute < 30) w.now_ms += 5 * 60 * 1000;
  }
  EXPECT_EQ(w.Runaway("agent", "duration"), 0);
  w.now_ms += 5 * 60 * 1000;
  w.Send("slow", "agent");
  EXPECT_EQ(w.Runaway("agent", "duration"), 1);
  w.now_ms += 5 * 60 * 1000;
  w.Send("slow", "agent");
  EXPECT_EQ(w.Runaway("agent", "duration"), 1);
}

TEST(TaskTracker, PerFeatureLimitsReplaceTheDefaults) {
  ExporterConfig c;
  RunawayLimits batch = c.tasks.runaway;
  batch.hops = 50;
  c.tasks.runaway_by_feature["batch"] = batch;
  World w(c);
  w.Send("b", "batch");
  w.Send("c", "chat");
  w.tracker.Refresh();
  for (int i = 1; i < 13; ++i) w.Send("b", "batch");
  for (int i = 1; i < 13; ++i) w.Send("c", "chat");
  EXPECT_EQ(w.Runaway("batch", "hops"), 0);
  EXPECT_EQ(w.Runaway("chat", "hops"), 1);
  for (int i = 0; i < 38; ++i) w.Send("b", "batch");  // 51 hops
  EXPECT_EQ(w.Runaway("batch", "hops"), 1);
}

TEST(TaskTracker, IdleTasksEndAndAreObserved) {
  World w;
  for (int i = 0; i < 3; ++i) w.Send("t", "chat");
  w.now_ms += 10 * 60 * 1000 - 1;
  w.tracker.Refresh();
  EXPECT_TRUE(w.tracker.Find("t"));
  EXPECT_EQ(w.Value("llm_task_max_hops", {{"feature", "chat"}}), 3);
  w.now_ms += 1;  // 10 minutes without a request
  w.tracker.Refresh();
  EXPECT_FALSE(w.tracker.Find("t"));
  EXPECT_EQ(w.Value("llm_active_tasks", {{"feature", "chat"}}), 0);
  EXPECT_EQ(w.Value("llm_task_max_hops", {{"feature", "chat"}}), 0);
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "chat"}}), 1);
  EXPECT_EQ(w.Value("llm_task_hops_sum", {{"feature", "chat"}}), 3);
  EXPECT_DOUBLE_EQ(w.Value("llm_task_cost_usd_sum", {{"feature", "chat"}}), 3 * kPerRequest / 1e12);
  // The same id later is a new task.
  w.Send("t", "chat");
  EXPECT_EQ(w.tracker.Find("t")->hops, 1u);
}

TEST(TaskTracker, AnEventCanEndItsTask) {
  World w;
  w.Send("t", "chat");
  w.tracker.Refresh();
  w.Send("t", "chat", /*end=*/true);
  EXPECT_FALSE(w.tracker.Find("t"));
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "chat"}}), 1);
  EXPECT_EQ(w.Value("llm_task_hops_sum", {{"feature", "chat"}}), 2);
  EXPECT_EQ(w.tracker.active(), 0u);
}

// A brand-new feature's first counts wait until a scrape has shown its series at
// zero, so that Prometheus' increase() sees them.
TEST(TaskTracker, ANewFeaturesCountsWaitForOneScrapeAtZero) {
  World w;
  for (int i = 0; i < 13; ++i) w.Send("loop", "fresh");
  w.Send("short", "fresh", /*end=*/true);
  EXPECT_EQ(w.Runaway("fresh", "hops"), 0);
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "fresh"}}), 0);
  w.tracker.Refresh();  // the first scrape: zeros
  EXPECT_EQ(w.Runaway("fresh", "hops"), 0);
  w.tracker.Refresh();  // the next one: the counts
  EXPECT_EQ(w.Runaway("fresh", "hops"), 1);
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "fresh"}}), 1);
  EXPECT_EQ(w.Value("llm_task_hops_sum", {{"feature", "fresh"}}), 1);
  w.tracker.Refresh();  // applied once only
  EXPECT_EQ(w.Runaway("fresh", "hops"), 1);
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "fresh"}}), 1);
}

TEST(TaskTracker, EvictsTheOldestIdleTaskAtTheCap) {
  ExporterConfig c;
  c.tasks.max_tasks = 3;
  World w(c);
  w.Send("t1", "chat");
  w.tracker.Refresh();
  for (const char* id : {"t1", "t2", "t3"}) {
    w.Send(id, "chat");
    w.now_ms += 1000;
  }
  w.Send("t1", "chat");  // t2 is now the oldest idle
  w.Send("t4", "chat");
  EXPECT_EQ(w.tracker.active(), 3u);
  EXPECT_EQ(w.tracker.evicted(), 1u);
  EXPECT_FALSE(w.tracker.Find("t2"));
  EXPECT_EQ(w.tracker.Find("t1")->hops, 3u);
  EXPECT_TRUE(w.tracker.Find("t3") && w.tracker.Find("t4"));
  EXPECT_EQ(w.Value("llm_tasks_evicted_total", {}), 1);
  EXPECT_EQ(w.Value("llm_task_hops_count", {{"feature", "chat"}}), 1);
  EXPECT_EQ(w.Value("llm_active_tasks", {{"feature", "chat"}}), 3);
}

TEST(TaskTracker, EventsWithoutATaskAreIgnored) {
  World w;
  w.Send("", "chat");
  EXPECT_EQ(w.tracker.active(), 0u);
  EXPECT_EQ(w.Value("llm_active_tasks", {{"feature", "chat"}}), -1);  // no series created
}

UsageEvent ParseOne(const EventParser& parser, const std::string& json, std::optional<EventError>* error = nullptr) {
  EventBatch batch;
  SplitBatch(json, batch);
  UsageEvent e;
  auto err = parser.ParseInto(std::get<JsonValue>(batch.Item(0)), 0, e);
  if (error) *error = err;
  else EXPECT_FALSE(err) << err->message;
  return e;
}

TEST(TaskTrackerParsing, ReadsTheFirstConfiguredIdFieldAndPromptHash) {
  const EventParser parser({"feature"});
  auto e = ParseOne(parser, R"({"model":"m","session_id":"s1","conversation_id":"c1","prompt_hash":"ab12"})");
  EXPECT_EQ(e.task_id, "c1");  // conversation_id comes before session_id
  EXPECT_EQ(e.prompt_hash, "ab12");
  e = ParseOne(parser, R"({"model":"m","task_id":42,"conversation_id":"c1","task_end":true})");
  EXPECT_EQ(e.task_id, "42");
  EXPECT_TRUE(e.task_end);
  e = ParseOne(parser, R"({"model":"m","task_id":{"x":1}})");  // other types: ignored, as before
  EXPECT_EQ(e.task_id, "");
  e = ParseOne(parser, R"({"model":"m","task_id":")" + std::string(1000, 'x') + R"("})");
  EXPECT_EQ(e.task_id.size(), kMaxTaskIdBytes);

  const EventParser only_session({"feature"}, {"session_id"});
  e = ParseOne(only_session, R"({"model":"m","task_id":"t","session_id":"s1"})");
  EXPECT_EQ(e.task_id, "s1");

  std::optional<EventError> error;
  ParseOne(parser, R"({"model":"m","task_id":"t","task_end":"yes"})", &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->field, "task_end");
}

TEST(TaskTrackerConfig, ParsesTheTasksSection) {
  const auto c = ExporterConfig::Parse(R"(
tasks:
  id_fields: [run_id, task_id]
  idle_timeout_seconds: 120
  max_tasks: 500
  runaway: {hops: 20, cost_usd: 2}
  runaway_by_feature:
    batch: {hops: 100}
)");
  EXPECT_EQ(c.tasks.id_fields, (std::vector<std::string>{"run_id", "task_id"}));
  EXPECT_EQ(c.tasks.idle_timeout_seconds, 120);
  EXPECT_EQ(c.tasks.max_tasks, 500u);
  EXPECT_EQ(c.tasks.runaway.hops, 20u);
  EXPECT_EQ(c.tasks.runaway.cost_pico, 2'000'000'000'000);
  EXPECT_EQ(c.tasks.runaway.duration_seconds, 1800);
  EXPECT_EQ(c.tasks.runaway_by_feature.at("batch").hops, 100u);
  EXPECT_EQ(c.tasks.runaway_by_feature.at("batch").cost_pico, 2'000'000'000'000);  // from runaway
  const ExporterConfig defaults;
  EXPECT_EQ(defaults.tasks.id_fields, kDefaultTaskIdFields);
  EXPECT_EQ(defaults.tasks.max_tasks, 100'000u);
  try {
    ExporterConfig::Parse("tasks:\n  runaway: {hop: 3}\n", "cfg.yml");
    FAIL() << "accepted a misspelt key";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tasks.runaway"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llmcost
