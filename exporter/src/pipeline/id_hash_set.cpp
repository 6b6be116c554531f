#include "pipeline/id_hash_set.h"

#include <random>
#include <utility>

namespace llmcost {
namespace {

constexpr std::size_t kFirstCapacity = 16;  // a power of two

}  // namespace

std::uint64_t IdHashSet::RandomKey() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

IdHashSet::IdHashSet(std::uint64_t key) : slots_(kFirstCapacity, 0), key_(key) {}

std::size_t IdHashSet::Home(std::uint64_t h) const { return Mix(h ^ key_) & (slots_.size() - 1); }

bool IdHashSet::Contains(std::uint64_t h) const {
  if (h == 0) return has_zero_;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = Home(h);; i = (i + 1) & mask) {
    if (slots_[i] == h) return true;
    if (slots_[i] == 0) return false;
  }
}

bool IdHashSet::Insert(std::uint64_t h) {
  if (h == 0) return !std::exchange(has_zero_, true);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = Home(h);
  for (; slots_[i] != 0; i = (i + 1) & mask) {
    if (slots_[i] == h) return false;
  }
  slots_[i] = h;
  if (++size_ * 2 > slots_.size()) Grow();
  return true;
}

bool IdHashSet::Erase(std::uint64_t h) {
  if (h == 0) return std::exchange(has_zero_, false);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = Home(h);
  for (; slots_[i] != h; i = (i + 1) & mask) {
    if (slots_[i] == 0) return false;
  }
  // Backward-shift deletion: move later members of the probe run into the hole
  // when their home slot is at or before it, so no lookup ever stops early.
  for (std::size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = Home(slots_[j]);
    // Is `home` cyclically outside (i, j]? Then slots_[j] may move to i.
    const bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = 0;
  --size_;
  return true;
}

void IdHashSet::Grow() {
  std::vector<std::uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  const std::size_t mask = slots_.size() - 1;
  for (const std::uint64_t h : old) {
    if (h == 0) continue;
    std::size_t i = Home(h);
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
  }
}

}  // namespace llmcost
