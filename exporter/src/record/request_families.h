#pragma once
// The record stage's counter families on /metrics, declared once: name, help and
// type, in /metrics order. The serialiser (request_text.cpp) writes HELP/TYPE from
// here and the contract test (tests/unit/request_text_test.cpp) checks each against
// docs/metrics.md; the histograms are declared in kRequestHistograms
// (request_observation.h) and follow these.
#include <array>
#include <string_view>

namespace llmcost {

struct RequestFamily {
  std::string_view name;
  std::string_view help;
  std::string_view type;  // as in "# TYPE" and docs/metrics.md
};

enum RequestFamilyIndex : std::size_t {
  kRequestsFamily,
  kTokensFamily,
  kCostFamily,
  kCacheSavingsFamily,
  kCacheWritePremiumFamily,
  kClientReportedCostFamily,
  kUnpricedFamily,
};

inline constexpr std::array<RequestFamily, 7> kRequestCounterFamilies = {{
    {"llm_requests_total", "LLM API requests seen, by status.", "counter"},
    {"llm_tokens_total", "Tokens reported by clients, by token type (input excludes cache reads and writes).",
     "counter"},
    {"llm_cost_usd_total", "Spend in USD, priced at ingest from the price table or as reported by the client.",
     "counter"},
    {"llm_cache_savings_usd_total", "USD saved by cache reads versus sending the same tokens as fresh input.",
     "counter"},
    {"llm_cache_write_premium_usd_total", "USD paid for cache writes above the fresh input rate.", "counter"},
    {"llm_client_reported_cost_usd_total",
     "USD the client itself reported for requests the exporter priced (Claude Code's cost_usd over OTLP), for "
     "comparison with llm_cost_usd_total; never added to it.",
     "counter"},
    {"llm_unpriced_requests_total", "Requests that could not be priced exactly; their cost is not guessed.",
     "counter"},
}};

}  // namespace llmcost
