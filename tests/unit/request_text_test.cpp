// The record stage's /metrics serialiser (RequestMetrics::WriteText) against
// prometheus-cpp: the same values, as MetricFamily objects built here from
// RequestMetrics::Snapshot() and written by prometheus::TextSerializer, must give
// the same series with the same values. Also: exact money from pico-dollars,
// escaping, zero-first sets, the overflow set, promtool on a whole page with many
// label sets and awkward values, content negotiation, and the family contract.
#include <gtest/gtest.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/exporter_config.h"
#include "exposition_text.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_families.h"
#include "record/request_metrics.h"
#include "transport/http_request.h"
#include "transport/http_servers.h"

namespace llmcost {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

ClientMetric Metric(const LabelMap& labels) {
  ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});  // a std::map: sorted, as a registry has them
  return m;
}

LabelMap With(LabelMap l, const std::string& k, const std::string& v) {
  l[k] = v;
  return l;
}

MetricFamily Counter(std::string_view name) {
  MetricFamily f;
  f.name = std::string(name);
  f.help = "h";
  f.type = prometheus::MetricType::Counter;
  return f;
}

// The snapshot as the families a prometheus-cpp registry would hold.
std::vector<MetricFamily> FamiliesOf(const RequestMetricsState& s) {
  const auto& names = kRequestCounterFamilies;
  std::vector<MetricFamily> out;
  MetricFamily requests = Counter(names[kRequestsFamily].name);
  for (const auto& r : s.requests) {
    ClientMetric m = Metric(r.labels);
    m.counter.value = r.count;
    requests.metric.push_back(m);
  }
  out.push_back(requests);
  MetricFamily tokens = Counter(names[kTokensFamily].name), cost = Counter(names[kCostFamily].name),
               savings = Counter(names[kCacheSavingsFamily].name), premium = Counter(names[kCacheWritePremiumFamily].name),
               client = Counter(names[kClientReportedCostFamily].name), unpriced = Counter(names[kUnpricedFamily].name);
  for (const auto& g : s.groups) {
    for (const auto& [type, v] : g.tokens) {
      ClientMetric m = Metric(With(g.labels, "token_type", type));
      m.counter.value = v;
      tokens.metric.push_back(m);
    }
    for (const auto& [type, v] : g.cost) {
      ClientMetric m = Metric(With(g.labels, "cost_type", type));
      m.counter.value = v;
      cost.metric.push_back(m);
    }
    auto one = [&g](MetricFamily& f, double v) {
      ClientMetric m = Metric(g.labels);
      m.counter.value = v;
      f.metric.push_back(m);
    };
    one(savings, g.cache_savings);
    one(premium, g.cache_write_premium);
    one(client, g.client_reported_cost);
  }
  for (const auto& u : s.unpriced) {
    ClientMetric m = Metric(u.labels);
    m.counter.value = u.count;
    unpriced.metric.push_back(m);
  }
  for (auto* f : {&tokens, &cost, &savings, &premium, &client, &unpriced}) out.push_back(*f);
  for (const RequestHistogram& h : kRequestHistograms) {
    MetricFamily f;
    f.name = std::string(h.metric);
    f.help = "h";
    f.type = prometheus::MetricType::Histogram;
    const std::vector<double>& bounds = s.bucket_bounds.at(std::string(h.name));
    for (const auto& set : s.histogram_sets) {
      const HistogramState& state = set.by_name.at(std::string(h.name));
      ClientMetric m = Metric(set.labels);
      std::uint64_t cumulative = 0;
      for (std::size_t k = 0; k < state.bucket_counts.size(); ++k) {
        cumulative += static_cast<std::uint64_t>(state.bucket_counts[k]);
        ClientMetric::Bucket b;
        b.cumulative_count = cumulative;
        b.upper_bound = k < bounds.size() ? bounds[k] : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back(b);
      }
      m.histogram.sample_count = cumulative;
      m.histogram.sample_sum = state.sum;
      f.metric.push_back(m);
    }
    out.push_back(f);
  }
  return out;
}

std::string Serialize(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

// le as a number (prometheus-cpp writes 16 digits, the serialiser the shortest exact text).
std::map<SeriesKey, std::string> Parse(const std::string& text) {
  std::map<SeriesKey, std::string> out;
  for (const auto& [parsed_key, value] : ParseExposition(text)) {
    SeriesKey key = parsed_key;
    if (auto le = key.labels.find("le"); le != key.labels.end()) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", std::strtod(le->second.c_str(), nullptr));
      le->second = buf;
    }
    out.emplace(std::move(key), value);
  }
  return out;
}

