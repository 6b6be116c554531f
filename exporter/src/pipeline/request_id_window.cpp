#include "pipeline/request_id_window.h"

namespace llmcost {

RequestIdWindow::RequestIdWindow(std::size_t max_ids, std::int64_t max_age_seconds)
    : max_ids_(max_ids), max_age_(max_age_seconds) {}

std::uint64_t RequestIdWindow::Hash(std::string_view id) {
  // FNV-1a, then the splitmix64 finaliser to spread the bits.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void RequestIdWindow::Evict(std::int64_t now_seconds) {
  while (!order_.empty() && (order_.size() > max_ids_ || order_.front().first <= now_seconds - max_age_)) {
    ids_.erase(order_.front().second);
    order_.pop_front();
  }
}

bool RequestIdWindow::FirstSeen(std::string_view id, std::int64_t now_seconds) {
  if (max_ids_ == 0) return true;
  const std::uint64_t h = Hash(id);
  std::lock_guard lock(mu_);
  Evict(now_seconds);
  if (!ids_.insert(h).second) return false;
  order_.emplace_back(now_seconds, h);
  Evict(now_seconds);
  return true;
}

std::size_t RequestIdWindow::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

std::vector<std::pair<std::int64_t, std::uint64_t>> RequestIdWindow::Entries() const {
  std::lock_guard lock(mu_);
  return {order_.begin(), order_.end()};
}

void RequestIdWindow::Restore(const std::vector<std::pair<std::int64_t, std::uint64_t>>& entries,
                              std::int64_t now_seconds) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries) {
    if (ids_.insert(e.second).second) order_.push_back(e);
  }
  Evict(now_seconds);
}

}  // namespace llmcost
