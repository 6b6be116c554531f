#pragma once
// ModelResolver: turns any model id a client may send (API snapshot, alias, Bedrock
// or Vertex id) into one canonical model name, so `model` label values stay few and
// a price is found however the model was addressed.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmcost {

class ModelResolver {
 public:
  ModelResolver();
  // aliases: normalised id -> canonical name (e.g. claude-opus-4-0 -> claude-opus-4).
  explicit ModelResolver(std::unordered_map<std::string, std::string> aliases);

  // The rule: lower-case; drop a bracketed client suffix ("[1m]"); strip a
  // cross-region prefix (global., us., eu., jp., apac.) and "anthropic."; strip a
  // Bedrock version suffix (-v1:0, -v2); turn Vertex '@' into '-'; strip a trailing
  // -YYYYMMDD snapshot date or -latest; then apply the explicit aliases.
  static std::string Normalize(std::string_view raw_id);
  // Memoised per thread: clients send a handful of distinct ids, and a lookup costs
  // a fraction of normalising one.
  std::string Resolve(std::string_view raw_id) const;

 private:
  std::string ResolveUncached(std::string_view raw_id) const;

  std::unordered_map<std::string, std::string> aliases_;
  // Identifies the alias map (copies share it) so that a memo built for one
  // resolver is never used for another.
  std::uint64_t generation_;
};

}  // namespace llmcost
