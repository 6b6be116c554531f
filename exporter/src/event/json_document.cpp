#include "event/json_document.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "event/utf8.h"

namespace llmcost {

// The recursive-descent reader; one per Parse() call.
class JsonReader {
 public:
  JsonReader(JsonDocument& doc, std::string_view in) : doc_(doc), in_(in) {}

  std::optional<std::uint32_t> Run(std::string& error) {
    SkipSpace();
    const auto root = Value(0);
    if (root) {
      SkipSpace();
      if (pos_ != in_.size()) Fail("unexpected content after the JSON value");
    }
    if (!error_.empty()) {
      error = error_ + " at byte " + std::to_string(pos_);
      return std::nullopt;
    }
    return root;
  }

 private:
  using Node = JsonDocument::Node;

  std::nullopt_t Fail(const char* what) {
    if (error_.empty()) error_ = what;
    return std::nullopt;
  }

  void SkipSpace() {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  std::uint32_t Add(JsonKind kind, std::string_view text = {}) {
    doc_.nodes_.push_back(Node{kind, text, 0, 0, 0});
    return static_cast<std::uint32_t>(doc_.nodes_.size() - 1);
  }

  bool Literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::optional<std::uint32_t> Value(int depth) {
    if (depth > JsonDocument::kMaxDepth) return Fail("nesting deeper than 64");
    if (pos_ >= in_.size()) return Fail("unexpected end of input");
    switch (in_[pos_]) {
      case '{': return Object(depth);
      case '[': return Array(depth);
      case '"': return String();
      case 't': return Literal("true") ? std::optional(Add(JsonKind::kTrue)) : Fail("invalid literal");
      case 'f': return Literal("false") ? std::optional(Add(JsonKind::kFalse)) : Fail("invalid literal");
      case 'n': return Literal("null") ? std::optional(Add(JsonKind::kNull)) : Fail("invalid literal");
      default: return Number();
    }
  }

  // Links `child` after `prev` (or as the first child of `parent`).
  void Link(std::uint32_t parent, std::uint32_t& prev, std::uint32_t child) {
    if (prev == 0) {
      doc_.nodes_[parent].first = child;
    } else {
      doc_.nodes_[prev].next = child;
    }
    prev = child;
  }

  std::optional<std::uint32_t> Object(int depth) {
    ++pos_;  // '{'
    const std::uint32_t self = Add(JsonKind::kObject);
    std::uint32_t prev = 0, count = 0;
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      return self;
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != '"') return Fail("expected a member name");
      const auto key = String();
      if (!key) return std::nullopt;
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != ':') return Fail("expected ':'");
      ++pos_;
      SkipSpace();
      const auto value = Value(depth + 1);
      if (!value) return std::nullopt;
      Link(self, prev, *key);
      Link(self, prev, *value);
      ++count;
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("unterminated object");
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == '}') {
        ++pos_;
        doc_.nodes_[self].count = count;
        return self;
      }
      return Fail("expected ',' or '}'");
    }
  }

  std::optional<std::uint32_t> Array(int depth) {
    ++pos_;  // '['
    const std::uint32_t self = Add(JsonKind::kArray);
    std::uint32_t prev = 0, count = 0;
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      return self;
    }
    for (;;) {
      SkipSpace();
      const auto value = Value(depth + 1);
      if (!value) return std::nullopt;
      Link(self, prev, *value);
      ++count;
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("unterminated array");
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == ']') {
        ++pos_;
        doc_.nodes_[self].count = count;
        return self;
      }
      return Fail("expected ',' or ']'");
    }
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(std::uint32_t& out) {
    if (pos_ + 4 > in_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = Hex(in_[pos_ + i]);
      if (h < 0) return false;
      out = out * 16 + static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return true;
  }

  static void AppendUtf8(std::string& s, std::uint32_t cp) {
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::optional<std::uint32_t> String() {
    ++pos_;  // '"'
    const std::size_t start = pos_;
    std::string* decoded = nullptr;  // created at the first escape
    std::size_t copied_upto = start;
    while (pos_ < in_.size()) {
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        std::string_view text;
        if (decoded == nullptr) {
          text = in_.substr(start, pos_ - start);
        } else {
          decoded->append(in_.substr(copied_upto, pos_ - copied_upto));
          text = *decoded;
        }
        ++pos_;
        return Add(JsonKind::kString, text);
      }
      if (c < 0x20) return Fail("control character in string");
      if (c >= 0x80) {
        const std::size_t len = Utf8SequenceLength(in_, pos_);
        if (len == 0) return Fail("invalid UTF-8 in string");
        pos_ += len;
        continue;
      }
      if (c != '\\') {
        ++pos_;
        continue;
      }
      if (decoded == nullptr) decoded = &doc_.decoded_.emplace_back();
      decoded->append(in_.substr(copied_upto, pos_ - copied_upto));
      ++pos_;
      if (pos_ >= in_.size()) return Fail("unterminated string");
      const char e = in_[pos_++];
      switch (e) {
        case '"': decoded->push_back('"'); break;
        case '\\': decoded->push_back('\\'); break;
        case '/': decoded->push_back('/'); break;
        case 'b': decoded->push_back('\b'); break;
        case 'f': decoded->push_back('\f'); break;
        case 'n': decoded->push_back('\n'); break;
        case 'r': decoded->push_back('\r'); break;
        case 't': decoded->push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!Hex4(cp)) return Fail("invalid \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair must follow
            std::uint32_t low = 0;
            if (!(Literal("\\u") && Hex4(low) && low >= 0xDC00 && low <= 0xDFFF)) {
              return Fail("unpaired UTF-16 surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Fail("unpaired UTF-16 surrogate");
          }
          AppendUtf8(*decoded, cp);
          break;
        }
        default: return Fail("invalid escape");
      }
      copied_upto = pos_;
    }
    return Fail("unterminated string");
  }

  std::optional<std::uint32_t> Number() {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (pos_ < in_.size() && in_[pos_] == '-') ++pos_;
    if (pos_ >= in_.size()) return Fail("invalid number");
    if (in_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return Fail("invalid value");
    }
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Fail("invalid number");
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Fail("invalid number");
    }
    return Add(JsonKind::kNumber, in_.substr(start, pos_ - start));
  }

  JsonDocument& doc_;
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::optional<JsonValue> JsonDocument::Parse(std::string_view text, std::string& error) {
  if (nodes_.empty()) nodes_.push_back(Node{JsonKind::kNull, {}, 0, 0, 0});  // index 0 = "none"
  const std::size_t mark = nodes_.size();
  JsonReader reader(*this, text);
  const auto root = reader.Run(error);
  if (!root) {
    nodes_.resize(mark);
    return std::nullopt;
  }
  return JsonValue(this, *root);
}

