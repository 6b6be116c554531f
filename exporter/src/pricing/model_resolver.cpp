#include "pricing/model_resolver.h"

#include <array>
#include <atomic>

namespace llmcost {
namespace {

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool StripPrefix(std::string& s, std::string_view prefix) {
  if (s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0) {
    s.erase(0, prefix.size());
    return true;
  }
  return false;
}

// Bedrock: "-v1:0", "-v2", "-v1".
void StripBedrockVersion(std::string& s) {
  const auto pos = s.rfind("-v");
  if (pos == std::string::npos || pos == 0) return;
  std::string_view tail(s);
  tail.remove_prefix(pos + 2);
  const auto colon = tail.find(':');
  const std::string_view major = tail.substr(0, colon);
  if (!IsDigits(major)) return;
  if (colon != std::string_view::npos && !IsDigits(tail.substr(colon + 1))) return;
  s.erase(pos);
}

void StripSnapshotSuffix(std::string& s) {
  constexpr std::string_view kLatest = "-latest";
  if (s.size() > kLatest.size() && s.ends_with(kLatest)) {
    s.erase(s.size() - kLatest.size());
    return;
  }
  // -YYYYMMDD
  if (s.size() > 9 && s[s.size() - 9] == '-' &&
      IsDigits(std::string_view(s).substr(s.size() - 8)) && s[s.size() - 8] == '2') {
    s.erase(s.size() - 9);
  }
}

// Inference-profile prefixes; "global." is the only global one.
constexpr std::array<std::string_view, 8> kProfilePrefixes = {"global.", "us.", "eu.", "jp.", "apac.",
                                                              "au.", "ca.", "us-gov."};

std::string Lower(std::string_view raw) {
  std::string s;
  s.reserve(raw.size());
  // ASCII only (model ids are ASCII; std::tolower is a call per character).
  for (char c : raw) s.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  s.erase(0, first);
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

// The model part of an ARN or a Google Cloud resource path; `s` unchanged otherwise.
// Returns which form it was.
enum class IdForm { kPlain, kBedrockArn, kFoundationModelArn, kVertexPath };
IdForm StripResourcePath(std::string& s) {
  if (s.rfind("arn:", 0) == 0 && s.find(":bedrock:") != std::string::npos) {
    for (std::string_view kind : {":inference-profile/", ":foundation-model/"}) {
      const auto pos = s.find(kind);
      if (pos != std::string::npos) {
        s.erase(0, pos + kind.size());
        return kind == ":foundation-model/" ? IdForm::kFoundationModelArn : IdForm::kBedrockArn;
      }
    }
    return IdForm::kBedrockArn;  // e.g. application-inference-profile/<opaque>: stays unknown
  }
  constexpr std::string_view kPublisher = "/publishers/anthropic/models/";
  if (const auto pos = s.find(kPublisher); pos != std::string::npos) {
    s.erase(0, pos + kPublisher.size());
    return IdForm::kVertexPath;
  }
  return IdForm::kPlain;
}

std::atomic<std::uint64_t> next_generation{1};

constexpr std::size_t kMaxMemoized = 1024;  // per thread; cleared when full

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

ModelResolver::ModelResolver() : generation_(next_generation.fetch_add(1)) {}

ModelResolver::ModelResolver(std::unordered_map<std::string, std::string> aliases)
    : aliases_(std::move(aliases)), generation_(next_generation.fetch_add(1)) {}

std::string ModelResolver::Normalize(std::string_view raw_id) {
  std::string s = Lower(raw_id);
  if (s.empty()) return s;
  // "[1m]" and similar are client conventions, not part of an id.
  if (const auto bracket = s.find('['); bracket != std::string::npos && bracket > 0) s.erase(bracket);
  StripResourcePath(s);
  for (auto prefix : kProfilePrefixes) {
    if (StripPrefix(s, prefix)) break;
  }
  StripPrefix(s, "anthropic.");
  StripBedrockVersion(s);
  for (char& c : s) {
    if (c == '@') c = '-';
  }
  StripSnapshotSuffix(s);
  return s;
}

IdShape ModelResolver::Shape(std::string_view raw_id) {
  std::string s = Lower(raw_id);
  IdShape shape;
  const IdForm form = StripResourcePath(s);
  if (form == IdForm::kVertexPath) {
    shape.platform = Platform::kVertex;
    return shape;
  }
  for (auto prefix : kProfilePrefixes) {
    if (s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0) {
      shape.platform = Platform::kBedrock;
      shape.endpoint = prefix == "global." ? Endpoint::kGlobal : Endpoint::kRegional;
      return shape;
    }
  }
  if (form != IdForm::kPlain || s.rfind("anthropic.", 0) == 0) {
    shape.platform = Platform::kBedrock;
    shape.endpoint = Endpoint::kRegional;  // an in-region id
    return shape;
  }
  if (s.find('@') != std::string::npos) shape.platform = Platform::kVertex;
  return shape;
}

std::string ModelResolver::Resolve(std::string_view raw_id) const {
  struct Memo {
    std::uint64_t generation = 0;
    std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> ids;
  };
  thread_local Memo memo;
  if (memo.generation != generation_) {
    memo.ids.clear();
    memo.generation = generation_;
  }
  if (const auto it = memo.ids.find(raw_id); it != memo.ids.end()) return it->second;
  std::string resolved = ResolveUncached(raw_id);
  if (memo.ids.size() >= kMaxMemoized) memo.ids.clear();
  memo.ids.emplace(raw_id, resolved);
  return resolved;
}

std::string ModelResolver::ResolveUncached(std::string_view raw_id) const {
  std::string normalized = Normalize(raw_id);
  if (auto it = aliases_.find(normalized); it != aliases_.end()) return it->second;
  return normalized;
}

}  // namespace llmcost
