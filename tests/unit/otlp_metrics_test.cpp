// OTLP metrics and traces ingest in process: the stream state (delta intervals
// counted once, cumulative last value + start time, resets, baselines, bounded),
// Claude Code's token/cost metrics priced from aggregates (no request counted),
// not counted again when the same session's logs arrive, GenAI token histograms,
// GenAI spans (input includes cache tokens), partial_success, malformed bodies.
// Expected money is computed here from the per-million rates of the test's own table.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include "gzip_body.h"
#include "scraped_value.h"

#include <ctime>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "config/exporter_config.h"
#include "event/otlp_metrics.h"
#include "event/otlp_streams.h"
#include "event/otlp_traces.h"
#include "otlp_metrics.pb.h"
#include "otlp_traces.pb.h"
#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/request_metrics.h"
#include "transport/otlp_server.h"

namespace llmcost {
namespace {

using nlohmann::json;

constexpr double kIn = 3, kOut = 15, kRead = 0.30, kW5m = 3.75, kW1h = 6;  // USD per million tokens
const char* kPrices = R"(
as_of: "2026-12-01"
source: "test"
models:
  - model: claude-test-5
    as_of: "2026-12-01"
    source: "test"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
)";

const std::uint64_t kNow = static_cast<std::uint64_t>(std::time(nullptr)) * 1000000000ULL;

json Attr(const std::string& key, json value) { return {{"key", key}, {"value", std::move(value)}}; }
json Str(const std::string& s) { return {{"stringValue", s}}; }

// ---- streams ----

OtlpStreamPoint P(OtlpTemporality t, std::uint64_t start, std::uint64_t time, double v, std::string id = "s") {
  return OtlpStreamPoint{std::move(id), t, start, time, v};
}

TEST(OtlpStreams, DeltaIntervalsCountOnceEvenOutOfOrder) {
  OtlpStreams s(100);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kDelta, 100, 200, 5)).delta, 5);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kDelta, 200, 300, 7)).delta, 7);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kDelta, 100, 200, 5)).verdict, OtlpStreamVerdict::kDuplicate);
  // A retried older interval arriving after a newer one still counts (it is new).
  OtlpStreams t(100);
  EXPECT_EQ(t.Advance(P(OtlpTemporality::kDelta, 200, 300, 7)).delta, 7);
  EXPECT_EQ(t.Advance(P(OtlpTemporality::kDelta, 100, 200, 5)).delta, 5);
}

TEST(OtlpStreams, CumulativeCountsWhatIsAddedAndANewStartIsAReset) {
  OtlpStreams s(100);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 200, 10)).delta, 10);  // started after us: all new
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 300, 25)).delta, 15);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 300, 25)).verdict, OtlpStreamVerdict::kDuplicate);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 250, 18)).verdict, OtlpStreamVerdict::kStale);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 400, 25)).verdict, OtlpStreamVerdict::kUnchanged);
  // The client restarted: a new start time, counted from zero.
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 450, 500, 4)).delta, 4);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 450, 600, 9)).delta, 5);
  // A point from before the reset.
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 700, 30)).verdict, OtlpStreamVerdict::kStale);
  // A smaller value without a new start: a reset too.
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 450, 800, 2)).delta, 2);
}

TEST(OtlpStreams, ACumulativeStreamOlderThanTheExporterIsABaseline) {
  OtlpStreams s(1000);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 500, 1100, 40)).verdict, OtlpStreamVerdict::kBaseline);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 500, 1200, 46)).delta, 6);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 0, 1200, 46, "no-start")).verdict, OtlpStreamVerdict::kBaseline);
}

