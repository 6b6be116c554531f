#include "event/otlp_logs.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "otlp_logs.pb.h"

namespace llmcost {
namespace {

using nlohmann::json;

using Value = OtlpValue;
using Attributes = OtlpAttributes;

struct Record {
  std::string event_name;
  std::string body;  // string bodies only
  std::uint64_t time_unix_nano = 0;
  std::uint64_t observed_time_unix_nano = 0;
  Attributes attributes;
  const Attributes* resource = nullptr;
};

const Value* Find(const Attributes& a, std::string_view key) { return OtlpFind(a, key); }

// ---- proto3 JSON ----

// proto3 JSON: a field may be spelt lowerCamelCase or as in the .proto.
const json* Field(const json& obj, const char* camel, const char* snake) {
  if (auto it = obj.find(camel); it != obj.end() && !it->is_null()) return &*it;
  if (auto it = obj.find(snake); it != obj.end() && !it->is_null()) return &*it;
  return nullptr;
}

struct Malformed {
  std::string what;
};

const json& Array(const json* v, const std::string& where) {
  static const json kEmpty = json::array();
  if (v == nullptr) return kEmpty;
  if (!v->is_array()) throw Malformed{where + ": must be an array"};
  return *v;
}

void Object(const json& v, const std::string& where) {
  if (!v.is_object()) throw Malformed{where + ": must be an object"};
}

// int64/uint64 in proto3 JSON: a number or a decimal string.
template <typename Int>
Int JsonInt(const json& v, const std::string& where) {
  if (v.is_number_integer()) {
    if constexpr (std::is_unsigned_v<Int>) {
      if (v.is_number_unsigned()) return v.get<Int>();
      if (v.get<std::int64_t>() < 0) throw Malformed{where + ": must not be negative"};
      return static_cast<Int>(v.get<std::int64_t>());
    } else {
      if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
        throw Malformed{where + ": out of range for int64"};
      }
      return v.get<Int>();
    }
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::trunc(d) == d && std::fabs(d) < 9e15 && (!std::is_unsigned_v<Int> || d >= 0)) return static_cast<Int>(d);
    throw Malformed{where + ": must be an integer"};
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    Int out{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) throw Malformed{where + ": not an integer"};
    return out;
  }
  throw Malformed{where + ": must be an integer or a decimal string"};
}

Value FromJson(const json& v, const std::string& where) {
  Value out;
  Object(v, where);
  if (const json* s = Field(v, "stringValue", "string_value")) {
    if (!s->is_string()) throw Malformed{where + ".stringValue: must be a string"};
    out.kind = Value::kString;
    out.s = s->get<std::string>();
  } else if (const json* i = Field(v, "intValue", "int_value")) {
    out.kind = Value::kInt;
    out.i = JsonInt<std::int64_t>(*i, where + ".intValue");
  } else if (const json* d = Field(v, "doubleValue", "double_value")) {
    out.kind = Value::kDouble;
    if (d->is_number()) {
      out.d = d->get<double>();
    } else if (d->is_string()) {  // proto3 JSON: "NaN", "Infinity" or a number as a string
      const auto& s = d->get_ref<const std::string&>();
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out.d);
      if (ec != std::errc() || p != s.data() + s.size()) out.d = std::numeric_limits<double>::quiet_NaN();
    } else {
      throw Malformed{where + ".doubleValue: must be a number"};
    }
  } else if (const json* b = Field(v, "boolValue", "bool_value")) {
    if (!b->is_boolean()) throw Malformed{where + ".boolValue: must be true or false"};
    out.kind = Value::kBool;
    out.b = b->get<bool>();
  } else if (Field(v, "arrayValue", "array_value") || Field(v, "kvlistValue", "kvlist_value") ||
             Field(v, "bytesValue", "bytes_value")) {
    out.kind = Value::kOther;
  }
  return out;
}

Attributes FromJsonAttributes(const json* v, const std::string& where) {
  Attributes a;
  const json& arr = Array(v, where);
  a.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    Object(arr[i], at);
    const json* key = Field(arr[i], "key", "key");
    if (key == nullptr || !key->is_string()) throw Malformed{at + ".key: must be a string"};
    const json* value = Field(arr[i], "value", "value");
    a.emplace_back(key->get<std::string>(), value ? FromJson(*value, at + ".value") : Value{});
  }
  return a;
}

// ---- Claude Code api_request -> UsageEvent ----

bool IsApiRequest(const Record& r) {
  if (r.event_name == kClaudeCodeApiRequest || r.body == kClaudeCodeApiRequest) return true;
  const Value* name = Find(r.attributes, "event.name");
  return name && name->kind == Value::kString && (name->s == "api_request" || name->s == kClaudeCodeApiRequest);
}

EventError Bad(std::size_t index, std::string_view attribute, RejectReason reason, std::string message) {
  return EventError{index, "attributes." + std::string(attribute), reason, std::move(message)};
}

