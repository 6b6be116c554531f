#include "event/json_document.h"

#include <algorithm>
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

// The first byte at or after `p` that kStringStops marks, or `end`. Eight bytes at
// a time (SWAR): a byte is flagged when it is '"' or '\\' (its XOR with that byte is
// zero), below 0x20, or 0x80 and above. Borrows can flag bytes above a flagged one,
// never below it, so the lowest flag is exact.
const char* SkipPlain(const char* p, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      const std::uint64_t q = w ^ (k01 * '"'), b = w ^ (k01 * '\\');
      const std::uint64_t stops = (((q - k01) & ~q) | ((b - k01) & ~b) | ((w - k01 * 0x20) & ~w) | w) & k80;
      if (stops != 0) return p + (std::countr_zero(stops) >> 3);
      p += 8;
    }
  }
  while (p != end && !kStringStops[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

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

  // 0 (never a value's node) when the document is full: the caller fails.
  std::uint32_t Add(JsonKind kind, const char* data = nullptr, std::size_t size = 0) {
    auto& nodes = doc_.nodes_;
    if (nodes.size() > JsonDocument::kMaxValues) {
      doc_.over_budget_ = true;
      Fail("more than 1048576 JSON values");
      return 0;
    }
    Node& node = nodes.emplace_back();
    node.data = data;
    node.size = static_cast<std::uint32_t>(size);
    node.kind = kind;
    return static_cast<std::uint32_t>(nodes.size() - 1);
  }

  std::optional<std::uint32_t> Added(std::uint32_t node) {
    if (node == 0) return std::nullopt;
    return node;
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
      case 't': return Literal("true") ? Added(Add(JsonKind::kTrue)) : Fail("invalid literal");
      case 'f': return Literal("false") ? Added(Add(JsonKind::kFalse)) : Fail("invalid literal");
      case 'n': return Literal("null") ? Added(Add(JsonKind::kNull)) : Fail("invalid literal");
      default: return Number();
    }
  }

  // Links `child` after `prev` (a container's first child is the node after it).
  void Link(std::uint32_t& prev, std::uint32_t child) {
    if (prev != 0) doc_.nodes_[prev].next = child;
    prev = child;
  }

  std::optional<std::uint32_t> Object(int depth) {
    ++pos_;  // '{'
    const std::uint32_t self = Add(JsonKind::kObject);
    if (self == 0) return std::nullopt;
    doc_.nodes_[self].aux = JsonDocument::kNoIndex;
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
      Link(prev, *key);
      Link(prev, *value);
      ++count;
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("unterminated object");
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == '}') {
        ++pos_;
        doc_.nodes_[self].size = count;
        return self;
      }
      return Fail("expected ',' or '}'");
    }
  }

  std::optional<std::uint32_t> Array(int depth) {
    ++pos_;  // '['
    const std::uint32_t self = Add(JsonKind::kArray);
    if (self == 0) return std::nullopt;
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
      Link(prev, *value);
      ++count;
      SkipSpace();
      if (pos_ >= in_.size()) return Fail("unterminated array");
      if (in_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (in_[pos_] == ']') {
        ++pos_;
        doc_.nodes_[self].size = count;
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
      p = SkipPlain(p, end);
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
        return Added(Add(JsonKind::kString, text.data(), text.size()));
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
    // The integer part's magnitude, converted while it is scanned so that readers
    // need not parse the literal again (token counts, status codes and latencies
    // are integers).
    std::uint64_t magnitude = 0;
    bool fits = true;
    if (in_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
        const auto digit = static_cast<std::uint64_t>(in_[pos_] - '0');
        fits = fits && !__builtin_mul_overflow(magnitude, 10u, &magnitude) &&
               !__builtin_add_overflow(magnitude, digit, &magnitude);
        ++pos_;
      }
      if (pos_ == int_start) return Fail("invalid value");
    }
    if (fits) {
      flags |= JsonDocument::kFits;
    } else {
      magnitude = 0;
    }
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
    const std::uint32_t self = Add(JsonKind::kNumber, in_.data() + start, pos_ - start);
    if (self == 0) return std::nullopt;
    Node& node = doc_.nodes_[self];
    if ((flags & JsonDocument::kFits) != 0 && magnitude <= 0xFFFFFFFFu) {
      flags |= JsonDocument::kSmall;
      node.aux = static_cast<std::uint32_t>(magnitude);
    }
    node.flags = flags;
    return self;
  }

  JsonDocument& doc_;
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::optional<JsonValue> JsonDocument::Parse(std::string_view text, std::string& error) {
  if (nodes_.empty()) nodes_.emplace_back();  // index 0 = "none"
  over_budget_ = false;
  const std::size_t mark = nodes_.size();
  // A text of n bytes holds at most n/2 + 1 values: room for them now saves the
  // copies of growing (pages never touched cost no memory).
  const std::size_t want = mark + std::min(text.size() / 2 + 1, kMaxValues + 1);
  if (want > nodes_.capacity()) nodes_.reserve(std::max(want, nodes_.capacity() * 2));
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
  while (slots < obj.size * 2) slots *= 2;  // at most half full: probes stay short
  const auto at = static_cast<std::uint32_t>(index_.size());
  index_.resize(index_.size() + 1 + slots, 0);
  index_[at] = slots;
  std::uint32_t* table = index_.data() + at + 1;
  for (std::uint32_t k = obj.first(object); k != 0; k = nodes_[nodes_[k].next].next) {
    const std::string_view key = nodes_[k].text();
    for (std::uint32_t s = KeyHash(key) & (slots - 1);; s = (s + 1) & (slots - 1)) {
      ++probes_;
      if (table[s] == 0 || nodes_[table[s]].text() == key) {
        table[s] = k;  // a repeated key: the later member replaces the earlier
        break;
      }
    }
  }
  obj.aux = at;
  return at;
}

std::uint64_t JsonDocument::Magnitude(const Node& n) {
  if ((n.flags & kSmall) != 0) return n.aux;
  std::uint64_t m = 0;
  const char* p = n.data + ((n.flags & kNegative) != 0 ? 1 : 0);
  const char* end = n.data + n.size;
  const char* digits_end = p;
  while (digits_end != end && *digits_end >= '0' && *digits_end <= '9') ++digits_end;
  std::from_chars(p, digits_end, m);  // fits: checked while scanning
  return m;
}


namespace {

constexpr std::uint64_t kInt64MinMagnitude = 0x8000000000000000ULL;

}  // namespace

bool JsonValue::is_negative_integer() const {
  const auto& n = doc_->nodes_[index_];
  constexpr auto kWant = JsonDocument::kInteger | JsonDocument::kFits | JsonDocument::kNegative;
  if (n.kind != JsonKind::kNumber || (n.flags & kWant) != kWant) return false;
  const std::uint64_t m = JsonDocument::Magnitude(n);
  return m != 0 && m <= kInt64MinMagnitude;  // "-0" is not negative
}

std::int64_t JsonValue::as_integer() const {
  const auto& n = doc_->nodes_[index_];
  if (is_unsigned_integer()) {
    const std::uint64_t m = JsonDocument::Magnitude(n);
    return m <= INT64_MAX ? static_cast<std::int64_t>(m) : 0;
  }
  if (!is_negative_integer()) return 0;
  // -(2^63) has no positive counterpart: negate in unsigned arithmetic.
  return static_cast<std::int64_t>(~JsonDocument::Magnitude(n) + 1);
}

double JsonValue::as_double() const {
  const auto& n = doc_->nodes_[index_];
  constexpr std::uint64_t kExactInDouble = 1ULL << 53;
  if ((n.flags & (JsonDocument::kInteger | JsonDocument::kFits)) == (JsonDocument::kInteger | JsonDocument::kFits) &&
      JsonDocument::Magnitude(n) <= kExactInDouble) {
    const double d = static_cast<double>(JsonDocument::Magnitude(n));
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
  if (obj.size < kIndexFrom) {
    std::optional<JsonValue> found;
    for (std::uint32_t k = obj.first(index_); k != 0;) {
      const std::uint32_t v = nodes[k].next;
      if (nodes[k].text() == key) found = JsonValue(doc_, v);
      k = nodes[v].next;
    }
    return found;
  }
  const std::uint32_t at = obj.aux != JsonDocument::kNoIndex ? obj.aux : doc_->IndexObject(index_);
  const std::uint32_t slots = doc_->index_[at];
  const std::uint32_t* table = doc_->index_.data() + at + 1;
  for (std::uint32_t s = KeyHash(key) & (slots - 1); table[s] != 0; s = (s + 1) & (slots - 1)) {
    ++doc_->probes_;
    if (nodes[table[s]].text() == key) return JsonValue(doc_, nodes[table[s]].next);
  }
  return std::nullopt;
}

std::size_t JsonValue::size() const {
  const auto& n = doc_->nodes_[index_];
  return n.kind == JsonKind::kArray || n.kind == JsonKind::kObject ? n.size : 0;
}

std::vector<JsonValue> JsonValue::Elements() const {
  std::vector<JsonValue> out;
  if (!is_array()) return out;
  out.reserve(size());
  for (std::uint32_t e = doc_->nodes_[index_].first(index_); e != 0; e = doc_->nodes_[e].next) out.emplace_back(doc_, e);
  return out;
}

}  // namespace llmcost
