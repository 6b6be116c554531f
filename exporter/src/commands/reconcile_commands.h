#pragma once
// The billing subcommands (docs/reconciliation.md):
//   llm-cost-exporter backfill --from DATE --to DATE     billed history as OpenMetrics, for
//       promtool tsdb create-blocks-from openmetrics (hourly cost and tokens by model)
//   llm-cost-exporter reconcile --from DATE --to DATE [--metrics-url URL]
//       a table per model and UTC day: billed, instrumented, drift
// Both read the Admin API with --reconcile.admin-key-file and --reconcile.api-url.
// DATE is YYYY-MM-DD (UTC); --to is inclusive. The rendering is plain functions of
// the fetched rows, tested in process; the fetching is AdminApi's.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands/price_commands.h"
#include "reconcile/billing_report.h"

namespace llmcost {

// "2026-11-30" -> 00:00 UTC of that day.
std::optional<std::int64_t> ParseUtcDate(std::string_view text);

// OpenMetrics text: llm_billed_bucket_cost_usd{model,bucket_width} and
// llm_billed_bucket_tokens{model,token_type}, one sample per bucket stamped with
// the bucket's starting_at, each family contiguous and each series in time order,
// ending with "# EOF". `resolve` maps the API's model ids to canonical names.
std::string RenderBackfill(const std::vector<BilledCost>& costs, std::string_view cost_width,
                           const std::vector<BilledTokens>& tokens,
                           const std::function<std::string(std::string_view)>& resolve);

// (UTC day, canonical model) -> pUSD
using DayModelSums = std::map<std::pair<std::int64_t, std::string>, PicoUsd>;
// The audit table: one line per day and model, billed, instrumented (or "n/a"
// without a metrics source), drift in percent (or "n/a" where billed is 0).
std::string RenderReconcileTable(const DayModelSums& billed, const std::optional<DayModelSums>& instrumented);

// backfill / reconcile with their arguments (argv after the subcommand).
bool IsReconcileSubcommand(const std::vector<std::string>& args);
CommandResult RunReconcileSubcommand(const std::vector<std::string>& args);

}  // namespace llmcost
