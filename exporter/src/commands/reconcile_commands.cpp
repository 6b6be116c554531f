#include "commands/reconcile_commands.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "config/flags.h"
#include "event/event_time.h"
#include "pricing/price_table.h"
#include "reconcile/admin_api.h"
#include "reconcile/admin_key.h"
#include "record/spend_ledger.h"
#include "record/text_format.h"
#include "transport/prometheus_spend.h"

namespace llmcost {
namespace {

constexpr std::int64_t kDaySeconds = 86400;

std::string EscapeLabel(std::string_view v) {
  std::string out;
  AppendEscapedLabelValue(out, v);  // OpenMetrics escapes label values as the text format does
  return out;
}

// pUSD as an exact decimal USD text (12 fractional digits, trailing zeros trimmed).
std::string UsdText(PicoUsd p) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%012lld", static_cast<long long>(p / 1'000'000'000'000),
                static_cast<long long>(p % 1'000'000'000'000));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::optional<std::int64_t> ParseUtcDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto t = ParseRfc3339(std::string(text) + "T00:00:00Z");
  if (!t || FormatUtc(*t).substr(0, 10) != text) return std::nullopt;  // 2026-02-30 is not a date
  return t;
}

std::string RenderBackfill(const std::vector<BilledCost>& costs, std::string_view cost_width,
                           const std::vector<BilledTokens>& tokens,
                           const std::function<std::string(std::string_view)>& resolve) {
  auto model_of = [&](const std::string& m) { return m == kUnattributedModel ? m : resolve(m); };
  std::map<std::string, std::map<std::int64_t, PicoUsd>> cost_series;
  for (const BilledCost& c : costs) cost_series[model_of(c.model)][c.start_unix] += c.pusd;
  std::map<std::pair<std::string, std::string>, std::map<std::int64_t, std::uint64_t>> token_series;
  for (const BilledTokens& t : tokens) {
    const std::string m = model_of(t.model);
    const std::pair<const char*, std::uint64_t> parts[] = {{"input", t.uncached_input}, {"output", t.output},
                                                          {"cache_read", t.cache_read}, {"cache_write_5m", t.cache_write_5m},
                                                          {"cache_write_1h", t.cache_write_1h}};
    for (const auto& [type, n] : parts) token_series[{m, type}][t.start_unix] += n;
  }
  std::string out;
  out += "# HELP llm_billed_bucket_cost_usd Cost Anthropic billed in the bucket starting at the sample's time (Admin API).\n";
  out += "# TYPE llm_billed_bucket_cost_usd gauge\n";
  out += "# UNIT llm_billed_bucket_cost_usd usd\n";
  for (const auto& [model, points] : cost_series) {
    for (const auto& [t, p] : points) {
      out += "llm_billed_bucket_cost_usd{model=\"" + EscapeLabel(model) + "\",bucket_width=\"" + std::string(cost_width) +
             "\"} " + UsdText(p) + " " + std::to_string(t) + "\n";
    }
  }
  out += "# HELP llm_billed_bucket_tokens Tokens Anthropic billed in the hour starting at the sample's time (Admin API).\n";
  out += "# TYPE llm_billed_bucket_tokens gauge\n";
  for (const auto& [key, points] : token_series) {
    for (const auto& [t, n] : points) {
      out += "llm_billed_bucket_tokens{model=\"" + EscapeLabel(key.first) + "\",token_type=\"" + key.second + "\"} " +
             std::to_string(n) + " " + std::to_string(t) + "\n";
    }
  }
  out += "# EOF\n";
  return out;
}

