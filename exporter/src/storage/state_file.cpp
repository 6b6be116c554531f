#include "storage/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "record/label_guard.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llmcost {
namespace {

using nlohmann::json;

constexpr std::string_view kMagic = "LLMCOSTSTATE";
constexpr std::size_t kIdBytes = 16;  // int64 seen time + uint64 hash, little endian

void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetU64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// ---- v2: every series by its label names and values, every counter by its name.

json ToJson(const MetricsState& s) {
  const auto& r = s.requests;
  json requests = json::array(), groups = json::array(), unpriced = json::array(), histograms = json::array();
  for (const auto& x : r.requests) requests.push_back({{"labels", x.labels}, {"count", x.count}});
  for (const auto& g : r.groups) {
    groups.push_back({{"labels", g.labels}, {"tokens", g.tokens}, {"cost", g.cost},
                      {"cache_savings", g.cache_savings}, {"cache_write_premium", g.cache_write_premium}});
    // Optional (by name): files without it, and groups without a client figure, mean 0.
    if (g.client_reported_cost > 0) groups.back()["client_reported_cost"] = g.client_reported_cost;
  }
  for (const auto& u : r.unpriced) unpriced.push_back({{"labels", u.labels}, {"count", u.count}});
  for (const auto& h : r.histogram_sets) {
    json by_name = json::object();
    for (const auto& [name, one] : h.by_name) by_name[name] = {{"buckets", one.bucket_counts}, {"sum", one.sum}};
    histograms.push_back({{"labels", h.labels}, {"histograms", by_name}});
  }
  json spend = json::array();
  for (const auto& scope : s.spend) {
    json periods = json::object();
    for (const auto& [name, p] : scope.periods) {
      periods[name] = {{"start_unix", p.start_unix}, {"spent_pusd", p.spent_pusd}, {"previous_pusd", p.previous_pusd}};
    }
    spend.push_back({{"scope", scope.scope}, {"periods", periods}});
  }
  json model_days = json::array();  // by day and model name (issue 16)
  for (const auto& d : s.model_days) {
    model_days.push_back({{"day_unix", d.day_unix}, {"model", d.model}, {"spent_pusd", d.spent_pusd}});
  }
  const auto& e = s.exporter;
  return {{"bucket_bounds", r.bucket_bounds},
          {"spend", spend},
          {"model_days", model_days},
          {"requests", requests},
          {"groups", groups},
          {"unpriced", unpriced},
          {"histogram_sets", histograms},
          {"exporter",
           {{"events", e.events},
            {"rejected", e.rejected},
            {"label_overflow", e.label_overflow},
            {"udp_receive_dropped", e.udp_receive_dropped}}}};
}

// Field-by-field validation: a CRC only proves the bytes are the ones written, not
// that they make sense (a hand edit, a bug in an older release). Every check names
// the field; any failure makes the whole file corrupt (set aside, counted).
class Reader {
 public:
  [[noreturn]] static void Bad(const std::string& path, const std::string& why) {
    throw std::runtime_error(path + ": " + why);
  }
  static const json& At(const json& j, const std::string& path, const char* key) {
    if (!j.is_object()) Bad(path, "not an object");
    const auto it = j.find(key);
    if (it == j.end()) Bad(path + "." + key, "missing");
    return *it;
  }
  static const json& Array(const json& j, const std::string& path) {
    if (!j.is_array()) Bad(path, "not an array");
    if (j.size() > kMaxStateEntries) Bad(path, "more than " + std::to_string(kMaxStateEntries) + " entries");
    return j;
  }
  static const json& Object(const json& j, const std::string& path) {
    if (!j.is_object()) Bad(path, "not an object");
    if (j.size() > kMaxStateEntries) Bad(path, "more than " + std::to_string(kMaxStateEntries) + " members");
    return j;
  }
  // A counter value: finite, non-negative and an exact double (at most 2^53).
  static double Count(const json& j, const std::string& path) {
    if (!j.is_number()) Bad(path, "not a number");
    const double v = j.get<double>();
    if (!std::isfinite(v) || v < 0 || v > kMaxStateCount) Bad(path, "not a finite count in [0, 2^53]");
    return v;
  }
  // An exact integer (pico-dollars, unix seconds); non_negative for amounts.
  static std::int64_t Int64(const json& j, const std::string& path, bool non_negative) {
    if (!j.is_number_integer()) Bad(path, "not an integer");
    if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) Bad(path, "out of range");
    const std::int64_t v = j.get<std::int64_t>();
    if (non_negative && v < 0) Bad(path, "negative");
    return v;
  }
  static double WholeCount(const json& j, const std::string& path) {
    const double v = Count(j, path);
    if (v != std::floor(v)) Bad(path, "not a whole number");
    return v;
  }
  // A name this format keys by: a label name, a type, reason or histogram name.
  static const std::string& Name(const std::string& name, const std::string& path) {
    if (name.empty() || name.size() > 64) Bad(path, "a name must be 1-64 characters");
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
      if (!ok) Bad(path, "'" + name.substr(0, 64) + "' is not a valid name");
    }
    if (name.rfind("__", 0) == 0) Bad(path, "names starting with __ are reserved");
    return name;
  }
  // A label value exactly as the exporter would have recorded it: sanitised, capped.
  static std::string LabelValue(const json& j, const std::string& path) {
    if (!j.is_string()) Bad(path, "not a string");
    const std::string& v = j.get_ref<const std::string&>();
    if (v.size() > kMaxStateLabelValueBytes) Bad(path, "longer than " + std::to_string(kMaxStateLabelValueBytes) + " bytes");
    if (SanitizeLabelValue(v, kMaxStateLabelValueBytes) != v) Bad(path, "not a sanitised label value");
    return v;
  }
  static LabelMap Labels(const json& j, const std::string& path) {
    LabelMap labels;
    for (const auto& [name, value] : Object(j, path).items()) {
      labels[Name(name, path)] = LabelValue(value, path + "." + name);
    }
    return labels;
  }
  static std::map<std::string, double> Counts(const json& j, const std::string& path) {
    std::map<std::string, double> out;
    for (const auto& [name, value] : Object(j, path).items()) out[Name(name, path)] = Count(value, path + "." + name);
    return out;
  }
  // Counts keyed by a label value (label_overflow: the `label` label's values,
  // which include "__label_sets__" for the global cap).
  static std::map<std::string, double> WholeCountsByValue(const json& j, const std::string& path) {
    std::map<std::string, double> out;
    for (const auto& [key, value] : Object(j, path).items()) {
      out[LabelValue(json(key), path)] = WholeCount(value, path + "." + key.substr(0, 64));
    }
    return out;
  }
  static std::map<std::string, double> WholeCounts(const json& j, const std::string& path) {
    std::map<std::string, double> out;
    for (const auto& [name, value] : Object(j, path).items()) out[Name(name, path)] = WholeCount(value, path + "." + name);
    return out;
  }
  static std::vector<double> Bounds(const json& j, const std::string& path) {
    std::vector<double> out;
    if (!j.is_array() || j.size() > kMaxStateBuckets) Bad(path, "not an array of at most " + std::to_string(kMaxStateBuckets));
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_number() || !std::isfinite(j[i].get<double>())) Bad(path + "[" + std::to_string(i) + "]", "not a finite number");
      out.push_back(j[i].get<double>());
      if (i > 0 && out[i] <= out[i - 1]) Bad(path, "bounds not strictly increasing");
    }
    return out;
  }
  static HistogramState Histogram(const json& j, const std::string& path, const std::vector<double>* bounds) {
    HistogramState h;
    const json& buckets = At(j, path, "buckets");
    if (!buckets.is_array() || buckets.size() > kMaxStateBuckets + 1) Bad(path + ".buckets", "not an array of buckets");
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      h.bucket_counts.push_back(WholeCount(buckets[i], path + ".buckets[" + std::to_string(i) + "]"));
    }
    if (bounds != nullptr && h.bucket_counts.size() != bounds->size() + 1) {
      Bad(path + ".buckets", std::to_string(h.bucket_counts.size()) + " buckets for " + std::to_string(bounds->size()) +
                                 " bounds (+Inf)");
    }
    const json& sum = At(j, path, "sum");
    if (!sum.is_number() || !std::isfinite(sum.get<double>()) || sum.get<double>() < 0) {
      Bad(path + ".sum", "not a finite non-negative number");
    }
    h.sum = sum.get<double>();
    return h;
  }
};

