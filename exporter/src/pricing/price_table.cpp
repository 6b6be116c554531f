#include "pricing/price_table.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "config/yaml_keys.h"

namespace llmcost {
namespace {

std::string Key(std::string_view provider, std::string_view model) {
  std::string k(provider);
  k.push_back('/');
  k.append(model);
  return k;
}

[[noreturn]] void Fail(std::string_view origin, const std::string& where, const std::string& why) {
  throw PriceTableError(std::string(origin) + ": " + where + ": " + why);
}

void CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed, std::string_view origin,
               const std::string& where) {
  CheckYamlKeys<PriceTableError>(node, allowed, origin, where);
}

std::string RequiredString(const YAML::Node& node, const char* key, std::string_view origin,
                           const std::string& where) {
  const YAML::Node v = node[key];
  if (!v || !v.IsScalar() || v.Scalar().empty()) Fail(origin, where, std::string("missing '") + key + "'");
  return v.Scalar();
}

PicoUsd Rate(const YAML::Node& node, const char* key, std::string_view origin, const std::string& where) {
  const YAML::Node v = node[key];
  if (!v || !v.IsScalar()) Fail(origin, where + "." + key, "missing rate");
  const auto rate = ParseUsdPerMillion(v.Scalar());
  if (!rate) Fail(origin, where + "." + key, "'" + v.Scalar() + "' is not a non-negative decimal with at most 6 decimals");
  return *rate;
}

TokenRates ParseRates(const YAML::Node& node, std::string_view origin, const std::string& where) {
  if (!node || !node.IsMap()) Fail(origin, where, "missing usd_per_mtok map");
  CheckKeys(node, {"input", "output", "cache_read", "cache_write_5m", "cache_write_1h"}, origin, where);
  TokenRates r;
  r[TokenType::kInput] = Rate(node, "input", origin, where);
  r[TokenType::kOutput] = Rate(node, "output", origin, where);
  r[TokenType::kCacheRead] = Rate(node, "cache_read", origin, where);
  r[TokenType::kCacheWrite5m] = Rate(node, "cache_write_5m", origin, where);
  r[TokenType::kCacheWrite1h] = Rate(node, "cache_write_1h", origin, where);
  return r;
}

MicroFactor Factor(const YAML::Node& v, std::string_view origin, const std::string& where) {
  if (!v.IsScalar()) Fail(origin, where, "must be a decimal");
  const auto f = ParseFactor(v.Scalar());
  if (!f || *f <= 0) Fail(origin, where, "'" + v.Scalar() + "' is not a positive decimal");
  return *f;
}

// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t ParseDate(const std::string& text, std::string_view origin, const std::string& where) {
  int y = 0;
  unsigned m = 0, d = 0;
  char dash1 = 0, dash2 = 0;
  std::istringstream in(text);
  in >> y >> dash1 >> m >> dash2 >> d;
  if (!in || dash1 != '-' || dash2 != '-' || text.size() != 10 || m < 1 || m > 12 || d < 1 || d > 31) {
    Fail(origin, where, "'" + text + "' is not a YYYY-MM-DD date");
  }
  return DaysFromCivil(y, m, d) * 86400;
}

}  // namespace

std::shared_ptr<const PriceTable> PriceTable::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw PriceTableError(path + ": cannot open");
  std::stringstream buf;
  buf << in.rdbuf();
  return Parse(buf.str(), path);
}

std::shared_ptr<const PriceTable> PriceTable::Parse(std::string_view yaml_text, std::string_view origin) {
  try {
    return ParseYaml(yaml_text, origin);
  } catch (const YAML::Exception& e) {
    // Type conversions (a rate given as a list, a negative token threshold) land here.
    Fail(origin, "yaml", e.what());
  }
}