// Same value: the same double, or ours is the exact double that prometheus-cpp
// printed rounded to 16 significant digits.
bool SameValue(const std::string& ours, const std::string& theirs) {
  const double a = std::strtod(ours.c_str(), nullptr), b = std::strtod(theirs.c_str(), nullptr);
  if (a == b) return true;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.16g", a);
  return buf == theirs;
}

std::string Describe(const SeriesKey& k) {
  std::string s = k.name + "{";
  for (const auto& [n, v] : k.labels) s += n + "=\"" + v + "\",";
  return s + "}";
}

struct World {
  ExporterConfig config = [] {
    ExporterConfig c;
    c.attribution_labels = {"feature", "tenant"};
    c.histogram_label = "feature";
    c.max_values_per_label = 100;
    c.max_label_sets = 12;
    return c;
  }();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics metrics{config, exporter};
  Exposition exposition{registry, metrics};

  void Record(const std::string& feature, const std::string& tenant, int i, RequestStatus status = RequestStatus::kOk) {
    UsageEvent e;
    e.provider = "anthropic";
    e.model_id = i % 2 ? "claude-haiku-4-5" : "claude-sonnet-4-5";
    e.status = status;
    e.tokens[TokenType::kInput] = 1000 + static_cast<std::uint64_t>(i);
    e.tokens[TokenType::kOutput] = 7 * static_cast<std::uint64_t>(i);
    e.tokens[TokenType::kCacheRead] = static_cast<std::uint64_t>(i % 3) * 100;
    e.latency_seconds = 0.1 * i;
    if (i % 2) e.ttft_seconds = 0.03 * i;
    if (i % 4 == 0) e.reported_cost_usd = 0.000123 * i;
    e.labels = {{"feature", feature}, {"tenant", tenant}};
    RequestCost c;
    c.model = e.model_id;
    c.tokens = e.tokens;
    if (i % 5 == 4) {
      c.unpriced = UnpricedReason::kUnknownModel;
    } else {
      c.billed = true;
      c[CostType::kInput] = (1000 + i) * 3'000'000LL;  // $3 per million input tokens
      c[CostType::kOutput] = 7 * i * 15'000'000LL + 1;  // and a single pico-dollar
      c.cache_savings = (i % 3) * 100 * 2'700'000LL;
      c.cache_write_premium = i % 3 == 2 ? 333'333'333'333LL : 0;
    }
    metrics.Record(e, c);
  }
  void MakeLive() {
    metrics.FinishScrape(metrics.BeginScrape());
    metrics.FinishScrape(metrics.BeginScrape());
  }
  std::string Text() const {
    std::string text;
    metrics.WriteText(text);
    return text;
  }
};

// Saved label values no event could give (LabelGuard replaces control characters),
// restored as a state file from an older build may hold them: escaping is tested.
void RestoreAwkward(World& w) {
  RequestMetricsState s = w.metrics.Snapshot();
  const LabelMap labels = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"},
                           {"platform", "anthropic"}, {"service_tier", "standard"},
                           {"feature", "back\\slash \"quoted\"\nnew line"}, {"tenant", "t\\\"\n"}};
  s.requests.push_back({With(labels, "status", "ok"), 3});
  SeriesGroupState g;
  g.labels = labels;
  g.tokens["input"] = 9007199254740992.0;  // 2^53
  g.cost["input"] = 12345.678901234567;    // beyond 2^53 pico-dollars
  s.groups.push_back(g);
  HistogramSetState h;
  h.labels = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"}, {"feature", labels.at("feature")}};
  const std::vector<double>& bounds = s.bucket_bounds.at("duration_seconds");
  HistogramState d;
  d.bucket_counts.assign(bounds.size() + 1, 1);
  d.sum = 0.30000000000000004;  // 16 digits would print 0.3
  h.by_name["duration_seconds"] = d;
  s.histogram_sets.push_back(h);
  RestoreReport report;
  w.metrics.Restore(s, report);
  ASSERT_TRUE(report.incompatible.empty()) << report.incompatible;
}

void ExpectSameAsPrometheusCpp(const World& w, const std::function<bool(const SeriesKey&)>& zero_first = {}) {
  const auto ours = Parse(w.Text());
  const auto theirs = Parse(Serialize(FamiliesOf(w.metrics.Snapshot())));
  ASSERT_FALSE(theirs.empty());
  for (const auto& [key, value] : theirs) {
    const auto it = ours.find(key);
    ASSERT_NE(it, ours.end()) << "missing " << Describe(key);
    if (zero_first && zero_first(key)) {
      EXPECT_EQ(it->second, "0") << Describe(key) << " is not yet live";
    } else {
      EXPECT_TRUE(SameValue(it->second, value)) << Describe(key) << ": " << it->second << " vs " << value;
    }
  }
  for (const auto& [key, value] : ours) EXPECT_TRUE(theirs.count(key)) << "extra " << Describe(key);
}