MetricsState FromJsonV2(const json& j) {
  using R = Reader;
  MetricsState s;
  auto& r = s.requests;
  for (const auto& [name, bounds] : R::Object(R::At(j, "", "bucket_bounds"), "bucket_bounds").items()) {
    r.bucket_bounds[R::Name(name, "bucket_bounds")] = R::Bounds(bounds, "bucket_bounds." + name);
  }
  const json& requests = R::Array(R::At(j, "", "requests"), "requests");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const std::string path = "requests[" + std::to_string(i) + "]";
    r.requests.push_back({R::Labels(R::At(requests[i], path, "labels"), path + ".labels"),
                          R::WholeCount(R::At(requests[i], path, "count"), path + ".count")});
  }
  const json& groups = R::Array(R::At(j, "", "groups"), "groups");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "groups[" + std::to_string(i) + "]";
    const json& x = groups[i];
    SeriesGroupState g;
    g.labels = R::Labels(R::At(x, path, "labels"), path + ".labels");
    g.tokens = R::WholeCounts(R::At(x, path, "tokens"), path + ".tokens");
    g.cost = R::Counts(R::At(x, path, "cost"), path + ".cost");
    g.cache_savings = R::Count(R::At(x, path, "cache_savings"), path + ".cache_savings");
    g.cache_write_premium = R::Count(R::At(x, path, "cache_write_premium"), path + ".cache_write_premium");
    if (const auto it = x.find("client_reported_cost"); it != x.end()) {
      g.client_reported_cost = R::Count(*it, path + ".client_reported_cost");
    }
    r.groups.push_back(std::move(g));
  }
  const json& unpriced = R::Array(R::At(j, "", "unpriced"), "unpriced");
  for (std::size_t i = 0; i < unpriced.size(); ++i) {
    const std::string path = "unpriced[" + std::to_string(i) + "]";
    r.unpriced.push_back({R::Labels(R::At(unpriced[i], path, "labels"), path + ".labels"),
                          R::WholeCount(R::At(unpriced[i], path, "count"), path + ".count")});
  }
  const json& hists = R::Array(R::At(j, "", "histogram_sets"), "histogram_sets");
  for (std::size_t i = 0; i < hists.size(); ++i) {
    const std::string path = "histogram_sets[" + std::to_string(i) + "]";
    HistogramSetState h;
    h.labels = R::Labels(R::At(hists[i], path, "labels"), path + ".labels");
    for (const auto& [name, one] : R::Object(R::At(hists[i], path, "histograms"), path + ".histograms").items()) {
      const auto b = r.bucket_bounds.find(R::Name(name, path + ".histograms"));
      h.by_name[name] = R::Histogram(one, path + ".histograms." + name, b != r.bucket_bounds.end() ? &b->second : nullptr);
    }
    r.histogram_sets.push_back(std::move(h));
  }
  const json& e = R::At(j, "", "exporter");
  for (const char* key : {"events", "rejected"}) {
    auto& out = std::string_view(key) == "events" ? s.exporter.events : s.exporter.rejected;
    const std::string path = std::string("exporter.") + key;
    for (const auto& [transport, counts] : R::Object(R::At(e, "exporter", key), path).items()) {
      out[R::Name(transport, path)] = R::WholeCounts(counts, path + "." + transport);
    }
  }
  s.exporter.label_overflow = R::WholeCountsByValue(R::At(e, "exporter", "label_overflow"), "exporter.label_overflow");
  s.exporter.udp_receive_dropped = R::WholeCount(R::At(e, "exporter", "udp_receive_dropped"), "exporter.udp_receive_dropped");
  // The spend ledger came after the first v2 files: absent means no ledger yet.
  if (const auto it = j.find("spend"); it != j.end()) {
    const json& spend = R::Array(*it, "spend");
    for (std::size_t i = 0; i < spend.size(); ++i) {
      const std::string path = "spend[" + std::to_string(i) + "]";
      ScopeSpendState scope;
      const json& name = R::At(spend[i], path, "scope");
      if (!name.is_string() || name.get_ref<const std::string&>().empty() || name.get_ref<const std::string&>().size() > 256) {
        R::Bad(path + ".scope", "not a scope name (1-256 characters)");
      }
      scope.scope = name.get<std::string>();
      for (const auto& [period, p] : R::Object(R::At(spend[i], path, "periods"), path + ".periods").items()) {
        const std::string pp = path + ".periods." + R::Name(period, path + ".periods");
        PeriodSpendState ps;
        ps.start_unix = R::Int64(R::At(p, pp, "start_unix"), pp + ".start_unix", false);
        ps.spent_pusd = R::Int64(R::At(p, pp, "spent_pusd"), pp + ".spent_pusd", true);
        ps.previous_pusd = R::Int64(R::At(p, pp, "previous_pusd"), pp + ".previous_pusd", true);
        scope.periods[period] = ps;
      }
      s.spend.push_back(std::move(scope));
    }
  }
  // The per-model UTC-day ledger came with issue 16: absent means none yet.
  if (const auto it = j.find("model_days"); it != j.end()) {
    const json& days = R::Array(*it, "model_days");
    for (std::size_t i = 0; i < days.size(); ++i) {
      const std::string path = "model_days[" + std::to_string(i) + "]";
      ModelDaySpendState d;
      d.day_unix = R::Int64(R::At(days[i], path, "day_unix"), path + ".day_unix", false);
      const json& model = R::At(days[i], path, "model");
      if (!model.is_string() || model.get_ref<const std::string&>().empty() || model.get_ref<const std::string&>().size() > 256) {
        R::Bad(path + ".model", "not a model name (1-256 characters)");
      }
      d.model = model.get<std::string>();
      d.spent_pusd = R::Int64(R::At(days[i], path, "spent_pusd"), path + ".spent_pusd", true);
      s.model_days.push_back(std::move(d));
    }
  }
  return s;
}