std::optional<std::uint64_t> Count(const Record& r, std::string_view key, std::size_t index,
                                   std::optional<EventError>& error) {
  return OtlpTokenCount(Find(r.attributes, key), "attributes." + std::string(key), index, error);
}

std::optional<double> Number(const Record& r, std::string_view key, double max, std::size_t index,
                             std::optional<EventError>& error) {
  const Value* v = Find(r.attributes, key);
  if (v == nullptr || v->kind == Value::kNone) return std::nullopt;
  double d = std::numeric_limits<double>::quiet_NaN();
  if (v->kind == Value::kInt) d = static_cast<double>(v->i);
  if (v->kind == Value::kDouble) d = v->d;
  if (v->kind == Value::kString) {
    auto [p, ec] = std::from_chars(v->s.data(), v->s.data() + v->s.size(), d);
    if (ec != std::errc() || p != v->s.data() + v->s.size()) d = std::numeric_limits<double>::quiet_NaN();
  }
  if (!std::isfinite(d) || d < 0 || d > max) {
    error = Bad(index, key, RejectReason::kBadField, "must be a number between 0 and " + std::to_string(max));
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> Text(const Record& r, std::string_view key) {
  const Value* v = Find(r.attributes, key);
  if (v == nullptr || v->kind != Value::kString) return std::nullopt;
  return v->s;
}

ParseResult ToUsageEvent(const Record& r, std::size_t index, const OtlpMapping& mapping) {
  UsageEvent e;
  std::optional<EventError> error;
  const auto model = Text(r, "model");
  if (!model || model->empty()) {
    return Bad(index, "model", RejectReason::kMissingModel, "an api_request record needs a model attribute");
  }
  if (model->size() > 256) return Bad(index, "model", RejectReason::kBadField, "longer than 256 bytes");
  e.model_id = *model;
  auto count = [&](std::string_view key) { return Count(r, key, index, error); };
  e.tokens[TokenType::kInput] = count("input_tokens").value_or(0);
  e.tokens[TokenType::kOutput] = count("output_tokens").value_or(0);
  e.tokens[TokenType::kCacheRead] = count("cache_read_tokens").value_or(0);
  const auto writes = count("cache_creation_tokens");
  const auto w5m = count("cache_creation_5m_tokens");
  const auto w1h = count("cache_creation_1h_tokens");
  if (error) return *error;
  // The split is of the same writes, never on top of them. Claude Code sends the
  // split as 0 + 0 beside a non-zero total when the API response had none (seen
  // with 2.1.328): what the split does not cover takes the default TTL.
  const std::uint64_t split = w5m.value_or(0) + w1h.value_or(0);
  if (writes && *writes < split) {
    return Bad(index, "cache_creation_tokens", RejectReason::kBadField,
               "smaller than cache_creation_5m_tokens + cache_creation_1h_tokens");
  }
  e.tokens[TokenType::kCacheWrite5m] = w5m.value_or(0);
  e.tokens[TokenType::kCacheWrite1h] = w1h.value_or(0);
  if (writes) e.tokens[mapping.cache_write_default] += *writes - split;
  if (auto ms = Number(r, "duration_ms", kMaxLatencyMs, index, error)) e.latency_seconds = *ms / 1000.0;
  if (auto ms = Number(r, "ttft_ms", kMaxLatencyMs, index, error)) e.ttft_seconds = *ms / 1000.0;
  if (auto usd = Number(r, "cost_usd", kMaxClientCostUsd, index, error)) e.reported_cost_usd = *usd;
  if (error) return *error;
  if (auto id = Text(r, "request_id")) {
    if (id->size() > 256) return Bad(index, "request_id", RejectReason::kBadField, "longer than 256 bytes");
    e.request_id = *id;
  }
  if (auto speed = Text(r, "speed")) {
    e.speed = *speed == "fast" ? Speed::kFast : (*speed == "standard" || *speed == "normal") ? Speed::kStandard
                                                                                             : Speed::kOther;
  }
  if (auto provider = Text(r, "anthropic.provider")) e.platform = OtlpPlatformOf(*provider);
  const std::uint64_t t = r.time_unix_nano != 0 ? r.time_unix_nano : r.observed_time_unix_nano;
  if (t != 0) e.ts_unix = static_cast<std::int64_t>(t / 1'000'000'000ULL);
  OtlpMapLabels(mapping, r.attributes, r.resource, e.labels);
  return e;
}

void Emit(const Record& r, OtlpLogsDecoded& out, const OtlpMapping& mapping) {
  const std::size_t index = out.records++;
  if (!IsApiRequest(r)) {
    ++out.ignored;
    return;
  }
  out.items.push_back(ToUsageEvent(r, index, mapping));
  out.positions.push_back(index);
  // Only a record that decoded covers the client's metrics: a refused one must
  // not make its aggregate be dropped too.
  if (!std::holds_alternative<UsageEvent>(out.items.back())) return;
  static const Attributes kNoResource;
  const Attributes& resource = r.resource ? *r.resource : kNoResource;
  out.overlap_keys.push_back(OtlpOverlapKey(r.attributes, resource));
  out.overlap_keys.push_back(OtlpResourceKey(resource));
}

void DecodeProtobuf(std::string_view body, const OtlpMapping& mapping, OtlpLogsDecoded& out) {
  otlp::ExportLogsServiceRequest request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    out.malformed = true;
    out.error = "body is not a protobuf ExportLogsServiceRequest";
    return;
  }
  for (const auto& rl : request.resource_logs()) {
    const Attributes resource = OtlpAttributesFromProto(rl.resource().attributes());
    out.sources.push_back(OtlpSourceOf(resource));
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        Record r;
        r.event_name = lr.event_name();
        if (lr.body().value_case() == otlp::AnyValue::kStringValue) r.body = lr.body().string_value();
        r.time_unix_nano = lr.time_unix_nano();
        r.observed_time_unix_nano = lr.observed_time_unix_nano();
        r.attributes = OtlpAttributesFromProto(lr.attributes());
        r.resource = &resource;
        Emit(r, out, mapping);
      }
    }
  }
}

