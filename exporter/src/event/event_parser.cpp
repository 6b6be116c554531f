#include "event/event_parser.h"

#include <cmath>
#include <string_view>

#include "event/event_time.h"

namespace llmcost {
namespace {

using json = JsonValue;

// Thrown inside the parser only, caught in Parse(): keeps each field check one line.
struct FieldError {
  std::string field;
  RejectReason reason;
  std::string message;
};

[[noreturn]] void Bad(std::string field, std::string message) {
  throw FieldError{std::move(field), RejectReason::kBadField, std::move(message)};
}

// A present, non-null member (null means absent, as most wrappers write it).
std::optional<json> Member(const json& obj, std::string_view key) {
  auto v = obj.Find(key);
  if (v && v->is_null()) return std::nullopt;
  return v;
}

// request_id de-duplicates retries, so it is never ignored: a string, or an integer
// (as its decimal literal, the same id as that string: 42 and "42" are one id),
// null or absent for none; anything else is refused, since ignoring it would count
// every retry again.
void ReadRequestId(const json& event, std::string& out) {
  const auto id = Member(event, "request_id");
  if (!id) return;  // absent or null
  if (id->is_string() || id->is_unsigned_integer() || id->is_negative_integer()) {
    out.assign(id->text());
    return;
  }
  Bad("request_id", id->is_number() ? "must be a string or an integer within 64 bits" : "must be a string or an integer");
}

// An identity field (task id, prompt hash): a string or an integer, cut to
// kMaxTaskIdBytes. Other types are ignored, as they were before these fields were
// read (an event that was accepted stays accepted).
bool ReadIdentity(const json& event, std::string_view key, std::string& out) {
  const auto v = Member(event, key);
  if (!v || !(v->is_string() || v->is_unsigned_integer() || v->is_negative_integer())) return false;
  const std::string_view text = v->text();
  if (text.empty()) return false;
  out.assign(text.substr(0, kMaxTaskIdBytes));
  return true;
}

std::string Path(std::string_view parent, const char* key) {
  if (parent.empty()) return key;
  std::string p(parent);
  p.push_back('.');
  p.append(key);
  return p;
}

// A token-like count: a non-negative whole number no larger than `max`.
std::uint64_t ReadCount(const json& obj, const char* key, std::string_view parent, std::uint64_t max,
                        bool* present = nullptr) {
  const auto v = Member(obj, key);
  if (present) *present = v.has_value();
  if (!v) return 0;
  // The field's path is built only when there is an error to name it in.
  auto fail = [&](const std::string& why) { Bad(Path(parent, key), why); };
  std::uint64_t n = 0;
  if (v->is_unsigned_integer()) {
    n = v->as_unsigned();
  } else if (v->is_negative_integer()) {
    fail("must not be negative");
  } else if (v->is_number()) {  // a fraction, an exponent, or beyond 64 bits
    const double d = v->as_double();
    if (!std::isfinite(d)) fail("must be a finite number");
    if (d < 0) fail("must not be negative");
    if (d != std::floor(d)) fail("must be a whole number");
    if (d > static_cast<double>(max)) fail("exceeds " + std::to_string(max));
    n = static_cast<std::uint64_t>(d);
  } else {
    fail("must be an integer");
  }
  if (n > max) fail("exceeds " + std::to_string(max));
  return n;
}

std::optional<double> ReadNonNegative(const json& obj, const char* key, double max) {
  const auto v = Member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) Bad(key, "must be a number");
  const double d = v->as_double();
  if (!std::isfinite(d)) Bad(key, "must be a finite number");
  if (d < 0) Bad(key, "must not be negative");
  if (d > max) Bad(key, "exceeds " + std::to_string(static_cast<long long>(max)));
  return d;
}

std::optional<json> ReadObject(const json& obj, const char* key, std::string_view parent) {
  const auto v = Member(obj, key);
  if (v && !v->is_object()) Bad(Path(parent, key), "must be an object");
  return v;
}

std::optional<std::string_view> ReadString(const json& obj, const char* key, std::string_view parent) {
  const auto v = Member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) Bad(Path(parent, key), "must be a string");
  return v->text();
}

RequestStatus StatusFromHttp(std::int64_t code) {
  if (code >= 200 && code < 300) return RequestStatus::kOk;
  if (code == 429) return RequestStatus::kRateLimited;
  if (code == 529) return RequestStatus::kOverloaded;
  if (code == 504 || code == 408) return RequestStatus::kTimeout;
  if (code >= 500 && code < 600) return RequestStatus::kServerError;
  if (code >= 400 && code < 500) return RequestStatus::kClientError;
  return RequestStatus::kOtherError;
}

