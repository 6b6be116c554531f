// The spend ledger across UTC midnight, an ISO week boundary and a month end, with
// an injected clock. Expected amounts are computed here from the per-million rates
// of claude-haiku-4-5 ($1 input, $5 output per MTok: 1e6 and 5e6 pUSD per token),
// expected boundaries with std::chrono's calendar, never from the ledger's code.
#include "record/spend_ledger.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <string>

#include "pricing/price_table.h"
#include "pricing/pricer.h"
#include "storage/state_file.h"

namespace llmcost {
namespace {

using namespace std::chrono;

std::int64_t At(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  const sys_days date{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
  return duration_cast<seconds>(date.time_since_epoch()).count() + hh * 3600 + mm * 60 + ss;
}

const PriceTable& Table() {
  static const auto table = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  return *table;
}

// pUSD of a haiku-4-5 request, from the published rates.
PicoUsd Expected(std::uint64_t in, std::uint64_t out) {
  return static_cast<PicoUsd>(in) * 1'000'000 + static_cast<PicoUsd>(out) * 5'000'000;
}

struct Fixture {
  std::int64_t now = 0;
  ExporterConfig config;
  std::unique_ptr<SpendLedger> ledger;

  explicit Fixture(std::int64_t start, const std::string& yaml = "") {
    now = start;
    config = ExporterConfig::Parse(yaml.empty() ? "budgets:\n"
                                                  "  - {scope: global, period: day, usd: 10}\n"
                                                  "  - {scope: 'feature:chat', period: month, usd: 100, warn_at: 0.5}\n"
                                                  "  - {scope: 'feature:chat', period: week, usd: 30}\n"
                                                  "  - {scope: 'route:/api/chat', period: day, usd: 5}\n"
                                                : yaml);
    ledger = std::make_unique<SpendLedger>(config, [this] { return now; });
  }

  // Sends one request, priced at its own ts if given (else now).
  PicoUsd Send(std::uint64_t in, std::uint64_t out, const std::string& feature = "chat",
               std::optional<std::int64_t> ts = std::nullopt, const std::string& route = "") {
    UsageEvent e;
    e.model_id = "claude-haiku-4-5";
    e.tokens[TokenType::kInput] = in;
    e.tokens[TokenType::kOutput] = out;
    if (!feature.empty()) e.labels.emplace_back("feature", feature);
    if (!route.empty()) e.labels.emplace_back("route", route);
    e.ts_unix = ts;
    const RequestCost cost = PriceRequest(e, Table(), now);
    ledger->Record(e, cost);
    return cost.RequestTotal();
  }

  SpendLedger::PeriodView Period(const std::string& scope, BudgetPeriod p) const {
    auto v = ledger->Read(scope);
    EXPECT_TRUE(v.has_value()) << scope;
    return v->periods[static_cast<std::size_t>(p)];
  }
};

TEST(SpendLedgerTest, PeriodBoundsFollowTheUtcCalendar) {
  // Tuesday 2026-12-01 12:00: week from Monday 2026-11-30, month December.
  const std::int64_t t = At(2026, 12, 1, 12);
  EXPECT_EQ(PeriodAt(BudgetPeriod::kDay, t).start, At(2026, 12, 1));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kDay, t).end, At(2026, 12, 2));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, t).start, At(2026, 11, 30));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, t).end, At(2026, 12, 7));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, t).previous_start, At(2026, 11, 23));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kMonth, t).start, At(2026, 12, 1));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kMonth, t).end, At(2027, 1, 1));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kMonth, t).previous_start, At(2026, 11, 1));
  // A Monday 00:00 starts its own week; Sunday 23:59:59 is the week before.
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, At(2026, 12, 7)).start, At(2026, 12, 7));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, At(2026, 12, 6, 23, 59, 59)).start, At(2026, 11, 30));
  // February of a leap year, and January's previous month.
  EXPECT_EQ(PeriodAt(BudgetPeriod::kMonth, At(2024, 2, 29, 23)).end, At(2024, 3, 1));
  EXPECT_EQ(PeriodAt(BudgetPeriod::kMonth, At(2027, 1, 15)).previous_start, At(2026, 12, 1));
  // Before 1970 (negative unix times) too.
  EXPECT_EQ(PeriodAt(BudgetPeriod::kWeek, At(1969, 12, 31)).start, At(1969, 12, 29));
  EXPECT_EQ(FormatUtc(At(2027, 1, 1, 0, 0, 5)), "2027-01-01T00:00:05Z");
}

TEST(SpendLedgerTest, MidnightRollsTheDayNotTheWeekOrMonth) {
  Fixture f(At(2026, 12, 1, 23, 59));
  const PicoUsd a = f.Send(1'247, 311);
  EXPECT_EQ(a, Expected(1'247, 311));
  f.now = At(2026, 12, 2, 0, 0, 30);
  const PicoUsd b = f.Send(20'000, 1'000);
  EXPECT_EQ(b, Expected(20'000, 1'000));
  auto day = f.Period("global", BudgetPeriod::kDay);
  EXPECT_EQ(day.spent, b);
  EXPECT_EQ(day.previous, a);
  EXPECT_EQ(day.bounds.end, At(2026, 12, 3));
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).spent, a + b);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kMonth).spent, a + b);
  EXPECT_EQ(f.Period("feature:chat", BudgetPeriod::kDay).spent, b);
}