void DecodeJson(std::string_view body, const OtlpMapping& mapping, OtlpLogsDecoded& out) {
  // Deeper than any OTLP logs request needs: refused before it costs stack or memory.
  constexpr int kMaxDepth = 64;
  bool too_deep = false;
  json doc = json::parse(
      body.begin(), body.end(),
      [&too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep || doc.is_discarded()) {
    out.malformed = true;
    out.error = too_deep ? "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels" : "body is not valid JSON";
    return;
  }
  try {
    Object(doc, "request");
    const json& rls = Array(Field(doc, "resourceLogs", "resource_logs"), "resourceLogs");
    for (std::size_t i = 0; i < rls.size(); ++i) {
      const std::string at = "resourceLogs[" + std::to_string(i) + "]";
      Object(rls[i], at);
      Attributes resource;
      if (const json* res = Field(rls[i], "resource", "resource")) {
        Object(*res, at + ".resource");
        resource = FromJsonAttributes(Field(*res, "attributes", "attributes"), at + ".resource.attributes");
      }
      out.sources.push_back(OtlpSourceOf(resource));
      const json& sls = Array(Field(rls[i], "scopeLogs", "scope_logs"), at + ".scopeLogs");
      for (std::size_t j = 0; j < sls.size(); ++j) {
        const std::string sat = at + ".scopeLogs[" + std::to_string(j) + "]";
        Object(sls[j], sat);
        const json& lrs = Array(Field(sls[j], "logRecords", "log_records"), sat + ".logRecords");
        for (std::size_t k = 0; k < lrs.size(); ++k) {
          const std::string lat = sat + ".logRecords[" + std::to_string(k) + "]";
          const json& lr = lrs[k];
          Object(lr, lat);
          Record r;
          if (const json* n = Field(lr, "eventName", "event_name")) {
            if (!n->is_string()) throw Malformed{lat + ".eventName: must be a string"};
            r.event_name = n->get<std::string>();
          }
          if (const json* b = Field(lr, "body", "body")) {
            const Value v = FromJson(*b, lat + ".body");
            if (v.kind == Value::kString) r.body = v.s;
          }
          if (const json* t = Field(lr, "timeUnixNano", "time_unix_nano")) {
            r.time_unix_nano = JsonInt<std::uint64_t>(*t, lat + ".timeUnixNano");
          }
          if (const json* t = Field(lr, "observedTimeUnixNano", "observed_time_unix_nano")) {
            r.observed_time_unix_nano = JsonInt<std::uint64_t>(*t, lat + ".observedTimeUnixNano");
          }
          r.attributes = FromJsonAttributes(Field(lr, "attributes", "attributes"), lat + ".attributes");
          r.resource = &resource;
          Emit(r, out, mapping);
        }
      }
    }
  } catch (const Malformed& m) {
    out = {};
    out.malformed = true;
    out.error = m.what;
  }
}

}  // namespace

OtlpLogsDecoded DecodeOtlpLogs(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping) {
  OtlpLogsDecoded out;
  if (encoding == OtlpEncoding::kProtobuf) {
    DecodeProtobuf(body, mapping, out);
  } else {
    DecodeJson(body, mapping, out);
  }
  return out;
}

std::string OtlpLogsResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message) {
  if (encoding == OtlpEncoding::kProtobuf) {
    otlp::ExportLogsServiceResponse response;
    if (rejected > 0 || !error_message.empty()) {
      response.mutable_partial_success()->set_rejected_log_records(static_cast<std::int64_t>(rejected));
      response.mutable_partial_success()->set_error_message(error_message);
    }
    return response.SerializeAsString();
  }
  json j = json::object();
  if (rejected > 0 || !error_message.empty()) {
    // int64 as a string, as proto3 JSON writes it.
    j["partialSuccess"] = {{"rejectedLogRecords", std::to_string(rejected)}, {"errorMessage", error_message}};
  }
  return j.dump();
}

}  // namespace llmcost