std::optional<RequestStatus> StatusFromWord(std::string_view w) {
  static constexpr std::pair<std::string_view, RequestStatus> kWords[] = {
      {"ok", RequestStatus::kOk},                    {"success", RequestStatus::kOk},
      {"rate_limited", RequestStatus::kRateLimited}, {"overloaded", RequestStatus::kOverloaded},
      {"server_error", RequestStatus::kServerError}, {"client_error", RequestStatus::kClientError},
      {"timeout", RequestStatus::kTimeout},          {"other_error", RequestStatus::kOtherError},
      {"error", RequestStatus::kOtherError}};
  for (const auto& [word, status] : kWords) {
    if (w == word) return status;
  }
  return std::nullopt;
}

RequestStatus StatusFromErrorType(std::string_view t) {
  if (t == "rate_limit_error") return RequestStatus::kRateLimited;
  if (t == "overloaded_error") return RequestStatus::kOverloaded;
  if (t == "api_error") return RequestStatus::kServerError;
  if (t == "timeout_error") return RequestStatus::kTimeout;
  if (t == "invalid_request_error" || t == "authentication_error" || t == "billing_error" ||
      t == "permission_error" || t == "not_found_error" || t == "request_too_large") {
    return RequestStatus::kClientError;
  }
  return RequestStatus::kOtherError;
}

RequestStatus ReadStatus(const json& obj) {
  RequestStatus status = RequestStatus::kOk;
  if (const auto s = Member(obj, "status")) {
    if (s->is_unsigned_integer() || s->is_negative_integer()) {
      const std::uint64_t code = s->is_unsigned_integer() ? s->as_unsigned() : 0;
      if (code < 100 || code > 599) Bad("status", "HTTP status must be 100-599");
      status = StatusFromHttp(static_cast<std::int64_t>(code));
    } else if (s->is_string()) {
      const std::string_view text = s->text();
      if (!text.empty() && text.size() <= 3 && text.find_first_not_of("0123456789") == std::string_view::npos) {
        status = StatusFromHttp(std::stoll(std::string(text)));
      } else if (auto word = StatusFromWord(text)) {
        status = *word;
      } else {
        Bad("status", "must be an HTTP status code or one of ok, rate_limited, overloaded, server_error, "
                      "client_error, timeout, other_error");
      }
    } else {
      Bad("status", "must be an integer or a string");
    }
  }
  // error_type wins: a stream can fail after HTTP 200 with an error event.
  if (auto error_type = ReadString(obj, "error_type", "")) status = StatusFromErrorType(*error_type);
  return status;
}

void ReadServiceTier(const json& obj, std::string_view parent, ServiceTier& tier) {
  if (auto t = ReadString(obj, "service_tier", parent)) {
    if (*t == "standard") tier = ServiceTier::kStandard;
    else if (*t == "batch") tier = ServiceTier::kBatch;
    else if (*t == "priority") tier = ServiceTier::kPriority;
    else tier = ServiceTier::kOther;
  }
}

// The token counts of one usage object (the top level or one iteration).
void ReadTokenCounts(const json& u, std::string_view parent, TokenCounts& tokens) {
  tokens[TokenType::kInput] = ReadCount(u, "input_tokens", parent, kMaxTokenCount);
  tokens[TokenType::kOutput] = ReadCount(u, "output_tokens", parent, kMaxTokenCount);
  tokens[TokenType::kCacheRead] = ReadCount(u, "cache_read_input_tokens", parent, kMaxTokenCount);
  const std::uint64_t creation_total = ReadCount(u, "cache_creation_input_tokens", parent, kMaxTokenCount);
  std::uint64_t w5 = 0, w1h = 0;
  if (const auto cc = ReadObject(u, "cache_creation", parent)) {
    const std::string cc_path = Path(parent, "cache_creation");
    w5 = ReadCount(*cc, "ephemeral_5m_input_tokens", cc_path, kMaxTokenCount);
    w1h = ReadCount(*cc, "ephemeral_1h_input_tokens", cc_path, kMaxTokenCount);
  }
  // The split is the billing detail; a total larger than the split is 5-minute
  // writes (the default TTL), never dropped.
  tokens[TokenType::kCacheWrite1h] = w1h;
  tokens[TokenType::kCacheWrite5m] = creation_total > w5 + w1h ? creation_total - w1h : w5;
}

