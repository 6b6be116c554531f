#include "event/event_parser.h"

#include <gtest/gtest.h>

#include <deque>

namespace llmcost {
namespace {

// Parses `text` (which must be valid JSON) into a document that lives for the test.
JsonValue Json(const std::string& text) {
  static std::deque<std::pair<std::string, JsonDocument>> docs;
  auto& [source, doc] = docs.emplace_back(text, JsonDocument{});
  std::string error;
  const auto v = doc.Parse(source, error);
  if (!v) ADD_FAILURE() << "bad test JSON: " << error;
  return *v;
}

const EventParser& Parser() {
  static const EventParser p({"feature", "tenant", "route"});
  return p;
}

UsageEvent MustParse(const std::string& text) {
  auto r = Parser().Parse(Json(text), 0);
  if (auto* e = std::get_if<EventError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->field << ": " << e->message;
    return {};
  }
  return std::get<UsageEvent>(r);
}

EventError MustFail(const std::string& text) {
  auto r = Parser().Parse(Json(text), 7);
  if (auto* e = std::get_if<EventError>(&r)) {
    EXPECT_EQ(e->index, 7u);
    return *e;
  }
  ADD_FAILURE() << "expected an error for " << text;
  return {};
}

std::string Label(const UsageEvent& e, const std::string& name) {
  for (const auto& [k, v] : e.labels) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(EventParser, AnthropicUsageObjectVerbatim) {
  // A Messages API response's usage object, forwarded untouched.
  const auto e = MustParse(R"({
    "model": "claude-sonnet-4-5-20250929",
    "usage": {"input_tokens": 1247, "output_tokens": 612, "cache_read_input_tokens": 28430,
              "cache_creation_input_tokens": 3000,
              "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
              "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 2},
              "service_tier": "standard", "inference_geo": "us",
              "output_tokens_details": {"thinking_tokens": 100}},
    "latency_ms": 2300, "ttft_ms": 420, "status": 200, "error_type": null, "stop_reason": "end_turn",
    "batch": false, "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat", "color": "ignored"},
    "request_id": "msg_01", "task_id": "conv-42", "some_future_field": {"x": 1}})");
  EXPECT_EQ(e.model_id, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(e.provider, "anthropic");
  EXPECT_EQ(e.tokens[TokenType::kInput], 1247u);  // never reduced by cache tokens
  EXPECT_EQ(e.tokens[TokenType::kOutput], 612u);  // thinking is already inside output
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 28430u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 1000u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite1h], 2000u);
  EXPECT_EQ(e.web_search_requests, 3u);
  EXPECT_TRUE(e.us_only_inference);
  EXPECT_EQ(e.tier, ServiceTier::kStandard);
  EXPECT_EQ(e.status, RequestStatus::kOk);
  EXPECT_DOUBLE_EQ(*e.latency_seconds, 2.3);
  EXPECT_DOUBLE_EQ(*e.ttft_seconds, 0.42);
  EXPECT_EQ(Label(e, "feature"), "chat");
  EXPECT_EQ(Label(e, "route"), "/api/chat");
  EXPECT_EQ(e.labels.size(), 3u);  // "color" is not allowlisted
  EXPECT_EQ(e.request_id, "msg_01");
}

TEST(EventParser, DocsExamplesAndCreationTotalWithoutSplitIsFiveMinute) {
  auto e = MustParse(R"({"model":"claude-haiku-4-5","usage":{"input_tokens": 2095, "output_tokens": 503}})");
  EXPECT_EQ(e.tokens[TokenType::kInput], 2095u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 503u);
  e = MustParse(R"({"model":"m","usage":{"input_tokens":1,"cache_creation_input_tokens":500}})");
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 500u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite1h], 0u);
  // A zero split next to a non-zero total: the total is what was written.
  e = MustParse(R"({"model":"m","usage":{"cache_creation_input_tokens":500,
      "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}}})");
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 500u);
}

TEST(EventParser, FlatWrapperFields) {
  const auto e = MustParse(R"({"model_id":"claude-opus-4-6","input_tokens":10,"output_tokens":20,
      "cache_read_input_tokens":30,"cache_creation_input_tokens":40,"tenant_id":12345,"feature":"search",
      "route":"/x","user_id":"u-1","latency_ms":100.5,"cost_usd":0.25,"error_type":null,"stop_reason":"max_tokens"})");
  EXPECT_EQ(e.model_id, "claude-opus-4-6");
  EXPECT_EQ(e.tokens[TokenType::kInput], 10u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 20u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 30u);
  EXPECT_EQ(e.tokens[TokenType::kCacheWrite5m], 40u);
  EXPECT_EQ(Label(e, "tenant"), "12345");
  EXPECT_EQ(Label(e, "feature"), "search");
  EXPECT_DOUBLE_EQ(*e.client_cost_usd, 0.25);
  EXPECT_DOUBLE_EQ(*e.latency_seconds, 0.1005);
}

