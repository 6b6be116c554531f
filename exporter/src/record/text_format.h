#pragma once
// Numbers and label values as the Prometheus text format 0.0.4 writes them, appended
// to a std::string (the /metrics serialiser of the record stage, request_text.cpp).
// Doubles are the shortest text that parses back to the same double (std::to_chars),
// so a value is never rounded on its way to Prometheus; "+Inf", "-Inf", "NaN" as
// Prometheus parses them. Counts are integers.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmcost {

inline void AppendTextValue(std::string& out, double v) {
  if (v == 0 && !std::signbit(v)) {  // most of a page: money series of label sets that never had that cost
    out.push_back('0');
  } else if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

inline void AppendTextValue(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A label value inside its quotes: backslash, double quote and newline escaped.
inline void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace llmcost
