#pragma once
// ParseExposition: the samples of a Prometheus text-format (0.0.4) page as
// (name, labels) -> value text, label values unescaped (\\, \", \n). Comment lines
// are skipped. A sample seen twice, or a line that does not parse, throws: a valid
// page has neither. For the tests that compare or sum scraped series.
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

namespace llmcost {

struct SeriesKey {
  std::string name;
  std::map<std::string, std::string> labels;
  bool operator<(const SeriesKey& o) const { return std::tie(name, labels) < std::tie(o.name, o.labels); }
  bool operator==(const SeriesKey& o) const { return name == o.name && labels == o.labels; }
};

inline std::map<SeriesKey, std::string> ParseExposition(std::string_view text) {
  std::map<SeriesKey, std::string> out;
  auto bad = [](std::string_view line, const char* why) {
    throw std::runtime_error(std::string(why) + ": " + std::string(line));
  };
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) bad(text, "no final newline");
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    SeriesKey key;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    key.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') bad(line, "bad label");
        std::string name(line.substr(i, eq - i));
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size()) bad(line, "bad escape");
            const char c = line[j];
            if (c == 'n') value.push_back('\n');
            else if (c == '\\' || c == '"') value.push_back(c);
            else bad(line, "bad escape");
          } else {
            value.push_back(line[j]);
          }
        }
        if (j >= line.size()) bad(line, "unterminated label value");
        if (!key.labels.emplace(std::move(name), std::move(value)).second) bad(line, "label twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) bad(line, "no closing brace");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') bad(line, "no value");
    std::string value(line.substr(i + 1));
    if (value.empty() || value.find(' ') != std::string::npos) bad(line, "bad value");
    if (!out.emplace(std::move(key), std::move(value)).second) bad(line, "sample twice");
  }
  return out;
}

}  // namespace llmcost
