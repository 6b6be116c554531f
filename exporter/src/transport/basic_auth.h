#pragma once
// BasicAuth: HTTP basic authentication against bcrypt hashes (the
// basic_auth_users of --web.config.file). bcrypt is slow on purpose (~70 ms at
// cost 10), so a successful (user, password) check is remembered for a while in
// a bounded cache keyed by a SHA-256 of the pair; the password itself is never kept.
// bcrypt work is bounded: at most kMaxConcurrentBcrypt checks run at once, others
// are answered kBusy (429) at once, so wrong passwords cannot occupy every worker
// and remembered logins stay fast. An unknown user name is checked against one of
// the configured hashes (picked by a keyed hash of the name), so it costs what a
// real user costs whatever the configured bcrypt cost.
#include <chrono>
#include <cstddef>
#include <cstdint>
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

enum class AuthCheck : std::uint8_t { kAccepted, kRefused, kBusy };

class BasicAuth {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kCacheCapacity = 256;
  static constexpr std::chrono::seconds kCacheTtl{300};
  static constexpr int kMaxConcurrentBcrypt = 1;

  // users: user name -> bcrypt hash.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  // kAccepted when the Authorization header names a user with the right password;
  // kBusy when that needs a bcrypt and kMaxConcurrentBcrypt are already running.
  AuthCheck Check(std::string_view authorization);
  // Check() == kAccepted.
  bool Accepts(std::string_view authorization) { return Check(authorization) == AuthCheck::kAccepted; }

  // The hash a check of `user` runs bcrypt against (for tests: an unknown user
  // gets a configured user's hash, so the same cost).
  const std::string& HashFor(const std::string& user) const;

  std::size_t cache_size() const;
  std::size_t bcrypt_calls() const;  // for tests: proves the cache is used

 private:
  const std::map<std::string, std::string> users_;
  std::string name_key_;  // random, per process: which hash an unknown name is checked against
  mutable std::mutex mu_;
  int bcrypt_running_ = 0;
  std::unordered_map<std::string, Clock::time_point> verified_;  // key -> expiry
  std::size_t bcrypt_calls_ = 0;
};

}  // namespace llmcost
