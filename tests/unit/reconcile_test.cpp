// Issue 16 in process: billing report parsing (exact cents), the per-model UTC-day
// ledger, the settled window across a day boundary (clock injected), the drift,
// the backfill and audit renderings, the Admin key file. Expected figures come from
// the per-million rates (claude-haiku-4-5: $1 in, $5 out per MTok) and from the
// cents strings, computed here, never read back from the code under test.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "commands/reconcile_commands.h"
#include "pricing/price_table.h"
#include "pricing/pricer.h"
#include "reconcile/admin_api.h"
#include "reconcile/admin_key.h"
#include "reconcile/billing_report.h"
#include "reconcile/reconciler.h"
#include "record/spend_ledger.h"
#include "storage/state_file.h"

namespace llmcost {
namespace {

using namespace std::chrono;

std::int64_t At(int y, unsigned m, unsigned d, int hh = 0) {
  const sys_days date{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
  return duration_cast<seconds>(date.time_since_epoch()).count() + hh * 3600;
}

const PriceTable& Table() {
  static const auto table = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return *table;
}

PicoUsd Haiku(std::uint64_t in, std::uint64_t out) {
  return static_cast<PicoUsd>(in) * 1'000'000 + static_cast<PicoUsd>(out) * 5'000'000;
}

TEST(BillingReportTest, CentsParseExactly) {
  // "123.78912" cents = $1.2378912 = 1237891200000 pUSD (1 cent = 1e10 pUSD).
  EXPECT_EQ(ParseCentsToPico("123.78912"), std::optional<PicoUsd>(12378912LL * 100'000LL));
  EXPECT_EQ(ParseCentsToPico("0"), std::optional<PicoUsd>(0));
  EXPECT_EQ(ParseCentsToPico("0.0000000001"), std::optional<PicoUsd>(1));  // one pUSD
  EXPECT_EQ(ParseCentsToPico("0.00000000001"), std::nullopt);              // below a pUSD: refused, not rounded
  EXPECT_EQ(ParseCentsToPico("-1"), std::nullopt);
  EXPECT_EQ(ParseCentsToPico("1e3"), std::nullopt);
  EXPECT_EQ(ParseCentsToPico(""), std::nullopt);
}

TEST(BillingReportTest, AnalyticsCostPage) {
  const auto page = ParseAnalyticsCostPage(R"({"data": [
      {"starting_at": "2026-11-29T00:00:00Z", "ending_at": "2026-11-30T00:00:00Z",
       "group": {"model": "claude-haiku-4-5-20251001"},
       "cost": {"amount": "61.8", "currency": "USD", "list_amount": "70", "requests": 12}},
      {"starting_at": "2026-11-29T00:00:00Z", "ending_at": "2026-11-30T00:00:00Z",
       "group": {"model": null}, "cost": {"amount": "0.5", "currency": "USD", "list_amount": "0.5", "requests": null}}],
    "has_more": true, "next_page": "page_abc"})");
  ASSERT_TRUE(page.ok()) << page.detail;
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[0].model, "claude-haiku-4-5-20251001");
  EXPECT_EQ(page.rows[0].pusd, 618LL * 1'000'000'000LL);  // 61.8 cents
  EXPECT_EQ(page.rows[0].start_unix, At(2026, 11, 29));
  EXPECT_EQ(page.rows[0].end_unix, At(2026, 11, 30));
  EXPECT_EQ(page.rows[1].model, kUnattributedModel);
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.next_page, "page_abc");
}

TEST(BillingReportTest, RefusesWhatIsNotTheDocumentedShape) {
  EXPECT_EQ(ParseAnalyticsCostPage("not json").error, ReportError::kMalformedJson);
  EXPECT_EQ(ParseAnalyticsCostPage(R"({"data": []})").error, ReportError::kMissingField);  // no has_more
  EXPECT_EQ(ParseAnalyticsCostPage(R"({"data": [], "has_more": true, "next_page": null})").error, ReportError::kMissingField);
  const auto bad_amount = ParseAnalyticsCostPage(R"({"data": [{"starting_at": "2026-11-29T00:00:00Z",
      "ending_at": "2026-11-30T00:00:00Z", "group": {"model": "m"}, "cost": {"amount": 1.5, "currency": "USD"}}],
      "has_more": false, "next_page": null})");
  EXPECT_EQ(bad_amount.error, ReportError::kBadAmount);
  EXPECT_EQ(bad_amount.detail, "data[0].cost.amount");
  EXPECT_TRUE(bad_amount.rows.empty());
  const auto eur = ParseAnalyticsCostPage(R"({"data": [{"starting_at": "2026-11-29T00:00:00Z",
      "ending_at": "2026-11-30T00:00:00Z", "group": {"model": "m"}, "cost": {"amount": "1", "currency": "EUR"}}],
      "has_more": false})");
  EXPECT_EQ(eur.error, ReportError::kBadCurrency);
  const auto bad_time = ParseLegacyCostReportPage(R"({"data": [{"starting_at": "yesterday",
      "ending_at": "2026-11-30T00:00:00Z", "results": []}], "has_more": false})");
  EXPECT_EQ(bad_time.error, ReportError::kBadTime);
}