// ---- v1 (releases up to a8c76fd): series by position, counters by enum position.
// The names below are what those positions meant in v1, frozen here: they must
// never follow later changes to the enums.
constexpr std::array<std::string_view, 5> kV1TokenTypes = {"input", "output", "cache_read", "cache_write_5m",
                                                            "cache_write_1h"};
constexpr std::array<std::string_view, 7> kV1CostTypes = {"input",          "output",     "cache_read",
                                                           "cache_write_5m", "cache_write_1h", "web_search",
                                                           "client_reported"};
constexpr std::array<std::string_view, 9> kV1RejectReasons = {"empty",     "malformed_json", "not_object",
                                                               "missing_model", "bad_field",  "too_large",
                                                               "unauthorized",  "duplicate",  "overloaded"};
constexpr std::array<std::string_view, 2> kV1Transports = {"http", "udp"};
constexpr std::array<std::string_view, 2> kV1EventResults = {"accepted", "rejected"};
constexpr std::array<std::string_view, 5> kV1Histograms = {"duration_seconds", "ttft_seconds", "input_tokens",
                                                            "output_tokens", "cost_usd"};
constexpr std::array<std::string_view, 2> kV1FixedLabels = {"provider", "model"};

// A v1 positional array of exactly N counts -> by name.
template <std::size_t N>
std::map<std::string, double> V1Named(const json& j, const std::array<std::string_view, N>& names,
                                      const std::string& path, bool whole) {
  if (!j.is_array() || j.size() != N) Reader::Bad(path, "not an array of " + std::to_string(N));
  std::map<std::string, double> out;
  for (std::size_t i = 0; i < N; ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    out[std::string(names[i])] = whole ? Reader::WholeCount(j[i], p) : Reader::Count(j[i], p);
  }
  return out;
}

