#pragma once
// BasicAuth: HTTP basic authentication against bcrypt hashes (the
// basic_auth_users of --web.config.file). bcrypt is slow on purpose (~70 ms at
// cost 10), so a successful (user, password) check is remembered for a while in
// a bounded cache keyed by a SHA-256 of the pair; the password itself is never kept.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace llmcost {

// "Basic base64(user:password)" -> (user, password); nullopt when malformed.
std::optional<std::pair<std::string, std::string>> BasicCredentials(std::string_view authorization);

// True when password hashes to the bcrypt hash ($2a$, $2b$, $2y$) via libxcrypt.
bool BcryptMatches(const std::string& password, const std::string& hash);

class BasicAuth {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kCacheCapacity = 256;
  static constexpr std::chrono::seconds kCacheTtl{300};

  // users: user name -> bcrypt hash.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  // True when the Authorization header names a user with the right password.
  bool Accepts(std::string_view authorization);

  std::size_t cache_size() const;
  std::size_t bcrypt_calls() const;  // for tests: proves the cache is used

 private:
  const std::map<std::string, std::string> users_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> verified_;  // key -> expiry
  std::size_t bcrypt_calls_ = 0;
};

}  // namespace llmcost