std::string RenderReconcileTable(const DayModelSums& billed, const std::optional<DayModelSums>& instrumented) {
  std::set<std::pair<std::int64_t, std::string>> keys;
  for (const auto& [k, _] : billed) keys.insert(k);
  if (instrumented) {
    for (const auto& [k, _] : *instrumented) keys.insert(k);
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s  %-32s  %18s  %18s  %9s\n", "day", "model", "billed_usd", "instrumented_usd", "drift");
  out += line;
  for (const auto& k : keys) {
    const auto b = billed.find(k);
    const PicoUsd bp = b == billed.end() ? 0 : b->second;
    std::string inst = "n/a", drift = "n/a";
    if (instrumented) {
      const auto i = instrumented->find(k);
      const PicoUsd ip = i == instrumented->end() ? 0 : i->second;
      inst = UsdText(ip);
      if (bp != 0) {
        char d[32];
        std::snprintf(d, sizeof d, "%+.2f%%", (static_cast<double>(ip) / static_cast<double>(bp) - 1.0) * 100.0);
        drift = d;
      }
    }
    std::snprintf(line, sizeof line, "%-10s  %-32s  %18s  %18s  %9s\n", FormatUtc(k.first).substr(0, 10).c_str(),
                  k.second.c_str(), UsdText(bp).c_str(), inst.c_str(), drift.c_str());
    out += line;
  }
  return out;
}

bool IsReconcileSubcommand(const std::vector<std::string>& args) {
  return !args.empty() && (args[0] == "backfill" || args[0] == "reconcile");
}

CommandResult RunReconcileSubcommand(const std::vector<std::string>& args) {
  const std::string cmd = args[0];
  const std::string usage = "usage: llm-cost-exporter " + cmd +
                            " --from YYYY-MM-DD --to YYYY-MM-DD --reconcile.admin-key-file=FILE [--reconcile.api-url=URL]" +
                            (cmd == "reconcile" ? " [--metrics-url=PROMETHEUS_URL]" : "") + " [--pricing.file=FILE]\n";
  std::string from_text, to_text, metrics_url;
  std::vector<std::string> rest;
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto take = [&](const std::string& name, std::string& out) {
      if (args[i] == "--" + name) {
        if (i + 1 >= args.size()) return false;
        out = args[++i];
        return true;
      }
      if (args[i].rfind("--" + name + "=", 0) == 0) {
        out = args[i].substr(name.size() + 3);
        return true;
      }
      return false;
    };
    if (take("from", from_text) || take("to", to_text) || (cmd == "reconcile" && take("metrics-url", metrics_url))) continue;
    rest.push_back(args[i]);
  }
  Flags flags;
  if (std::string err = ParseFlags(rest, flags); !err.empty()) return {2, "", "llm-cost-exporter " + cmd + ": " + err + "\n" + usage};
  if (flags.show_help) return {0, usage, ""};
  const auto from = ParseUtcDate(from_text);
  const auto to = ParseUtcDate(to_text);
  if (!from || !to || *to < *from) return {2, "", "llm-cost-exporter " + cmd + ": --from and --to must be dates YYYY-MM-DD, --to not before --from\n" + usage};
  if (flags.reconcile_admin_key_file.empty()) return {2, "", "llm-cost-exporter " + cmd + ": --reconcile.admin-key-file is required\n" + usage};
  const std::int64_t end = *to + kDaySeconds;
  std::shared_ptr<const PriceTable> table;
  std::optional<AdminApi> api;
  try {
    table = flags.pricing_file.empty() ? PriceTable::Embedded() : PriceTable::LoadFile(flags.pricing_file);
    AdminApiOptions o;
    o.base_url = flags.reconcile_api_url;
    o.admin_key = ReadAdminKeyFile(flags.reconcile_admin_key_file);
    api.emplace(std::move(o));
  } catch (const std::exception& e) {
    return {1, "", "llm-cost-exporter " + cmd + ": " + e.what() + "\n"};
  }
  auto resolve = [&table](std::string_view m) { return table->ResolveModel(m); };
  auto failed = [&](const std::string& what, PollResult r, const std::string& detail) {
    return CommandResult{1, "", "llm-cost-exporter " + cmd + ": " + what + " failed: " +
                                    std::string(kPollResultNames[static_cast<std::size_t>(r)]) + ": " + detail + "\n"};
  };
  if (cmd == "backfill") {
    auto costs = api->Cost(*from, end, "1h");
    if (!costs.ok()) return failed("cost", costs.result, costs.detail);
    auto tokens = api->Usage(*from, end, "1h");
    if (!tokens.ok()) return failed("usage", tokens.result, tokens.detail);
    const std::string width = costs.source == CostSource::kAnalytics ? "1h" : "1d";
    std::string err = "llm-cost-exporter backfill: cost from " + std::string(CostSourceName(costs.source)) + " (" + width +
                      " buckets), " + std::to_string(costs.rows.size()) + " cost rows, " + std::to_string(tokens.rows.size()) +
                      " usage rows\n";
    return {0, RenderBackfill(costs.rows, width, tokens.rows, resolve), err};
  }
  auto costs = api->Cost(*from, end, "1d");
  if (!costs.ok()) return failed("cost", costs.result, costs.detail);
  DayModelSums billed;
  for (const BilledCost& c : costs.rows) {
    billed[{c.start_unix - ((c.start_unix % kDaySeconds) + kDaySeconds) % kDaySeconds,
            c.model == kUnattributedModel ? c.model : resolve(c.model)}] += c.pusd;
  }
  std::optional<DayModelSums> instrumented;
  if (!metrics_url.empty()) {
    instrumented.emplace();
    try {
      PrometheusSpend prom(metrics_url);
      for (std::int64_t day = *from; day < end; day += kDaySeconds) {
        // The first-party cost counted in the day, from the counters (Prometheus'
        // increase(): exact when both day boundaries have a sample).
        const std::string q = "sum by (model) (increase(llm_cost_usd_total{platform=\"anthropic\"}[1d] @ " +
                              std::to_string(day + kDaySeconds) + "))";
        const auto a = prom.Query(q, "model", "model");
        if (!a.sums) return {1, "", "llm-cost-exporter reconcile: --metrics-url: " + a.error + "\n"};
        for (const auto& [k, p] : *a.sums) (*instrumented)[{day, k.first}] += p;
      }
    } catch (const std::exception& e) {
      return {2, "", std::string("llm-cost-exporter reconcile: ") + e.what() + "\n"};
    }
  }
  return {0, RenderReconcileTable(billed, instrumented),
          "llm-cost-exporter reconcile: billed from " + std::string(CostSourceName(costs.source)) + "\n"};
}

}  // namespace llmcost
