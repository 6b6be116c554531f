#include "pipeline/request_id_window.h"

#include <algorithm>

namespace llmcost {

std::uint64_t RequestIdWindow::Hash(std::string_view id) {
  // FNV-1a, then the splitmix64 finaliser to spread the bits.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return IdHashSet::Mix(h);
}

RequestIdWindow::RequestIdWindow(std::size_t max_ids, std::int64_t max_age_seconds)
    : max_ids_(max_ids),
      max_age_(max_age_seconds),
      shards_(max_ids >= kMinIdsPerShard * kShards ? kShards : 1) {
  // Equal shares; the first shards take the remainder.
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    shards_[i].max_ids = max_ids / shards_.size() + (i < max_ids % shards_.size() ? 1 : 0);
  }
}

void RequestIdWindow::Shard::Evict(std::int64_t now_seconds, std::int64_t max_age) {
  while (!order.empty() && (order.size() > max_ids || order.front().first <= now_seconds - max_age)) {
    ids.Erase(order.front().second);
    order.pop_front();
  }
}

bool RequestIdWindow::FirstSeen(std::string_view id, std::int64_t now_seconds) {
  if (max_ids_ == 0) return true;
  const std::uint64_t h = Hash(id);
  Shard& shard = ShardFor(h);
  std::lock_guard lock(shard.mu);
  shard.Evict(now_seconds, max_age_);
  if (!shard.ids.Insert(h)) return false;
  shard.order.emplace_back(now_seconds, h);
  shard.Evict(now_seconds, max_age_);
  return true;
}

std::size_t RequestIdWindow::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.order.size();
  }
  return n;
}

std::vector<std::pair<std::int64_t, std::uint64_t>> RequestIdWindow::Entries() const {
  std::vector<std::pair<std::int64_t, std::uint64_t>> all;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    all.insert(all.end(), shard.order.begin(), shard.order.end());
  }
  // Oldest first across shards, as one window would list them (the state file's order).
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return all;
}

void RequestIdWindow::Restore(const std::vector<std::pair<std::int64_t, std::uint64_t>>& entries,
                              std::int64_t now_seconds) {
  for (const auto& e : entries) {
    Shard& shard = ShardFor(e.second);
    std::lock_guard lock(shard.mu);
    if (shard.ids.Insert(e.second)) shard.order.push_back(e);
  }
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    shard.Evict(now_seconds, max_age_);
  }
}

}  // namespace llmcost