TEST(BillingReportTest, LegacyCostReportAndUsageReport) {
  const auto cost = ParseLegacyCostReportPage(R"({"data": [{"starting_at": "2026-11-29T00:00:00Z",
      "ending_at": "2026-11-30T00:00:00Z", "results": [
        {"amount": "123.78912", "currency": "USD", "model": "claude-sonnet-4-6", "cost_type": "tokens",
         "token_type": "output_tokens", "description": "x", "service_tier": "standard", "context_window": "0-200k",
         "workspace_id": null, "inference_geo": null},
        {"amount": "1", "currency": "USD", "model": null, "cost_type": "web_search", "token_type": null,
         "description": "Web search", "service_tier": null, "context_window": null, "workspace_id": null}]}],
      "has_more": false, "next_page": null})");
  ASSERT_TRUE(cost.ok()) << cost.detail;
  ASSERT_EQ(cost.rows.size(), 2u);
  EXPECT_EQ(cost.rows[0].pusd, 12378912LL * 100'000LL);
  EXPECT_EQ(cost.rows[1].model, kUnattributedModel);
  const auto usage = ParseLegacyUsageReportPage(R"({"data": [{"starting_at": "2026-11-29T10:00:00Z",
      "ending_at": "2026-11-29T11:00:00Z", "results": [{"uncached_input_tokens": 10, "output_tokens": 20,
      "cache_read_input_tokens": 30, "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 50},
      "server_tool_use": {"web_search_requests": 0}, "model": "claude-haiku-4-5"}]}], "has_more": false, "next_page": null})");
  ASSERT_TRUE(usage.ok()) << usage.detail;
  ASSERT_EQ(usage.rows.size(), 1u);
  const BilledTokens& t = usage.rows[0];
  EXPECT_EQ(t.uncached_input + t.output * 100 + t.cache_read * 10000, 10u + 2000u + 300000u);
  EXPECT_EQ(t.cache_write_5m, 40u);
  EXPECT_EQ(t.cache_write_1h, 50u);
  EXPECT_EQ(ParseApiErrorType(R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})"),
            "rate_limit_error");
  EXPECT_EQ(ParseApiErrorType("<html>"), "");
}