TEST(EventParser, LabelsObjectWinsOverFlatFields) {
  const auto e = MustParse(R"({"model":"m","tenant":"flat","labels":{"tenant":"object"}})");
  EXPECT_EQ(Label(e, "tenant"), "object");
}

TEST(EventParser, BatchAndTiers) {
  EXPECT_EQ(MustParse(R"({"model":"m","batch":true})").tier, ServiceTier::kBatch);
  EXPECT_EQ(MustParse(R"({"model":"m","usage":{"service_tier":"batch"}})").tier, ServiceTier::kBatch);
  EXPECT_EQ(MustParse(R"({"model":"m","service_tier":"priority"})").tier, ServiceTier::kPriority);
  EXPECT_EQ(MustParse(R"({"model":"m","usage":{"service_tier":"flex"}})").tier, ServiceTier::kOther);
  EXPECT_EQ(MustParse(R"({"model":"m","usage":{"speed":"fast"}})").speed, Speed::kFast);
}

TEST(EventParser, StatusFromHttpCodeAndErrorType) {
  struct Case {
    const char* fields;
    RequestStatus want;
  } cases[] = {
      {R"("status":200)", RequestStatus::kOk},
      {R"("status":429)", RequestStatus::kRateLimited},
      {R"("status":529)", RequestStatus::kOverloaded},
      {R"("status":500)", RequestStatus::kServerError},
      {R"("status":504)", RequestStatus::kTimeout},
      {R"("status":400)", RequestStatus::kClientError},
      {R"("status":"429")", RequestStatus::kRateLimited},
      {R"("status":"rate_limited")", RequestStatus::kRateLimited},
      {R"("error_type":"overloaded_error")", RequestStatus::kOverloaded},
      {R"("error_type":"rate_limit_error")", RequestStatus::kRateLimited},
      {R"("error_type":"api_error")", RequestStatus::kServerError},
      {R"("error_type":"timeout_error")", RequestStatus::kTimeout},
      {R"("error_type":"billing_error")", RequestStatus::kClientError},
      {R"("error_type":"something_new")", RequestStatus::kOtherError},
      {R"("status":200,"error_type":"overloaded_error")", RequestStatus::kOverloaded},  // failed mid-stream
      {R"("status":302)", RequestStatus::kOtherError},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MustParse(std::string(R"({"model":"m",)") + c.fields + "}").status, c.want) << c.fields;
  }
}

TEST(EventParser, OpenAiUsageSubtractsCachedFromPrompt) {
  auto e = MustParse(R"({"provider":"openai","model":"gpt-4o","usage":{"prompt_tokens":1000,
      "completion_tokens":50,"prompt_tokens_details":{"cached_tokens":600}}})");
  EXPECT_EQ(e.provider, "openai");
  EXPECT_EQ(e.tokens[TokenType::kInput], 400u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 600u);
  EXPECT_EQ(e.tokens[TokenType::kOutput], 50u);
  e = MustParse(R"({"provider":"openai","model":"gpt-4o","usage":{"input_tokens":300,"output_tokens":9,
      "input_tokens_details":{"cached_tokens":100}}})");
  EXPECT_EQ(e.tokens[TokenType::kInput], 200u);
  EXPECT_EQ(e.tokens[TokenType::kCacheRead], 100u);
  const auto err = MustFail(R"({"provider":"openai","model":"gpt-4o","usage":{"prompt_tokens":10,
      "prompt_tokens_details":{"cached_tokens":11}}})");
  EXPECT_EQ(err.field, "usage.prompt_tokens_details.cached_tokens");
}

