#include "event/member_table.h"

#include <algorithm>

namespace llmcost {

int MemberTable::Add(std::string_view name) {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int>(i);
  }
  names_.emplace_back(name);
  Rebuild();
  return static_cast<int>(names_.size() - 1);
}

void MemberTable::Rebuild() {
  entries_.clear();
  chars_.clear();
  start_.fill(0);
  for (const std::string& n : names_) ++start_[Bucket(n) + 1];
  for (std::uint32_t b = 0; b < kBuckets; ++b) start_[b + 1] += start_[b];
  entries_.resize(names_.size());
  std::array<std::uint32_t, kBuckets> fill{};
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const std::uint32_t b = Bucket(names_[i]);
    entries_[start_[b] + fill[b]++] = Entry{static_cast<std::uint32_t>(chars_.size()),
                                            static_cast<std::uint32_t>(names_[i].size()), static_cast<int>(i)};
    chars_ += names_[i];
  }
}

std::size_t MemberTable::LongestBucket() const {
  std::size_t longest = 0;
  for (std::uint32_t b = 0; b < kBuckets; ++b) longest = std::max<std::size_t>(longest, start_[b + 1] - start_[b]);
  return longest;
}

}  // namespace llmcost