void ReadIterations(const json& u, std::string_view parent, UsageEvent& e) {
  const auto its = Member(u, "iterations");
  if (!its) return;
  const std::string path = Path(parent, "iterations");
  if (!its->is_array()) Bad(path, "must be an array");
  const auto elements = its->Elements();
  if (elements.size() > kMaxIterations) Bad(path, "more than " + std::to_string(kMaxIterations) + " entries");
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    const json& it = elements[i];
    if (!it.is_object()) Bad(at, "must be an object");
    const auto type = ReadString(it, "type", at);
    if (!type || type->empty()) Bad(Path(at, "type"), "is required");
    if (*type == "fallback_credit") {  // re-prices a retry by an unpublished amount: counted only
      ++e.fallback_credits;
      continue;
    }
    UsageIteration iteration;
    iteration.type = std::string(*type);
    if (auto model = ReadString(it, "model", at)) iteration.model_id = std::string(*model);
    // An advisor runs another model: without its id the tokens cannot be priced.
    if (iteration.model_id.empty() && iteration.type != "message" && iteration.type != "compaction") {
      Bad(Path(at, "model"), "is required for " + iteration.type + " iterations");
    }
    ReadTokenCounts(it, at, iteration.tokens);
    e.iterations.push_back(std::move(iteration));
  }
}

void ReadAnthropicUsage(const json& u, std::string_view parent, UsageEvent& e) {
  ReadTokenCounts(u, parent, e.tokens);
  if (const auto stu = ReadObject(u, "server_tool_use", parent)) {
    const std::string_view stu_path = parent.empty() ? "server_tool_use" : "usage.server_tool_use";
    e.web_search_requests = ReadCount(*stu, "web_search_requests", stu_path, kMaxWebSearches);
  }
  ReadIterations(u, parent, e);
  ReadServiceTier(u, parent, e.tier);
  if (auto geo = ReadString(u, "inference_geo", parent)) e.us_only_inference = *geo == "us";
  if (auto speed = ReadString(u, "speed", parent)) {
    e.speed = *speed == "fast" ? Speed::kFast : *speed == "standard" ? Speed::kStandard : Speed::kOther;
  }
}

// ts: RFC 3339 text or Unix seconds (a number, or digits in a string).
std::optional<std::int64_t> ReadTimestamp(const json& obj) {
  const auto v = Member(obj, "ts");
  if (!v) return std::nullopt;
  if (v->is_number()) {
    const double d = v->as_double();
    if (!std::isfinite(d) || d < 0 || d > 32503680000.0) Bad("ts", "Unix seconds must be between 0 and year 3000");
    return static_cast<std::int64_t>(std::floor(d));
  }
  if (!v->is_string()) Bad("ts", "must be RFC 3339 text or Unix seconds");
  if (auto t = ParseRfc3339(v->text())) return t;
  Bad("ts", "must be RFC 3339 with a time zone (2026-10-06T12:00:00Z) or Unix seconds");
}

void ReadOpenAiUsage(const json& u, std::string_view parent, UsageEvent& e) {
  // Chat Completions (prompt/completion) or Responses (input/output) names.
  bool has_prompt = false;
  std::uint64_t prompt = ReadCount(u, "prompt_tokens", parent, kMaxTokenCount, &has_prompt);
  const char* details_key = "prompt_tokens_details";
  if (!has_prompt) {
    prompt = ReadCount(u, "input_tokens", parent, kMaxTokenCount);
    details_key = "input_tokens_details";
  }
  std::uint64_t completion = 0;
  bool has_completion = false;
  completion = ReadCount(u, "completion_tokens", parent, kMaxTokenCount, &has_completion);
  if (!has_completion) completion = ReadCount(u, "output_tokens", parent, kMaxTokenCount);
  std::uint64_t cached = 0;
  if (const auto d = ReadObject(u, details_key, parent)) {
    cached = ReadCount(*d, "cached_tokens", Path(parent, details_key), kMaxTokenCount);
  }
  // OpenAI's prompt count INCLUDES cached tokens (the opposite of Anthropic).
  if (cached > prompt) Bad(Path(Path(parent, details_key), "cached_tokens"), "exceeds the prompt token count");
  e.tokens[TokenType::kInput] = prompt - cached;
  e.tokens[TokenType::kCacheRead] = cached;
  e.tokens[TokenType::kOutput] = completion;
  ReadServiceTier(u, parent, e.tier);
}

std::optional<std::string> ReadLabelValue(const json& obj, const std::string& key, std::string_view parent) {
  const auto v = Member(obj, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return std::string(v->text());
  if (v->is_unsigned_integer() || v->is_negative_integer()) return std::string(v->text());  // numeric tenant ids
  Bad(parent.empty() ? key : std::string(parent) + "." + key, "label value must be a string or an integer");
}

}  // namespace

EventParser::EventParser(std::vector<std::string> attribution_labels, std::vector<std::string> task_id_fields)
    : labels_(std::move(attribution_labels)), task_id_fields_(std::move(task_id_fields)) {}

ParseResult EventParser::Parse(const json& value, std::size_t index) const {
  UsageEvent e;
  if (auto error = ParseInto(value, index, e)) return std::move(*error);
  return e;
}

