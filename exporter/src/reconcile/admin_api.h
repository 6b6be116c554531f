#pragma once
// AdminApi: reads Anthropic's billed cost and usage over HTTP(S) with an Admin API
// key (x-api-key) sent to the configured base URL only (redirects are not
// followed, so the key never goes anywhere else). It pages through has_more /
// next_page, honours 429 Retry-After (bounded), retries 5xx with backoff, and
// falls back from the Usage and Cost Analytics API (beta) to the legacy
// cost_report when the beta is refused. Sleeps go through an injectable function
// that can stop the wait (shutdown), so a poll never outlives the exporter.
#include <array>
#include <chrono>
#include <optional>
#include <string_view>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reconcile/billing_report.h"

namespace llmcost {

inline constexpr std::string_view kAnthropicApiUrl = "https://api.anthropic.com";
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";
inline constexpr std::string_view kAnalyticsBeta = "analytics-usage-cost-2026-08-24";

// The outcome of one poll: the `result` label of llm_reconcile_polls_total.
enum class PollResult : std::uint8_t { kSuccess, kRateLimited, kServerError, kUnauthorized, kHttpError, kTransportError, kBadResponse };
inline constexpr std::array<std::string_view, 7> kPollResultNames = {
    "success", "rate_limited", "server_error", "unauthorized", "http_error", "transport_error", "bad_response"};

struct AdminApiOptions {
  std::string base_url = std::string(kAnthropicApiUrl);  // scheme://host[:port], no path
  std::string admin_key;
  std::chrono::milliseconds timeout{30'000};
  int max_attempts = 4;                  // per page: the first try and 3 retries
  std::chrono::seconds max_retry_after{300};  // a longer Retry-After fails the poll instead
  int max_pages = 200;
  // Waits `d`; returns false when the wait was cut short (shutdown): the fetch stops.
  std::function<bool(std::chrono::milliseconds)> sleep;
};

template <typename Row>
struct Fetched {
  std::vector<Row> rows;
  PollResult result = PollResult::kSuccess;
  std::string detail;  // why it failed (status, error type, field): never the key
  CostSource source = CostSource::kAnalytics;
  int retries = 0;
  int pages = 0;
  bool ok() const { return result == PollResult::kSuccess; }
};

class AdminApi {
 public:
  // Throws std::invalid_argument for a base URL that is not http(s)://host[:port].
  explicit AdminApi(AdminApiOptions options);

  // Billed cost by model in [from, to) (unix seconds, UTC midnights for "1d"),
  // bucket width "1d" or "1h" (the legacy cost_report has only "1d").
  Fetched<BilledCost> Cost(std::int64_t from, std::int64_t to, std::string_view width);
  // Billed tokens by model (legacy usage_report/messages), width "1d" or "1h".
  Fetched<BilledTokens> Usage(std::int64_t from, std::int64_t to, std::string_view width);

  // The request target for one page (tests check the documented parameters).
  static std::string AnalyticsCostTarget(std::int64_t from, std::int64_t to, std::string_view width, const std::string& page);
  static std::string LegacyCostTarget(std::int64_t from, std::int64_t to, const std::string& page);
  static std::string LegacyUsageTarget(std::int64_t from, std::int64_t to, std::string_view width, const std::string& page);

 private:
  struct Response {
    int status = 0;  // 0: no response (transport error)
    std::string body;
    std::string error;
  };
  Response Get(const std::string& target, bool beta, int& retries, PollResult& failure, std::string& detail);
  template <typename Row, typename Parse, typename Target>
  Fetched<Row> Pages(Target&& target, bool beta, Parse&& parse);

  AdminApiOptions options_;
};

}  // namespace llmcost
