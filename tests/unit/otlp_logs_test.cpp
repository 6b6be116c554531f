// OTLP logs ingest in process: the decoder (proto3 JSON in both spellings,
// protobuf, malformed bodies), Claude Code's api_request mapping (5m/1h split or
// the configured default, labels only from the mapping, the client's cost kept
// apart), and the OTLP/HTTP service (gzip, partial_success, 400, 415, counters).
// Expected money is computed here from the per-million rates of the test's own table.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include "gzip_body.h"
#include "scraped_value.h"

#include <cmath>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "config/exporter_config.h"
#include "event/otlp_logs.h"
#include "otlp_logs.pb.h"
#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/request_metrics.h"
#include "transport/otlp_server.h"

namespace llmcost {
namespace {

using nlohmann::json;

// Rates per million tokens for the test's model; money below derives from these.
constexpr double kIn = 3, kOut = 15, kRead = 0.30, kW5m = 3.75, kW1h = 6;
const char* kPrices = R"(
as_of: "2026-12-01"
source: "test"
models:
  - model: claude-test-5
    as_of: "2026-12-01"
    source: "test"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
)";

json Attr(const std::string& key, json value) { return {{"key", key}, {"value", std::move(value)}}; }
json Str(const std::string& s) { return {{"stringValue", s}}; }
json IntS(std::int64_t v) { return {{"intValue", std::to_string(v)}}; }  // int64 as a JSON string

json ApiRequest(const std::string& request_id, json extra = json::array()) {
  json attrs = json::array({Attr("event.name", Str("api_request")), Attr("model", Str("claude-test-5")),
                            Attr("input_tokens", IntS(1247)), Attr("output_tokens", {{"intValue", 389}}),
                            Attr("cache_read_tokens", IntS(20000)), Attr("cache_creation_tokens", IntS(3000)),
                            Attr("cache_creation_5m_tokens", IntS(1000)), Attr("cache_creation_1h_tokens", IntS(2000)),
                            Attr("cost_usd", {{"doubleValue", 0.5}}), Attr("duration_ms", {{"intValue", 2500}}),
                            Attr("request_id", Str(request_id)), Attr("speed", Str("normal")),
                            Attr("anthropic.provider", Str("firstParty")), Attr("session.id", Str("s-1")),
                            Attr("user.email", Str("a@example.com")), Attr("query_source", Str("repl_main_thread"))});
  for (auto& a : extra) attrs.push_back(a);
  return {{"timeUnixNano", std::to_string(static_cast<std::uint64_t>(std::time(nullptr)) * 1000000000ULL)},
          {"body", Str("claude_code.api_request")},
          {"attributes", attrs}};
}

json Request(json records) {
  return {{"resourceLogs",
           json::array({{{"resource", {{"attributes", json::array({Attr("service.name", Str("claude-code")),
                                                                 Attr("team.id", Str("platform"))})}}},
                         {"scopeLogs", json::array({{{"scope", {{"name", "com.anthropic.claude_code.events"}}},
                                                     {"logRecords", records}}})}}})}};
}

OtlpMapping Mapping() {
  OtlpMapping m;
  m.labels = {{"tenant", {"team.id"}}, {"feature", {"query_source"}}};
  return m;
}

const UsageEvent& EventOf(const OtlpLogsDecoded& d, std::size_t i) { return std::get<UsageEvent>(d.items.at(i)); }

void ExpectClaudeCodeEvent(const UsageEvent& e) {
  EXPECT_EQ(e.model_id, "claude-test-5");
  EXPECT_EQ(e.tokens[TokenType::kInput], 1247u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 389u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 20000u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 1000u);  // the split, not the total on top
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite1h], 2000u);
  EXPECT_EQ(e.request_id, "req-1");
  ASSERT_TRUE(e.platform.has_value());
  EXPECT_EQ(*e.platform, Platform::kAnthropic);
  ASSERT_TRUE(e.latency_seconds.has_value());
  EXPECT_DOUBLE_EQ(*e.latency_seconds, 2.5);
  EXPECT_FALSE(e.client_cost_usd.has_value());  // never the price ...
  ASSERT_TRUE(e.reported_cost_usd.has_value());  // ... only kept beside it
  EXPECT_DOUBLE_EQ(*e.reported_cost_usd, 0.5);
  // Labels only from the mapping: no session, user or unmapped attribute.
  const std::vector<std::pair<std::string, std::string>> want = {{"tenant", "platform"}, {"feature", "repl_main_thread"}};
  EXPECT_EQ(e.labels, want);
}

