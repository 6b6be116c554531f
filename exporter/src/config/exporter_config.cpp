#include "config/exporter_config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config/yaml_keys.h"
#include "event/otlp_logs.h"

namespace llmcost {
namespace {

[[noreturn]] void Fail(const std::string& origin, const std::string& where, const std::string& why) {
  throw ConfigError(origin + ": " + where + ": " + why);
}

void CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed, std::string_view origin,
               const std::string& where) {
  CheckYamlKeys<ConfigError>(node, allowed, origin, where);
}

// Label names that the exporter itself uses; an attribution label must not clash.
const std::set<std::string> kReservedLabels = {"provider", "model", "status", "token_type", "cost_type",
                                               "reason", "le", "job", "instance", "scope", "period",
                                               "transport", "result", "label", "quantile"};

std::vector<double> Buckets(const YAML::Node& n, const std::string& origin, const std::string& where) {
  if (!n.IsSequence() || n.size() == 0) Fail(origin, where, "must be a non-empty list of numbers");
  std::vector<double> b;
  for (const auto& v : n) b.push_back(v.as<double>());
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i]) || b[i] <= 0) Fail(origin, where, "bucket bounds must be positive numbers");
    if (i > 0 && b[i] <= b[i - 1]) Fail(origin, where, "bucket bounds must be strictly increasing");
  }
  return b;
}

// Limits named in `node` replace those in `limits`; the rest stay.
void ParseRunawayLimits(const YAML::Node& node, const std::string& origin, const std::string& where,
                        RunawayLimits& limits) {
  CheckKeys(node, {"hops", "cost_usd", "duration_seconds"}, origin, where);
  if (node["hops"]) {
    const auto hops = node["hops"].as<std::int64_t>();
    if (hops < 1) Fail(origin, where + ".hops", "must be at least 1");
    limits.hops = static_cast<std::uint64_t>(hops);
  }
  if (node["cost_usd"]) {
    const double usd = node["cost_usd"].as<double>();
    if (!std::isfinite(usd) || usd <= 0 || usd > 1e6) Fail(origin, where + ".cost_usd", "must be a positive number up to 1000000");
    limits.cost_pico = std::llround(usd * 1e12);
  }
  if (node["duration_seconds"]) {
    const auto d = node["duration_seconds"].as<std::int64_t>();
    if (d < 1) Fail(origin, where + ".duration_seconds", "must be at least 1");
    limits.duration_seconds = d;
  }
}

void ParseTasks(const YAML::Node& t, const std::string& origin, TaskConfig& tasks) {
  CheckKeys(t, {"id_fields", "idle_timeout_seconds", "max_tasks", "runaway", "runaway_by_feature",
                "hops_buckets", "cost_usd_buckets"},
            origin, "tasks");
  if (const YAML::Node f = t["id_fields"]) {
    if (!f.IsSequence()) Fail(origin, "tasks.id_fields", "must be a list of event field names");
    tasks.id_fields.clear();
    for (const auto& n : f) tasks.id_fields.push_back(n.as<std::string>());
    for (const auto& name : tasks.id_fields) {
      if (name.empty()) Fail(origin, "tasks.id_fields", "a field name must not be empty");
    }
  }
  if (t["idle_timeout_seconds"]) {
    tasks.idle_timeout_seconds = t["idle_timeout_seconds"].as<std::int64_t>();
    if (tasks.idle_timeout_seconds < 1) Fail(origin, "tasks.idle_timeout_seconds", "must be at least 1");
  }
  if (t["max_tasks"]) {
    const auto max = t["max_tasks"].as<std::int64_t>();
    if (max < 1 || max > 10'000'000) Fail(origin, "tasks.max_tasks", "must be between 1 and 10000000");
    tasks.max_tasks = static_cast<std::size_t>(max);
  }
  if (const YAML::Node r = t["runaway"]) ParseRunawayLimits(r, origin, "tasks.runaway", tasks.runaway);
  if (const YAML::Node by = t["runaway_by_feature"]) {
    if (!by.IsMap()) Fail(origin, "tasks.runaway_by_feature", "must be a map of feature to limits");
    for (const auto& kv : by) {
      const auto feature = kv.first.as<std::string>();
      RunawayLimits limits = tasks.runaway;
      ParseRunawayLimits(kv.second, origin, "tasks.runaway_by_feature." + feature, limits);
      tasks.runaway_by_feature[feature] = limits;
    }
  }
  if (t["hops_buckets"]) tasks.hops_buckets = Buckets(t["hops_buckets"], origin, "tasks.hops_buckets");
  if (t["cost_usd_buckets"]) tasks.cost_usd_buckets = Buckets(t["cost_usd_buckets"], origin, "tasks.cost_usd_buckets");
}

