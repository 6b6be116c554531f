#pragma once
// RequestIdWindow: the request ids already counted, so a client or queue can retry
// a POST without double-counting spend. Bounded in both time (ids older than
// `max_age_seconds` are forgotten) and size (the oldest ids go first past
// `max_ids`). Ids are kept as 64-bit hashes in a flat table (IdHashSet) beside
// their arrival order: 1,000,000 ids take ~33 MiB (16-32 bytes an id in the table,
// 16 in the queue), and the chance that two different ids collide in a full window
// is about 3e-8.
//
// Every event with an id passes through here, from every ingest thread: a large
// window is split in shards by the id's hash, each with its own lock, oldest-first
// eviction and an equal share of max_ids (so "the oldest go first" holds per
// shard: at most a shard's share of ids is remembered in each). A small window
// (under kMinIdsPerShard x kShards ids) is one shard, exactly as configured.
#include <array>
#include <cstdint>
#include <memory>
#include <deque>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/id_hash_set.h"

namespace llmcost {

class RequestIdWindow {
 public:
  RequestIdWindow(std::size_t max_ids, std::int64_t max_age_seconds);

  // True if `id` was not seen within the window; it is then remembered.
  bool FirstSeen(std::string_view id, std::int64_t now_seconds);

  std::size_t size() const;

  // Stable across runs and versions: what the state file stores.
  static std::uint64_t Hash(std::string_view id);

  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMinIdsPerShard = 4096;

  // (seen time, hash), oldest first.
  std::vector<std::pair<std::int64_t, std::uint64_t>> Entries() const;
  void Restore(const std::vector<std::pair<std::int64_t, std::uint64_t>>& entries, std::int64_t now_seconds);

 private:
  struct alignas(64) Shard {
    std::size_t max_ids = 0;
    mutable std::mutex mu;
    IdHashSet ids;
    std::deque<std::pair<std::int64_t, std::uint64_t>> order;
    void Evict(std::int64_t now_seconds, std::int64_t max_age);
  };
  Shard& ShardFor(std::uint64_t hash) { return shards_[hash % shards_.size()]; }

  const std::size_t max_ids_;
  const std::int64_t max_age_;
  std::vector<Shard> shards_;
};

}  // namespace llmcost