TEST(OtlpLogsDecoder, ClaudeCodeApiRequestFromCamelCaseJson) {
  const auto d = DecodeOtlpLogs(Request(json::array({ApiRequest("req-1")})).dump(), OtlpEncoding::kJson, Mapping());
  ASSERT_FALSE(d.malformed) << d.error;
  EXPECT_EQ(d.records, 1u);
  ASSERT_EQ(d.items.size(), 1u);
  ExpectClaudeCodeEvent(EventOf(d, 0));
}

TEST(OtlpLogsDecoder, SnakeCaseKeysAndNumbersAsNumbers) {
  std::string text = Request(json::array({ApiRequest("req-1")})).dump();
  for (auto [from, to] : {std::pair{"resourceLogs", "resource_logs"}, {"scopeLogs", "scope_logs"},
                          {"logRecords", "log_records"}, {"stringValue", "string_value"}, {"intValue", "int_value"},
                          {"doubleValue", "double_value"}, {"timeUnixNano", "time_unix_nano"}}) {
    for (std::size_t at; (at = text.find(from)) != std::string::npos;) text.replace(at, std::strlen(from), to);
  }
  const auto d = DecodeOtlpLogs(text, OtlpEncoding::kJson, Mapping());
  ASSERT_FALSE(d.malformed) << d.error;
  ASSERT_EQ(d.items.size(), 1u);
  ExpectClaudeCodeEvent(EventOf(d, 0));
}

otlp::KeyValue* Add(otlp::LogRecord& r, const std::string& key) {
  auto* kv = r.add_attributes();
  kv->set_key(key);
  return kv;
}

std::string ProtobufRequest() {
  otlp::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* team = rl->mutable_resource()->add_attributes();
  team->set_key("team.id");
  team->mutable_value()->set_string_value("platform");
  auto* lr = rl->add_scope_logs()->add_log_records();
  lr->set_event_name("claude_code.api_request");
  lr->set_time_unix_nano(static_cast<std::uint64_t>(std::time(nullptr)) * 1000000000ULL);
  Add(*lr, "model")->mutable_value()->set_string_value("claude-test-5");
  Add(*lr, "input_tokens")->mutable_value()->set_int_value(1247);
  Add(*lr, "output_tokens")->mutable_value()->set_string_value("389");  // Claude Code has sent strings
  Add(*lr, "cache_read_tokens")->mutable_value()->set_int_value(20000);
  Add(*lr, "cache_creation_tokens")->mutable_value()->set_int_value(3000);
  Add(*lr, "cache_creation_5m_tokens")->mutable_value()->set_int_value(1000);
  Add(*lr, "cache_creation_1h_tokens")->mutable_value()->set_int_value(2000);
  Add(*lr, "cost_usd")->mutable_value()->set_double_value(0.5);
  Add(*lr, "duration_ms")->mutable_value()->set_double_value(2500);
  Add(*lr, "request_id")->mutable_value()->set_string_value("req-1");
  Add(*lr, "anthropic.provider")->mutable_value()->set_string_value("firstParty");
  Add(*lr, "session.id")->mutable_value()->set_string_value("s-1");
  Add(*lr, "query_source")->mutable_value()->set_string_value("repl_main_thread");
  // A record that is not usage: ignored, not refused.
  auto* other = rl->mutable_scope_logs(0)->add_log_records();
  other->set_event_name("claude_code.user_prompt");
  return req.SerializeAsString();
}