void JsonDocument::Clear() {
  nodes_.clear();
  decoded_.clear();
}

JsonKind JsonValue::kind() const { return doc_->nodes_[index_].kind; }

std::string_view JsonValue::text() const { return doc_->nodes_[index_].text; }

bool JsonValue::is_unsigned_integer() const {
  if (!is_number()) return false;
  const std::string_view t = text();
  if (t.empty() || t[0] == '-' || t.find_first_of(".eE") != std::string_view::npos) return false;
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return ec == std::errc() && p == t.data() + t.size();
}

bool JsonValue::is_negative_integer() const {
  if (!is_number()) return false;
  const std::string_view t = text();
  if (t.empty() || t[0] != '-' || t.find_first_of(".eE") != std::string_view::npos) return false;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return ec == std::errc() && p == t.data() + t.size() && v < 0;
}

std::uint64_t JsonValue::as_unsigned() const {
  std::uint64_t v = 0;
  const std::string_view t = text();
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::int64_t JsonValue::as_integer() const {
  std::int64_t v = 0;
  const std::string_view t = text();
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

double JsonValue::as_double() const {
  // strtod gives +-HUGE_VAL (inf) past double's range, which callers refuse as
  // not finite; the literal is bounded by the input, so a copy is fine.
  const std::string literal(text());
  return std::strtod(literal.c_str(), nullptr);
}

std::optional<JsonValue> JsonValue::Find(std::string_view key) const {
  if (!is_object()) return std::nullopt;
  std::optional<JsonValue> found;
  const auto& nodes = doc_->nodes_;
  for (std::uint32_t k = nodes[index_].first; k != 0;) {
    const std::uint32_t v = nodes[k].next;
    if (nodes[k].text == key) found = JsonValue(doc_, v);
    k = nodes[v].next;
  }
  return found;
}

std::size_t JsonValue::size() const { return doc_->nodes_[index_].count; }

std::vector<JsonValue> JsonValue::Elements() const {
  std::vector<JsonValue> out;
  if (!is_array()) return out;
  out.reserve(size());
  for (std::uint32_t e = doc_->nodes_[index_].first; e != 0; e = doc_->nodes_[e].next) out.emplace_back(doc_, e);
  return out;
}

}  // namespace llmcost
