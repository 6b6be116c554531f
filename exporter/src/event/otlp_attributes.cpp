#include "event/otlp_attributes.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>

#include "event/event_parser.h"
#include "otlp_common.pb.h"

namespace llmcost {
namespace {

OtlpValue FromProto(const otlp::AnyValue& v) {
  OtlpValue out;
  switch (v.value_case()) {
    case otlp::AnyValue::kStringValue: out.kind = OtlpValue::kString; out.s = v.string_value(); break;
    case otlp::AnyValue::kIntValue: out.kind = OtlpValue::kInt; out.i = v.int_value(); break;
    case otlp::AnyValue::kDoubleValue: out.kind = OtlpValue::kDouble; out.d = v.double_value(); break;
    case otlp::AnyValue::kBoolValue: out.kind = OtlpValue::kBool; out.b = v.bool_value(); break;
    case otlp::AnyValue::VALUE_NOT_SET: break;
    default: out.kind = OtlpValue::kOther; break;
  }
  return out;
}

std::optional<std::string> LabelValue(const OtlpValue& v) {
  switch (v.kind) {
    case OtlpValue::kString: return v.s;
    case OtlpValue::kInt: return std::to_string(v.i);
    case OtlpValue::kBool: return std::string(v.b ? "true" : "false");
    default: return std::nullopt;
  }
}

}  // namespace

bool OtlpAttributeNeverALabel(std::string_view a) {
  return a == "session.id" || a == "prompt.id" || a.rfind("user.", 0) == 0 || a == "user";
}

std::optional<OtlpEncoding> OtlpEncodingOf(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  auto equals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  };
  if (equals(type, "application/json")) return OtlpEncoding::kJson;
  if (equals(type, "application/x-protobuf")) return OtlpEncoding::kProtobuf;
  return std::nullopt;
}

OtlpAttributes OtlpAttributesFromProto(const google::protobuf::RepeatedPtrField<otlp::KeyValue>& kvs) {
  OtlpAttributes a;
  a.reserve(static_cast<std::size_t>(kvs.size()));
  for (const auto& kv : kvs) a.emplace_back(kv.key(), FromProto(kv.value()));
  return a;
}

const OtlpValue* OtlpFind(const OtlpAttributes& a, std::string_view key) {
  for (const auto& [k, v] : a) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<std::string> OtlpText(const OtlpAttributes& a, const OtlpAttributes* resource, std::string_view key) {
  const OtlpValue* v = OtlpFind(a, key);
  if ((v == nullptr || v->kind != OtlpValue::kString) && resource != nullptr) v = OtlpFind(*resource, key);
  if (v == nullptr || v->kind != OtlpValue::kString) return std::nullopt;
  return v->s;
}

std::optional<std::uint64_t> OtlpTokenCount(const OtlpValue* v, std::string_view field, std::size_t index,
                                            std::optional<EventError>& error) {
  if (v == nullptr || v->kind == OtlpValue::kNone) return std::nullopt;
  std::int64_t n = -1;
  bool ok = false;
  if (v->kind == OtlpValue::kInt) {
    n = v->i;
    ok = true;
  } else if (v->kind == OtlpValue::kDouble) {
    ok = std::isfinite(v->d) && std::trunc(v->d) == v->d && std::fabs(v->d) <= 9e15;
    if (ok) n = static_cast<std::int64_t>(v->d);
  } else if (v->kind == OtlpValue::kString) {
    auto [p, ec] = std::from_chars(v->s.data(), v->s.data() + v->s.size(), n);
    ok = ec == std::errc() && p == v->s.data() + v->s.size() && !v->s.empty();
  }
  if (!ok) {
    error = EventError{index, std::string(field), RejectReason::kBadField, "must be a whole number of tokens"};
  } else if (n < 0 || static_cast<std::uint64_t>(n) > kMaxTokenCount) {
    error = EventError{index, std::string(field), RejectReason::kBadField,
                       "must be between 0 and " + std::to_string(kMaxTokenCount) + " tokens"};
  } else {
    return static_cast<std::uint64_t>(n);
  }
  return std::nullopt;
}

void OtlpMapLabels(const OtlpMapping& mapping, const OtlpAttributes& attributes, const OtlpAttributes* resource,
                   std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& source : mapping.labels) {
    for (const auto& attribute : source.attributes) {
      const OtlpValue* v = OtlpFind(attributes, attribute);
      if (v == nullptr && resource != nullptr) v = OtlpFind(*resource, attribute);
      if (v == nullptr) continue;
      if (auto text = LabelValue(*v)) {
        labels.emplace_back(source.label, std::move(*text));
        break;
      }
    }
  }
}

Platform OtlpPlatformOf(const std::string& provider) {
  if (provider == "firstParty" || provider == "first_party") return Platform::kAnthropic;
  Platform p;
  return PlatformFromName(provider, p) ? p : Platform::kOther;
}

void OtlpGenAiProvider(const OtlpAttributes& attributes, const OtlpAttributes* resource, UsageEvent& e) {
  auto provider = OtlpText(attributes, resource, "gen_ai.provider.name");
  if (!provider) provider = OtlpText(attributes, resource, "gen_ai.system");
  if (!provider || provider->empty()) return;  // UsageEvent's default: anthropic
  const bool claude = e.model_id.find("claude") != std::string::npos;
  const std::string& p = *provider;
  if (p == "anthropic") {
    e.provider = "anthropic";
  } else if (p == "aws.bedrock" || p == "aws_bedrock") {
    e.provider = claude ? "anthropic" : p;
    e.platform = Platform::kBedrock;
  } else if (p == "gcp.vertex_ai" || p == "vertex_ai" || p == "gcp.gen_ai") {
    e.provider = claude ? "anthropic" : p;
    e.platform = Platform::kVertex;
  } else if (p == "azure.ai.inference" || p == "azure.ai.foundry") {
    e.provider = claude ? "anthropic" : p;
    e.platform = Platform::kFoundry;
  } else {
    e.provider = p.size() > 64 ? p.substr(0, 64) : p;  // the provider label's cap applies
  }
}

OtlpSource OtlpSourceOf(const OtlpAttributes& resource) {
  OtlpSource s;
  if (auto n = OtlpText(resource, nullptr, "service.name")) s.service_name = *n;
  if (auto v = OtlpText(resource, nullptr, "service.version")) s.service_version = *v;
  return s;
}

std::string OtlpResourceKey(const OtlpAttributes& resource) {
  std::vector<std::string> parts;
  parts.reserve(resource.size());
  for (const auto& [k, v] : resource) {
    parts.push_back(k + '\x1f' + std::to_string(static_cast<int>(v.kind)) + '\x1f' + v.s + '\x1f' +
                    std::to_string(v.i) + '\x1f' + std::to_string(v.b));
  }
  std::sort(parts.begin(), parts.end());
  std::string key = "r";
  for (const auto& p : parts) key += '\x1e' + p;
  return key;
}

std::string OtlpOverlapKey(const OtlpAttributes& attributes, const OtlpAttributes& resource) {
  if (auto session = OtlpText(attributes, &resource, "session.id"); session && !session->empty()) {
    return "s\x1e" + *session;
  }
  return OtlpResourceKey(resource);
}

}  // namespace llmcost
