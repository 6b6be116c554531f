#pragma once
// RecordingGate: lets many threads record at once and a checkpoint stop them all
// for an event-consistent snapshot, without one lock word every event touches.
// A reader-writer lock split in cache-line-sized shards: a recording thread takes
// its own shard shared (threads are spread over the shards round-robin), the
// snapshot takes every shard exclusively, in order. One shared_mutex for all
// would put every event of every UDP worker on the same cache line.
#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <shared_mutex>

namespace llmcost {

class RecordingGate {
 public:
  static constexpr std::size_t kShards = 16;

  std::shared_lock<std::shared_mutex> Share() { return std::shared_lock(shards_[ThreadShard()].mu); }

  // Every shard exclusively: no thread records until the returned object is gone.
  class Exclusive {
   public:
    explicit Exclusive(RecordingGate& gate) : gate_(gate) {
      for (auto& s : gate_.shards_) s.mu.lock();
    }
    ~Exclusive() {
      for (auto it = gate_.shards_.rbegin(); it != gate_.shards_.rend(); ++it) it->mu.unlock();
    }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    RecordingGate& gate_;
  };

 private:
  struct alignas(64) Shard {
    std::shared_mutex mu;
  };
  static std::size_t ThreadShard() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }
  std::array<Shard, kShards> shards_;
};

}  // namespace llmcost
