#include "event/event_parser.h"

#include <array>
#include <cmath>
#include <cstring>
#include <string_view>

#include "event/event_time.h"

namespace llmcost {
namespace {

using json = JsonValue;

// Every member name the parser reads; a name's slot in the parser's MemberTable is
// its place here (the configured label and task-id names follow these).
enum Key : int {
  kModel, kModelId, kProvider, kUsage, kServiceTier, kBatch, kTs, kPlatform, kEndpoint, kStatus, kErrorType,
  kLatencyMs, kTtftMs, kCostUsd, kRequestId, kTaskEnd, kPromptHash, kLabels, kTenantId, kUserId,
  kInputTokens, kOutputTokens, kCacheReadInputTokens, kCacheCreationInputTokens, kCacheCreation,
  kEphemeral5m, kEphemeral1h, kServerToolUse, kWebSearchRequests, kIterations, kInferenceGeo, kSpeed,
  kPromptTokens, kCompletionTokens, kPromptTokensDetails, kInputTokensDetails, kCachedTokens, kType,
  kKeyCount
};
constexpr const char* kKeyNames[kKeyCount] = {
    "model", "model_id", "provider", "usage", "service_tier", "batch", "ts", "platform", "endpoint", "status",
    "error_type", "latency_ms", "ttft_ms", "cost_usd", "request_id", "task_end", "prompt_hash", "labels",
    "tenant_id", "user_id", "input_tokens", "output_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "cache_creation", "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens",
    "server_tool_use", "web_search_requests", "iterations", "inference_geo", "speed", "prompt_tokens",
    "completion_tokens", "prompt_tokens_details", "input_tokens_details", "cached_tokens", "type"};

// Thrown inside the parser only, caught in Parse(): keeps each field check one line.
struct FieldError {
  std::string field;
  RejectReason reason;
  std::string message;
};

[[noreturn]] void Bad(std::string field, std::string message) {
  throw FieldError{std::move(field), RejectReason::kBadField, std::move(message)};
}

// The known members of one object, read in one pass over it: per slot, the node of
// the member's value (the last one, if a name repeats), 0 for absent.
class Fields {
 public:
  Fields(const MemberTable& table, const json& obj) : table_(table), doc_(obj.document()) {
    const std::size_t n = table.size();
    if (n <= kInline) {
      slots_ = inline_.data();
      std::memset(slots_, 0, n * sizeof(std::uint32_t));
    } else {
      heap_.assign(n, 0);
      slots_ = heap_.data();
    }
    obj.ForEachMember([&](std::string_view name, std::uint32_t value) {
      const int slot = table.Lookup(name);
      if (slot != MemberTable::kNone) slots_[slot] = value;
    });
  }
  Fields(const Fields&) = delete;
  Fields& operator=(const Fields&) = delete;

  const MemberTable& table() const { return table_; }

  std::optional<json> Find(int slot) const {
    const std::uint32_t v = slots_[slot];
    if (v == 0) return std::nullopt;
    return json(doc_, v);
  }