TEST(OtlpStreams, BoundedAndAnEvictedCumulativeStreamDoesNotCountTwice) {
  OtlpStreams s(100, 2);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 200, 10, "a")).delta, 10);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 160, 200, 10, "b")).delta, 10);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 170, 200, 10, "c")).delta, 10);  // evicts a
  EXPECT_EQ(s.Streams(), 2u);
  EXPECT_EQ(s.Evicted(), 1u);
  EXPECT_EQ(s.Advance(P(OtlpTemporality::kCumulative, 150, 300, 12, "a")).verdict, OtlpStreamVerdict::kBaseline);
}

TEST(OtlpStreams, PerRequestCoverageExpires) {
  OtlpStreams s(0, 10, 600);
  s.NotePerRequest("k", 1000);
  EXPECT_TRUE(s.CoveredByPerRequest("k", 1500));
  EXPECT_FALSE(s.CoveredByPerRequest("k", 1700));
  EXPECT_FALSE(s.CoveredByPerRequest("other", 1000));
}

// ---- Claude Code metrics ----

json Sum(const std::string& name, int temporality, json points) {
  return {{"name", name}, {"unit", "tokens"},
          {"sum", {{"aggregationTemporality", temporality}, {"isMonotonic", true}, {"dataPoints", points}}}};
}

json TokenPoint(const std::string& type, double v, std::uint64_t start, std::uint64_t time,
                const std::string& session = "s-1") {
  return {{"startTimeUnixNano", std::to_string(start)}, {"timeUnixNano", std::to_string(time)}, {"asDouble", v},
          {"attributes", json::array({Attr("type", Str(type)), Attr("model", Str("claude-test-5")),
                                      Attr("session.id", Str(session)), Attr("query_source", Str("main")),
                                      Attr("user.id", Str("u-1"))})}};
}

json CostPoint(double v, std::uint64_t start, std::uint64_t time, const std::string& session = "s-1") {
  return {{"startTimeUnixNano", std::to_string(start)}, {"timeUnixNano", std::to_string(time)}, {"asDouble", v},
          {"attributes", json::array({Attr("model", Str("claude-test-5")), Attr("session.id", Str(session)),
                                      Attr("query_source", Str("main")), Attr("user.id", Str("u-1"))})}};
}

json MetricsRequest(json metrics) {
  return {{"resourceMetrics",
           json::array({{{"resource", {{"attributes", json::array({Attr("service.name", Str("claude-code")),
                                                                 Attr("service.version", Str("2.1.328")),
                                                                 Attr("team.id", Str("platform"))})}}},
                         {"scopeMetrics", json::array({{{"scope", {{"name", "com.anthropic.claude_code"}}},
                                                        {"metrics", metrics}}})}}})}};
}

json ClaudeCodeInterval(int temporality, std::uint64_t start, std::uint64_t time, double in, double out, double read,
                        double write, double cost, const std::string& session = "s-1") {
  return MetricsRequest(json::array(
      {Sum("claude_code.token.usage", temporality,
           json::array({TokenPoint("input", in, start, time, session), TokenPoint("output", out, start, time, session),
                        TokenPoint("cacheRead", read, start, time, session),
                        TokenPoint("cacheCreation", write, start, time, session)})),
       Sum("claude_code.cost.usage", temporality, json::array({CostPoint(cost, start, time, session)})),
       Sum("claude_code.session.count", temporality, json::array({CostPoint(1, start, time, session)}))}));
}

OtlpMapping Mapping() {
  OtlpMapping m;
  m.labels = {{"tenant", {"team.id"}}, {"feature", {"query_source"}}};
  return m;
}

