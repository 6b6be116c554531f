// GET /v1/budgets and /v1/prices as plain functions. Every expected field is
// computed here: spend from the per-million rates of claude-haiku-4-5 ($1 input,
// $5 output), the pace and projection from the definition in docs/budgets.md,
// boundaries with std::chrono's calendar.
#include "transport/client_api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

#include "pricing/pricer.h"

namespace llmcost {
namespace {

using nlohmann::json;

std::int64_t At(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  const std::chrono::sys_days date{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
  return std::chrono::duration_cast<std::chrono::seconds>(date.time_since_epoch()).count() + hh * 3600 + mm * 60 + ss;
}

const PriceTable& Table() {
  static const auto table = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return *table;
}

double Usd(std::uint64_t in, std::uint64_t out) { return (in * 1.0 + out * 5.0) / 1e6; }

struct Api {
  std::int64_t now;
  ExporterConfig config = ExporterConfig::Parse(
      "budgets:\n"
      "  - {scope: global, period: day, usd: 0.10}\n"
      "  - {scope: 'feature:chat', period: month, usd: 0.05, warn_at: 0.5, block_at: 0.9}\n"
      "  - {scope: 'route:/api/chat', period: week, usd: 0.02}\n");
  SpendLedger ledger{config, [this] { return now; }};

  explicit Api(std::int64_t t) : now(t) {}

  void Send(std::uint64_t in, std::uint64_t out, const std::string& feature, const std::string& route = "") {
    UsageEvent e;
    e.model_id = "claude-haiku-4-5";
    e.tokens[TokenType::kInput] = in;
    e.tokens[TokenType::kOutput] = out;
    e.labels.emplace_back("feature", feature);
    if (!route.empty()) e.labels.emplace_back("route", route);
    ledger.Record(e, PriceRequest(e, Table(), now));
  }
  json Get(const std::string& path, int want = 200) {
    const HttpResponse r = ServeBudgets(ledger, path, "");
    EXPECT_EQ(r.status, want) << path << ": " << r.body;
    return json::parse(r.body);
  }
};

TEST(BudgetsApi, EveryFieldFromTheEventsSent) {
  // Yesterday (Monday 2026-11-30) 0.004 USD on chat; today until 06:00 more.
  Api api(At(2026, 11, 30, 20));
  api.Send(4'000, 0, "chat");
  const double yesterday = Usd(4'000, 0);
  api.now = At(2026, 12, 1, 6);
  api.Send(1'247, 311, "chat", "/api/chat");
  api.Send(2'000, 100, "search");
  const double chat_today = Usd(1'247, 311), search_today = Usd(2'000, 100);

  const json all = api.Get("/v1/budgets");
  EXPECT_EQ(all["as_of"], "2026-12-01T06:00:00Z");
  EXPECT_EQ(all["source"], "local");
  ASSERT_EQ(all["scopes"].size(), 3u);
  EXPECT_EQ(all["scopes"][0]["scope"], "global");

  const json g = all["scopes"][0]["periods"]["day"];
  const double today = chat_today + search_today;
  EXPECT_DOUBLE_EQ(g["budget_usd"].get<double>(), 0.10);
  EXPECT_NEAR(g["spent_usd"].get<double>(), today, 1e-15);
  EXPECT_NEAR(g["previous_usd"].get<double>(), yesterday, 1e-15);
  EXPECT_NEAR(g["remaining_usd"].get<double>(), 0.10 - today, 1e-15);
  // Pace: today so far plus yesterday's share of the trailing 24 h (18 of its 24 hours).
  const double pace = today + yesterday * (18.0 / 24.0);
  EXPECT_NEAR(g["projected_usd"].get<double>(), today + pace * (18.0 / 24.0), 1e-15);
  EXPECT_EQ(g["state"], "ok");
  EXPECT_EQ(g["warn_at"], 0.8);
  EXPECT_EQ(g["block_at"], 1.0);
  EXPECT_EQ(g["period_start"], "2026-12-01T00:00:00Z");
  EXPECT_EQ(g["resets_at"], "2026-12-02T00:00:00Z");

  // Global has no month budget: figures, no budget fields.
  const json gm = all["scopes"][0]["periods"]["month"];
  EXPECT_TRUE(gm["budget_usd"].is_null());
  EXPECT_TRUE(gm["remaining_usd"].is_null());
  EXPECT_NEAR(gm["spent_usd"].get<double>(), today, 1e-15);  // Nov 30 was last month
  EXPECT_EQ(gm["resets_at"], "2027-01-01T00:00:00Z");
  // 30 days of December left, 6 hours of today gone.
  const double left = (At(2027, 1, 1) - At(2026, 12, 1, 6)) / 86400.0;
  EXPECT_NEAR(gm["projected_usd"].get<double>(), today + pace * left, 1e-12);

  // The week (from Monday Nov 30) holds yesterday too.
  const json w = api.Get("/v1/budgets/route:/api/chat");
  EXPECT_EQ(w["scope"], "route:/api/chat");
  EXPECT_NEAR(w["periods"]["week"]["spent_usd"].get<double>(), chat_today, 1e-15);
  EXPECT_EQ(w["periods"]["week"]["period_start"], "2026-11-30T00:00:00Z");
  EXPECT_EQ(w["periods"]["week"]["resets_at"], "2026-12-07T00:00:00Z");
  // Percent-encoded, the same scope.
  EXPECT_EQ(api.Get("/v1/budgets/route%3A%2Fapi%2Fchat")["scope"], "route:/api/chat");
  const json chat = api.Get("/v1/budgets/feature:chat");
  EXPECT_NEAR(chat["periods"]["week"]["spent_usd"].get<double>(), yesterday + chat_today, 1e-15);
}

TEST(BudgetsApi, WarnAndExceededFollowTheConfiguredThresholds) {
  Api api(At(2026, 12, 10, 12));
  // feature:chat month: 0.05 USD, warn at 50% (0.025), blocked at 90% (0.045).
  api.Send(20'000, 0, "chat");  // 0.02
  EXPECT_EQ(api.Get("/v1/budgets/feature:chat")["periods"]["month"]["state"], "ok");
  api.Send(5'000, 0, "chat");  // 0.025: warn
  json j = api.Get("/v1/budgets/feature:chat");
  EXPECT_EQ(j["periods"]["month"]["state"], "warn");
  EXPECT_EQ(j["state"], "warn");
  api.Send(0, 4'000, "chat");  // 0.045: exceeded (block_at 0.9)
  j = api.Get("/v1/budgets/feature:chat");
  EXPECT_EQ(j["periods"]["month"]["state"], "exceeded");
  EXPECT_EQ(j["state"], "exceeded");
  EXPECT_NEAR(j["periods"]["month"]["remaining_usd"].get<double>(), 0.05 - 0.045, 1e-15);
  // A new month: ok again.
  api.now = At(2027, 1, 1, 0, 0, 1);
  j = api.Get("/v1/budgets/feature:chat");
  EXPECT_EQ(j["state"], "ok");
  EXPECT_NEAR(j["periods"]["month"]["previous_usd"].get<double>(), 0.045, 1e-15);
}

TEST(BudgetsApi, ETagAnswers304UntilTheFiguresChange) {
  Api api(At(2026, 12, 10, 12));
  api.Send(100, 0, "chat");
  const HttpResponse first = ServeBudgets(api.ledger, "/v1/budgets", "");
  std::string etag, cache;
  for (const auto& [k, v] : first.headers) {
    if (k == "ETag") etag = v;
    if (k == "Cache-Control") cache = v;
  }
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.substr(0, 3), "W/\"");
  EXPECT_EQ(cache, "private, max-age=" + std::to_string(kBudgetsMaxAgeSeconds));
  api.now += 3;  // the clock moved, the figures did not
  EXPECT_EQ(ServeBudgets(api.ledger, "/v1/budgets", etag).status, 304);
  EXPECT_EQ(ServeBudgets(api.ledger, "/v1/budgets", "\"other\", " + etag).status, 304);
  EXPECT_TRUE(ServeBudgets(api.ledger, "/v1/budgets", etag).body.empty());
  EXPECT_EQ(ServeBudgets(api.ledger, "/v1/budgets/global", etag).status, 200);  // another resource
  api.Send(1, 0, "search");
  EXPECT_EQ(ServeBudgets(api.ledger, "/v1/budgets", etag).status, 200);
}

TEST(BudgetsApi, UnknownScopeIs404WithTheKnownScopes) {
  Api api(At(2026, 12, 10, 12));
  const json j = api.Get("/v1/budgets/feature:search", 404);
  EXPECT_NE(j["error"].get<std::string>().find("feature:search"), std::string::npos);
  EXPECT_EQ(j["scopes"], json({"global", "feature:chat", "route:/api/chat"}));
}

TEST(BudgetsApi, OnlyGetAndHead) {
  Api api(At(2026, 12, 10, 12));
  ClientApi routes{&api.ledger, nullptr};
  HttpRequest req;
  req.method = "POST";
  req.path = req.target = "/v1/budgets";
  EXPECT_EQ(ServeClientApi(routes, req).status, 405);
  req.method = "GET";
  EXPECT_EQ(ServeClientApi(routes, req).status, 200);
  req.path = req.target = "/v1/prices";  // no price book given: not served
  EXPECT_EQ(ServeClientApi(routes, req).status, 404);
  req.path = req.target = "/v1/budgetsX";
  EXPECT_FALSE(IsClientApiPath(req.path));
}

TEST(PricesApi, ResolvesIdsLikeTheExporterAndNeverGuesses) {
  // A dated snapshot and a Bedrock id both resolve to claude-haiku-4-5: $1 / $5 per MTok.
  for (const char* id : {"claude-haiku-4-5-20251001", "us.anthropic.claude-haiku-4-5-20251001-v1:0"}) {
    const HttpResponse r = ServePrices(Table(), std::string("/v1/prices/") + id);
    ASSERT_EQ(r.status, 200) << id << r.body;
    const json j = json::parse(r.body);
    EXPECT_EQ(j["price"]["model"], "claude-haiku-4-5");
    EXPECT_EQ(j["requested"], id);
    EXPECT_EQ(j["price"]["current"]["pusd_per_token"]["input"], 1'000'000);   // $1 / 1e6 tokens in pUSD
    EXPECT_EQ(j["price"]["current"]["pusd_per_token"]["output"], 5'000'000);
    EXPECT_DOUBLE_EQ(j["price"]["current"]["usd_per_mtok"]["cache_read"].get<double>(), 0.10);
    EXPECT_DOUBLE_EQ(j["price"]["current"]["usd_per_mtok"]["cache_write_1h"].get<double>(), 2);
  }
  const HttpResponse unknown = ServePrices(Table(), "/v1/prices/claude-no-such-model");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["model"], "claude-no-such-model");
  EXPECT_EQ(ServePrices(Table(), "/v1/prices/claude-haiku-4-5?provider=openai").status, 404);
  const json all = json::parse(ServePrices(Table(), "/v1/prices").body);
  EXPECT_EQ(all["models"].size(), Table().size());
  EXPECT_EQ(all["as_of"], Table().as_of());
}

TEST(PrometheusSpend, ParsesTheQueryApiAnswerToExactPicoDollars) {
  std::string error;
  const auto sums = PrometheusSpend::ParseQueryResult(
      R"({"status":"success","data":{"resultType":"vector","result":[
          {"metric":{"scope":"feature:chat","period":"month"},"value":[1764633600.0,"0.024292"]},
          {"metric":{"scope":"global","period":"day"},"value":[1764633600.0,"NaN"]}]}})",
      &error);
  ASSERT_TRUE(sums.has_value()) << error;
  EXPECT_EQ(sums->size(), 1u);  // NaN is no figure
  EXPECT_EQ(sums->at({"feature:chat", "month"}), 24'292'000'000);  // 0.024292 USD in pUSD
  EXPECT_FALSE(PrometheusSpend::ParseQueryResult(R"({"status":"error","error":"bad query"})", &error));
  EXPECT_NE(error.find("bad query"), std::string::npos);
  EXPECT_FALSE(PrometheusSpend::ParseQueryResult("<html>", &error));
  EXPECT_THROW(PrometheusSpend("localhost:9090"), std::invalid_argument);
}

}  // namespace
}  // namespace llmcost
