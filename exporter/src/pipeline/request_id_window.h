#pragma once
// RequestIdWindow: the request ids already counted, so a client or queue can retry
// a POST without double-counting spend. Bounded in both time (ids older than
// `max_age_seconds` are forgotten) and size (the oldest ids go first past
// `max_ids`). Ids are kept as 64-bit hashes: 1,000,000 ids take ~50 MiB, and the
// chance that two different ids collide in a full window is about 3e-8.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace llmcost {

class RequestIdWindow {
 public:
  RequestIdWindow(std::size_t max_ids, std::int64_t max_age_seconds);

  // True if `id` was not seen within the window; it is then remembered.
  bool FirstSeen(std::string_view id, std::int64_t now_seconds);

  std::size_t size() const;

  // Stable across runs and versions: what the state file stores.
  static std::uint64_t Hash(std::string_view id);

  // (seen time, hash), oldest first.
  std::vector<std::pair<std::int64_t, std::uint64_t>> Entries() const;
  void Restore(const std::vector<std::pair<std::int64_t, std::uint64_t>>& entries, std::int64_t now_seconds);

 private:
  void Evict(std::int64_t now_seconds);

  const std::size_t max_ids_;
  const std::int64_t max_age_;
  mutable std::mutex mu_;
  std::unordered_set<std::uint64_t> ids_;
  std::deque<std::pair<std::int64_t, std::uint64_t>> order_;
};

}  // namespace llmcost