TEST(BillingReportTest, MutatedPagesAreRefusedOrParsedNeverThrown) {
  const std::string valid = R"({"data": [{"starting_at": "2026-11-29T00:00:00Z", "ending_at": "2026-11-30T00:00:00Z",
      "group": {"model": "m"}, "cost": {"amount": "1.5", "currency": "USD"},
      "results": [{"amount": "2", "currency": "USD", "model": "m", "uncached_input_tokens": 3,
                   "cache_creation": {"ephemeral_5m_input_tokens": 4}}]}], "has_more": false, "next_page": null})";
  // Deterministic mutations: every byte replaced by characters that change JSON
  // types ({, [, ", digits, -, n), and every prefix.
  std::size_t parsed = 0;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    for (char c : std::string("{[\"0-n:,}]")) {
      std::string body = valid;
      body[i] = c;
      for (const auto& page : {ParseAnalyticsCostPage(body), ParseLegacyCostReportPage(body)}) {
        if (page.ok()) {
          ++parsed;
        } else {
          EXPECT_TRUE(page.rows.empty());
        }
      }
      (void)ParseLegacyUsageReportPage(body);
    }
    (void)ParseAnalyticsCostPage(valid.substr(0, i));
    (void)ParseLegacyUsageReportPage(valid.substr(0, i));
  }
  EXPECT_GT(parsed, 0u);
  EXPECT_TRUE(ParseAnalyticsCostPage(valid).ok());
  EXPECT_TRUE(ParseLegacyCostReportPage(valid).ok());
  EXPECT_TRUE(ParseLegacyUsageReportPage(valid).ok());
}

TEST(AdminApiTest, RequestTargetsCarryTheDocumentedParameters) {
  const std::string a = AdminApi::AnalyticsCostTarget(At(2026, 11, 1), At(2026, 11, 30), "1d", "");
  EXPECT_EQ(a.rfind("/v1/organizations/analytics/cost?", 0), 0u);
  EXPECT_NE(a.find("starting_at=2026-11-01T00%3A00%3A00Z"), std::string::npos) << a;
  EXPECT_NE(a.find("ending_at=2026-11-30T00%3A00%3A00Z"), std::string::npos) << a;
  EXPECT_NE(a.find("time_bucket_width=1d"), std::string::npos);
  EXPECT_NE(a.find("group_by%5B%5D=model"), std::string::npos) << a;
  EXPECT_EQ(a.find("page="), std::string::npos);
  const std::string l = AdminApi::LegacyCostTarget(At(2026, 11, 1), At(2026, 11, 30), "page_x");
  EXPECT_NE(l.find("bucket_width=1d"), std::string::npos);
  EXPECT_NE(l.find("group_by%5B%5D=description"), std::string::npos) << l;
  EXPECT_NE(l.find("limit=31"), std::string::npos);
  EXPECT_NE(l.find("page=page_x"), std::string::npos);
  EXPECT_THROW(AdminApi(AdminApiOptions{"http://host/with/path", "k"}), std::invalid_argument);
  EXPECT_THROW(AdminApi(AdminApiOptions{"ftp://host", "k"}), std::invalid_argument);
}

TEST(AdminKeyTest, ReadFromAFileAndNeverEchoed) {
  const std::string path = ::testing::TempDir() + "/admin.key";
  {
    std::ofstream(path) << "sk-ant-admin01-secret\n";
  }
  EXPECT_EQ(ReadAdminKeyFile(path), "sk-ant-admin01-secret");
  {
    std::ofstream(path) << "sk-ant-admin01-secret two words\n";
  }
  try {
    ReadAdminKeyFile(path);
    FAIL() << "a key with a space was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--reconcile.admin-key-file"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ReadAdminKeyFile(path + ".missing"), std::runtime_error);
  std::remove(path.c_str());
}

struct LedgerFixture {
  std::int64_t now;
  ExporterConfig config;
  SpendLedger ledger;
  explicit LedgerFixture(std::int64_t t) : now(t), ledger(config, [this] { return now; }) {}
  void Send(const std::string& model, std::uint64_t in, std::uint64_t out, std::int64_t ts,
            std::optional<Platform> platform = std::nullopt) {
    UsageEvent e;
    e.model_id = model;
    e.tokens[TokenType::kInput] = in;
    e.tokens[TokenType::kOutput] = out;
    e.ts_unix = ts;
    e.platform = platform;
    ledger.Record(e, PriceRequest(e, Table(), now));
  }
};