MetricsState FromJsonV1(const json& j) {
  using R = Reader;
  MetricsState s;
  auto& r = s.requests;
  std::vector<std::string> names(kV1FixedLabels.begin(), kV1FixedLabels.end());
  const json& attribution = R::Array(R::At(j, "", "attribution_labels"), "attribution_labels");
  for (const auto& a : attribution) {
    if (!a.is_string()) R::Bad("attribution_labels", "not a string");
    names.push_back(R::Name(a.get<std::string>(), "attribution_labels"));
  }
  const json& histogram_label = R::At(j, "", "histogram_label");
  if (!histogram_label.is_string()) R::Bad("histogram_label", "not a string");
  const std::vector<std::string> hist_names = {"provider", "model",
                                               R::Name(histogram_label.get<std::string>(), "histogram_label")};
  auto labels = [](const json& values, const std::vector<std::string>& label_names, const std::string& path) {
    if (!values.is_array() || values.size() != label_names.size()) {
      R::Bad(path, "not an array of " + std::to_string(label_names.size()) + " label values");
    }
    LabelMap out;
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      out[label_names[i]] = R::LabelValue(values[i], path + "[" + std::to_string(i) + "]");
    }
    return out;
  };
  const json& bounds = R::At(j, "", "bucket_bounds");
  if (!bounds.is_array() || bounds.size() != kV1Histograms.size()) R::Bad("bucket_bounds", "not an array of 5");
  for (std::size_t i = 0; i < kV1Histograms.size(); ++i) {
    r.bucket_bounds[std::string(kV1Histograms[i])] = R::Bounds(bounds[i], "bucket_bounds[" + std::to_string(i) + "]");
  }
  const json& requests = R::Array(R::At(j, "", "requests"), "requests");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const std::string path = "requests[" + std::to_string(i) + "]";
    RequestCountState x{labels(R::At(requests[i], path, "values"), names, path + ".values"),
                        R::WholeCount(R::At(requests[i], path, "count"), path + ".count")};
    const json& status = R::At(requests[i], path, "status");
    if (!status.is_string()) R::Bad(path + ".status", "not a string");
    x.labels["status"] = R::Name(status.get<std::string>(), path + ".status");
    r.requests.push_back(std::move(x));
  }
  const json& groups = R::Array(R::At(j, "", "groups"), "groups");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "groups[" + std::to_string(i) + "]";
    const json& x = groups[i];
    SeriesGroupState g;
    g.labels = labels(R::At(x, path, "values"), names, path + ".values");
    g.tokens = V1Named(R::At(x, path, "tokens"), kV1TokenTypes, path + ".tokens", true);
    g.cost = V1Named(R::At(x, path, "cost"), kV1CostTypes, path + ".cost", false);
    g.cache_savings = R::Count(R::At(x, path, "cache_savings"), path + ".cache_savings");
    g.cache_write_premium = R::Count(R::At(x, path, "cache_write_premium"), path + ".cache_write_premium");
    r.groups.push_back(std::move(g));
  }
  const json& unpriced = R::Array(R::At(j, "", "unpriced"), "unpriced");
  for (std::size_t i = 0; i < unpriced.size(); ++i) {
    const std::string path = "unpriced[" + std::to_string(i) + "]";
    const json& x = unpriced[i];
    UnpricedState u;
    u.labels["provider"] = R::LabelValue(R::At(x, path, "provider"), path + ".provider");
    u.labels["model"] = R::LabelValue(R::At(x, path, "model"), path + ".model");
    const json& reason = R::At(x, path, "reason");
    if (!reason.is_string()) R::Bad(path + ".reason", "not a string");
    u.labels["reason"] = R::Name(reason.get<std::string>(), path + ".reason");
    u.count = R::WholeCount(R::At(x, path, "count"), path + ".count");
    r.unpriced.push_back(std::move(u));
  }
  const json& hists = R::Array(R::At(j, "", "histogram_sets"), "histogram_sets");
  for (std::size_t i = 0; i < hists.size(); ++i) {
    const std::string path = "histogram_sets[" + std::to_string(i) + "]";
    HistogramSetState h;
    h.labels = labels(R::At(hists[i], path, "values"), hist_names, path + ".values");
    const json& each = R::At(hists[i], path, "histograms");
    if (!each.is_array() || each.size() != kV1Histograms.size()) R::Bad(path + ".histograms", "not an array of 5");
    for (std::size_t k = 0; k < kV1Histograms.size(); ++k) {
      const std::string name(kV1Histograms[k]);
      h.by_name[name] = R::Histogram(each[k], path + ".histograms[" + std::to_string(k) + "]", &r.bucket_bounds[name]);
    }
    r.histogram_sets.push_back(std::move(h));
  }
  const json& e = R::At(j, "", "exporter");
  const json& events = R::At(e, "exporter", "events");
  const json& rejected = R::At(e, "exporter", "rejected");
  if (!events.is_array() || events.size() != kV1Transports.size()) R::Bad("exporter.events", "not an array of 2");
  if (!rejected.is_array() || rejected.size() != kV1Transports.size()) R::Bad("exporter.rejected", "not an array of 2");
  for (std::size_t t = 0; t < kV1Transports.size(); ++t) {
    const std::string tn(kV1Transports[t]);
    s.exporter.events[tn] = V1Named(events[t], kV1EventResults, "exporter.events[" + std::to_string(t) + "]", true);
    s.exporter.rejected[tn] = V1Named(rejected[t], kV1RejectReasons, "exporter.rejected[" + std::to_string(t) + "]", true);
  }
  s.exporter.label_overflow = R::WholeCountsByValue(R::At(e, "exporter", "label_overflow"), "exporter.label_overflow");
  return s;  // v1 did not persist the UDP kernel drop counter
}

