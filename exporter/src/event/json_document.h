#pragma once
// JsonDocument: a strict (RFC 8259), zero-copy JSON reader for usage events. Values
// are nodes in one flat array; strings and numbers are views into the input, except
// strings with escapes, which are decoded once into the document. An event costs
// one pass over its bytes and no allocation per member, which is what lets one
// ingest thread keep up with a busy fleet (a general-purpose DOM spent most of the
// time per event building maps that were read once). Integer literals are converted
// while they are scanned, and an object that is searched gets a small hash index of
// its keys on the first search: an event is searched for ~25 keys, mostly absent.
// The index hashes whole keys with a per-process random key, so a sender cannot
// choose keys that collide (hash flooding).
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmcost {

class JsonDocument;

enum class JsonKind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

// A value inside a document; valid while the document lives.
class JsonValue {
 public:
  JsonValue(const JsonDocument* doc, std::uint32_t index) : doc_(doc), index_(index) {}

  JsonKind kind() const;
  bool is_null() const { return kind() == JsonKind::kNull; }
  bool is_bool() const { return kind() == JsonKind::kTrue || kind() == JsonKind::kFalse; }
  bool is_number() const { return kind() == JsonKind::kNumber; }
  bool is_string() const { return kind() == JsonKind::kString; }
  bool is_object() const { return kind() == JsonKind::kObject; }
  bool is_array() const { return kind() == JsonKind::kArray; }

  bool as_bool() const { return kind() == JsonKind::kTrue; }
  // Strings: the decoded text. Numbers: the literal as written.
  std::string_view text() const;

  // Numbers: an integer literal that fits uint64 / int64 (negative), else a double.
  bool is_unsigned_integer() const;
  bool is_negative_integer() const;
  std::uint64_t as_unsigned() const;
  std::int64_t as_integer() const;
  double as_double() const;  // +-inf for literals beyond double's range

  // Objects: the member's value (the last one, if a key repeats), or nullopt.
  std::optional<JsonValue> Find(std::string_view key) const;
  // Arrays and objects: number of elements or members.
  std::size_t size() const;
  // Arrays: the elements, in order.
  std::vector<JsonValue> Elements() const;
  // Objects: f(name, value's node) for every member in order, repeated names
  // included; JsonValue(document(), node) is the value. One pass, no index built.
  template <class F>
  void ForEachMember(F&& f) const;

  const JsonDocument* document() const { return doc_; }

 private:
  const JsonDocument* doc_;
  std::uint32_t index_;
};

class JsonDocument {
 public:
  static constexpr int kMaxDepth = 64;

  // Parses one JSON text (surrounding white space allowed) into this document, which
  // may hold several (NDJSON). Returns the root, or nullopt with `error` set.
  std::optional<JsonValue> Parse(std::string_view text, std::string& error);

  void Clear();

  // Slots visited by key-index builds and searches since Clear(): what a hash flood
  // would inflate (tests compare it across bodies; counting costs one add per probe).
  std::uint64_t key_probes() const { return probes_; }

 private:
  friend class JsonValue;
  friend class JsonReader;
  // Number flags, set while the literal is scanned.
  static constexpr std::uint8_t kInteger = 1;   // no fraction or exponent
  static constexpr std::uint8_t kNegative = 2;  // leading '-'
  static constexpr std::uint8_t kFits = 4;      // magnitude fits uint64 (in `magnitude`)
  static constexpr std::uint32_t kNoIndex = 0xFFFFFFFF;

  struct Node {
    JsonKind kind;
    std::uint8_t flags = 0;     // numbers: kInteger | kNegative | kFits
    std::uint32_t first = 0;    // first child (object: key, then its value, then next key...)
    std::uint32_t count = 0;    // elements or members
    std::uint32_t next = 0;     // next sibling; 0 = none (node 0 is never a child)
    mutable std::uint32_t index_at = kNoIndex;  // objects: where their key index starts in index_
    std::string_view text;      // string content / number literal
    std::uint64_t magnitude = 0;  // integer literals: |value|, when kFits
  };

  // Builds the key index of object `object` in index_ (open addressing, value node
  // numbers; the last of repeated keys wins) and returns where it starts.
  std::uint32_t IndexObject(std::uint32_t object) const;

  std::vector<Node> nodes_;
  std::deque<std::string> decoded_;  // stable storage for strings that had escapes
  // Built lazily by searches (logically const): per indexed object, its slot count
  // followed by the slots; a slot holds a key's node number, 0 = empty.
  mutable std::vector<std::uint32_t> index_;
  mutable std::uint64_t probes_ = 0;
};

// The accessors the event parser calls for every member, inline.
inline JsonKind JsonValue::kind() const { return doc_->nodes_[index_].kind; }

inline std::string_view JsonValue::text() const { return doc_->nodes_[index_].text; }

inline bool JsonValue::is_unsigned_integer() const {
  const auto& n = doc_->nodes_[index_];
  constexpr auto kWant = JsonDocument::kInteger | JsonDocument::kFits;
  return n.kind == JsonKind::kNumber && (n.flags & (kWant | JsonDocument::kNegative)) == kWant;
}

template <class F>
void JsonValue::ForEachMember(F&& f) const {
  const auto& nodes = doc_->nodes_;
  if (nodes[index_].kind != JsonKind::kObject) return;
  for (std::uint32_t k = nodes[index_].first; k != 0;) {
    const std::uint32_t v = nodes[k].next;
    f(nodes[k].text, v);
    k = nodes[v].next;
  }
}

inline std::uint64_t JsonValue::as_unsigned() const {
  return is_unsigned_integer() ? doc_->nodes_[index_].magnitude : 0;
}

}  // namespace llmcost