TEST(OtlpMetricsDecoder, ClaudeCodePointsBecomeOneAggregateEvent) {
  OtlpMetricsDecoded d =
      DecodeOtlpMetrics(ClaudeCodeInterval(1, kNow - 60, kNow, 1000, 200, 5000, 300, 0.05).dump(), OtlpEncoding::kJson,
                        Mapping());
  ASSERT_FALSE(d.malformed) << d.error;
  EXPECT_EQ(d.points, 6u);
  EXPECT_EQ(d.ignored, 1u);  // session.count is not usage
  ASSERT_EQ(d.usage.size(), 5u);
  OtlpStreams streams(0);
  OtlpAggregated a = AggregateOtlpPoints(d, streams, static_cast<std::int64_t>(kNow / 1000000000ULL), Mapping());
  ASSERT_EQ(a.items.size(), 1u);
  const UsageEvent& e = std::get<UsageEvent>(a.items[0]);
  EXPECT_TRUE(e.from_aggregate);
  EXPECT_EQ(e.model_id, "claude-test-5");
  EXPECT_EQ(e.tokens[TokenType::kInput], 1000u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 200u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 5000u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite1h], 300u);  // Claude Code writes 1-hour entries
  EXPECT_DOUBLE_EQ(e.reported_cost_usd.value_or(0), 0.05);
  EXPECT_EQ(a.item_points[0], 5u);
  for (const auto& [k, v] : e.labels) EXPECT_NE(k, "session.id");
}

TEST(OtlpMetricsDecoder, BadPointsAreRefusedByName) {
  json bad = ClaudeCodeInterval(1, kNow - 60, kNow, 1, 1, 1, 1, 0.01);
  auto& points = bad["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"];
  points[0]["attributes"][0]["value"] = Str("reasoning");
  points[1]["asDouble"] = -4;
  OtlpMetricsDecoded d = DecodeOtlpMetrics(bad.dump(), OtlpEncoding::kJson, Mapping());
  ASSERT_EQ(d.errors.size(), 2u);
  EXPECT_EQ(d.errors[0].field, "metric claude_code.token.usage attributes.type");
  EXPECT_EQ(d.errors[1].field, "metric claude_code.token.usage value");
  EXPECT_TRUE(DecodeOtlpMetrics("{\"resourceMetrics\": 3}", OtlpEncoding::kJson, Mapping()).malformed);
  EXPECT_TRUE(DecodeOtlpMetrics("", OtlpEncoding::kJson, Mapping()).malformed);
  EXPECT_TRUE(DecodeOtlpMetrics("\xff\xff\xff", OtlpEncoding::kProtobuf, Mapping()).malformed);
}

// ---- the service ----

struct World {
  ExporterConfig config;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::Parse(kPrices)};
  RequestIdWindow ids{1000, 86400};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  explicit World(std::int64_t hold_seconds = 0) : options(Options(hold_seconds)) {}
  static OtlpOptions Options(std::int64_t hold_seconds) {
    OtlpOptions o;
    o.mapping = Mapping();
    o.aggregate_hold_seconds = hold_seconds;  // 0: aggregates priced at once
    return o;
  }
  OtlpOptions options;
  // Streams started well before the test's points: cumulative streams count.
  std::shared_ptr<OtlpState> state = std::make_shared<OtlpState>(kNow - 3600ULL * 1000000000ULL, options);
  HttpService service = OtlpService(pipeline, exporter, options, HttpSecurity{}, state);

  double Value(const std::string& name, const std::map<std::string, std::string>& labels) {
    return ScrapedValue(*registry, requests, name, labels);
  }

  HttpResponse Post(std::string_view path, std::string body, std::string content_type = "application/json",
                    std::string encoding = "") {
    HttpRequest r;
    r.method = "POST";
    r.path = r.target = std::string(path);
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", std::move(content_type));
    if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", std::move(encoding));
    return service.handle(r);
  }
};

double Usd(double in, double out, double read, double w5m, double w1h) {
  return (in * kIn + out * kOut + read * kRead + w5m * kW5m + w1h * kW1h) / 1e6;
}

