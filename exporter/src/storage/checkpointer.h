#pragma once
// Checkpointer: writes the pipeline's state to the state file every interval on its
// own thread, and once more on shutdown, so that a kill -9 loses at most one
// interval and a SIGTERM loses nothing.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pipeline/event_pipeline.h"
#include "record/exporter_metrics.h"
#include "storage/state_file.h"

namespace llmcost {

class Checkpointer {
 public:
  Checkpointer(EventPipeline& pipeline, StateFile& file, ExporterMetrics& metrics, std::chrono::milliseconds interval);
  ~Checkpointer();

  void Start();
  // Stops the thread and writes a final checkpoint; returns whether it succeeded.
  bool StopAndFlush();
  bool CheckpointNow();

 private:
  void Run();

  EventPipeline& pipeline_;
  StateFile& file_;
  ExporterMetrics& metrics_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex write_mu_;  // one writer at a time: the thread or the final flush
  std::thread thread_;
};

}  // namespace llmcost