TEST(RequestText, SameSeriesAndValuesAsPrometheusCpp) {
  World w;
  RestoreAwkward(w);
  // 10 tenants x 3 features: past max_label_sets (12), into the overflow set.
  for (int i = 0; i < 60; ++i) {
    w.Record("f" + std::to_string(i % 3), "t" + std::to_string(i % 10), i,
             i % 7 == 0 ? RequestStatus::kRateLimited : RequestStatus::kOk);
  }
  w.MakeLive();
  ExpectSameAsPrometheusCpp(w);
  const auto ours = ParseExposition(w.Text());
  const LabelMap overflow = {{"provider", "__overflow__"}, {"model", "__overflow__"}, {"platform", "__overflow__"},
                             {"service_tier", "__overflow__"}, {"feature", "__overflow__"}, {"tenant", "__overflow__"}};
  EXPECT_TRUE(ours.count({"llm_requests_total", With(overflow, "status", "ok")}));
  // The awkward values come back as they were saved, and the money exactly.
  const LabelMap awkward = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"},
                            {"platform", "anthropic"}, {"service_tier", "standard"},
                            {"feature", "back\\slash \"quoted\"\nnew line"}, {"tenant", "t\\\"\n"}};
  EXPECT_EQ(ours.at({"llm_requests_total", With(awkward, "status", "ok")}), "3");
  EXPECT_EQ(ours.at({"llm_tokens_total", With(awkward, "token_type", "input")}), "9007199254740992");
  EXPECT_EQ(std::strtod(ours.at({"llm_cost_usd_total", With(awkward, "cost_type", "input")}).c_str(), nullptr),
            std::strtod("12345.678901234567", nullptr));
  const LabelMap hist = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"}, {"feature", awkward.at("feature")}};
  EXPECT_EQ(ours.at({"llm_request_duration_seconds_sum", hist}), "0.30000000000000004");
  EXPECT_EQ(ours.at({"llm_request_duration_seconds_bucket", With(hist, "le", "+Inf")}),
            std::to_string(w.config.buckets.duration_seconds.size() + 1));
  // Tenant t1, feature f1: events 1, 31 (11 and 21 are feature f2, f0) -- a single
  // pico-dollar each on top of 7 * i * $15 per million output tokens.
  const LabelMap t1 = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"}, {"platform", "anthropic"},
                       {"service_tier", "standard"}, {"feature", "f1"}, {"tenant", "t1"}};
  EXPECT_EQ(std::strtod(ours.at({"llm_cost_usd_total", With(t1, "cost_type", "output")}).c_str(), nullptr),
            std::strtod("0.003360000002", nullptr));  // (7 + 217) * 15 / 1e6 + 2e-12
}

TEST(RequestText, ZeroFirstSetsShowZeroUntilLive) {
  World w;
  for (int i = 0; i < 6; ++i) w.Record("f" + std::to_string(i % 2), "t" + std::to_string(i % 3), i);
  w.MakeLive();
  w.Record("zf", "new", 3);  // a new label set: its events wait for its first scrape
  const auto zero_first = [](const SeriesKey& k) {
    const auto t = k.labels.find("tenant"), f = k.labels.find("feature");
    return (t != k.labels.end() && t->second == "new") || (f != k.labels.end() && f->second == "zf");
  };
  ExpectSameAsPrometheusCpp(w, zero_first);
  const auto before = ParseExposition(w.Text());
  EXPECT_TRUE(std::any_of(before.begin(), before.end(), [&](const auto& kv) { return zero_first(kv.first); }));
  w.MakeLive();
  ExpectSameAsPrometheusCpp(w);
}

