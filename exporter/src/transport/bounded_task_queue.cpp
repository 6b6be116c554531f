#include "transport/bounded_task_queue.h"

namespace llmcost {
namespace {
thread_local bool t_shedding = false;
}  // namespace

BoundedTaskQueue::BoundedTaskQueue(std::size_t workers, std::size_t max_queued) : max_queued_(max_queued) {
  for (std::size_t i = 0; i < workers; ++i) serve_.threads.emplace_back([this] { Work(serve_, false); });
  shed_.threads.emplace_back([this] { Work(shed_, true); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

bool BoundedTaskQueue::IsShedding() { return t_shedding; }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (serve_.jobs.size() < max_queued_) {
      serve_.jobs.push_back(std::move(fn));
      cv_.notify_all();
      return;
    }
    if (shed_.jobs.size() < max_queued_) {
      shed_.jobs.push_back(std::move(fn));
      cv_.notify_all();
      return;
    }
  }
  t_shedding = true;  // everything is backed up: answer 429 from the accepting thread
  fn();
  t_shedding = false;
}

void BoundedTaskQueue::Work(Lane& lane, bool shedding) {
  t_shedding = shedding;
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !lane.jobs.empty(); });
      if (lane.jobs.empty()) return;  // stopping, and nothing left to finish
      job = std::move(lane.jobs.front());
      lane.jobs.pop_front();
    }
    job();
  }
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto* lane : {&serve_, &shed_}) {
    for (auto& t : lane->threads) {
      if (t.joinable()) t.join();
    }
  }
}

}  // namespace llmcost