TEST(SpendLedgerTest, QuietMidnightStillResetsAndSkippedPeriodsAreZero) {
  Fixture f(At(2026, 12, 1, 10));
  const PicoUsd a = f.Send(5'000, 0);
  f.now = At(2026, 12, 2, 0, 0, 1);  // no event since: a read rolls over
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).spent, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).previous, a);
  f.now = At(2026, 12, 4, 9);  // two days on: yesterday (12-03) had nothing
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).spent, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).previous, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).spent, a);
}

TEST(SpendLedgerTest, WeekBoundaryIsMondayMidnightUtc) {
  Fixture f(At(2026, 12, 6, 23, 59, 59));  // Sunday
  const PicoUsd a = f.Send(100, 100);
  f.now = At(2026, 12, 7, 0, 1);  // Monday
  const PicoUsd b = f.Send(300, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).spent, b);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).previous, a);
  EXPECT_EQ(f.Period("feature:chat", BudgetPeriod::kWeek).spent, b);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kMonth).spent, a + b);
}

TEST(SpendLedgerTest, MonthEndRollsDayAndMonthButNotTheIsoWeek) {
  Fixture f(At(2026, 12, 31, 23, 59, 59));  // Thursday
  const PicoUsd a = f.Send(7'000, 2'000);
  f.now = At(2027, 1, 1);  // Friday, same ISO week
  const PicoUsd b = f.Send(1, 1);
  for (const char* scope : {"global", "feature:chat"}) {
    EXPECT_EQ(f.Period(scope, BudgetPeriod::kMonth).spent, b) << scope;
    EXPECT_EQ(f.Period(scope, BudgetPeriod::kMonth).previous, a) << scope;
    EXPECT_EQ(f.Period(scope, BudgetPeriod::kMonth).bounds.end, At(2027, 2, 1)) << scope;
    EXPECT_EQ(f.Period(scope, BudgetPeriod::kDay).previous, a) << scope;
    EXPECT_EQ(f.Period(scope, BudgetPeriod::kWeek).spent, a + b) << scope;
  }
}

TEST(SpendLedgerTest, LateEventCountsInItsOwnPeriodOlderOnlyInCounters) {
  Fixture f(At(2026, 12, 2, 0, 5));
  const PicoUsd late = f.Send(1'000, 0, "chat", At(2026, 12, 1, 23, 58));  // yesterday
  const PicoUsd old = f.Send(9'000, 0, "chat", At(2026, 11, 29, 12));      // before yesterday, last week
  EXPECT_GT(old, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).spent, 0);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).previous, late);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).spent, late);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kWeek).previous, old);
  EXPECT_EQ(f.Period("global", BudgetPeriod::kMonth).spent, late);  // Dec 1 is this month
  EXPECT_EQ(f.Period("global", BudgetPeriod::kMonth).previous, old);
}