[[noreturn]] void Fail(const std::string& step, const std::string& path) {
  throw std::runtime_error(step + " " + path + ": " + std::strerror(errno));
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("write", path);
    }
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string EncodeState(const MetricsState& state) {
  std::string body = ToJson(state).dump();
  const std::size_t json_size = body.size();
  for (const auto& [seen, hash] : state.request_ids) {
    PutU64(body, static_cast<std::uint64_t>(seen));
    PutU64(body, hash);
  }
  const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  char header[128];
  std::snprintf(header, sizeof header, "%s %d %08lx %zu %zu\n", kMagic.data(), kStateFormatVersion,
                static_cast<unsigned long>(crc), json_size, state.request_ids.size());
  return header + body;
}

std::optional<MetricsState> DecodeState(std::string_view bytes, std::string& error, int* format_version) {
  const auto newline = bytes.find('\n');
  if (newline == std::string_view::npos || newline > 120) {
    error = "no header line";
    return std::nullopt;
  }
  const std::string header(bytes.substr(0, newline));
  char magic[16] = {};
  int version = 0;
  unsigned long crc = 0;
  std::size_t json_size = 0, ids = 0;
  if (std::sscanf(header.c_str(), "%15s %d %lx %zu %zu", magic, &version, &crc, &json_size, &ids) != 5 ||
      kMagic != magic) {
    error = "not a llm-cost-exporter state file";
    return std::nullopt;
  }
  if (version < kOldestStateFormatVersion || version > kStateFormatVersion) {
    error = "format version " + std::to_string(version) + ", this exporter reads " +
            std::to_string(kOldestStateFormatVersion) + " to " + std::to_string(kStateFormatVersion);
    return std::nullopt;
  }
  const std::string_view body = bytes.substr(newline + 1);
  if (ids > body.size() / kIdBytes || body.size() != json_size + ids * kIdBytes) {
    error = "truncated: " + std::to_string(body.size()) + " bytes, header says " +
            std::to_string(json_size + ids * kIdBytes);
    return std::nullopt;
  }
  const auto actual = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  if (actual != crc) {
    error = "checksum mismatch";
    return std::nullopt;
  }
  try {
    const json j = json::parse(body.substr(0, json_size));
    MetricsState s = version == 1 ? FromJsonV1(j) : FromJsonV2(j);
    const auto* p = reinterpret_cast<const unsigned char*>(body.data() + json_size);
    s.request_ids.reserve(ids);
    for (std::size_t i = 0; i < ids; ++i, p += kIdBytes) {
      const auto seen = static_cast<std::int64_t>(GetU64(p));
      if (seen < 0) throw std::runtime_error("request id " + std::to_string(i) + ": negative time");
      s.request_ids.emplace_back(seen, GetU64(p + 8));
    }
    if (format_version != nullptr) *format_version = version;
    return s;
  } catch (const std::exception& e) {
    error = std::string("malformed content: ") + e.what();
    return std::nullopt;
  }
}