ExporterConfig ParseYaml(const std::string& text, const std::string& origin) {
  ExporterConfig c;
  const YAML::Node root = YAML::Load(text);
  if (root.IsNull()) return c;  // an empty file means defaults
  CheckKeys(root, {"labels", "histograms", "budgets", "otlp", "tasks", "prompts"}, origin, "top level");

  if (const YAML::Node l = root["labels"]) {
    CheckKeys(l, {"attribution", "histogram_label", "max_values_per_label", "max_values", "max_models",
                  "max_value_length", "max_label_sets"},
              origin, "labels");
    if (l["attribution"]) {
      c.attribution_labels.clear();
      static const std::regex kName("[a-z_][a-z0-9_]*");
      for (const auto& n : l["attribution"]) {
        auto name = n.as<std::string>();
        if (!std::regex_match(name, kName) || name.rfind("__", 0) == 0) {
          Fail(origin, "labels.attribution", "'" + name + "' is not a valid Prometheus label name");
        }
        if (kReservedLabels.count(name)) Fail(origin, "labels.attribution", "'" + name + "' is reserved");
        if (std::find(c.attribution_labels.begin(), c.attribution_labels.end(), name) != c.attribution_labels.end()) {
          Fail(origin, "labels.attribution", "'" + name + "' is listed twice");
        }
        c.attribution_labels.push_back(name);
      }
      if (c.attribution_labels.size() > 10) Fail(origin, "labels.attribution", "at most 10 labels");
    }
    if (l["histogram_label"]) c.histogram_label = l["histogram_label"].as<std::string>();
    if (l["max_values_per_label"]) c.max_values_per_label = l["max_values_per_label"].as<std::size_t>();
    if (l["max_values"]) {
      for (const auto& kv : l["max_values"]) c.max_values_by_label[kv.first.as<std::string>()] = kv.second.as<std::size_t>();
    }
    if (l["max_models"]) c.max_models = l["max_models"].as<std::size_t>();
    if (l["max_value_length"]) c.max_label_value_length = l["max_value_length"].as<std::size_t>();
    if (l["max_label_sets"]) c.max_label_sets = l["max_label_sets"].as<std::size_t>();
  }
  if (c.histogram_label.empty() ||
      std::find(c.attribution_labels.begin(), c.attribution_labels.end(), c.histogram_label) == c.attribution_labels.end()) {
    Fail(origin, "labels.histogram_label", "'" + c.histogram_label + "' must be one of labels.attribution");
  }
  for (const auto& [label, cap] : c.max_values_by_label) {
    if (std::find(c.attribution_labels.begin(), c.attribution_labels.end(), label) == c.attribution_labels.end()) {
      Fail(origin, "labels.max_values." + label, "not an attribution label");
    }
    if (cap == 0) Fail(origin, "labels.max_values." + label, "must be at least 1");
  }
  if (c.max_values_per_label == 0 || c.max_models == 0) Fail(origin, "labels", "caps must be at least 1");
  if (c.max_label_sets == 0) Fail(origin, "labels.max_label_sets", "must be at least 1");
  if (c.max_label_value_length < 8 || c.max_label_value_length > 1024) {
    Fail(origin, "labels.max_value_length", "must be between 8 and 1024");
  }

  if (const YAML::Node h = root["histograms"]) {
    CheckKeys(h, {"duration_seconds_buckets", "ttft_seconds_buckets", "input_tokens_buckets",
                  "output_tokens_buckets", "cost_usd_buckets"},
              origin, "histograms");
    if (h["duration_seconds_buckets"]) c.buckets.duration_seconds = Buckets(h["duration_seconds_buckets"], origin, "histograms.duration_seconds_buckets");
    if (h["ttft_seconds_buckets"]) c.buckets.ttft_seconds = Buckets(h["ttft_seconds_buckets"], origin, "histograms.ttft_seconds_buckets");
    if (h["input_tokens_buckets"]) c.buckets.input_tokens = Buckets(h["input_tokens_buckets"], origin, "histograms.input_tokens_buckets");
    if (h["output_tokens_buckets"]) c.buckets.output_tokens = Buckets(h["output_tokens_buckets"], origin, "histograms.output_tokens_buckets");
    if (h["cost_usd_buckets"]) c.buckets.cost_usd = Buckets(h["cost_usd_buckets"], origin, "histograms.cost_usd_buckets");
  }

  if (const YAML::Node b = root["budgets"]) {
    if (!b.IsSequence()) Fail(origin, "budgets", "must be a list");
    std::set<std::pair<std::string, std::string>> seen;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const std::string where = "budgets[" + std::to_string(i) + "]";
      CheckKeys(b[i], {"scope", "period", "usd", "warn_at", "block_at"}, origin, where);
      Budget budget;
      if (!b[i]["scope"] || !b[i]["period"] || !b[i]["usd"]) Fail(origin, where, "needs scope, period and usd");
      budget.scope = b[i]["scope"].as<std::string>();
      budget.period = b[i]["period"].as<std::string>();
      budget.usd = b[i]["usd"].as<double>();
      if (std::find(kBudgetPeriodNames.begin(), kBudgetPeriodNames.end(), budget.period) == kBudgetPeriodNames.end()) {
        std::string names;
        for (const auto n : kBudgetPeriodNames) names += (names.empty() ? "" : ", ") + std::string(n);
        Fail(origin, where + ".period", "must be one of " + names);
      }
      if (!std::isfinite(budget.usd) || budget.usd <= 0) Fail(origin, where + ".usd", "must be a positive number");
      if (b[i]["warn_at"]) budget.warn_at = b[i]["warn_at"].as<double>();
      if (b[i]["block_at"]) budget.block_at = b[i]["block_at"].as<double>();
      if (!std::isfinite(budget.block_at) || budget.block_at <= 0) {
        Fail(origin, where + ".block_at", "must be a positive fraction of usd (1 = the whole budget)");
      }
      if (!std::isfinite(budget.warn_at) || budget.warn_at <= 0 || budget.warn_at > budget.block_at) {
        Fail(origin, where + ".warn_at", "must be a positive fraction of usd, at most block_at");
      }
      if (budget.scope != "global") {
        const auto colon = budget.scope.find(':');
        const std::string label = budget.scope.substr(0, colon);
        if (colon == std::string::npos || colon + 1 == budget.scope.size() ||
            std::find(c.attribution_labels.begin(), c.attribution_labels.end(), label) == c.attribution_labels.end()) {
          Fail(origin, where + ".scope", "must be 'global' or '<attribution label>:<value>', e.g. feature:chat");
        }
      }
      if (!seen.insert({budget.scope, budget.period}).second) Fail(origin, where, "duplicate scope and period");
      c.budgets.push_back(budget);
    }
  }
  if (const YAML::Node t = root["tasks"]) ParseTasks(t, origin, c.tasks);
  if (const YAML::Node p = root["prompts"]) {
    CheckKeys(p, {"window_seconds", "max_repeats", "max_hashes"}, origin, "prompts");
    if (p["window_seconds"]) {
      c.prompts.window_seconds = p["window_seconds"].as<std::int64_t>();
      if (c.prompts.window_seconds < 1 || c.prompts.window_seconds > 3600) Fail(origin, "prompts.window_seconds", "must be between 1 and 3600");
    }
    if (p["max_repeats"]) {
      const auto n = p["max_repeats"].as<std::int64_t>();
      if (n < 1 || n > 1000) Fail(origin, "prompts.max_repeats", "must be between 1 and 1000");
      c.prompts.max_repeats = static_cast<std::uint32_t>(n);
    }
    if (p["max_hashes"]) {
      const auto n = p["max_hashes"].as<std::int64_t>();
      if (n < 1 || n > 10'000'000) Fail(origin, "prompts.max_hashes", "must be between 1 and 10000000");
      c.prompts.max_hashes = static_cast<std::size_t>(n);
    }
  }

  if (const YAML::Node o = root["otlp"]) {
    CheckKeys(o, {"labels", "cache_write_default"}, origin, "otlp");
    if (const YAML::Node l = o["labels"]) {
      if (!l.IsMap()) Fail(origin, "otlp.labels", "must map attribution labels to OTLP attribute names");
      for (const auto& kv : l) {
        const auto label = kv.first.as<std::string>();
        const std::string where = "otlp.labels." + label;
        if (std::find(c.attribution_labels.begin(), c.attribution_labels.end(), label) == c.attribution_labels.end()) {
          Fail(origin, where, "not an attribution label (labels.attribution)");
        }
        std::vector<std::string> attributes;
        if (kv.second.IsSequence()) {
          for (const auto& a : kv.second) attributes.push_back(a.as<std::string>());
        } else {
          attributes.push_back(kv.second.as<std::string>());
        }
        if (attributes.empty()) Fail(origin, where, "needs at least one attribute name");
        for (const auto& a : attributes) {
          if (a.empty()) Fail(origin, where, "an attribute name is empty");
          if (OtlpAttributeNeverALabel(a)) {
            Fail(origin, where, "'" + a + "' is per session, user or prompt and never becomes a label");
          }
        }
        c.otlp_labels.emplace_back(label, std::move(attributes));
      }
    }
    if (const YAML::Node d = o["cache_write_default"]) {
      const auto v = d.as<std::string>();
      if (v != "1h" && v != "5m") Fail(origin, "otlp.cache_write_default", "must be 1h or 5m");
      c.otlp_cache_writes_1h = v == "1h";
    }
  }
  return c;
}

}  // namespace

std::size_t ExporterConfig::CapFor(const std::string& label) const {
  const auto it = max_values_by_label.find(label);
  return it == max_values_by_label.end() ? max_values_per_label : it->second;
}

ExporterConfig ExporterConfig::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return Parse(buf.str(), path);
}

ExporterConfig ExporterConfig::Parse(const std::string& yaml_text, const std::string& origin) {
  try {
    return ParseYaml(yaml_text, origin);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": " + e.what());
  }
}

}  // namespace llmcost
