#pragma once
// Every YAML file the exporter reads (config, price table, web config) is strict
// about its keys: a misspelt key is an error naming the file and the place, never
// silently ignored.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <string_view>

namespace llmcost {

// Throws Error("<origin>: <where>: <why>") unless `node` is a map whose keys are
// all in `allowed`.
template <typename Error>
void CheckYamlKeys(const YAML::Node& node, const std::set<std::string>& allowed, std::string_view origin,
                   const std::string& where) {
  auto fail = [&](const std::string& why) { throw Error(std::string(origin) + ": " + where + ": " + why); };
  if (!node.IsMap()) fail("must be a map");
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) fail("unknown key '" + key + "'");
  }
}

}  // namespace llmcost
