#pragma once
// BoundedTaskQueue: httplib's connection queue with a limit. httplib's ThreadPool
// queues accepted connections without bound, so a flood of posts would grow memory
// and latency without bound. Here `workers` threads serve; past `max_queued` waiting
// connections, new ones go to a single shedding thread on which IsShedding() is
// true, so the handler answers 429 + Retry-After at once instead of working. When
// even the shedder is backed up, the accepting thread sheds inline, which slows
// accept() itself: back-pressure down to the kernel's listen backlog.
#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llmcost {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(std::size_t workers, std::size_t max_queued);
  ~BoundedTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // True on the thread that is shedding the current connection.
  static bool IsShedding();

 private:
  struct Lane {
    std::deque<std::function<void()>> jobs;
    std::vector<std::thread> threads;
  };
  void Work(Lane& lane, bool shedding);

  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Lane serve_;
  Lane shed_;
};

}  // namespace llmcost
