#pragma once
// UdpListener: one JSON event (or NDJSON) per datagram, read in batches with
// recvmmsg on one thread. Clients fire and forget: nothing is ever sent back.
#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "pipeline/event_pipeline.h"
#include "transport/listen_address.h"

namespace llmcost {

class UdpListener {
 public:
  // Binds immediately; throws std::runtime_error with the reason on failure.
  UdpListener(const ListenAddress& address, EventPipeline& pipeline, int receive_buffer_bytes);
  ~UdpListener();

  void Start();
  void Stop();
  int port() const { return port_; }

 private:
  void Run();

  EventPipeline& pipeline_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace llmcost