StateFile::StateFile(std::string directory)
    : directory_(std::move(directory)), path_(directory_ + "/llm-cost-exporter.state") {}

StateFile::~StateFile() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void StateFile::Open() {
  auto refuse = [&](const std::string& why) {
    throw std::runtime_error("--storage.path=" + directory_ + ": " + why);
  };
  std::error_code ec;
  if (std::filesystem::exists(directory_, ec) && !std::filesystem::is_directory(directory_, ec)) {
    refuse("exists and is not a directory");
  }
  std::filesystem::create_directories(directory_, ec);  // with parents; mode from the umask
  if (ec) refuse("cannot create the directory: " + ec.message());
  if (!std::filesystem::is_directory(directory_, ec)) refuse("not a directory");

  // One exporter per directory: two would overwrite each other's checkpoints.
  const std::string lock_path = directory_ + "/llm-cost-exporter.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) refuse("not writable: cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    const ssize_t n = ::pread(lock_fd_, holder, sizeof holder - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "";
    pid.erase(pid.find_last_not_of(" \n") + 1);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      refuse("in use by another llm-cost-exporter" + (pid.empty() ? "" : " (pid " + pid + ")") +
             "; each instance needs its own storage directory");
    }
    refuse("cannot lock " + lock_path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    refuse("not writable: " + lock_path + ": " + std::strerror(errno));
  }

  // Temporary files left by a crash mid-checkpoint are ours (we hold the lock).
  // unlink removes a planted symlink itself, never its target.
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("llm-cost-exporter.state.tmp", 0) == 0) ::unlink(entry.path().c_str());
  }
  // Prove now that checkpoints can be written, rather than at the first one.
  std::string probe;
  const int fd = CreateTemporary(probe);
  if (fd < 0) refuse("not writable: cannot create a file in it: " + std::string(std::strerror(errno)));
  const bool wrote = ::write(fd, "x", 1) == 1 && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (!wrote) refuse("not writable: " + std::string(std::strerror(write_errno)));
}

