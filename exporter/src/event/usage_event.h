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

// The event fields that name a task (an agent run, a conversation), in order of
// preference: the first one present is the task id. Declared once; the config's
// tasks.id_fields overrides it.
inline const std::vector<std::string> kDefaultTaskIdFields{"task_id", "conversation_id", "session_id"};
// Longer task ids and prompt hashes are cut to this many bytes (memory bound).
inline constexpr std::size_t kMaxTaskIdBytes = 256;

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
inline constexpr std::size_t kServiceTierCount = 4;
std::string_view ServiceTierName(ServiceTier t);  // standard, batch, priority, other
enum class Speed : std::uint8_t { kStandard, kFast, kOther };

// Where the request was served. Bounded: the `platform` label takes only these.
enum class Platform : std::uint8_t { kAnthropic, kBedrock, kVertex, kFoundry, kOpenAi, kOther };
inline constexpr std::size_t kPlatformCount = 6;
std::string_view PlatformName(Platform p);  // anthropic, bedrock, vertex, foundry, openai, other
bool PlatformFromName(std::string_view name, Platform& out);

// Cloud endpoint kind (Google Cloud does not show it in the id: the event says so).
enum class Endpoint : std::uint8_t { kUnspecified, kGlobal, kRegional };

// One entry of usage.iterations: a sampling step with its own model and counts.
struct UsageIteration {
  std::string type;      // message, compaction, advisor_message, fallback_message, ...
  std::string model_id;  // "" = the request's model
  TokenCounts tokens;
};

struct UsageEvent {
  std::string provider = "anthropic";
  std::string model_id;  // as the client sent it; resolved to a canonical name when priced
  TokenCounts tokens;
  std::uint64_t web_search_requests = 0;
  ServiceTier tier = ServiceTier::kStandard;
  bool us_only_inference = false;  // usage.inference_geo == "us"
  Speed speed = Speed::kStandard;
  std::optional<Platform> platform;  // as the event says; the model id, when it shows one, wins
  Endpoint endpoint = Endpoint::kUnspecified;
  std::optional<std::int64_t> ts_unix;  // when the request happened, if the event says
  // usage.iterations; when non-empty these are billed, not `tokens`.
  std::vector<UsageIteration> iterations;
  std::uint64_t fallback_credits = 0;  // fallback_credit entries: counted, never priced
  RequestStatus status = RequestStatus::kOk;
  std::optional<double> latency_seconds;
  std::optional<double> ttft_seconds;
  std::optional<double> client_cost_usd;
  // A client's own figure kept for comparison only (Claude Code's cost_usd over
  // OTLP): recorded in its own counter beside the exporter's price, never priced.
  std::optional<double> reported_cost_usd;
  // Allowlisted attribution labels present in the event, as (name, raw value).
  std::vector<std::pair<std::string, std::string>> labels;
  std::string request_id;
  // Task and prompt identity: condensed by the record stage (TaskTracker), never
  // labels, never logged. Empty when the event does not say.
  std::string task_id;
  bool task_end = false;  // "task_end": true: the task is over after this request
  std::string prompt_hash;
  // Priced from an aggregate (OTLP metrics: Claude Code's token.usage, GenAI
  // token histograms), not one request: tokens and cost count, llm_requests_total
  // and the per-request histograms do not.
  bool from_aggregate = false;
};

}  // namespace llmcost