TEST(SpendLedgerModelDaysTest, FirstPartySpendByModelAndUtcDay) {
  LedgerFixture f(At(2026, 12, 2, 1));
  f.Send("claude-haiku-4-5", 1000, 200, At(2026, 11, 30, 23));
  f.Send("claude-haiku-4-5-20251001", 10, 0, At(2026, 11, 30, 1));  // a snapshot id: the same canonical model
  f.Send("claude-haiku-4-5", 1000, 200, At(2026, 12, 1, 0));        // the next day
  f.Send("claude-haiku-4-5", 5000, 5000, At(2026, 11, 30, 12), Platform::kBedrock);  // billed by AWS
  const auto day = f.ledger.ModelSpend(At(2026, 11, 30), At(2026, 12, 1));
  ASSERT_EQ(day.size(), 1u);
  EXPECT_EQ(day.at("claude-haiku-4-5"), Haiku(1000, 200) + Haiku(10, 0));
  const auto both = f.ledger.ModelSpend(At(2026, 11, 1), At(2026, 12, 2));
  EXPECT_EQ(both.at("claude-haiku-4-5"), 2 * Haiku(1000, 200) + Haiku(10, 0));

  // Persisted by day and model; restored into a fresh ledger exactly.
  LedgerFixture g(At(2026, 12, 2, 2));
  RestoreReport report;
  g.ledger.RestoreModelDays(f.ledger.ModelDaySnapshot(), report);
  EXPECT_EQ(g.ledger.ModelSpend(At(2026, 11, 30), At(2026, 12, 1)), day);
  EXPECT_TRUE(report.skipped.empty());
  g.ledger.RestoreModelDays({{At(2026, 11, 30, 5), "claude-haiku-4-5", 7}}, report);  // not a midnight
  EXPECT_EQ(report.skipped["model_day"], 1);
  EXPECT_EQ(g.ledger.ModelSpend(At(2026, 11, 30), At(2026, 12, 1)), day);
}

TEST(SpendLedgerModelDaysTest, StateFileKeepsModelDaysByName) {
  MetricsState state;
  state.model_days = {{At(2026, 11, 30), "claude-haiku-4-5", 1234567}, {At(2026, 12, 1), "claude-sonnet-4-6", 1}};
  std::string error;
  const auto back = DecodeState(EncodeState(state), error);
  ASSERT_TRUE(back.has_value()) << error;
  ASSERT_EQ(back->model_days.size(), 2u);
  EXPECT_EQ(back->model_days[0].day_unix, At(2026, 11, 30));
  EXPECT_EQ(back->model_days[0].model, "claude-haiku-4-5");
  EXPECT_EQ(back->model_days[0].spent_pusd, 1234567);
  // An empty ledger round-trips empty. Files written before the model-day ledger
  // (no "model_days" key at all) are the golden files of tests/state (state.upgrade).
  MetricsState old;
  const auto loaded = DecodeState(EncodeState(old), error);
  ASSERT_TRUE(loaded.has_value()) << error;
  EXPECT_TRUE(loaded->model_days.empty());
}

TEST(SpendLedgerModelDaysTest, OldDaysAgeOutAndModelsAreBounded) {
  LedgerFixture f(At(2026, 12, 2, 1));
  RestoreReport report;
  f.ledger.RestoreModelDays({{At(2026, 9, 1), "claude-haiku-4-5", 5}}, report);  // beyond the retention
  EXPECT_TRUE(f.ledger.ModelSpend(At(2026, 1, 1), At(2027, 1, 1)).empty());
  for (std::size_t i = 0; i < SpendLedger::kMaxModelsPerDay + 5; ++i) {
    f.ledger.RestoreModelDays({{At(2026, 12, 1), "model-" + std::to_string(i), 1}}, report);
  }
  const auto day = f.ledger.ModelSpend(At(2026, 12, 1), At(2026, 12, 2));
  EXPECT_EQ(day.size(), SpendLedger::kMaxModelsPerDay + 1);
  EXPECT_EQ(day.at(std::string(SpendLedger::kOverflowModel)), 5);
}

