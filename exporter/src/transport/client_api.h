#pragma once
// ClientApi: what an application reads from the ingest listener (same
// authentication as POST /v1/events), as plain functions request -> response:
//   GET /v1/budgets, /v1/budgets/<scope>  -- "may I spend?" from the spend ledger
//   GET /v1/prices,  /v1/prices/<model>   -- the loaded price table, ids resolved the
//                                            way the exporter resolves them
//   GET /v1/tasks/top?by=cost|hops&n=20    -- the worst active tasks (TaskTracker)
//   GET /v1/prompts/top?n=20               -- the most repeated prompt hashes (PromptRepeats)
// The drill-down answers carry task ids and prompt hashes as sent: ids never
// become labels and are never logged, so this is how on-call goes from an
// LLMRunawayTask or LLMRetryStorm page to the culprit (docs/runbook.md).
// docs/budgets.md defines every field. Budget answers carry a weak ETag over the
// ledger's figures (If-None-Match -> 304) and Cache-Control max-age, so polling
// every few seconds costs a hash, not a body.
#include <string_view>

#include "pricing/price_book.h"
#include "record/prompt_repeats.h"
#include "record/spend_ledger.h"
#include "record/task_tracker.h"
#include "transport/http_request.h"
#include "transport/prometheus_spend.h"

namespace llmcost {

inline constexpr std::string_view kBudgetsPath = "/v1/budgets";
inline constexpr std::string_view kPricesPath = "/v1/prices";
inline constexpr std::string_view kTasksTopPath = "/v1/tasks/top";
inline constexpr std::string_view kPromptsTopPath = "/v1/prompts/top";
// The drill-down's n: default and most.
inline constexpr std::size_t kTopDefault = 20;
inline constexpr std::size_t kTopMax = 1000;
// How long a client may reuse a budget answer without asking again.
inline constexpr int kBudgetsMaxAgeSeconds = 5;

struct ClientApi {
  const SpendLedger* ledger = nullptr;  // null: /v1/budgets is not served (404)
  const PriceBook* prices = nullptr;    // null: /v1/prices is not served (404)
  PrometheusSpend* remote = nullptr;    // --budgets.prometheus-url: spend summed over replicas
  TaskTracker* tasks = nullptr;         // null: /v1/tasks/top is not served (404)
  PromptRepeats* prompts = nullptr;     // null: /v1/prompts/top is not served (404)
};

// True when `path` is one of ClientApi's routes (with or without a tail).
bool IsClientApiPath(std::string_view path);

// The complete request (already authenticated) -> the answer.
HttpResponse ServeClientApi(const ClientApi& api, const HttpRequest& request);

// The budgets answer on its own, for tests: `path` is /v1/budgets[/<scope>] and
// `if_none_match` the header's value ("" when absent).
// With `remote`, spent figures are the sums over replicas from Prometheus
// ("source": "prometheus"), or the local ledger when that fails ("local_fallback").
HttpResponse ServeBudgets(const SpendLedger& ledger, std::string_view path, std::string_view if_none_match,
                          PrometheusSpend* remote = nullptr);
HttpResponse ServePrices(const PriceTable& table, std::string_view target);
// `target` is the request target with its query (?by=&n=); a bad parameter is a
// 400 naming it and why.
HttpResponse ServeTasksTop(TaskTracker& tasks, std::string_view target);
HttpResponse ServePromptsTop(PromptRepeats& prompts, std::string_view target);

}  // namespace llmcost