// Live recording puts a value in the buckets a prometheus-cpp histogram fed the same
// values does (le: v <= bound, so a value on a bound is in that bound's bucket).
TEST(RequestText, HistogramBucketsAsPrometheusCppCountsThem) {
  World w;
  const std::vector<double>& bounds = w.config.buckets.duration_seconds;
  prometheus::Histogram reference({bounds.begin(), bounds.end()});
  std::vector<double> values = {0, 1e-9, 301, 1e9};
  for (double b : bounds) values.insert(values.end(), {b, std::nextafter(b, 0.0), std::nextafter(b, 1e9)});
  for (double v : values) {
    UsageEvent e;
    e.model_id = "claude-haiku-4-5";
    e.provider = "anthropic";
    e.latency_seconds = v;
    e.labels = {{"feature", "h"}, {"tenant", "t"}};
    RequestCost c;
    c.model = e.model_id;
    w.metrics.Record(e, c);
    reference.Observe(v);
  }
  w.MakeLive();
  const auto ours = ParseExposition(w.Text());
  const LabelMap labels = {{"provider", "anthropic"}, {"model", "claude-haiku-4-5"}, {"feature", "h"}};
  const ClientMetric m = reference.Collect();
  ASSERT_EQ(m.histogram.bucket.size(), bounds.size() + 1);
  for (std::size_t k = 0; k < bounds.size(); ++k) {
    char le[40];
    std::snprintf(le, sizeof le, "%.17g", bounds[k]);
    std::string le_text;
    for (const auto& [key, value] : ours) {  // the le as written, found by its value
      if (key.name == "llm_request_duration_seconds_bucket" && key.labels.count("le") &&
          key.labels.at("le") != "+Inf" && std::strtod(key.labels.at("le").c_str(), nullptr) == bounds[k]) {
        le_text = key.labels.at("le");
      }
    }
    ASSERT_FALSE(le_text.empty()) << le;
    EXPECT_EQ(ours.at({"llm_request_duration_seconds_bucket", With(labels, "le", le_text)}),
              std::to_string(m.histogram.bucket[k].cumulative_count))
        << "le=" << le;
  }
  EXPECT_EQ(ours.at({"llm_request_duration_seconds_bucket", With(labels, "le", "+Inf")}),
            std::to_string(m.histogram.sample_count));
  EXPECT_EQ(ours.at({"llm_request_duration_seconds_count", labels}), std::to_string(m.histogram.sample_count));
  EXPECT_EQ(std::strtod(ours.at({"llm_request_duration_seconds_sum", labels}).c_str(), nullptr), m.histogram.sample_sum);
}

// The whole page, request series and the exporter's own, is what promtool accepts.
TEST(RequestText, WholePageWithManyAwkwardLabelSetsPassesPromtool) {
  World w;
  w.config.max_label_sets = 5000;
  RestoreAwkward(w);
  for (int i = 0; i < 400; ++i) {
    w.Record("f " + std::to_string(i % 7) + " \"q\" \\", "t" + std::to_string(i) + "{}=,", i,
             static_cast<RequestStatus>(i % kRequestStatusCount));
  }
  w.exposition.Render();
  const std::string text = w.exposition.Render();
  ASSERT_NO_THROW(ParseExposition(text));
  const std::string path = testing::TempDir() + "request_text_promtool.txt";
  std::ofstream(path) << text;
  const std::string command = "promtool check metrics < '" + path + "' 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string said;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) said += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << said;
  EXPECT_EQ(said, "") << "promtool complained";
  std::remove(path.c_str());
}

// Prometheus asks for protobuf or OpenMetrics first; the answer is always the text
// format 0.0.4, which every Prometheus accepts, gzipped when asked.
TEST(RequestText, AnyAcceptGetsTextFormat004) {
  World w;
  w.Record("f", "t", 1);
  w.exposition.Render();
  HttpService web = WebService(WebServerOptions{"/metrics", false, "t"}, w.exposition, [] { return std::string(); },
                               HttpSecurity{});
  for (const char* accept :
       {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
        "text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "", "*/*"}) {
    HttpRequest get;
    get.method = "GET";
    get.path = get.target = "/metrics";
    if (*accept != '\0') get.headers.push_back({"Accept", accept});
    const HttpResponse r = web.handle(get);
    std::string type;
    for (const auto& [k, v] : r.headers) {
      if (k == "Content-Type") type = v;
    }
    EXPECT_EQ(r.status, 200) << accept;
    EXPECT_EQ(type, "text/plain; version=0.0.4; charset=utf-8") << accept;
    EXPECT_NE(r.body.find("# TYPE llm_requests_total counter\n"), std::string::npos);
  }
}

// Each request family is in the contract (docs/metrics.md) with its type.
TEST(RequestText, FamiliesAreInTheContract) {
  std::ifstream in(std::string(LLM_COST_SOURCE_DIR) + "/docs/metrics.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const RequestFamily& f : kRequestCounterFamilies) {
    EXPECT_NE(doc.str().find("| `" + std::string(f.name) + "` | " + std::string(f.type) + " |"), std::string::npos)
        << f.name;
  }
  for (const RequestHistogram& h : kRequestHistograms) {
    EXPECT_NE(doc.str().find("| `" + std::string(h.metric) + "` |"), std::string::npos) << h.metric;
  }
}

}  // namespace
}  // namespace llmcost
