#include "pricing/price_table.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "config/yaml_keys.h"
#include "event/event_time.h"
#include "event/seeded_hash.h"

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
  auto rate = [&](TokenType t, const char* key) {
    const YAML::Node v = node[key];
    // "unpublished": the vendor has no public figure; requests using it stay unpriced.
    if (v && v.IsScalar() && v.Scalar() == "unpublished") {
      r.unpublished[static_cast<std::size_t>(t)] = true;
      return;
    }
    r[t] = Rate(node, key, origin, where);
  };
  rate(TokenType::kInput, "input");
  rate(TokenType::kOutput, "output");
  rate(TokenType::kCacheRead, "cache_read");
  rate(TokenType::kCacheWrite5m, "cache_write_5m");
  rate(TokenType::kCacheWrite1h, "cache_write_1h");
  return r;
}

MicroFactor Factor(const YAML::Node& v, std::string_view origin, const std::string& where) {
  if (!v.IsScalar()) Fail(origin, where, "must be a decimal");
  const auto f = ParseFactor(v.Scalar());
  if (!f || *f <= 0) Fail(origin, where, "'" + v.Scalar() + "' is not a positive decimal");
  return *f;
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
  if (!in) throw PriceTableError(path + ": cannot open: " + std::strerror(errno));
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

namespace {

// An optional factor; "none" in a change removes the option from that date on.
void ReadFactor(const YAML::Node& m, const char* key, std::optional<MicroFactor>& out, std::string_view origin,
                const std::string& where) {
  const YAML::Node v = m[key];
  if (!v) return;
  if (v.IsScalar() && v.Scalar() == "none") {
    out.reset();
    return;
  }
  out = Factor(v, origin, where + "." + key);
}

std::vector<PromptTier> ParseTiers(const YAML::Node& node, std::string_view origin, const std::string& where) {
  if (!node.IsSequence() || node.size() == 0) Fail(origin, where, "must be a non-empty list");
  std::vector<PromptTier> tiers;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string w = where + "[" + std::to_string(i) + "]";
    CheckKeys(node[i], {"above_prompt_tokens", "usd_per_mtok"}, origin, w);
    if (!node[i]["above_prompt_tokens"]) Fail(origin, w, "missing above_prompt_tokens");
    PromptTier t;
    t.above_prompt_tokens = node[i]["above_prompt_tokens"].as<std::uint64_t>();
    if (t.above_prompt_tokens == 0) Fail(origin, w + ".above_prompt_tokens", "must be positive");
    if (!tiers.empty() && t.above_prompt_tokens <= tiers.back().above_prompt_tokens) {
      Fail(origin, w + ".above_prompt_tokens", "tiers must be in ascending order");
    }
    t.rates = ParseRates(node[i]["usd_per_mtok"], origin, w + ".usd_per_mtok");
    tiers.push_back(t);
  }
  return tiers;
}

// The fields a period can set; used for the entry itself and for each change.
void ReadPeriodFields(const YAML::Node& m, RatePeriod& p, std::string_view origin, const std::string& where) {
  if (m["usd_per_mtok"]) p.rates = ParseRates(m["usd_per_mtok"], origin, where + ".usd_per_mtok");
  if (const YAML::Node t = m["prompt_tiers"]) {
    if (t.IsScalar() && t.Scalar() == "none") p.prompt_tiers.clear();
    else p.prompt_tiers = ParseTiers(t, origin, where + ".prompt_tiers");
  }
  if (const YAML::Node lc = m["long_context"]) {  // the older spelling of one prompt tier
    CheckKeys(lc, {"above_input_tokens", "usd_per_mtok"}, origin, where + ".long_context");
    if (!lc["above_input_tokens"]) Fail(origin, where + ".long_context", "missing above_input_tokens");
    if (m["prompt_tiers"]) Fail(origin, where + ".long_context", "use prompt_tiers or long_context, not both");
    PromptTier t;
    t.above_prompt_tokens = lc["above_input_tokens"].as<std::uint64_t>();
    t.rates = ParseRates(lc["usd_per_mtok"], origin, where + ".long_context.usd_per_mtok");
    p.prompt_tiers = {t};
  }
  ReadFactor(m, "us_inference_factor", p.us_inference_factor, origin, where);
  ReadFactor(m, "fast_factor", p.fast_factor, origin, where);
  ReadFactor(m, "regional_factor", p.regional_factor, origin, where);
}

}  // namespace

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
  table->origin_ = std::string(origin);
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
    CheckKeys(m, {"model", "provider", "as_of", "source", "retired", "usd_per_mtok", "prompt_tiers", "long_context",
                  "us_inference_factor", "fast_factor", "regional_factor", "changes"},
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
    if (m["retired"]) p.retired = RequiredString(m, "retired", origin, where);
    RatePeriod base;
    base.source = p.source;
    if (!m["usd_per_mtok"]) Fail(origin, where + ".usd_per_mtok", "missing usd_per_mtok map");
    ReadPeriodFields(m, base, origin, where);
    p.periods.push_back(base);
    if (const YAML::Node changes = m["changes"]) {
      if (!changes.IsSequence() || changes.size() == 0) Fail(origin, where + ".changes", "must be a non-empty list");
      for (std::size_t j = 0; j < changes.size(); ++j) {
        const YAML::Node c = changes[j];
        const std::string cw = where + ".changes[" + std::to_string(j) + "]";
        CheckKeys(c, {"from", "source", "usd_per_mtok", "prompt_tiers", "us_inference_factor", "fast_factor",
                      "regional_factor"},
                  origin, cw);
        if (c.size() <= 2 && (!c["usd_per_mtok"] && !c["prompt_tiers"] && !c["us_inference_factor"] &&
                              !c["fast_factor"] && !c["regional_factor"])) {
          Fail(origin, cw, "a change must set at least one rate or factor");
        }
        RatePeriod next = p.periods.back();  // a change overrides only what it names
        next.from = RequiredString(c, "from", origin, cw);
        next.from_unix = ParseDate(next.from, origin, cw + ".from");
        next.source = RequiredString(c, "source", origin, cw);
        if (p.periods.size() > 1 && next.from_unix <= p.periods.back().from_unix) {
          Fail(origin, cw + ".from", "'" + next.from + "' is not after the previous change (" +
                                         p.periods.back().from + "): dates must be in ascending order");
        }
        ReadPeriodFields(c, next, origin, cw);
        p.periods.push_back(std::move(next));
      }
    }
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

const RatePeriod& ModelPrice::At(std::int64_t unix_seconds) const {
  std::size_t i = 0;
  while (i + 1 < periods.size() && periods[i + 1].from_unix <= unix_seconds) ++i;
  return periods[i];
}

std::size_t PriceTable::rate_changes() const {
  std::size_t n = 0;
  for (const auto& [key, m] : models_) n += m.periods.size() - 1;
  return n;
}

std::size_t PriceTable::retired_models() const {
  std::size_t n = 0;
  for (const auto& [key, m] : models_) n += m.retired.empty() ? 0 : 1;
  return n;
}

std::vector<const ModelPrice*> PriceTable::Models() const {
  std::vector<const ModelPrice*> out;
  for (const auto& [key, m] : models_) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](const ModelPrice* a, const ModelPrice* b) {
    return a->provider != b->provider ? a->provider < b->provider : a->model < b->model;
  });
  return out;
}

