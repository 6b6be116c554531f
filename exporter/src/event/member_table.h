#pragma once
// MemberTable: the member names a reader looks for, each with a slot number, and
// the lookup of a sender's member name among them. The event parser walks every
// object once and files each member it knows under its slot (the last of repeated
// names wins, as JsonValue::Find); unknown names are skipped. This replaced ~31
// searches per event, most of them for absent names (a third of the time per event).
//
// Hash flooding (docs/reliability.md): a name is bucketed by its length and first and
// last bytes, but only the table's own names are ever in a bucket; a sender's name is
// compared with at most the names of one bucket (LongestBucket(), a property of the
// configuration, 1 or 2 for the defaults), whatever names the sender picks.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmcost {

class MemberTable {
 public:
  static constexpr int kNone = -1;

  // Adds `name` (or finds it, if already added) and returns its slot.
  int Add(std::string_view name);

  // The slot of `name`, or kNone.
  int Lookup(std::string_view name) const {
    const std::uint32_t b = Bucket(name);
    for (std::uint32_t i = start_[b]; i != start_[b + 1]; ++i) {
      const Entry& e = entries_[i];
      if (e.size == name.size() && Same(chars_.data() + e.at, name.data(), name.size())) return e.slot;
    }
    return kNone;
  }

  std::size_t size() const { return names_.size(); }
  const std::string& name(int slot) const { return names_[static_cast<std::size_t>(slot)]; }
  // The most names any one lookup compares with.
  std::size_t LongestBucket() const;

 private:
  static constexpr std::uint32_t kBuckets = 256;
  static std::uint32_t Bucket(std::string_view name) {
    if (name.empty()) return 0;
    const auto first = static_cast<unsigned char>(name.front());
    const auto last = static_cast<unsigned char>(name.back());
    return (static_cast<std::uint32_t>(name.size()) * 37u + first * 7u + last) & (kBuckets - 1);
  }
  void Rebuild();
  // memcmp for the short names of events, inline: 8 bytes at a time, the last
  // (possibly overlapping) 8 for the tail.
  static bool Same(const char* a, const char* b, std::size_t n) {
    if (n < 8) {
      for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
      }
      return true;
    }
    std::uint64_t x, y;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }

  struct Entry {
    std::uint32_t at;  // the name's bytes in chars_ (offsets: a copied table stays valid)
    std::uint32_t size;
    int slot;
  };
  std::vector<std::string> names_;
  std::string chars_;  // every name, back to back
  std::vector<Entry> entries_;                   // grouped by bucket
  std::array<std::uint32_t, kBuckets + 1> start_{};  // bucket b: entries_[start_[b], start_[b+1])
};

}  // namespace llmcost