TEST(SpendLedgerTest, ScopesMatchTheirLabelValueOnly) {
  Fixture f(At(2026, 12, 1, 8));
  const PicoUsd chat = f.Send(1'000, 10, "chat", std::nullopt, "/api/chat");
  const PicoUsd search = f.Send(2'000, 20, "search");
  const PicoUsd none = f.Send(3'000, 30, "");
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).spent, chat + search + none);
  EXPECT_EQ(f.Period("feature:chat", BudgetPeriod::kDay).spent, chat);
  EXPECT_EQ(f.Period("route:/api/chat", BudgetPeriod::kDay).spent, chat);
  EXPECT_FALSE(f.ledger->Read("feature:search").has_value());  // no budget: no scope
  EXPECT_EQ(f.ledger->Scopes(), (std::vector<std::string>{"global", "feature:chat", "route:/api/chat"}));
  // Budgets attach by period; warn_at from the config, defaults otherwise.
  const auto month = f.Period("feature:chat", BudgetPeriod::kMonth);
  ASSERT_NE(month.budget, nullptr);
  EXPECT_EQ(month.budget->usd, 100);
  EXPECT_EQ(month.budget->warn_at, 0.5);
  EXPECT_EQ(month.budget->block_at, kDefaultBlockAt);
  EXPECT_EQ(f.Period("feature:chat", BudgetPeriod::kDay).budget, nullptr);
}

TEST(SpendLedgerTest, FailedAndUnpricedRequestsSpendNothing) {
  Fixture f(At(2026, 12, 1, 8));
  UsageEvent e;
  e.model_id = "claude-no-such-model";
  e.tokens[TokenType::kInput] = 1'000;
  f.ledger->Record(e, PriceRequest(e, Table(), f.now));
  EXPECT_EQ(f.Period("global", BudgetPeriod::kDay).spent, 0);
}

TEST(SpendLedgerTest, SnapshotRestoresExactlyAndRollsOverDowntime) {
  Fixture f(At(2026, 12, 31, 22));
  const PicoUsd a = f.Send(123'457, 9'876);
  const PicoUsd b = f.Send(1, 0, "chat", std::nullopt, "/api/chat");
  const auto saved = f.ledger->Snapshot();

  // Restarted the same evening: every figure as it was.
  Fixture same(At(2026, 12, 31, 23));
  RestoreReport report;
  same.ledger->Restore(saved, report);
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_EQ(same.Period("global", BudgetPeriod::kMonth).spent, a + b);
  EXPECT_EQ(same.Period("route:/api/chat", BudgetPeriod::kDay).spent, b);

  // Restarted after the new year: December is the previous month.
  Fixture later(At(2027, 1, 1, 1));
  later.ledger->Restore(saved, report);
  EXPECT_EQ(later.Period("global", BudgetPeriod::kMonth).spent, 0);
  EXPECT_EQ(later.Period("global", BudgetPeriod::kMonth).previous, a + b);
  EXPECT_EQ(later.Period("feature:chat", BudgetPeriod::kDay).previous, a + b);

  // A config without route:/api/chat drops that scope, and says so.
  Fixture fewer(At(2026, 12, 31, 23), "budgets:\n  - {scope: 'feature:chat', period: day, usd: 1}\n");
  RestoreReport r2;
  fewer.ledger->Restore(saved, r2);
  EXPECT_EQ(r2.spend_scopes_dropped, std::vector<std::string>{"route:/api/chat"});
  EXPECT_EQ(fewer.Period("feature:chat", BudgetPeriod::kDay).spent, a + b);
  EXPECT_EQ(fewer.Period("global", BudgetPeriod::kDay).spent, a + b);
}

TEST(SpendLedgerTest, CollectExportsEveryScopeAndPeriod) {
  Fixture f(At(2026, 12, 1, 8));
  const PicoUsd a = f.Send(4'000, 100);
  const auto families = f.ledger->Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "llm_spend_usd");
  EXPECT_EQ(families[0].metric.size(), 3u * kBudgetPeriodCount);
  bool found = false;
  for (const auto& m : families[0].metric) {
    if (m.label[0].value == "month" && m.label[1].value == "feature:chat") {
      EXPECT_DOUBLE_EQ(m.gauge.value, (4'000 * 1.0 + 100 * 5.0) / 1e6);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(a, Expected(4'000, 100));
}

TEST(SpendLedgerTest, ConfigAcceptsWeekAndChecksThresholds) {
  EXPECT_NO_THROW(ExporterConfig::Parse("budgets:\n  - {scope: global, period: week, usd: 70}\n"));
  EXPECT_THROW(ExporterConfig::Parse("budgets:\n  - {scope: global, period: year, usd: 70}\n"), ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("budgets:\n  - {scope: global, period: day, usd: 7, warn_at: 1.2}\n"),
               ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("budgets:\n  - {scope: global, period: day, usd: 7, block_at: 0}\n"),
               ConfigError);
  try {
    ExporterConfig::Parse("budgets:\n  - {scope: global, period: yearly, usd: 70}\n");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("budgets[0].period: must be one of day, week, month"), std::string::npos)
        << e.what();
  }
}

TEST(SpendLedgerTest, StateFileKeepsTheLedgerByNameAndOlderFilesLoadWithout) {
  Fixture f(At(2026, 12, 15, 9));
  const PicoUsd a = f.Send(999'999, 33'333, "chat", std::nullopt, "/api/chat");
  MetricsState state;
  state.spend = f.ledger->Snapshot();
  std::string error;
  const auto decoded = DecodeState(EncodeState(state), error);
  ASSERT_TRUE(decoded.has_value()) << error;
  Fixture g(At(2026, 12, 15, 10));
  RestoreReport report;
  g.ledger->Restore(decoded->spend, report);
  EXPECT_EQ(g.Period("route:/api/chat", BudgetPeriod::kWeek).spent, a);
  EXPECT_EQ(g.Period("global", BudgetPeriod::kMonth).spent, a);
  // A v2 file written before the ledger (no "spend" key) loads with an empty ledger.
  const std::string bytes = EncodeState(MetricsState{});
  const auto nl = bytes.find('\n');
  std::string json = bytes.substr(nl + 1);
  const auto at = json.find(",\"spend\":[]");
  ASSERT_NE(at, std::string::npos);
  json.erase(at, std::string(",\"spend\":[]").size());
  char header[128];
  std::snprintf(header, sizeof header, "LLMCOSTSTATE 2 %08lx %zu 0\n",
                crc32(0L, reinterpret_cast<const Bytef*>(json.data()), static_cast<uInt>(json.size())), json.size());
  const auto old = DecodeState(header + json, error);
  ASSERT_TRUE(old.has_value()) << error;
  EXPECT_TRUE(old->spend.empty());
  // A negative amount is refused, naming the field.
  MetricsState bad;
  bad.spend = f.ledger->Snapshot();
  bad.spend[0].periods["day"].spent_pusd = -1;
  EXPECT_FALSE(DecodeState(EncodeState(bad), error));
  EXPECT_NE(error.find("spend[0].periods.day.spent_pusd: negative"), std::string::npos) << error;
}

}  // namespace
}  // namespace llmcost