 private:
  static constexpr std::size_t kInline = 64;
  const MemberTable& table_;
  const JsonDocument* doc_;
  std::uint32_t* slots_;
  std::array<std::uint32_t, kInline> inline_;
  std::vector<std::uint32_t> heap_;  // for configurations with more names
};

// A present, non-null member (null means absent, as most wrappers write it).
std::optional<json> Member(const Fields& obj, int key) {
  auto v = obj.Find(key);
  if (v && v->is_null()) return std::nullopt;
  return v;
}

// request_id de-duplicates retries, so it is never ignored: a string, or an integer
// (as its decimal literal, the same id as that string: 42 and "42" are one id),
// null or absent for none; anything else is refused, since ignoring it would count
// every retry again.
void ReadRequestId(const Fields& event, std::string& out) {
  const auto id = Member(event, kRequestId);
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
bool ReadIdentity(const Fields& event, int key, std::string& out) {
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
std::uint64_t ReadCount(const Fields& obj, int key, std::string_view parent, std::uint64_t max,
                        bool* present = nullptr) {
  const auto v = Member(obj, key);
  if (present) *present = v.has_value();
  if (!v) return 0;
  // The field's path is built only when there is an error to name it in.
  auto fail = [&](const std::string& why) { Bad(Path(parent, kKeyNames[key]), why); };
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

std::optional<double> ReadNonNegative(const Fields& obj, int slot, double max) {
  const auto v = Member(obj, slot);
  if (!v) return std::nullopt;
  const char* key = kKeyNames[slot];
  if (!v->is_number()) Bad(key, "must be a number");
  const double d = v->as_double();
  if (!std::isfinite(d)) Bad(key, "must be a finite number");
  if (d < 0) Bad(key, "must not be negative");
  if (d > max) Bad(key, "exceeds " + std::to_string(static_cast<long long>(max)));
  return d;
}

std::optional<json> ReadObject(const Fields& obj, int key, std::string_view parent) {
  const auto v = Member(obj, key);
  if (v && !v->is_object()) Bad(Path(parent, kKeyNames[key]), "must be an object");
  return v;
}

std::optional<std::string_view> ReadString(const Fields& obj, int key, std::string_view parent) {
  const auto v = Member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) Bad(Path(parent, kKeyNames[key]), "must be a string");
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

RequestStatus ReadStatus(const Fields& obj) {
  RequestStatus status = RequestStatus::kOk;
  if (const auto s = Member(obj, kStatus)) {
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
  if (auto error_type = ReadString(obj, kErrorType, "")) status = StatusFromErrorType(*error_type);
  return status;
}

void ReadServiceTier(const Fields& obj, std::string_view parent, ServiceTier& tier) {
  if (auto t = ReadString(obj, kServiceTier, parent)) {
    if (*t == "standard") tier = ServiceTier::kStandard;
    else if (*t == "batch") tier = ServiceTier::kBatch;
    else if (*t == "priority") tier = ServiceTier::kPriority;
    else tier = ServiceTier::kOther;
  }
}

// The token counts of one usage object (the top level or one iteration).
void ReadTokenCounts(const Fields& u, std::string_view parent, TokenCounts& tokens) {
  tokens[TokenType::kInput] = ReadCount(u, kInputTokens, parent, kMaxTokenCount);
  tokens[TokenType::kOutput] = ReadCount(u, kOutputTokens, parent, kMaxTokenCount);
  tokens[TokenType::kCacheRead] = ReadCount(u, kCacheReadInputTokens, parent, kMaxTokenCount);
  const std::uint64_t creation_total = ReadCount(u, kCacheCreationInputTokens, parent, kMaxTokenCount);
  std::uint64_t w5 = 0, w1h = 0;
  if (const auto cc_value = ReadObject(u, kCacheCreation, parent)) {
    const Fields cc(u.table(), *cc_value);
    // The usual parents' paths are literals (no string built per event).
    std::string cc_path;
    std::string_view cc_parent = "cache_creation";
    if (parent == "usage") {
      cc_parent = "usage.cache_creation";
    } else if (!parent.empty()) {
      cc_path = Path(parent, "cache_creation");
      cc_parent = cc_path;
    }
    w5 = ReadCount(cc, kEphemeral5m, cc_parent, kMaxTokenCount);
    w1h = ReadCount(cc, kEphemeral1h, cc_parent, kMaxTokenCount);
  }
  // The split is the billing detail; a total larger than the split is 5-minute
  // writes (the default TTL), never dropped.
  tokens[TokenType::kCacheWrite1h] = w1h;
  tokens[TokenType::kCacheWrite5m] = creation_total > w5 + w1h ? creation_total - w1h : w5;
}

void ReadIterations(const Fields& u, std::string_view parent, UsageEvent& e) {
  const auto its = Member(u, kIterations);
  if (!its) return;
  const std::string path = Path(parent, "iterations");
  if (!its->is_array()) Bad(path, "must be an array");
  const auto elements = its->Elements();
  if (elements.size() > kMaxIterations) Bad(path, "more than " + std::to_string(kMaxIterations) + " entries");
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!elements[i].is_object()) Bad(at, "must be an object");
    const Fields it(u.table(), elements[i]);
    const auto type = ReadString(it, kType, at);
    if (!type || type->empty()) Bad(Path(at, "type"), "is required");
    if (*type == "fallback_credit") {  // re-prices a retry by an unpublished amount: counted only
      ++e.fallback_credits;
      continue;
    }
    UsageIteration iteration;
    iteration.type = std::string(*type);
    if (auto model = ReadString(it, kModel, at)) iteration.model_id = std::string(*model);
    // An advisor runs another model: without its id the tokens cannot be priced.
    if (iteration.model_id.empty() && iteration.type != "message" && iteration.type != "compaction") {
      Bad(Path(at, "model"), "is required for " + iteration.type + " iterations");
    }
    ReadTokenCounts(it, at, iteration.tokens);
    e.iterations.push_back(std::move(iteration));
  }
}

void ReadAnthropicUsage(const Fields& u, std::string_view parent, UsageEvent& e) {
  ReadTokenCounts(u, parent, e.tokens);
  if (const auto stu_value = ReadObject(u, kServerToolUse, parent)) {
    const Fields stu(u.table(), *stu_value);
    const std::string_view stu_path = parent.empty() ? "server_tool_use" : "usage.server_tool_use";
    e.web_search_requests = ReadCount(stu, kWebSearchRequests, stu_path, kMaxWebSearches);
  }
  ReadIterations(u, parent, e);
  ReadServiceTier(u, parent, e.tier);
  if (auto geo = ReadString(u, kInferenceGeo, parent)) e.us_only_inference = *geo == "us";
  if (auto speed = ReadString(u, kSpeed, parent)) {
    e.speed = *speed == "fast" ? Speed::kFast : *speed == "standard" ? Speed::kStandard : Speed::kOther;
  }
}

// ts: RFC 3339 text or Unix seconds (a number, or digits in a string).
std::optional<std::int64_t> ReadTimestamp(const Fields& obj) {
  const auto v = Member(obj, kTs);
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

void ReadOpenAiUsage(const Fields& u, std::string_view parent, UsageEvent& e) {
  // Chat Completions (prompt/completion) or Responses (input/output) names.
  bool has_prompt = false;
  std::uint64_t prompt = ReadCount(u, kPromptTokens, parent, kMaxTokenCount, &has_prompt);
  int details_key = kPromptTokensDetails;
  if (!has_prompt) {
    prompt = ReadCount(u, kInputTokens, parent, kMaxTokenCount);
    details_key = kInputTokensDetails;
  }
  std::uint64_t completion = 0;
  bool has_completion = false;
  completion = ReadCount(u, kCompletionTokens, parent, kMaxTokenCount, &has_completion);
  if (!has_completion) completion = ReadCount(u, kOutputTokens, parent, kMaxTokenCount);
  std::uint64_t cached = 0;
  if (const auto d = ReadObject(u, details_key, parent)) {
    cached = ReadCount(Fields(u.table(), *d), kCachedTokens, Path(parent, kKeyNames[details_key]), kMaxTokenCount);
  }
  // OpenAI's prompt count INCLUDES cached tokens (the opposite of Anthropic).
  if (cached > prompt) {
    Bad(Path(Path(parent, kKeyNames[details_key]), "cached_tokens"), "exceeds the prompt token count");
  }
  e.tokens[TokenType::kInput] = prompt - cached;
  e.tokens[TokenType::kCacheRead] = cached;
  e.tokens[TokenType::kOutput] = completion;
  ReadServiceTier(u, parent, e.tier);
}

std::optional<std::string> ReadLabelValue(const Fields& obj, int slot, std::string_view parent) {
  const std::string& key = obj.table().name(slot);
  const auto v = Member(obj, slot);
  if (!v) return std::nullopt;
  if (v->is_string()) return std::string(v->text());
  if (v->is_unsigned_integer() || v->is_negative_integer()) return std::string(v->text());  // numeric tenant ids
  Bad(parent.empty() ? key : std::string(parent) + "." + key, "label value must be a string or an integer");
}

}  // namespace

EventParser::EventParser(std::vector<std::string> attribution_labels, std::vector<std::string> task_id_fields)
    : labels_(std::move(attribution_labels)), task_id_fields_(std::move(task_id_fields)) {
  for (int k = 0; k < kKeyCount; ++k) table_.Add(kKeyNames[k]);  // slot k is Key k
  for (const std::string& name : labels_) label_slots_.push_back(table_.Add(name));
  for (const std::string& name : task_id_fields_) task_id_slots_.push_back(table_.Add(name));
}

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
    const Fields top(table_, value);  // every known member of the event, in one pass
    // Model.
    auto model = Member(top, kModel);
    const char* model_field = "model";
    if (!model) {
      model = Member(top, kModelId);
      model_field = "model_id";
    }
    if (!model) throw FieldError{"model", RejectReason::kMissingModel, "model (or model_id) is required"};
    if (!model->is_string()) Bad(model_field, "must be a string");
    e.model_id.assign(model->text());
    if (e.model_id.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw FieldError{model_field, RejectReason::kMissingModel, "model must not be empty"};
    }
    if (auto provider = ReadString(top, kProvider, "")) {
      if (provider->empty()) Bad("provider", "must not be empty");
      e.provider = std::string(*provider);
    }

    // Usage: the provider's object when present, else the flat wrapper fields.
    const auto usage = ReadObject(top, kUsage, "");
    const bool openai = e.provider == "openai";
    auto read_usage = [&](const Fields& u, std::string_view parent) {
      if (openai) {
        ReadOpenAiUsage(u, parent, e);
      } else {
        ReadAnthropicUsage(u, parent, e);
      }
    };
    if (usage) {
      read_usage(Fields(table_, *usage), "usage");
    } else {
      read_usage(top, "");
    }
    ReadServiceTier(top, "", e.tier);  // a top-level service_tier also counts
    if (const auto batch = Member(top, kBatch)) {
      if (!batch->is_bool()) Bad("batch", "must be true or false");
      if (batch->as_bool()) e.tier = ServiceTier::kBatch;
    }

    e.ts_unix = ReadTimestamp(top);
    if (auto platform = ReadString(top, kPlatform, "")) {
      Platform p;
      // Bounded: a platform this build does not know is "other", never a new label value.
      e.platform = PlatformFromName(*platform, p) ? p : Platform::kOther;
    }
    if (auto endpoint = ReadString(top, kEndpoint, "")) {
      if (*endpoint == "global") e.endpoint = Endpoint::kGlobal;
      else if (*endpoint == "regional" || *endpoint == "multi-region" || *endpoint == "multi_region")
        e.endpoint = Endpoint::kRegional;
      else Bad("endpoint", "must be global, regional or multi-region");
    }

    e.status = ReadStatus(top);
    if (auto ms = ReadNonNegative(top, kLatencyMs, kMaxLatencyMs)) e.latency_seconds = *ms / 1000.0;
    if (auto ms = ReadNonNegative(top, kTtftMs, kMaxLatencyMs)) e.ttft_seconds = *ms / 1000.0;
    e.client_cost_usd = ReadNonNegative(top, kCostUsd, kMaxClientCostUsd);
    ReadRequestId(top, e.request_id);
    for (const int slot : task_id_slots_) {
      if (ReadIdentity(top, slot, e.task_id)) break;
    }
    if (const auto end = Member(top, kTaskEnd)) {
      if (!end->is_bool()) Bad("task_end", "must be true or false");
      e.task_end = end->as_bool();
    }
    ReadIdentity(top, kPromptHash, e.prompt_hash);

    // Attribution labels: the labels object wins over flat fields.
    const auto labels_value = ReadObject(top, kLabels, "");
    std::optional<Fields> labels;
    if (labels_value) labels.emplace(table_, *labels_value);
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      const std::string& name = labels_[i];
      const int slot = label_slots_[i];
      std::optional<std::string> v;
      if (labels) v = ReadLabelValue(*labels, slot, "labels");
      if (!v) v = ReadLabelValue(top, slot, "");
      if (!v && name == "tenant") v = ReadLabelValue(top, kTenantId, "");
      if (!v && name == "user") v = ReadLabelValue(top, kUserId, "");
      if (v) e.labels.emplace_back(name, std::move(*v));
    }
    return std::nullopt;
  } catch (FieldError& fe) {
    return EventError{index, std::move(fe.field), fe.reason, std::move(fe.message)};
  }
}

}  // namespace llmcost
