#include "transport/ingest_auth.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llmcost {

bool ConstantTimeEquals(std::string_view presented, std::string_view expected) {
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

std::optional<std::string_view> BearerCredentials(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view credentials = authorization.substr(kScheme.size());
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  while (!credentials.empty() && credentials.back() == ' ') credentials.remove_suffix(1);
  if (credentials.empty()) return std::nullopt;
  return credentials;
}

std::string IngestToken::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--web.ingest-token-file: cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  std::string token = s.str();
  if (!token.empty() && token.back() == '\n') token.pop_back();
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) throw std::runtime_error("--web.ingest-token-file: '" + path + "' is empty");
  if (token.find_first_of("\r\n") != std::string::npos) {
    throw std::runtime_error("--web.ingest-token-file: '" + path + "' must hold one line (the token)");
  }
  return token;
}

std::shared_ptr<IngestToken> IngestToken::LoadFile(const std::string& path) {
  return std::shared_ptr<IngestToken>(new IngestToken(path, Read(path)));
}

std::string IngestToken::Reload() {
  try {
    std::string token = Read(path_);
    std::lock_guard<std::mutex> lock(mu_);
    token_ = std::move(token);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

bool IngestToken::Accepts(std::string_view authorization) const {
  const auto presented = BearerCredentials(authorization);
  std::lock_guard<std::mutex> lock(mu_);
  // Compare even when the header is missing so both paths take the same time.
  const bool equal = ConstantTimeEquals(presented.value_or(std::string_view()), token_);
  return presented.has_value() && equal;
}

}  // namespace llmcost
