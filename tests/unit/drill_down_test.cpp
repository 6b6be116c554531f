// GET /v1/tasks/top and /v1/prompts/top (transport/client_api.h) as plain handler
// functions over a real TaskTracker and PromptRepeats: worst tasks and hashes
// with their figures, feature and tenant, ids exactly as sent.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <prometheus/registry.h>

#include <string>

#include "config/exporter_config.h"
#include "pricing/price_table.h"
#include "pricing/pricer.h"
#include "record/prompt_repeats.h"
#include "record/task_tracker.h"
#include "transport/client_api.h"

namespace llmcost {
namespace {

using nlohmann::json;

// claude-sonnet-4 at $3 input and $15 output per million tokens.
double UsdFor(std::uint64_t in, std::uint64_t out) { return in * 3.0 / 1e6 + out * 15.0 / 1e6; }

struct World {
  ExporterConfig config;
  prometheus::Registry registry;
  std::int64_t now_ms = 7'000'000;
  TaskTracker tasks{registry, config, [this] { return now_ms; }};
  PromptRepeats prompts{registry, config, [this] { return now_ms; }};
  std::shared_ptr<const PriceTable> table = PriceTable::Embedded();

  void Send(const std::string& task, const std::string& hash, std::uint64_t in, std::uint64_t out,
            const std::string& feature = "agent", const std::string& tenant = "acme") {
    UsageEvent e;
    e.model_id = "claude-sonnet-4";
    e.tokens[TokenType::kInput] = in;
    e.tokens[TokenType::kOutput] = out;
    e.labels = {{"feature", feature}, {"tenant", tenant}, {"route", "/r"}};
    e.task_id = task;
    e.prompt_hash = hash;
    const RequestCost cost = PriceRequest(e, *table, 1'790'000'000);
    tasks.Record(e, cost);
    prompts.Record(e, cost);
  }
};

json Body(const HttpResponse& r) { return json::parse(r.body); }
std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST(DrillDown, TasksTopByCostAndByHopsWithIdsAsSent) {
  World w;
  // A: 3 hops of 1000 in + 100 out; B (an id with spaces, a slash and UTF-8): 1 hop
  // of 20000 in + 2000 out; C: 14 hops of 10 in + 1 out (past the 12-hop limit).
  const std::string b_id = "conv 42/\xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
  for (int i = 0; i < 3; ++i) w.Send("task-A", "h-a" + std::to_string(i), 1000, 100);
  w.Send(b_id, "h-b", 20000, 2000, "chat", "globex");
  for (int i = 0; i < 14; ++i) w.Send("task-C", "h-c" + std::to_string(i), 10, 1, "agent", "initech");
  w.now_ms += 2500;

  const HttpResponse by_cost = ServeTasksTop(w.tasks, "/v1/tasks/top?by=cost&n=2");
  ASSERT_EQ(by_cost.status, 200) << by_cost.body;
  const json c = Body(by_cost);
  EXPECT_EQ(c["by"], "cost");
  EXPECT_EQ(c["active_tasks"], 3);
  ASSERT_EQ(c["tasks"].size(), 2u);
  EXPECT_EQ(c["tasks"][0]["task_id"], b_id);
  EXPECT_EQ(c["tasks"][0]["feature"], "chat");
  EXPECT_EQ(c["tasks"][0]["tenant"], "globex");
  EXPECT_EQ(c["tasks"][0]["hops"], 1);
  EXPECT_NEAR(c["tasks"][0]["cost_usd"].get<double>(), UsdFor(20000, 2000), 1e-12);
  EXPECT_EQ(c["tasks"][0]["tokens"], 22000);
  EXPECT_DOUBLE_EQ(c["tasks"][0]["idle_seconds"].get<double>(), 2.5);
  EXPECT_EQ(c["tasks"][1]["task_id"], "task-A");
  EXPECT_NEAR(c["tasks"][1]["cost_usd"].get<double>(), 3 * UsdFor(1000, 100), 1e-12);
  EXPECT_EQ(c["tasks"][1]["cost_pusd"], 3 * (1000LL * 3'000'000 + 100LL * 15'000'000));
  EXPECT_EQ(c["tasks"][1]["runaway"], json::array());

  const json h = Body(ServeTasksTop(w.tasks, "/v1/tasks/top?by=hops"));
  ASSERT_EQ(h["tasks"].size(), 3u);  // n defaults to 20
  EXPECT_EQ(h["n"], 20);
  EXPECT_EQ(h["tasks"][0]["task_id"], "task-C");
  EXPECT_EQ(h["tasks"][0]["hops"], 14);
  EXPECT_EQ(h["tasks"][0]["tenant"], "initech");
  EXPECT_EQ(h["tasks"][0]["runaway"], json::array({"hops"}));
  EXPECT_EQ(h["tasks"][1]["task_id"], "task-A");
  EXPECT_EQ(h["tasks"][2]["task_id"], b_id);
  // by defaults to cost
  EXPECT_EQ(Body(ServeTasksTop(w.tasks, "/v1/tasks/top"))["tasks"][0]["task_id"], b_id);
}

TEST(DrillDown, TasksEndedByIdleTimeoutLeaveTheList) {
  World w;
  w.Send("old", "h1", 10, 1);
  w.now_ms += w.config.tasks.idle_timeout_seconds * 1000 - 1;
  w.Send("new", "h2", 10, 1);
  EXPECT_EQ(Body(ServeTasksTop(w.tasks, "/v1/tasks/top"))["tasks"].size(), 2u);
  w.now_ms += 1;  // "old" is idle for the whole timeout now
  const json j = Body(ServeTasksTop(w.tasks, "/v1/tasks/top"));
  ASSERT_EQ(j["tasks"].size(), 1u);
  EXPECT_EQ(j["tasks"][0]["task_id"], "new");
}

TEST(DrillDown, BadParametersAre400NamingTheField) {
  World w;
  for (const char* target : {"/v1/tasks/top?by=tokens", "/v1/tasks/top?by=", "/v1/tasks/top?by=COST"}) {
    const HttpResponse r = ServeTasksTop(w.tasks, target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(Body(r)["field"], "by") << target;
  }
  for (const char* target : {"/v1/tasks/top?n=0", "/v1/tasks/top?n=-1", "/v1/tasks/top?n=1001",
                             "/v1/tasks/top?n=99999999999999999999999", "/v1/tasks/top?n=2x"}) {
    const HttpResponse r = ServeTasksTop(w.tasks, target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(Body(r)["field"], "n") << target;
  }
  EXPECT_EQ(ServePromptsTop(w.prompts, "/v1/prompts/top?n=abc").status, 400);
  EXPECT_EQ(ServeTasksTop(w.tasks, "/v1/tasks/top?n=1000").status, 200);
}

TEST(DrillDown, PromptsTopShowsTheMostRepeatedHashWithItsRetryAmplifiedSpend) {
  World w;
  // 8 copies of one prompt within a few seconds: copies 6, 7 and 8 are repeats
  // (already seen 5 times in the window). Another prompt twice; one in chat.
  for (int i = 0; i < 8; ++i) {
    w.Send("t" + std::to_string(i), "sha256:\x01retry", 4000, 0, "agent", "acme");
    w.now_ms += 500;
  }
  w.Send("u1", "sha256:twice", 10, 0);
  w.Send("u2", "sha256:twice", 10, 0);
  w.Send("u3", "sha256:\x01retry", 10, 0, "chat");
  const HttpResponse r = ServePromptsTop(w.prompts, "/v1/prompts/top?n=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  const json j = Body(r);
  EXPECT_EQ(j["tracked_hashes"], 3);
  ASSERT_EQ(j["prompts"].size(), 2u);
  const json& top = j["prompts"][0];
  EXPECT_EQ(top["prompt_hash"], "sha256:\x01retry");
  EXPECT_EQ(top["feature"], "agent");
  EXPECT_EQ(top["tenant"], "acme");
  EXPECT_EQ(top["requests_in_window"], 8);
  EXPECT_EQ(top["repeated_requests"], 3);
  EXPECT_NEAR(top["repeated_cost_usd"].get<double>(), 3 * UsdFor(4000, 0), 1e-12);
  EXPECT_EQ(j["prompts"][1]["prompt_hash"], "sha256:twice");
  EXPECT_EQ(j["prompts"][1]["repeated_requests"], 0);
  // Past the window the hash is gone.
  w.now_ms += w.config.prompts.window_seconds * 1000 + 1;
  EXPECT_EQ(Body(ServePromptsTop(w.prompts, "/v1/prompts/top"))["prompts"].size(), 0u);
}

TEST(DrillDown, ServedThroughTheClientApiRoutesOnlyForGet) {
  World w;
  w.Send("t", "h", 1, 1);
  ClientApi api;
  api.tasks = &w.tasks;
  api.prompts = &w.prompts;
  HttpRequest req;
  req.method = "GET";
  req.path = "/v1/tasks/top";
  req.target = "/v1/tasks/top?by=hops&n=1";
  EXPECT_TRUE(IsClientApiPath(req.path));
  EXPECT_EQ(Body(ServeClientApi(api, req))["tasks"][0]["task_id"], "t");
  req.method = "POST";
  EXPECT_EQ(ServeClientApi(api, req).status, 405);
  req.method = "GET";
  req.path = req.target = "/v1/prompts/top";
  EXPECT_EQ(ServeClientApi(api, req).status, 200);
  ClientApi none;
  EXPECT_EQ(ServeClientApi(none, req).status, 404);
  EXPECT_FALSE(IsClientApiPath("/v1/tasks/topX"));
  EXPECT_FALSE(IsClientApiPath("/v1/tasks"));
}

}  // namespace
}  // namespace llmcost