TEST(OtlpLogsDecoder, Protobuf) {
  const auto d = DecodeOtlpLogs(ProtobufRequest(), OtlpEncoding::kProtobuf, Mapping());
  ASSERT_FALSE(d.malformed) << d.error;
  EXPECT_EQ(d.records, 2u);
  EXPECT_EQ(d.ignored, 1u);
  ASSERT_EQ(d.items.size(), 1u);
  ExpectClaudeCodeEvent(EventOf(d, 0));
}

TEST(OtlpLogsDecoder, UndividedCacheWritesTakeTheConfiguredDefault) {
  json r = ApiRequest("req-1");
  json attrs = json::array();
  for (auto& a : r["attributes"]) {
    if (a["key"] != "cache_creation_5m_tokens" && a["key"] != "cache_creation_1h_tokens") attrs.push_back(a);
  }
  r["attributes"] = attrs;
  OtlpMapping m = Mapping();
  auto d = DecodeOtlpLogs(Request(json::array({r})).dump(), OtlpEncoding::kJson, m);
  ASSERT_EQ(d.items.size(), 1u);
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite1h], 3000u);  // Claude Code writes 1-hour entries
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite5m], 0u);
  m.cache_write_default = TokenType::kCacheWrite5m;
  d = DecodeOtlpLogs(Request(json::array({r})).dump(), OtlpEncoding::kJson, m);
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite5m], 3000u);
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite1h], 0u);
}

TEST(OtlpLogsDecoder, WritesTheSplitDoesNotCoverTakeTheDefault) {
  // Claude Code 2.1.328 sends 5m = 1h = 0 beside a non-zero total when the API gave no split.
  json r = ApiRequest("req-1");
  for (auto& a : r["attributes"]) {
    if (a["key"] == "cache_creation_5m_tokens") a["value"] = IntS(0);
    if (a["key"] == "cache_creation_1h_tokens") a["value"] = IntS(500);
  }
  const auto d = DecodeOtlpLogs(Request(json::array({r})).dump(), OtlpEncoding::kJson, Mapping());
  ASSERT_EQ(d.items.size(), 1u);
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite5m], 0u);
  EXPECT_EQ(EventOf(d, 0).tokens[TokenType::kCacheWrite1h], 3000u);  // 500 given + 2500 uncovered, never 3500
}

TEST(OtlpLogsDecoder, BadRecordsAreRefusedOneByOneNamingTheAttribute) {
  json no_model = ApiRequest("a");
  no_model["attributes"].erase(1);  // model
  json bad_count = ApiRequest("b", json::array({Attr("input_tokens", Str("12.5"))}));
  bad_count["attributes"].erase(2);  // the valid input_tokens
  json negative = ApiRequest("c");
  negative["attributes"][3] = Attr("output_tokens", {{"intValue", -1}});
  json split_mismatch = ApiRequest("d");
  split_mismatch["attributes"][5] = Attr("cache_creation_tokens", IntS(2999));  // less than 1000 + 2000
  json other = {{"body", Str("claude_code.tool_result")}, {"attributes", json::array()}};
  const auto d = DecodeOtlpLogs(Request(json::array({other, no_model, bad_count, negative, split_mismatch})).dump(),
                                OtlpEncoding::kJson, Mapping());
  ASSERT_FALSE(d.malformed);
  EXPECT_EQ(d.ignored, 1u);
  ASSERT_EQ(d.items.size(), 4u);
  auto err = [&](std::size_t i) { return std::get<EventError>(d.items.at(i)); };
  EXPECT_EQ(err(0).reason, RejectReason::kMissingModel);
  EXPECT_EQ(err(0).index, 1u);  // the record's position in the request
  EXPECT_EQ(err(1).reason, RejectReason::kBadField);
  EXPECT_EQ(err(1).field, "attributes.input_tokens");
  EXPECT_EQ(err(2).field, "attributes.output_tokens");
  EXPECT_EQ(err(3).field, "attributes.cache_creation_tokens");
  EXPECT_EQ(d.positions, (std::vector<std::size_t>{1, 2, 3, 4}));
}

