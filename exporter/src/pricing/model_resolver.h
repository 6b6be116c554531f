#pragma once
// ModelResolver: turns any model id a client may send (API snapshot, alias, Bedrock
// or Vertex id) into one canonical model name, so `model` label values stay few and
// a price is found however the model was addressed.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "event/usage_event.h"

namespace llmcost {

// What an id shows about where it was served: Bedrock (ARNs, anthropic. ids,
// inference-profile prefixes), Google Cloud (@date ids, publisher paths), or nothing.
struct IdShape {
  std::optional<Platform> platform;  // nullopt: the id does not say
  Endpoint endpoint = Endpoint::kUnspecified;
};

class ModelResolver {
 public:
  ModelResolver();
  // aliases: normalised id -> canonical name (e.g. claude-opus-4-0 -> claude-opus-4).
  explicit ModelResolver(std::unordered_map<std::string, std::string> aliases);

  // The rule: lower-case; drop a bracketed client suffix ("[1m]"); keep the model
  // part of a Bedrock ARN (.../inference-profile/<id>, .../foundation-model/<id>) or
  // a Google Cloud path (projects/.../publishers/anthropic/models/<id>); strip an
  // inference-profile prefix (global., us., eu., jp., apac., au., ca., us-gov.) and
  // "anthropic."; strip a Bedrock version suffix (-v1:0, -v2); turn Vertex '@' into
  // '-'; strip a trailing -YYYYMMDD snapshot date or -latest; then apply the aliases.
  static std::string Normalize(std::string_view raw_id);
  // Bedrock: global. is the global endpoint; a geographic prefix or an in-region id
  // (anthropic.<id>, a foundation-model ARN) is regional. Google Cloud: the id says
  // the platform, not the endpoint.
  static IdShape Shape(std::string_view raw_id);
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
