// libFuzzer target: the exporter's own JSON reader (JsonDocument), checked
// differentially against nlohmann::json, a widely used strict parser: both must
// accept and reject the same texts and, when both accept, read the same values.
// Differences that are design decisions are excluded explicitly below.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "event/json_document.h"

namespace {

using llmcost::JsonDocument;
using llmcost::JsonKind;
using llmcost::JsonValue;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "JsonDocument and nlohmann::json disagree: %s\n", what);
  std::abort();
}

// Depth of the deepest value, the root being 0 (JsonDocument refuses values deeper
// than kMaxDepth by design; nlohmann has no limit).
int Depth(const nlohmann::json& v) {
  int d = 0;
  if (v.is_structured()) {
    for (const auto& child : v) d = std::max(d, 1 + Depth(child));
  }
  return d;
}

void Compare(const JsonValue& ours, const nlohmann::json& ref) {
  switch (ours.kind()) {
    case JsonKind::kNull:
      if (!ref.is_null()) Fail("null");
      return;
    case JsonKind::kTrue:
    case JsonKind::kFalse:
      if (!ref.is_boolean() || ref.get<bool>() != ours.as_bool()) Fail("boolean");
      return;
    case JsonKind::kString:
      if (!ref.is_string() || ref.get_ref<const std::string&>() != ours.text()) Fail("string content");
      return;
    case JsonKind::kNumber: {
      if (!ref.is_number()) Fail("number kind");
      const double a = ours.as_double(), b = ref.get<double>();
      if (!(a == b || (std::isnan(a) && std::isnan(b)))) Fail("number value");
      if (ref.is_number_unsigned() && (!ours.is_unsigned_integer() || ours.as_unsigned() != ref.get<std::uint64_t>())) {
        Fail("unsigned integer value");
      }
      return;
    }
    case JsonKind::kArray: {
      if (!ref.is_array() || ours.size() != ref.size()) Fail("array size");
      const auto elements = ours.Elements();
      if (elements.size() != ref.size()) Fail("array Elements() size");
      for (std::size_t i = 0; i < elements.size(); ++i) Compare(elements[i], ref[i]);
      return;
    }
    case JsonKind::kObject: {
      // nlohmann keeps one member per key (the last); ours counts every member and
      // Find() returns the last one.
      if (!ref.is_object() || ours.size() < ref.size()) Fail("object size");
      for (const auto& [key, value] : ref.items()) {
        const auto member = ours.Find(key);
        if (!member) Fail("object member missing");
        Compare(*member, value);
      }
      return;
    }
  }
  Fail("unknown kind");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // nlohmann skips a UTF-8 byte order mark; ours, like RFC 8259 parsers may, refuses it.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return 0;
  static JsonDocument doc;  // reused, as the pipeline reuses its batch
  doc.Clear();
  std::string error;
  const auto ours = doc.Parse(text, error);
  // nlohmann takes a NUL byte as the end of input; in JSON it is never valid (not
  // white space outside strings, an unescaped control character inside them).
  if (text.find('\0') != std::string_view::npos) {
    if (ours) Fail("accepted a text with a raw NUL byte");
    return 0;
  }
  nlohmann::json ref;
  try {
    ref = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (406)
    // nlohmann refuses a number beyond double's range (error 406); ours reads it as
    // +-inf by design, and the event parser refuses it in any field it reads.
    if (e.id == 406) return 0;
    if (ours) Fail("accepted a text nlohmann rejects");
    if (error.empty()) Fail("rejection without an error message");
    return 0;
  }
  if (Depth(ref) > JsonDocument::kMaxDepth) {
    if (ours) Fail("accepted nesting deeper than kMaxDepth");
    return 0;
  }
  if (!ours) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    Fail("rejected a text nlohmann accepts");
  }
  Compare(*ours, ref);
  return 0;
}
