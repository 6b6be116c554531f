#pragma once
// IngestToken: the bearer token for HTTP ingest (--web.ingest-token-file).
// Whoever can post events can create or hide spend, so when a token is set every
// POST /v1/events must carry "Authorization: Bearer <token>".
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace llmcost {

// Compares in time that depends only on expected.size(), never on where the
// first difference is (a timing side channel would reveal the token byte by byte).
bool ConstantTimeEquals(std::string_view presented, std::string_view expected);

// "Bearer <credentials>" (scheme case-insensitive) -> credentials; nullopt otherwise.
std::optional<std::string_view> BearerCredentials(std::string_view authorization);

class IngestToken {
 public:
  // Reads the file; one trailing newline (\n or \r\n) is trimmed. Throws
  // std::runtime_error naming the file when unreadable or empty.
  static std::shared_ptr<IngestToken> LoadFile(const std::string& path);

  // Re-reads the file (SIGHUP). Returns "" or the error; the old token stays on error.
  std::string Reload();

  // True when the Authorization header carries the token.
  bool Accepts(std::string_view authorization) const;

  const std::string& path() const { return path_; }

 private:
  IngestToken(std::string path, std::string token) : path_(std::move(path)), token_(std::move(token)) {}
  static std::string Read(const std::string& path);  // throws

  const std::string path_;
  mutable std::mutex mu_;
  std::string token_;
};

}  // namespace llmcost
