#pragma once
// IdHashSet: a set of 64-bit id hashes in one flat array (open addressing, linear
// probing, backward-shift deletion), for RequestIdWindow. The window holds up to a
// million ids at 100,000 events/s and replaces its oldest all the time; a
// node-based std::unordered_set allocated, and missed the cache on, every insert
// and erase (a fifth of the live exporter's CPU in `perf record` at 150,000
// events/s). Here an insert or erase touches one or two adjacent cache lines.
//
// The slot of a hash comes from the hash mixed with a per-set random key, so ids
// chosen to collide in the stored (stable, persisted) hash's low bits do not land on
// one probe chain. The table doubles at half full and never shrinks below what it
// held (the window's size bound caps it).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmcost {

class IdHashSet {
 public:
  // key: mixes slot positions; by default a random one per set.
  explicit IdHashSet(std::uint64_t key = RandomKey());

  // True if `h` was not in the set; it is then added.
  bool Insert(std::uint64_t h);
  // True if `h` was in the set; it is then removed.
  bool Erase(std::uint64_t h);
  bool Contains(std::uint64_t h) const;
  std::size_t size() const { return size_ + (has_zero_ ? 1 : 0); }
  std::size_t capacity() const { return slots_.size(); }

  static std::uint64_t RandomKey();

  // splitmix64's finaliser, a bijection in which every input bit moves every output
  // bit: spreads a slot's hash here, and RequestIdWindow::Hash's FNV-1a (whose
  // result is persisted, so this must never change).
  static constexpr std::uint64_t Mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }

 private:
  std::size_t Home(std::uint64_t h) const;
  void Grow();

  // 0 marks an empty slot; the hash 0 itself is kept aside in has_zero_.
  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;  // non-zero hashes held
  bool has_zero_ = false;
  std::uint64_t key_;
};

}  // namespace llmcost
