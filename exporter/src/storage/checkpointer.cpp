#include "storage/checkpointer.h"

#include "log/structured_log.h"

namespace llmcost {

Checkpointer::Checkpointer(EventPipeline& pipeline, StateFile& file, ExporterMetrics& metrics,
                           std::chrono::milliseconds interval)
    : pipeline_(pipeline), file_(file), metrics_(metrics), interval_(interval) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::Start() { thread_ = std::thread([this] { Run(); }); }

bool Checkpointer::CheckpointNow() {
  std::lock_guard lock(write_mu_);
  try {
    const auto started = std::chrono::steady_clock::now();
    file_.Save(pipeline_.Snapshot());
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    metrics_.CheckpointWritten(std::chrono::duration<double>(now).count());
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (took > 1.0) Log(LogLevel::kWarn, "slow state checkpoint", {{"seconds", std::to_string(took)}});
    return true;
  } catch (const std::exception& e) {
    metrics_.CheckpointFailed();
    Log(LogLevel::kError, "state checkpoint failed; the previous one is kept",
        {{"file", file_.path()}, {"error", e.what()}});
    return false;
  }
}

void Checkpointer::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) break;
    lock.unlock();
    CheckpointNow();
    lock.lock();
  }
}

bool Checkpointer::StopAndFlush() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return CheckpointNow();
}

}  // namespace llmcost