TEST(OtlpService, ClaudeCodeDeltaMetricsArePricedOnceAndCountNoRequest) {
  World w;
  const std::string body = ClaudeCodeInterval(1, kNow - 60, kNow, 1000, 200, 5000, 300, 0.05).dump();
  HttpResponse r = w.Post(kOtlpMetricsPath, Gzip(body), "application/json", "gzip");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  r = w.Post(kOtlpMetricsPath, body);  // a re-sent batch
  EXPECT_EQ(r.status, 200);
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow, kNow + 1, 10, 20, 0, 0, 0.01).dump());
  const double want = Usd(1000, 200, 5000, 0, 300) + Usd(10, 20, 0, 0, 0);
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {{"tenant", "platform"}, {"feature", "main"}}), want, 1e-12);
  EXPECT_EQ(w.Value("llm_requests_total", {}), 0);  // aggregates are not requests
  EXPECT_NEAR(w.Value("llm_client_reported_cost_usd_total", {}), 0.06, 1e-12);
  EXPECT_EQ(w.Value("llm_exporter_otlp_ignored_total", {{"signal", "metrics"}, {"reason", "duplicate"}}), 5);
  // 5 points, then 3 (the zero cache deltas of the last interval are `unchanged`).
  EXPECT_EQ(w.Value("llm_exporter_otlp_records_total", {{"signal", "metrics"}, {"result", "accepted"}}), 8);
  EXPECT_EQ(w.Value("llm_exporter_otlp_ignored_total", {{"signal", "metrics"}, {"reason", "unchanged"}}), 2);
  EXPECT_EQ(w.Value("llm_exporter_otlp_streams", {}), 5);  // 4 token types + cost; session.count is not tracked
}

TEST(OtlpService, CumulativeMetricsWithAReset) {
  World w;
  const std::uint64_t start = kNow - 600ULL * 1000000000ULL;
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(2, start, kNow - 300ULL * 1000000000ULL, 100, 10, 0, 0, 0).dump());
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(2, start, kNow - 200ULL * 1000000000ULL, 150, 30, 0, 0, 0).dump());
  // The client restarted: a new start time.
  const std::uint64_t restart = kNow - 100ULL * 1000000000ULL;
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(2, restart, kNow, 40, 5, 0, 0, 0).dump());
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(150 + 40, 30 + 5, 0, 0, 0), 1e-12);
  EXPECT_EQ(w.Value("llm_tokens_total", {{"token_type", "input"}}), 190);
}

json LogsRequest(const std::string& session) {
  json attrs = json::array({Attr("event.name", Str("api_request")), Attr("model", Str("claude-test-5")),
                            Attr("input_tokens", {{"intValue", 1000}}), Attr("output_tokens", {{"intValue", 200}}),
                            Attr("request_id", Str("req-" + session)), Attr("session.id", Str(session))});
  return {{"resourceLogs",
           json::array({{{"resource", {{"attributes", json::array({Attr("service.name", Str("claude-code"))})}}},
                         {"scopeLogs", json::array({{{"logRecords",
                                                      json::array({{{"timeUnixNano", std::to_string(kNow)},
                                                                    {"body", Str("claude_code.api_request")},
                                                                    {"attributes", attrs}}})}}})}}})}};
}

TEST(OtlpService, AClientSendingLogsAndMetricsIsCountedOnce) {
  World w;
  EXPECT_EQ(w.Post(kOtlpLogsPath, LogsRequest("s-1").dump()).status, 200);
  // The same session's metrics: covered by its logs, not counted again.
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow - 60, kNow, 1000, 200, 0, 0, 0.01, "s-1").dump());
  // Another session sends metrics only: counted.
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow - 60, kNow, 10, 0, 0, 0, 0.01, "s-2").dump());
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(1000, 200, 0, 0, 0) + Usd(10, 0, 0, 0, 0), 1e-12);
  EXPECT_EQ(w.Value("llm_exporter_otlp_ignored_total", {{"signal", "metrics"}, {"reason", "covered"}}), 5);
  EXPECT_GT(w.Value("llm_exporter_otlp_source_last_seen_timestamp_seconds",
                    {{"service_name", "claude-code"}, {"service_version", "2.1.328"}}),
            0);
}

