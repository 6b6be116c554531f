#pragma once
// PrometheusSpend: the multi-replica answer for GET /v1/budgets. Each exporter
// replica only sees its own events; with --budgets.prometheus-url the budgets
// answer takes each scope's period-to-date spend from
//   sum by (scope, period) (llm_spend_usd)
// on a Prometheus-compatible query API (Prometheus, Thanos Query, Mimir), and falls
// back to the local ledger, saying so, when that query fails. One query per
// kCacheSeconds at most, however many clients poll.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "pricing/money.h"

namespace llmcost {

class PrometheusSpend {
 public:
  using Sums = std::map<std::pair<std::string, std::string>, PicoUsd>;  // (scope, period) -> pUSD
  static constexpr int kCacheSeconds = 2;
  static constexpr std::chrono::milliseconds kTimeout{1000};

  // url: http(s)://host[:port][/prefix] (the query API is <url>/api/v1/query).
  // Throws std::invalid_argument naming the flag for a URL it cannot use.
  explicit PrometheusSpend(std::string url);

  struct Answer {
    std::optional<Sums> sums;  // nullopt: the query failed
    std::string error;         // why, when it failed
  };
  Answer Get();
  // Any instant query answering one sample per (first, second) label pair, in USD
  // (reconcile/: sum by (model, period) (llm_instrumented_cost_usd)). Not cached.
  Answer Query(const std::string& promql, const std::string& first, const std::string& second);

  // The query API's JSON answer -> sums, or nullopt with *error set. Public for tests.
  static std::optional<Sums> ParseQueryResult(const std::string& body, std::string* error,
                                              const std::string& first = "scope", const std::string& second = "period");

 private:
  std::string scheme_host_;
  std::string prefix_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point fetched_{};
  Answer cached_;
};

}  // namespace llmcost
