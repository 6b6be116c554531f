#pragma once
// Billing report parsing: the JSON pages of Anthropic's Admin API cost and usage
// reports -> billed rows (UTC bucket, model, exact pico-dollars or tokens). Plain
// functions from a response body to a result, tested in process (tests/unit) and
// against a fake server written from the documented shapes (tests/reconcile).
//
// Shapes (docs/reconciliation.md, "API fields", has the sources):
//  - Usage and Cost Analytics API (beta), GET /v1/organizations/analytics/cost:
//    {"data": [{"starting_at", "ending_at", "group": {"model": ...},
//               "cost": {"amount": "<fractional cents>", "currency": "USD", ...}}],
//     "has_more", "next_page"}
//  - legacy GET /v1/organizations/cost_report (group_by[]=description for model):
//    {"data": [{"starting_at", "ending_at", "results": [{"amount", "currency", "model", ...}]}],
//     "has_more", "next_page"}
//  - legacy GET /v1/organizations/usage_report/messages (group_by[]=model):
//    results carry uncached_input_tokens, cache_read_input_tokens,
//    cache_creation.{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, output_tokens.
// Amounts are decimal strings in cents ("123.78912" = $1.2378912): parsed exactly,
// 1 cent = 1e10 pUSD, never through a double.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pricing/money.h"

namespace llmcost {

enum class ReportError : std::uint8_t {
  kNone,
  kMalformedJson,   // not JSON, or not an object with a `data` array
  kMissingField,    // a documented field is absent or of the wrong type
  kBadAmount,       // amount not a non-negative decimal string within 10 fractional digits of a cent
  kBadCurrency,     // currency other than USD
  kBadTime,         // starting_at / ending_at not RFC 3339
};
std::string_view ReportErrorName(ReportError e);  // malformed_json, missing_field, ...

// A row whose model is null (non-token costs such as web search or code execution
// in the legacy report, or a row the API did not attribute) is kept under this name.
inline constexpr std::string_view kUnattributedModel = "unattributed";

// 1 cent in pUSD. "123.78912" cents -> 12378912000000 pUSD ($1.2378912).
std::optional<PicoUsd> ParseCentsToPico(std::string_view cents);

struct BilledCost {
  std::int64_t start_unix = 0;  // the bucket's starting_at
  std::int64_t end_unix = 0;    // its ending_at (exclusive)
  std::string model;            // as the API names it (not yet resolved)
  PicoUsd pusd = 0;
};

struct BilledTokens {
  std::int64_t start_unix = 0;
  std::int64_t end_unix = 0;
  std::string model;
  std::uint64_t uncached_input = 0, output = 0, cache_read = 0, cache_write_5m = 0, cache_write_1h = 0;
};

template <typename Row>
struct ReportPage {
  std::vector<Row> rows;
  bool has_more = false;
  std::string next_page;  // empty when absent or null
  ReportError error = ReportError::kNone;
  std::string detail;  // the field at fault, for the log
  bool ok() const { return error == ReportError::kNone; }
};

enum class CostSource : std::uint8_t { kAnalytics, kLegacyCostReport };
std::string_view CostSourceName(CostSource s);  // analytics, cost_report

ReportPage<BilledCost> ParseAnalyticsCostPage(std::string_view body);
ReportPage<BilledCost> ParseLegacyCostReportPage(std::string_view body);
ReportPage<BilledTokens> ParseLegacyUsageReportPage(std::string_view body);

// The documented error envelope {"type":"error","error":{"type":..,"message":..}}:
// the error type, or "" when the body is not one. The message is not returned:
// it is the API's text and may echo request details.
std::string ParseApiErrorType(std::string_view body);

}  // namespace llmcost
