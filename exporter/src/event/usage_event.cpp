#include "event/usage_event.h"

namespace llmcost {

std::string_view TokenTypeName(TokenType t) {
  switch (t) {
    case TokenType::kInput: return "input";
    case TokenType::kOutput: return "output";
    case TokenType::kCacheRead: return "cache_read";
    case TokenType::kCacheWrite5m: return "cache_write_5m";
    case TokenType::kCacheWrite1h: return "cache_write_1h";
  }
  return "unknown";
}

std::uint64_t TokenCounts::TotalInput() const {
  return (*this)[TokenType::kInput] + (*this)[TokenType::kCacheRead] +
         (*this)[TokenType::kCacheWrite5m] + (*this)[TokenType::kCacheWrite1h];
}

std::string_view RequestStatusName(RequestStatus s) {
  switch (s) {
    case RequestStatus::kOk: return "ok";
    case RequestStatus::kRateLimited: return "rate_limited";
    case RequestStatus::kOverloaded: return "overloaded";
    case RequestStatus::kServerError: return "server_error";
    case RequestStatus::kClientError: return "client_error";
    case RequestStatus::kTimeout: return "timeout";
    case RequestStatus::kOtherError: return "other_error";
  }
  return "other_error";
}

std::string_view ServiceTierName(ServiceTier t) {
  switch (t) {
    case ServiceTier::kStandard: return "standard";
    case ServiceTier::kBatch: return "batch";
    case ServiceTier::kPriority: return "priority";
    case ServiceTier::kOther: return "other";
  }
  return "other";
}

std::string_view PlatformName(Platform p) {
  switch (p) {
    case Platform::kAnthropic: return "anthropic";
    case Platform::kBedrock: return "bedrock";
    case Platform::kVertex: return "vertex";
    case Platform::kFoundry: return "foundry";
    case Platform::kOpenAi: return "openai";
    case Platform::kOther: return "other";
  }
  return "other";
}

bool PlatformFromName(std::string_view name, Platform& out) {
  for (std::size_t i = 0; i < kPlatformCount; ++i) {
    if (PlatformName(static_cast<Platform>(i)) == name) {
      out = static_cast<Platform>(i);
      return true;
    }
  }
  return false;
}

bool RequestStatusFromName(std::string_view name, RequestStatus& out) {
  for (std::size_t i = 0; i < kRequestStatusCount; ++i) {
    if (RequestStatusName(static_cast<RequestStatus>(i)) == name) {
      out = static_cast<RequestStatus>(i);
      return true;
    }
  }
  return false;
}

}  // namespace llmcost