TEST(OtlpService, ARefusedLogRecordDoesNotCoverItsSessionsMetrics) {
  World w;
  json logs = LogsRequest("s-1");
  logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][2]["value"] = {{"intValue", -5}};
  EXPECT_EQ(w.Post(kOtlpLogsPath, logs.dump()).status, 200);  // refused: bad_field
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow - 60, kNow, 1000, 200, 0, 0, 0.01, "s-1").dump());
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(1000, 200, 0, 0, 0), 1e-12);  // from the metrics
}

TEST(OtlpService, MetricsThatArriveBeforeTheSameSessionsLogsWaitAndAreCovered) {
  World w(10);  // aggregates wait 10 s for the same client's logs
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow - 60, kNow, 1000, 200, 0, 0, 0.01, "s-1").dump());
  w.Post(kOtlpMetricsPath, ClaudeCodeInterval(1, kNow - 60, kNow, 10, 0, 0, 0, 0.01, "s-2").dump());
  EXPECT_EQ(w.state->HeldCount(), 2u);
  EXPECT_EQ(w.Value("llm_cost_usd_total", {}), 0);  // nothing priced yet
  EXPECT_EQ(w.Post(kOtlpLogsPath, LogsRequest("s-1").dump()).status, 200);
  w.state->Release(w.pipeline, w.exporter, static_cast<std::int64_t>(kNow / 1000000000ULL), true);  // as at Stop
  EXPECT_EQ(w.state->HeldCount(), 0u);
  // s-1 once (from its logs), s-2 from its metrics.
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(1000, 200, 0, 0, 0) + Usd(10, 0, 0, 0, 0), 1e-12);
  EXPECT_EQ(w.Value("llm_exporter_otlp_ignored_total", {{"signal", "metrics"}, {"reason", "covered"}}), 3);
  EXPECT_EQ(w.Value("llm_exporter_otlp_records_total", {{"signal", "metrics"}, {"result", "accepted"}}), 2);
}

json GenAiHistogram(int temporality, const std::string& type, double sum, std::uint64_t start, std::uint64_t time) {
  json point = {{"startTimeUnixNano", std::to_string(start)}, {"timeUnixNano", std::to_string(time)},
                {"count", "3"}, {"sum", sum}, {"bucketCounts", json::array({"1", "2"})}, {"explicitBounds", {100}},
                {"attributes", json::array({Attr("gen_ai.token.type", Str(type)),
                                            Attr("gen_ai.provider.name", Str("anthropic")),
                                            Attr("gen_ai.request.model", Str("claude-test-5")),
                                            Attr("gen_ai.operation.name", Str("chat"))})}};
  return {{"name", "gen_ai.client.token.usage"}, {"unit", "{token}"},
          {"histogram", {{"aggregationTemporality", temporality}, {"dataPoints", json::array({point})}}}};
}

TEST(OtlpService, GenAiTokenHistogramsAreAnAggregateFallback) {
  World w;
  json req = MetricsRequest(json::array({GenAiHistogram(1, "input", 3000, kNow - 60, kNow),
                                         GenAiHistogram(1, "output", 450, kNow - 60, kNow)}));
  EXPECT_EQ(w.Post(kOtlpMetricsPath, req.dump()).status, 200);
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {{"model", "claude-test-5"}}), Usd(3000, 450, 0, 0, 0), 1e-12);
  EXPECT_EQ(w.Value("llm_requests_total", {}), 0);
}