std::optional<EventError> EventParser::ParseInto(const json& value, std::size_t index, UsageEvent& e) const {
  if (!value.is_object()) {
    return EventError{index, "", RejectReason::kNotObject, "an event must be a JSON object"};
  }
  {
    // Every field back to its default, keeping the string and vector buffers.
    std::string model_id = std::move(e.model_id), request_id = std::move(e.request_id);
    std::string task_id = std::move(e.task_id), prompt_hash = std::move(e.prompt_hash);
    auto labels = std::move(e.labels);
    auto iterations = std::move(e.iterations);
    e = UsageEvent{};
    model_id.clear();
    request_id.clear();
    task_id.clear();
    prompt_hash.clear();
    labels.clear();
    iterations.clear();
    e.model_id = std::move(model_id);
    e.request_id = std::move(request_id);
    e.task_id = std::move(task_id);
    e.prompt_hash = std::move(prompt_hash);
    e.labels = std::move(labels);
    e.iterations = std::move(iterations);
  }
  try {
    // Model.
    auto model = Member(value, "model");
    const char* model_field = "model";
    if (!model) {
      model = Member(value, "model_id");
      model_field = "model_id";
    }
    if (!model) throw FieldError{"model", RejectReason::kMissingModel, "model (or model_id) is required"};
    if (!model->is_string()) Bad(model_field, "must be a string");
    e.model_id.assign(model->text());
    if (e.model_id.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw FieldError{model_field, RejectReason::kMissingModel, "model must not be empty"};
    }
    if (auto provider = ReadString(value, "provider", "")) {
      if (provider->empty()) Bad("provider", "must not be empty");
      e.provider = std::string(*provider);
    }

    // Usage: the provider's object when present, else the flat wrapper fields.
    const auto usage = ReadObject(value, "usage", "");
    const bool openai = e.provider == "openai";
    if (openai) {
      ReadOpenAiUsage(usage ? *usage : value, usage ? "usage" : "", e);
    } else {
      ReadAnthropicUsage(usage ? *usage : value, usage ? "usage" : "", e);
    }
    ReadServiceTier(value, "", e.tier);  // a top-level service_tier also counts
    if (const auto batch = Member(value, "batch")) {
      if (!batch->is_bool()) Bad("batch", "must be true or false");
      if (batch->as_bool()) e.tier = ServiceTier::kBatch;
    }

    e.ts_unix = ReadTimestamp(value);
    if (auto platform = ReadString(value, "platform", "")) {
      Platform p;
      // Bounded: a platform this build does not know is "other", never a new label value.
      e.platform = PlatformFromName(*platform, p) ? p : Platform::kOther;
    }
    if (auto endpoint = ReadString(value, "endpoint", "")) {
      if (*endpoint == "global") e.endpoint = Endpoint::kGlobal;
      else if (*endpoint == "regional" || *endpoint == "multi-region" || *endpoint == "multi_region")
        e.endpoint = Endpoint::kRegional;
      else Bad("endpoint", "must be global, regional or multi-region");
    }

    e.status = ReadStatus(value);
    if (auto ms = ReadNonNegative(value, "latency_ms", kMaxLatencyMs)) e.latency_seconds = *ms / 1000.0;
    if (auto ms = ReadNonNegative(value, "ttft_ms", kMaxLatencyMs)) e.ttft_seconds = *ms / 1000.0;
    e.client_cost_usd = ReadNonNegative(value, "cost_usd", kMaxClientCostUsd);
    ReadRequestId(value, e.request_id);
    for (const std::string& field : task_id_fields_) {
      if (ReadIdentity(value, field, e.task_id)) break;
    }
    if (const auto end = Member(value, "task_end")) {
      if (!end->is_bool()) Bad("task_end", "must be true or false");
      e.task_end = end->as_bool();
    }
    ReadIdentity(value, "prompt_hash", e.prompt_hash);

    // Attribution labels: the labels object wins over flat fields.
    const auto labels = ReadObject(value, "labels", "");
    for (const std::string& name : labels_) {
      std::optional<std::string> v;
      if (labels) v = ReadLabelValue(*labels, name, "labels");
      if (!v) v = ReadLabelValue(value, name, "");
      if (!v && name == "tenant") v = ReadLabelValue(value, "tenant_id", "");
      if (!v && name == "user") v = ReadLabelValue(value, "user_id", "");
      if (v) e.labels.emplace_back(name, std::move(*v));
    }
    return std::nullopt;
  } catch (FieldError& fe) {
    return EventError{index, std::move(fe.field), fe.reason, std::move(fe.message)};
  }
}

}  // namespace llmcost
