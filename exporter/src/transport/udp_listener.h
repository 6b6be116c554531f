#pragma once
// UdpListener: one JSON event (or NDJSON) per datagram, read in batches with
// recvmmsg on one thread. Clients fire and forget: nothing is ever sent back.
#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "pipeline/event_pipeline.h"
#include "transport/listen_address.h"
#include "transport/source_networks.h"

namespace llmcost {

class UdpListener {
 public:
  // Binds immediately; throws std::runtime_error with the reason on failure.
  UdpListener(const ListenAddress& address, EventPipeline& pipeline, int receive_buffer_bytes);
  ~UdpListener();

  // --udp.allowed-networks: datagrams from other sources are dropped unparsed and
  // counted as rejected (unauthorized). Call before Start(); default allows all.
  void SetAllowedNetworks(SourceNetworks networks) { allowed_ = std::move(networks); }

  // Kernel receive-queue drops (SO_RXQ_OVFL) are reported to `metrics`: a flood
  // beyond what one thread can parse shows up as a counter, not as silence.
  void ReportKernelDropsTo(ExporterMetrics* metrics) { drop_metrics_ = metrics; }

  void Start();
  // Stops intake, then reads the socket until its queue is empty: every datagram
  // queued when Stop() is called is processed (SIGTERM loses none). Datagrams that
  // arrive after that are refused by the kernel and counted as kernel drops.
  void Stop();
  // Datagrams read by the shutdown drain (after Stop()).
  std::size_t drained() const { return drained_; }
  int port() const { return port_; }

 private:
  void Run();
  void ReportKernelDrops();

  EventPipeline& pipeline_;
  SourceNetworks allowed_;
  ExporterMetrics* drop_metrics_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::size_t drained_ = 0;  // written by the thread before it ends, read after join
  std::thread thread_;
};

}  // namespace llmcost