int StateFile::CreateTemporary(std::string& name) {
  // A name no other process uses, created exclusively and never through a
  // symlink: a file planted at a predictable name is neither followed nor reused.
  for (int attempt = 0; attempt < 100; ++attempt) {
    name = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter_++);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

StateFile::Loaded StateFile::Load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {"none", std::nullopt, ""};
  std::string error;
  int version = 0;
  std::optional<MetricsState> state;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > kMaxStateFileBytes) {
    error = "larger than " + std::to_string(kMaxStateFileBytes) + " bytes";
  } else {
    std::stringstream buf;
    buf << in.rdbuf();
    state = DecodeState(buf.str(), error, &version);
  }
  if (state) return {"restored", std::move(state), "", version};
  const std::string moved = SetAside("corrupt");
  return {"corrupt", std::nullopt, error + "; moved to " + moved, 0};
}

std::string StateFile::SetAside(const std::string& why) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string target = path_ + "." + why + "-" + std::to_string(now);
  if (::rename(path_.c_str(), target.c_str()) != 0) return "";
  return target;
}

void StateFile::Save(const MetricsState& state) {
  const std::string data = EncodeState(state);
  std::string tmp;
  const int fd = CreateTemporary(tmp);
  if (fd < 0) Fail("create", tmp);
  try {
    WriteAll(fd, data, tmp);
    if (::fsync(fd) != 0) Fail("fsync", tmp);
    if (::close(fd) != 0) {
      ::unlink(tmp.c_str());
      Fail("close", tmp);
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    Fail("rename", tmp);
  }
  // The rename is durable only once the directory entry is.
  const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace llmcost