extern "C" const char kLlmCostEmbeddedPrices[];  // generated by CMake from exporter/pricing/prices.yml
extern "C" const std::size_t kLlmCostEmbeddedPricesSize;

std::string_view PriceTable::EmbeddedText() { return {kLlmCostEmbeddedPrices, kLlmCostEmbeddedPricesSize}; }

std::shared_ptr<const PriceTable> PriceTable::Embedded() { return Parse(EmbeddedText(), "embedded"); }

namespace {

std::atomic<std::uint64_t> next_table_identity{1};

// Raw ids are what clients send: the memo's map is keyed by the seeded hash.
struct SeededStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return SeededHash(s); }
};

struct LookupMemo {
  std::uint64_t table = 0;  // the table's Identity; 0: none yet
  std::string key;          // scratch: the provider's length, the provider, the raw id
  std::unordered_map<std::string, ModelLookup, SeededStringHash, std::equal_to<>> entries;
  // The entry of the previous call: an ingest thread sees the same id over and over.
  const std::pair<const std::string, ModelLookup>* last = nullptr;
  ModelLookup unmemoized;  // the answer for an id too long to remember
};

LookupMemo& ThreadLookupMemo() {
  thread_local LookupMemo memo;
  return memo;
}

}  // namespace

PriceTable::Identity::Identity() : value(next_table_identity.fetch_add(1, std::memory_order_relaxed)) {}

const ModelLookup& PriceTable::LookupModel(std::string_view provider, std::string_view raw_id) const {
  LookupMemo& memo = ThreadLookupMemo();
  auto compute = [&](ModelLookup& lookup) {
    lookup.model = ResolveModel(raw_id);
    lookup.shape = ModelResolver::Shape(raw_id);
    lookup.price = Find(provider, lookup.model);
  };
  // A JSON model id has no length limit: a long one is answered, not remembered,
  // so the memo holds at most kMaxLookupsMemoized * kMaxLookupKeyBytes of keys.
  if (provider.size() + raw_id.size() > kMaxLookupKeyBytes) {
    compute(memo.unmemoized);
    return memo.unmemoized;
  }
  if (memo.table != identity_.value) {
    memo.entries.clear();
    memo.last = nullptr;
    memo.table = identity_.value;
  }
  // Length-prefixed provider: no (provider, id) pair can be read as another.
  const std::uint64_t provider_size = provider.size();
  memo.key.clear();
  memo.key.append(reinterpret_cast<const char*>(&provider_size), sizeof provider_size);
  memo.key.append(provider);
  memo.key.append(raw_id);
  if (memo.last != nullptr && memo.last->first == memo.key) return memo.last->second;
  if (auto it = memo.entries.find(std::string_view(memo.key)); it != memo.entries.end()) {
    memo.last = &*it;
    return it->second;
  }
  ModelLookup lookup;
  compute(lookup);
  if (memo.entries.size() >= kMaxLookupsMemoized) memo.entries.clear();
  memo.last = &*memo.entries.emplace(memo.key, std::move(lookup)).first;
  return memo.last->second;
}

std::size_t PriceTable::LookupsMemoized() { return ThreadLookupMemo().entries.size(); }

const ModelPrice* PriceTable::Find(std::string_view provider, std::string_view model) const {
  const auto it = models_.find(Key(provider, model));
  return it == models_.end() ? nullptr : &it->second;
}

}  // namespace llmcost
