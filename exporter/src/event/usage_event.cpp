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