TEST(EventParser, EachBadInputClassGetsItsFieldAndReason) {
  struct Case {
    const char* event;
    const char* field;
    RejectReason reason;
  } cases[] = {
      {R"({"usage":{"input_tokens":1}})", "model", RejectReason::kMissingModel},
      {R"({"model":""})", "model", RejectReason::kMissingModel},
      {R"({"model":"  "})", "model", RejectReason::kMissingModel},
      {R"({"model":null})", "model", RejectReason::kMissingModel},
      {R"({"model":42})", "model", RejectReason::kBadField},
      {R"({"model":"m","usage":{"input_tokens":-1}})", "usage.input_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"input_tokens":"12"}})", "usage.input_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"input_tokens":1.5}})", "usage.input_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"output_tokens":1000000001}})", "usage.output_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"output_tokens":1e300}})", "usage.output_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"output_tokens":18446744073709551615}})", "usage.output_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"cache_creation":{"ephemeral_1h_input_tokens":-5}}})",
       "usage.cache_creation.ephemeral_1h_input_tokens", RejectReason::kBadField},
      {R"({"model":"m","usage":{"cache_creation":[1]}})", "usage.cache_creation", RejectReason::kBadField},
      {R"({"model":"m","usage":"lots"})", "usage", RejectReason::kBadField},
      {R"({"model":"m","usage":{"server_tool_use":{"web_search_requests":2000000}}})",
       "usage.server_tool_use.web_search_requests", RejectReason::kBadField},
      {R"({"model":"m","input_tokens":true})", "input_tokens", RejectReason::kBadField},
      {R"({"model":"m","latency_ms":-3})", "latency_ms", RejectReason::kBadField},
      {R"({"model":"m","latency_ms":"fast"})", "latency_ms", RejectReason::kBadField},
      {R"({"model":"m","ttft_ms":1e12})", "ttft_ms", RejectReason::kBadField},
      {R"({"model":"m","cost_usd":-0.01})", "cost_usd", RejectReason::kBadField},
      {R"({"model":"m","cost_usd":1e9})", "cost_usd", RejectReason::kBadField},
      {R"({"model":"m","status":700})", "status", RejectReason::kBadField},
      {R"({"model":"m","status":"maybe"})", "status", RejectReason::kBadField},
      {R"({"model":"m","status":[200]})", "status", RejectReason::kBadField},
      {R"({"model":"m","batch":"yes"})", "batch", RejectReason::kBadField},
      {R"({"model":"m","labels":["a"]})", "labels", RejectReason::kBadField},
      {R"({"model":"m","labels":{"tenant":{"id":1}}})", "labels.tenant", RejectReason::kBadField},
      {R"({"model":"m","tenant":1.5})", "tenant", RejectReason::kBadField},
      {R"({"model":"m","provider":""})", "provider", RejectReason::kBadField},
      {R"({"model":"m","usage":{"inference_geo":5}})", "usage.inference_geo", RejectReason::kBadField},
  };
  for (const auto& c : cases) {
    const EventError e = MustFail(c.event);
    EXPECT_EQ(e.field, c.field) << c.event;
    EXPECT_EQ(e.reason, c.reason) << c.event;
    EXPECT_FALSE(e.message.empty()) << c.event;
  }
  EXPECT_EQ(MustFail("[1,2]").reason, RejectReason::kNotObject);
  EXPECT_EQ(MustFail("\"text\"").reason, RejectReason::kNotObject);
}

TEST(EventParser, HugeLabelValuesAreAcceptedHereAndBoundedByTheLabelGuard) {
  const std::string big(100'000, 'x');
  const auto e = MustParse(R"({"model":"m","labels":{"tenant":")" + big + "\"}}");
  EXPECT_EQ(Label(e, "tenant").size(), big.size());
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// ParseInto reuses one event's buffers: nothing of a previous event may leak into
// the next, whatever fields the next one leaves out.
TEST(EventParser, ParseIntoResetsEveryFieldOfAReusedEvent) {
  UsageEvent e;
  ASSERT_FALSE(Parser().ParseInto(
      Json(R"({"model":"claude-opus-4-1-20250805","provider":"bedrock","usage":{"input_tokens":5,)"
           R"("output_tokens":6,"cache_read_input_tokens":7,"cache_creation_input_tokens":8,)"
           R"("server_tool_use":{"web_search_requests":2},"inference_geo":"us","speed":"fast"},)"
           R"("batch":true,"status":429,"latency_ms":100,"ttft_ms":50,"cost_usd":0.5,)"
           R"("request_id":"req_0123456789abcdefghij","labels":{"feature":"a-long-feature-name-here","tenant":"t"}})"),
      0, e));
  ASSERT_EQ(e.labels.size(), 2u);
  ASSERT_FALSE(Parser().ParseInto(Json(R"({"model":"m"})"), 1, e));
  const UsageEvent fresh = MustParse(R"({"model":"m"})");
  EXPECT_EQ(e.model_id, "m");
  EXPECT_EQ(e.provider, fresh.provider);
  EXPECT_EQ(e.tokens.by_type, fresh.tokens.by_type);
  EXPECT_EQ(e.web_search_requests, 0u);
  EXPECT_EQ(e.tier, ServiceTier::kStandard);
  EXPECT_FALSE(e.us_only_inference);
  EXPECT_EQ(e.speed, Speed::kStandard);
  EXPECT_EQ(e.status, RequestStatus::kOk);
  EXPECT_FALSE(e.latency_seconds || e.ttft_seconds || e.client_cost_usd);
  EXPECT_TRUE(e.labels.empty());
  EXPECT_TRUE(e.request_id.empty());
  // An error leaves the next parse unaffected too.
  EXPECT_TRUE(Parser().ParseInto(Json(R"({"model":"m","usage":{"input_tokens":-1}})"), 2, e));
  ASSERT_FALSE(Parser().ParseInto(Json(R"({"model":"n","labels":{"tenant":"x"}})"), 3, e));
  EXPECT_EQ(e.tokens[TokenType::kInput], 0u);
  EXPECT_EQ(Label(e, "tenant"), "x");
  EXPECT_EQ(Label(e, "feature"), "<absent>");
}

}  // namespace
}  // namespace llmcost