TEST(OtlpLogsDecoder, MalformedBodies) {
  for (const std::string& body : std::vector<std::string>{"", "{", "[]", R"({"resourceLogs": {}})", R"({"resourceLogs": [{"scopeLogs": [1]}])",
                                 R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":1}]}]}]}]})",
                                 R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]})",
                                 std::string(200, '[') + std::string(200, ']')}) {
    const auto d = DecodeOtlpLogs(body, OtlpEncoding::kJson, Mapping());
    EXPECT_TRUE(d.malformed) << body;
    EXPECT_TRUE(d.items.empty());
    EXPECT_FALSE(d.error.empty());
  }
  const auto p = DecodeOtlpLogs("\xff\xff\xff\xff garbage", OtlpEncoding::kProtobuf, Mapping());
  EXPECT_TRUE(p.malformed);
  // An empty protobuf body is a valid, empty request.
  EXPECT_FALSE(DecodeOtlpLogs("", OtlpEncoding::kProtobuf, Mapping()).malformed);
}

TEST(OtlpLogsDecoder, ContentTypes) {
  EXPECT_EQ(OtlpEncodingOf("application/json"), OtlpEncoding::kJson);
  EXPECT_EQ(OtlpEncodingOf("Application/JSON; charset=utf-8"), OtlpEncoding::kJson);
  EXPECT_EQ(OtlpEncodingOf("application/x-protobuf"), OtlpEncoding::kProtobuf);
  EXPECT_FALSE(OtlpEncodingOf("text/plain").has_value());
  EXPECT_FALSE(OtlpEncodingOf("").has_value());
}

TEST(OtlpConfig, LabelMappingIsConfigAndNeverPersonal) {
  const auto c = ExporterConfig::Parse("otlp:\n  labels:\n    tenant: team.id\n    feature: [query_source, app]\n"
                                       "  cache_write_default: 5m\n");
  ASSERT_EQ(c.otlp_labels.size(), 2u);
  EXPECT_FALSE(c.otlp_cache_writes_1h);
  EXPECT_THROW(ExporterConfig::Parse("otlp:\n  labels:\n    tenant: session.id\n"), ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("otlp:\n  labels:\n    tenant: user.email\n"), ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("otlp:\n  labels:\n    tenant: prompt.id\n"), ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("otlp:\n  labels:\n    nosuchlabel: team.id\n"), ConfigError);
  EXPECT_THROW(ExporterConfig::Parse("otlp:\n  cache_write_default: 2h\n"), ConfigError);
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

  double Value(const std::string& name, const std::map<std::string, std::string>& labels) {
    return ScrapedValue(*registry, requests, name, labels);
  }
};

HttpRequest Post(std::string body, std::string content_type, std::string encoding = "") {
  HttpRequest r;
  r.method = "POST";
  r.path = r.target = std::string(kOtlpLogsPath);
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", std::move(encoding));
  return r;
}