TEST(ReconcilerTest, SettledWindowAcrossADayBoundary) {
  // settle-after 48h: at 2026-12-03 23:59:59 the last settled day is 2026-11-30
  // (it ended 2026-12-01 00:00, 48h earlier is 2026-12-03 00:00 <= now).
  const std::int64_t settle = 48 * 3600;
  EXPECT_EQ(SettledAt(At(2026, 12, 3, 0) - 1, settle).day, At(2026, 11, 29));
  EXPECT_EQ(SettledAt(At(2026, 12, 3, 0), settle).day, At(2026, 11, 30));
  EXPECT_EQ(SettledAt(At(2026, 12, 3, 0), settle).month_start, At(2026, 11, 1));
  EXPECT_EQ(SettledAt(At(2026, 12, 4, 0), settle).day, At(2026, 12, 1));
  EXPECT_EQ(SettledAt(At(2026, 12, 4, 0), settle).month_start, At(2026, 12, 1));
}

TEST(ReconcilerTest, DriftFromTheEventsAndTheBilledFigures) {
  LedgerFixture f(At(2026, 12, 2, 23));
  Reconciler::Options o;
  o.settle_after_seconds = 48 * 3600;
  Reconciler r(f.ledger, o, [](std::string_view m) { return Table().ResolveModel(m); }, [&f] { return f.now; });
  f.Send("claude-haiku-4-5", 1000, 200, At(2026, 11, 29, 10));
  f.Send("claude-haiku-4-5", 3000, 0, At(2026, 11, 30, 10));
  f.Send("claude-haiku-4-5", 500, 500, At(2026, 12, 1, 10));
  // Before any poll: instrumented only, for the clock's window (last settled 2026-11-29).
  auto rows = r.Rows();
  ASSERT_FALSE(rows.empty());
  EXPECT_FALSE(rows[0].billed.has_value());
  EXPECT_EQ(rows[0].instrumented, Haiku(1000, 200));

  // A poll at 2026-12-02 23:00 covers 2026-11-01 .. 2026-11-29.
  const SettledWindow w = SettledAt(f.now, o.settle_after_seconds);
  const PicoUsd billed_29 = 618LL * 1'000'000'000LL;  // "61.8" cents... per the fake figures below
  r.ApplyBilled(w, {{At(2026, 11, 29), At(2026, 11, 30), "claude-haiku-4-5-20251001", billed_29},
                    {At(2026, 11, 30), At(2026, 12, 1), "claude-haiku-4-5", 1},  // outside the window: ignored
                    {At(2026, 11, 29), At(2026, 11, 30), "claude-future-9", 100}},
                std::nullopt);
  // Cross the boundary: it is now 2026-12-03 00:30, 2026-11-30 is settled, but no
  // new poll yet: every series stays on the polled window.
  f.now = At(2026, 12, 3, 0) + 1800;
  rows = r.Rows();
  bool saw_haiku = false, saw_future = false;
  for (const auto& row : rows) {
    if (row.period != ReconcilePeriod::kLastSettledDay) continue;
    if (row.model == "claude-haiku-4-5") {
      saw_haiku = true;
      EXPECT_EQ(*row.billed, billed_29);
      EXPECT_EQ(row.instrumented, Haiku(1000, 200));
      EXPECT_DOUBLE_EQ(*row.drift, static_cast<double>(Haiku(1000, 200)) / static_cast<double>(billed_29) - 1.0);
    }
    if (row.model == "claude-future-9") {
      saw_future = true;
      EXPECT_EQ(row.instrumented, 0);
      EXPECT_DOUBLE_EQ(*row.drift, -1.0);
    }
  }
  EXPECT_TRUE(saw_haiku && saw_future);
  // The next poll moves the window; a failed poll would not.
  r.PollFailed(PollResult::kServerError);
  EXPECT_EQ(r.BilledWindow()->day, At(2026, 11, 29));
  r.ApplyBilled(SettledAt(f.now, o.settle_after_seconds),
                {{At(2026, 11, 30), At(2026, 12, 1), "claude-haiku-4-5", Haiku(3000, 0) * 100 / 103}}, std::nullopt);
  for (const auto& row : r.Rows()) {
    if (row.period == ReconcilePeriod::kLastSettledDay && row.model == "claude-haiku-4-5") {
      EXPECT_EQ(row.instrumented, Haiku(3000, 0));
      EXPECT_NEAR(*row.drift, 0.03, 1e-9);
    }
    if (row.period == ReconcilePeriod::kMonthToDateSettled && row.model == "claude-haiku-4-5") {
      EXPECT_EQ(row.instrumented, Haiku(1000, 200) + Haiku(3000, 0));
      EXPECT_EQ(*row.billed, Haiku(3000, 0) * 100 / 103);
    }
  }
}

