#include "event/json_document.h"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "event/seeded_hash.h"
#include "event/utf8.h"

namespace llmcost {
namespace {

// Bytes that end the plain run of a string: '"', '\\', control characters, and
// the lead bytes of multi-byte UTF-8 sequences (validated one by one).
constexpr std::array<bool, 256> kStringStops = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
  return t;
}();

// Member names are chosen by whoever sends the event: the index hashes the whole
// name with the process's random key (event/seeded_hash.h), so no body can be built
// whose names all land on one probe chain.
std::uint32_t KeyHash(std::string_view key) { return static_cast<std::uint32_t>(SeededHash(key)); }

// Objects with fewer members are searched linearly: comparing a dozen names is
// cheaper than hashing the searched name with SipHash (an event's "usage" object
// has 7), and it bounds what a linear search can cost.
constexpr std::uint32_t kIndexFrom = 12;

}  // namespace

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
    Node& node = doc_.nodes_.emplace_back();
    node.kind = kind;
    node.text = text;
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
      // Plain bytes are most of any string: skip them in a tight loop.
      const char* p = in_.data() + pos_;
      const char* const end = in_.data() + in_.size();
      while (p != end && !kStringStops[static_cast<unsigned char>(*p)]) ++p;
      pos_ = static_cast<std::size_t>(p - in_.data());
      if (p == end) break;
      const auto c = static_cast<unsigned char>(*p);
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
    std::uint8_t flags = JsonDocument::kInteger;
    if (pos_ < in_.size() && in_[pos_] == '-') {
      flags |= JsonDocument::kNegative;
      ++pos_;
    }
    if (pos_ >= in_.size()) return Fail("invalid number");
    const std::size_t int_start = pos_;
    if (in_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return Fail("invalid value");
    }
    // The integer part's magnitude, converted here so that readers need not parse
    // the literal again (token counts, status codes and latencies are integers).
    std::uint64_t magnitude = 0;
    const auto [end, ec] = std::from_chars(in_.data() + int_start, in_.data() + pos_, magnitude);
    if (ec == std::errc() && end == in_.data() + pos_) flags |= JsonDocument::kFits;
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return Fail("invalid number");
      flags &= static_cast<std::uint8_t>(~JsonDocument::kInteger);
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Fail("invalid number");
      flags &= static_cast<std::uint8_t>(~JsonDocument::kInteger);
    }
    const std::uint32_t self = Add(JsonKind::kNumber, in_.substr(start, pos_ - start));
    Node& node = doc_.nodes_[self];
    node.flags = flags;
    node.magnitude = magnitude;
    return self;
  }

  JsonDocument& doc_;
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::optional<JsonValue> JsonDocument::Parse(std::string_view text, std::string& error) {
  if (nodes_.empty()) nodes_.emplace_back();  // index 0 = "none"
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
  index_.clear();
  probes_ = 0;
}

std::uint32_t JsonDocument::IndexObject(std::uint32_t object) const {
  const Node& obj = nodes_[object];
  std::uint32_t slots = 8;
  while (slots < obj.count * 2) slots *= 2;  // at most half full: probes stay short
  const auto at = static_cast<std::uint32_t>(index_.size());
  index_.resize(index_.size() + 1 + slots, 0);
  index_[at] = slots;
  std::uint32_t* table = index_.data() + at + 1;
  for (std::uint32_t k = obj.first; k != 0; k = nodes_[nodes_[k].next].next) {
    const std::string_view key = nodes_[k].text;
    for (std::uint32_t s = KeyHash(key) & (slots - 1);; s = (s + 1) & (slots - 1)) {
      ++probes_;
      if (table[s] == 0 || nodes_[table[s]].text == key) {
        table[s] = k;  // a repeated key: the later member replaces the earlier
        break;
      }
    }
  }
  obj.index_at = at;
  return at;
}


namespace {

constexpr std::uint64_t kInt64MinMagnitude = 0x8000000000000000ULL;

}  // namespace

bool JsonValue::is_negative_integer() const {
  const auto& n = doc_->nodes_[index_];
  constexpr auto kWant = JsonDocument::kInteger | JsonDocument::kFits | JsonDocument::kNegative;
  return n.kind == JsonKind::kNumber && (n.flags & kWant) == kWant && n.magnitude != 0 &&
         n.magnitude <= kInt64MinMagnitude;  // "-0" is not negative
}

std::int64_t JsonValue::as_integer() const {
  const auto& n = doc_->nodes_[index_];
  if (is_unsigned_integer()) return n.magnitude <= INT64_MAX ? static_cast<std::int64_t>(n.magnitude) : 0;
  if (!is_negative_integer()) return 0;
  // -(2^63) has no positive counterpart: negate in unsigned arithmetic.
  return static_cast<std::int64_t>(~n.magnitude + 1);
}

double JsonValue::as_double() const {
  const auto& n = doc_->nodes_[index_];
  constexpr std::uint64_t kExactInDouble = 1ULL << 53;
  if ((n.flags & (JsonDocument::kInteger | JsonDocument::kFits)) == (JsonDocument::kInteger | JsonDocument::kFits) &&
      n.magnitude <= kExactInDouble) {
    const double d = static_cast<double>(n.magnitude);
    return (n.flags & JsonDocument::kNegative) != 0 ? -d : d;
  }
  // strtod gives +-HUGE_VAL (inf) past double's range, which callers refuse as
  // not finite; the literal is bounded by the input, so a copy is fine.
  const std::string literal(text());
  return std::strtod(literal.c_str(), nullptr);
}

std::optional<JsonValue> JsonValue::Find(std::string_view key) const {
  if (!is_object()) return std::nullopt;
  const auto& nodes = doc_->nodes_;
  const auto& obj = nodes[index_];
  if (obj.count < kIndexFrom) {
    std::optional<JsonValue> found;
    for (std::uint32_t k = obj.first; k != 0;) {
      const std::uint32_t v = nodes[k].next;
      if (nodes[k].text == key) found = JsonValue(doc_, v);
      k = nodes[v].next;
    }
    return found;
  }
  const std::uint32_t at = obj.index_at != JsonDocument::kNoIndex ? obj.index_at : doc_->IndexObject(index_);
  const std::uint32_t slots = doc_->index_[at];
  const std::uint32_t* table = doc_->index_.data() + at + 1;
  for (std::uint32_t s = KeyHash(key) & (slots - 1); table[s] != 0; s = (s + 1) & (slots - 1)) {
    ++doc_->probes_;
    if (nodes[table[s]].text == key) return JsonValue(doc_, nodes[table[s]].next);
  }
  return std::nullopt;
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
