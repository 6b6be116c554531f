#pragma once
// UsageEvent: one LLM API call as a client reported it, after parsing and
// validation and before pricing. Plain data; no JSON, no metrics.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmcost {

enum class TokenType : std::uint8_t { kInput, kOutput, kCacheRead, kCacheWrite5m, kCacheWrite1h };
inline constexpr std::size_t kTokenTypeCount = 5;
std::string_view TokenTypeName(TokenType t);

// Billable tokens by type. Anthropic's counts are disjoint: `input` is fresh input
// only, never including cache reads or writes.
struct TokenCounts {
  std::array<std::uint64_t, kTokenTypeCount> by_type{};
  std::uint64_t& operator[](TokenType t) { return by_type[static_cast<std::size_t>(t)]; }
  std::uint64_t operator[](TokenType t) const { return by_type[static_cast<std::size_t>(t)]; }
  // Fresh input + cache reads + cache writes: what the long-context threshold and
  // the input-size histogram look at.
  std::uint64_t TotalInput() const;
};

enum class RequestStatus : std::uint8_t {
  kOk, kRateLimited, kOverloaded, kServerError, kClientError, kTimeout, kOtherError
};
inline constexpr std::size_t kRequestStatusCount = 7;
std::string_view RequestStatusName(RequestStatus s);
bool RequestStatusFromName(std::string_view name, RequestStatus& out);

enum class ServiceTier : std::uint8_t { kStandard, kBatch, kPriority, kOther };
enum class Speed : std::uint8_t { kStandard, kFast, kOther };

struct UsageEvent {
  std::string provider = "anthropic";
  std::string model_id;  // as the client sent it; resolved to a canonical name when priced
  TokenCounts tokens;
  std::uint64_t web_search_requests = 0;
  ServiceTier tier = ServiceTier::kStandard;
  bool us_only_inference = false;  // usage.inference_geo == "us"
  Speed speed = Speed::kStandard;
  RequestStatus status = RequestStatus::kOk;
  std::optional<double> latency_seconds;
  std::optional<double> ttft_seconds;
  std::optional<double> client_cost_usd;
  // Allowlisted attribution labels present in the event, as (name, raw value).
  std::vector<std::pair<std::string, std::string>> labels;
  std::string request_id;
};

}  // namespace llmcost