TEST(OtlpService, MetricsPartialSuccessAndMalformed) {
  World w;
  json bad = ClaudeCodeInterval(1, kNow - 60, kNow, 1, 1, 1, 1, 0.01);
  bad["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]["attributes"][1]["value"] =
      Str("");
  HttpResponse r = w.Post(kOtlpMetricsPath, bad.dump());
  EXPECT_EQ(r.status, 200);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["partialSuccess"]["rejectedDataPoints"], "1");
  EXPECT_NE(body["partialSuccess"]["errorMessage"].get<std::string>().find("point 0 metric claude_code.token.usage "
                                                                           "attributes.model: missing_model"),
            std::string::npos);
  EXPECT_EQ(w.Post(kOtlpMetricsPath, "{\"resourceMetrics\": [1]}").status, 400);
  EXPECT_EQ(w.Post(kOtlpMetricsPath, "\x0a\xff", "application/x-protobuf").status, 400);
  EXPECT_EQ(w.Value("llm_exporter_otlp_rejected_total", {{"signal", "metrics"}, {"reason", "malformed_json"}}), 1);
  EXPECT_EQ(w.Value("llm_exporter_otlp_rejected_total", {{"signal", "metrics"}, {"reason", "missing_model"}}), 1);
}

// ---- GenAI spans ----

std::string SpanRequestProto(std::int64_t input, std::int64_t read, std::int64_t write, std::int64_t output,
                             const std::string& response_id) {
  otlp::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* ra = rs->mutable_resource()->add_attributes();
  ra->set_key("service.name");
  ra->mutable_value()->set_string_value("chat-app");
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x01'));
  span->set_span_id(std::string(8, '\x02'));
  span->set_name("chat claude-test-5");
  span->set_start_time_unix_nano(kNow - 2000000000ULL);
  span->set_end_time_unix_nano(kNow);
  auto add = [span](const std::string& k, auto v) {
    auto* kv = span->add_attributes();
    kv->set_key(k);
    if constexpr (std::is_same_v<decltype(v), std::int64_t>) {
      kv->mutable_value()->set_int_value(v);
    } else {
      kv->mutable_value()->set_string_value(v);
    }
  };
  add("gen_ai.provider.name", std::string("anthropic"));
  add("gen_ai.request.model", std::string("claude-test-5"));
  add("gen_ai.response.model", std::string("claude-test-5-20261201"));
  add("gen_ai.usage.input_tokens", input);
  add("gen_ai.usage.cache_read.input_tokens", read);
  add("gen_ai.usage.cache_creation.input_tokens", write);
  add("gen_ai.usage.output_tokens", output);
  if (!response_id.empty()) add("gen_ai.response.id", response_id);
  auto* other = rs->mutable_scope_spans(0)->add_spans();  // an HTTP span: not usage
  other->set_name("GET /");
  return req.SerializeAsString();
}

TEST(OtlpTracesDecoder, InputIncludesCacheTokens) {
  OtlpTracesDecoded d = DecodeOtlpTraces(SpanRequestProto(26000, 20000, 3000, 389, "msg_1"), OtlpEncoding::kProtobuf,
                                         Mapping());
  ASSERT_FALSE(d.malformed);
  EXPECT_EQ(d.spans, 2u);
  EXPECT_EQ(d.ignored, 1u);
  ASSERT_EQ(d.items.size(), 1u);
  const UsageEvent& e = std::get<UsageEvent>(d.items[0]);
  EXPECT_EQ(e.tokens[TokenType::kInput], 3000u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 20000u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 3000u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 389u);
  EXPECT_EQ(e.model_id, "claude-test-5-20261201");
  EXPECT_EQ(e.request_id, "msg_1");
  EXPECT_FALSE(e.from_aggregate);
  EXPECT_NEAR(e.latency_seconds.value_or(0), 2.0, 1e-9);
  // Input smaller than its cache tokens: the instrumentation did not follow the conventions.
  OtlpTracesDecoded bad = DecodeOtlpTraces(SpanRequestProto(100, 20000, 0, 1, ""), OtlpEncoding::kProtobuf, Mapping());
  ASSERT_EQ(bad.items.size(), 1u);
  EXPECT_EQ(std::get<EventError>(bad.items[0]).field, "attributes.gen_ai.usage.input_tokens");
}