TEST(ReconcileCommandsTest, BackfillIsOpenMetricsInSeriesOrder) {
  const auto resolve = [](std::string_view m) { return Table().ResolveModel(m); };
  const std::string om = RenderBackfill(
      {{At(2026, 11, 29, 11), At(2026, 11, 29, 12), "claude-haiku-4-5-20251001", 25'000'000'000LL},
       {At(2026, 11, 29, 10), At(2026, 11, 29, 11), "claude-haiku-4-5", 1}},
      "1h", {{At(2026, 11, 29, 10), At(2026, 11, 29, 11), "claude-haiku-4-5", 7, 8, 9, 10, 11}}, resolve);
  const std::string t10 = std::to_string(At(2026, 11, 29, 10)), t11 = std::to_string(At(2026, 11, 29, 11));
  const auto first = om.find("llm_billed_bucket_cost_usd{model=\"claude-haiku-4-5\",bucket_width=\"1h\"} 0.000000000001 " + t10);
  const auto second = om.find("llm_billed_bucket_cost_usd{model=\"claude-haiku-4-5\",bucket_width=\"1h\"} 0.025 " + t11);
  EXPECT_NE(first, std::string::npos) << om;
  EXPECT_NE(second, std::string::npos) << om;
  EXPECT_LT(first, second);
  EXPECT_NE(om.find("llm_billed_bucket_tokens{model=\"claude-haiku-4-5\",token_type=\"cache_write_1h\"} 11 " + t10),
            std::string::npos);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
}

TEST(ReconcileCommandsTest, AuditTable) {
  const DayModelSums billed = {{{At(2026, 11, 29), "claude-haiku-4-5"}, 100'000'000'000LL}};  // $0.1
  const DayModelSums inst = {{{At(2026, 11, 29), "claude-haiku-4-5"}, 103'000'000'000LL},
                             {{At(2026, 11, 29), "claude-sonnet-4-6"}, 5}};
  const std::string t = RenderReconcileTable(billed, inst);
  EXPECT_NE(t.find("2026-11-29  claude-haiku-4-5"), std::string::npos) << t;
  EXPECT_NE(t.find("+3.00%"), std::string::npos) << t;
  EXPECT_NE(t.find("0.000000000005"), std::string::npos) << t;
  EXPECT_NE(RenderReconcileTable(billed, std::nullopt).find("n/a"), std::string::npos);
  EXPECT_EQ(ParseUtcDate("2026-02-30"), std::nullopt);
  EXPECT_EQ(ParseUtcDate("2026-11-29"), std::optional<std::int64_t>(At(2026, 11, 29)));
}

}  // namespace
}  // namespace llmcost
