#include "transport/basic_auth.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "transport/ingest_auth.h"

namespace llmcost {
namespace {

std::optional<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character is not base64
  return out;
}

std::string CacheKey(const std::string& user, const std::string& password) {
  std::string material = user;
  material.push_back('\0');
  material += password;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), len);
}


}  // namespace

std::optional<std::pair<std::string, std::string>> BasicCredentials(std::string_view authorization) {
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view encoded = authorization.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  const auto decoded = Base64Decode(encoded);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

bool BcryptMatches(const std::string& password, const std::string& hash) {
  if (hash.rfind("$2a$", 0) != 0 && hash.rfind("$2b$", 0) != 0 && hash.rfind("$2y$", 0) != 0) return false;
  // crypt_data is ~32 KiB: keep it off the (small) worker thread stacks.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  return ConstantTimeEquals(out, hash);
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) throw std::runtime_error("basic auth: no random bytes for the name key");
  name_key_.assign(reinterpret_cast<const char*>(key), sizeof key);
}

const std::string& BasicAuth::HashFor(const std::string& user) const {
  if (const auto it = users_.find(user); it != users_.end()) return it->second;
  // Unknown: a configured hash, the same one for the same name (repeating the
  // name shows no variation), unpredictable without the per-process key.
  const std::string digest = CacheKey(name_key_, user);
  std::uint64_t pick = 0;
  for (int i = 0; i < 8; ++i) pick = (pick << 8) | static_cast<unsigned char>(digest[i]);
  auto it = users_.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(pick % users_.size()));
  return it->second;
}

AuthCheck BasicAuth::Check(std::string_view authorization) {
  if (!enabled()) return AuthCheck::kAccepted;
  const auto credentials = BasicCredentials(authorization);
  if (!credentials) return AuthCheck::kRefused;
  const auto& [user, password] = *credentials;
  const std::string key = CacheKey(user, password);
  const auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = verified_.find(key); it != verified_.end()) {
      if (it->second > now) return AuthCheck::kAccepted;
      verified_.erase(it);
    }
    if (bcrypt_running_ >= kMaxConcurrentBcrypt) return AuthCheck::kBusy;
    ++bcrypt_running_;
    ++bcrypt_calls_;
  }
  const bool known = users_.count(user) > 0;
  const bool ok = BcryptMatches(password, HashFor(user)) && known;
  std::lock_guard<std::mutex> lock(mu_);
  --bcrypt_running_;
  if (ok) {
    if (verified_.size() >= kCacheCapacity) {
      for (auto e = verified_.begin(); e != verified_.end();) e = e->second <= now ? verified_.erase(e) : std::next(e);
      if (verified_.size() >= kCacheCapacity) verified_.clear();  // bounded: start over rather than grow
    }
    verified_[key] = now + kCacheTtl;
  }
  return ok ? AuthCheck::kAccepted : AuthCheck::kRefused;
}

std::size_t BasicAuth::cache_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verified_.size();
}

std::size_t BasicAuth::bcrypt_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bcrypt_calls_;
}

}  // namespace llmcost