TEST(OtlpService, GenAiSpansArePricedOnceAndCoverTheirHistograms) {
  World w;
  const std::string body = SpanRequestProto(26000, 20000, 3000, 389, "msg_1");
  HttpResponse r = w.Post(kOtlpTracesPath, body, "application/x-protobuf");
  EXPECT_EQ(r.status, 200);
  otlp::ExportTraceServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.partial_success().rejected_spans(), 0);
  r = w.Post(kOtlpTracesPath, body, "application/x-protobuf");  // re-sent
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.partial_success().rejected_spans(), 0);  // a safe retry, not a rejection
  // The same app's histograms: covered by its spans.
  json hist = MetricsRequest(json::array({GenAiHistogram(1, "input", 26000, kNow - 60, kNow)}));
  hist["resourceMetrics"][0]["resource"]["attributes"] = json::array({Attr("service.name", Str("chat-app"))});
  w.Post(kOtlpMetricsPath, hist.dump());
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(3000, 389, 20000, 3000, 0), 1e-12);
  EXPECT_EQ(w.Value("llm_requests_total", {}), 1);
  EXPECT_EQ(w.Value("llm_exporter_otlp_records_total", {{"signal", "traces"}, {"result", "ignored"}}), 2);
  EXPECT_EQ(w.Post(kOtlpTracesPath, "{\"resourceSpans\": [7]}").status, 400);
  EXPECT_EQ(w.Post(kOtlpTracesPath, Gzip("{\"resourceSpans\": []}"), "application/json", "gzip").status, 200);
}

TEST(OtlpService, GenAiSpansInOtlpJsonWithHexIds) {
  World w;
  json span = {{"traceId", "5b8efff798038103d269b633813fc60c"}, {"spanId", "eee19b7ec3c1b174"}, {"name", "chat"},
               {"kind", 3}, {"startTimeUnixNano", std::to_string(kNow - 1000)}, {"endTimeUnixNano", std::to_string(kNow)},
               {"attributes", json::array({Attr("gen_ai.system", Str("anthropic")),
                                           Attr("gen_ai.request.model", Str("claude-test-5")),
                                           Attr("gen_ai.usage.input_tokens", {{"intValue", "1200"}}),
                                           Attr("gen_ai.usage.output_tokens", {{"intValue", 300}})})},
               {"status", {{"code", "STATUS_CODE_OK"}}}, {"droppedAttributesCount", 0}};
  json req = {{"resourceSpans", json::array({{{"resource", {{"attributes", json::array()}}},
                                              {"scopeSpans", json::array({{{"spans", json::array({span})}}})}}})}};
  EXPECT_EQ(w.Post(kOtlpTracesPath, req.dump()).status, 200);
  EXPECT_EQ(w.Post(kOtlpTracesPath, req.dump()).status, 200);  // re-sent: the same ids, counted once
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {}), Usd(1200, 300, 0, 0, 0), 1e-12);
}

TEST(OtlpService, SourcesAreBoundedAndNeverCarryPersonalAttributes) {
  World w;
  for (std::size_t i = 0; i < kMaxOtlpSources + 5; ++i) {
    w.exporter.OtlpSourceSeen({"svc-" + std::to_string(i), "1"}, 1000.0 + static_cast<double>(i));
  }
  w.exporter.OtlpSourceSeen({"", ""}, 5000);  // no service.name: already past the cap -> overflow
  std::size_t series = 0;
  double overflow = 0;
  for (const auto& f : w.registry->Collect()) {
    if (f.name != "llm_exporter_otlp_source_last_seen_timestamp_seconds") continue;
    series = f.metric.size();
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        if (l.name == "service_name" && l.value == "__overflow__") overflow = m.gauge.value;
      }
    }
  }
  EXPECT_EQ(series, kMaxOtlpSources + 1);
  EXPECT_EQ(overflow, 5000);
}

}  // namespace
}  // namespace llmcost