std::shared_ptr<PriceTable> PriceTable::ParseYaml(std::string_view yaml_text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    Fail(origin, "yaml", e.what());
  }
  if (!root.IsMap()) Fail(origin, "top level", "must be a map");
  CheckKeys(root, {"as_of", "source", "batch_factor", "web_search_usd_per_1000", "aliases", "models"},
            origin, "top level");

  auto table = std::make_shared<PriceTable>();
  table->as_of_ = RequiredString(root, "as_of", origin, "top level");
  table->as_of_unix_ = ParseDate(table->as_of_, origin, "as_of");
  table->source_ = RequiredString(root, "source", origin, "top level");
  if (root["batch_factor"]) table->batch_factor_ = Factor(root["batch_factor"], origin, "batch_factor");
  if (root["web_search_usd_per_1000"]) {
    const auto per_thousand = ParseScaledDecimal(root["web_search_usd_per_1000"].Scalar(), 6);
    if (!per_thousand) Fail(origin, "web_search_usd_per_1000", "not a non-negative decimal");
    // Found by fuzzing: the x1000 below must not overflow pico-dollars.
    if (*per_thousand > std::numeric_limits<PicoUsd>::max() / 1000) {
      Fail(origin, "web_search_usd_per_1000", "too large (at most 9,223,372,036 USD per 1000 searches)");
    }
    // micro-USD per 1000 searches -> pUSD per search: x1e6 / 1000.
    table->web_search_per_request_ = *per_thousand * 1000;
  }

  std::unordered_map<std::string, std::string> aliases;
  if (const YAML::Node a = root["aliases"]) {
    if (!a.IsMap()) Fail(origin, "aliases", "must be a map of id -> canonical model");
    for (const auto& kv : a) {
      aliases[ModelResolver::Normalize(kv.first.as<std::string>())] = kv.second.as<std::string>();
    }
  }

  const YAML::Node models = root["models"];
  if (!models || !models.IsSequence() || models.size() == 0) Fail(origin, "models", "must be a non-empty list");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const YAML::Node m = models[i];
    std::string where = "models[" + std::to_string(i) + "]";
    if (!m.IsMap()) Fail(origin, where, "must be a map");
    CheckKeys(m, {"model", "provider", "as_of", "source", "usd_per_mtok", "long_context",
                  "us_inference_factor", "fast_factor"},
              origin, where);
    ModelPrice p;
    p.model = RequiredString(m, "model", origin, where);
    where += " (" + p.model + ")";
    if (ModelResolver::Normalize(p.model) != p.model) {
      Fail(origin, where, "model must be a canonical name (lower case, no date or platform prefix)");
    }
    p.provider = m["provider"] ? m["provider"].as<std::string>() : "anthropic";
    p.as_of = RequiredString(m, "as_of", origin, where);
    ParseDate(p.as_of, origin, where + ".as_of");
    p.source = RequiredString(m, "source", origin, where);
    p.rates = ParseRates(m["usd_per_mtok"], origin, where + ".usd_per_mtok");
    if (const YAML::Node lc = m["long_context"]) {
      CheckKeys(lc, {"above_input_tokens", "usd_per_mtok"}, origin, where + ".long_context");
      LongContextPrice l;
      if (!lc["above_input_tokens"]) Fail(origin, where + ".long_context", "missing above_input_tokens");
      l.above_input_tokens = lc["above_input_tokens"].as<std::uint64_t>();
      l.rates = ParseRates(lc["usd_per_mtok"], origin, where + ".long_context.usd_per_mtok");
      p.long_context = l;
    }
    if (m["us_inference_factor"]) p.us_inference_factor = Factor(m["us_inference_factor"], origin, where + ".us_inference_factor");
    if (m["fast_factor"]) p.fast_factor = Factor(m["fast_factor"], origin, where + ".fast_factor");
    const std::string key = Key(p.provider, p.model);
    if (table->models_.count(key)) Fail(origin, where, "duplicate model");
    table->models_.emplace(key, std::move(p));
  }
  // An alias must point at a priced model, or it silently prices nothing.
  for (const auto& [alias, target] : aliases) {
    bool found = false;
    for (const auto& entry : table->models_) found = found || entry.second.model == target;
    if (!found) Fail(origin, "aliases." + alias, "points at '" + target + "', which has no price");
  }
  table->resolver_ = ModelResolver(std::move(aliases));
  return table;
}

const ModelPrice* PriceTable::Find(std::string_view provider, std::string_view model) const {
  const auto it = models_.find(Key(provider, model));
  return it == models_.end() ? nullptr : &it->second;
}

}  // namespace llmcost