TEST(OtlpService, PricesClaudeCodeByTheTableAndKeepsItsFigureApart) {
  World w;
  OtlpOptions o;
  o.mapping = Mapping();
  HttpService s = OtlpService(w.pipeline, w.exporter, o, HttpSecurity{});
  const std::string body = Request(json::array({ApiRequest("req-1")})).dump();
  const HttpResponse r = s.handle(Post(Gzip(body), "application/json", "gzip"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::object());  // nothing rejected: no partial_success
  const double expected = (1247 * kIn + 389 * kOut + 20000 * kRead + 1000 * kW5m + 2000 * kW1h) / 1e6;
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {{"model", "claude-test-5"}, {"tenant", "platform"}}), expected, 1e-9);
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {{"cost_type", "client_reported"}}), 0, 1e-12);  // never added
  EXPECT_NEAR(w.Value("llm_client_reported_cost_usd_total", {{"model", "claude-test-5"}}), 0.5, 1e-12);
  EXPECT_EQ(w.Value("llm_exporter_events_total", {{"transport", "otlp"}, {"result", "accepted"}}), 1);
  EXPECT_EQ(w.Value("llm_exporter_otlp_records_total", {{"signal", "logs"}, {"result", "accepted"}}), 1);

  // The same batch again (an exporter retry): counted once, and not reported as rejected.
  const HttpResponse again = s.handle(Post(body, "application/json"));
  EXPECT_EQ(again.status, 200);
  EXPECT_NEAR(w.Value("llm_cost_usd_total", {{"model", "claude-test-5"}}), expected, 1e-9);
  EXPECT_EQ(w.Value("llm_exporter_events_rejected_total", {{"transport", "otlp"}, {"reason", "duplicate"}}), 1);
}

TEST(OtlpService, PartialSuccessNamesTheRejectedRecords) {
  World w;
  HttpService s = OtlpService(w.pipeline, w.exporter, OtlpOptions{}, HttpSecurity{});
  json bad = ApiRequest("x");
  bad["attributes"].erase(1);
  const HttpResponse r = s.handle(Post(Request(json::array({ApiRequest("ok"), bad})).dump(), "application/json"));
  EXPECT_EQ(r.status, 200);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["partialSuccess"]["rejectedLogRecords"], "1");
  EXPECT_NE(j["partialSuccess"]["errorMessage"].get<std::string>().find("attributes.model"), std::string::npos);
  EXPECT_EQ(w.Value("llm_exporter_events_rejected_total", {{"transport", "otlp"}, {"reason", "missing_model"}}), 1);

  // Protobuf in, protobuf out.
  const HttpResponse p = s.handle(Post(ProtobufRequest(), "application/x-protobuf"));
  EXPECT_EQ(p.status, 200);
  otlp::ExportLogsServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(p.body));
  EXPECT_EQ(resp.partial_success().rejected_log_records(), 0);
  EXPECT_EQ(w.Value("llm_exporter_otlp_records_total", {{"result", "ignored"}}), 1);
}

TEST(OtlpService, MalformedIs400AndWrongTypeIs415) {
  World w;
  HttpService s = OtlpService(w.pipeline, w.exporter, OtlpOptions{}, HttpSecurity{});
  EXPECT_EQ(s.handle(Post("{not json", "application/json")).status, 400);
  EXPECT_EQ(s.handle(Post("\xff\xff\xff", "application/x-protobuf")).status, 400);
  EXPECT_EQ(s.handle(Post("not gzip", "application/json", "gzip")).status, 400);
  EXPECT_EQ(s.handle(Post("{}", "text/plain")).status, 415);
  HttpRequest get = Post("", "application/json");
  get.method = "GET";
  EXPECT_EQ(s.handle(get).status, 405);
  get.path = "/v1/profiles";
  EXPECT_EQ(s.handle(get).status, 404);
  EXPECT_EQ(w.Value("llm_exporter_events_rejected_total", {{"transport", "otlp"}, {"reason", "malformed_json"}}), 1);
  EXPECT_EQ(w.Value("llm_exporter_events_rejected_total", {{"transport", "otlp"}, {"reason", "malformed_protobuf"}}), 1);
  EXPECT_EQ(w.Value("llm_cost_usd_total", {}), 0);
  const HttpResponse busy = s.overloaded(nullptr);
  EXPECT_EQ(busy.status, 429);
  bool retry_after = false;
  for (const auto& [k, v] : busy.headers) retry_after = retry_after || k == "Retry-After";
  EXPECT_TRUE(retry_after);
}

}  // namespace
}  // namespace llmcost
