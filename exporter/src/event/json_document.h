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

  // Arrays: f(element) for every element in order, without building a vector.
  template <class F>
  void ForEachElement(F&& f) const;

  const JsonDocument* document() const { return doc_; }
  std::uint32_t node() const { return index_; }

 private:
  const JsonDocument* doc_;
  std::uint32_t index_;
};

class JsonDocument {
 public:
  static constexpr int kMaxDepth = 64;
  // JSON values one document holds, at most (a node is 24 bytes): a 4 MiB body of
  // `[0,0,...]` is 2M values; refusing past this bounds the memory a body costs
  // (~25 MB of nodes) while a 4 MiB body of small real events (~700k values) fits.
  static constexpr std::size_t kMaxValues = 1u << 20;

  // Parses one JSON text (surrounding white space allowed) into this document, which
  // may hold several (NDJSON). Returns the root, or nullopt with `error` set.
  std::optional<JsonValue> Parse(std::string_view text, std::string& error);

  void Clear();

  // Bytes its buffers hold (capacity, not size): what keeping this document for the
  // next body pins. Strings decoded from escapes are counted by their handles only.
  std::size_t held_bytes() const {
    return nodes_.capacity() * sizeof(Node) + index_.capacity() * sizeof(std::uint32_t) +
           decoded_.size() * sizeof(std::string);
  }

  // Whether the last failed Parse() failed because the document would hold more
  // than kMaxValues values (the text may be valid JSON).
  bool over_budget() const { return over_budget_; }

  // Slots visited by key-index builds and searches since Clear(): what a hash flood
  // would inflate (tests compare it across bodies; counting costs one add per probe).
  std::uint64_t key_probes() const { return probes_; }

 private:
  friend class JsonValue;
  friend class JsonReader;
  // Number flags, set while the literal is scanned.
  static constexpr std::uint8_t kInteger = 1;   // no fraction or exponent
  static constexpr std::uint8_t kNegative = 2;  // leading '-'
  static constexpr std::uint8_t kFits = 4;      // magnitude fits uint64
  static constexpr std::uint8_t kSmall = 8;     // ... and 32 bits: it is in `aux`
  static constexpr std::uint32_t kNoIndex = 0xFFFFFFFF;

  // 24 bytes: nodes are most of a document's memory. Nodes are in document order,
  // so a container's first child is the next node, and a member's value follows
  // its name.
  struct Node {
    const char* data = nullptr;  // string content / number literal
    std::uint32_t size = 0;      // its length; arrays and objects: elements or members
    std::uint32_t next = 0;      // next sibling (an object's name: its value); 0 = none
    // Numbers with kSmall: the integer's magnitude. Objects: where their key index
    // starts in index_ (kNoIndex: not built).
    mutable std::uint32_t aux = 0;
    JsonKind kind = JsonKind::kNull;
    std::uint8_t flags = 0;  // numbers: kInteger | kNegative | kFits | kSmall

    std::string_view text() const { return {data, size}; }
    std::uint32_t first(std::uint32_t self) const { return size != 0 ? self + 1 : 0; }
  };
  static_assert(sizeof(Node) == 24);
  // An integer literal's magnitude (flags kFits), re-read when beyond 32 bits.
  static std::uint64_t Magnitude(const Node& n);

  // Builds the key index of object `object` in index_ (open addressing, value node
  // numbers; the last of repeated keys wins) and returns where it starts.
  std::uint32_t IndexObject(std::uint32_t object) const;

  std::vector<Node> nodes_;
  std::deque<std::string> decoded_;  // stable storage for strings that had escapes
  // Built lazily by searches (logically const): per indexed object, its slot count
  // followed by the slots; a slot holds a key's node number, 0 = empty.
  mutable std::vector<std::uint32_t> index_;
  mutable std::uint64_t probes_ = 0;
  bool over_budget_ = false;
};

// The accessors the event parser calls for every member, inline.
inline JsonKind JsonValue::kind() const { return doc_->nodes_[index_].kind; }

inline std::string_view JsonValue::text() const {
  const auto& n = doc_->nodes_[index_];
  return n.kind == JsonKind::kString || n.kind == JsonKind::kNumber ? n.text() : std::string_view();
}

inline bool JsonValue::is_unsigned_integer() const {
  const auto& n = doc_->nodes_[index_];
  constexpr auto kWant = JsonDocument::kInteger | JsonDocument::kFits;
  return n.kind == JsonKind::kNumber && (n.flags & (kWant | JsonDocument::kNegative)) == kWant;
}

template <class F>
void JsonValue::ForEachMember(F&& f) const {
  const auto& nodes = doc_->nodes_;
  if (nodes[index_].kind != JsonKind::kObject) return;
  for (std::uint32_t k = nodes[index_].first(index_); k != 0;) {
    const std::uint32_t v = nodes[k].next;
    f(nodes[k].text(), v);
    k = nodes[v].next;
  }
}

template <class F>
void JsonValue::ForEachElement(F&& f) const {
  const auto& nodes = doc_->nodes_;
  if (nodes[index_].kind != JsonKind::kArray) return;
  for (std::uint32_t e = nodes[index_].first(index_); e != 0; e = nodes[e].next) f(JsonValue(doc_, e));
}

inline std::uint64_t JsonValue::as_unsigned() const {
  if (!is_unsigned_integer()) return 0;
  const auto& n = doc_->nodes_[index_];
  return (n.flags & JsonDocument::kSmall) != 0 ? n.aux : JsonDocument::Magnitude(n);
}

}  // namespace llmcost
