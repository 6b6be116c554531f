#pragma once
// UdpListener: one JSON event (or NDJSON) per datagram, read in batches with
// recvmmsg. Clients fire and forget: nothing is ever sent back.
//
// `workers` sockets are bound to the one address with SO_REUSEPORT, each read by
// its own thread, so ingest grows with cores: the kernel spreads senders over the
// sockets by their address and port (one sender's datagrams stay on one socket,
// in order). With one worker the socket is bound without SO_REUSEPORT, as before
// (a second exporter on the same port fails to start instead of sharing it).
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/event_pipeline.h"
#include "transport/listen_address.h"
#include "transport/source_networks.h"

namespace llmcost {

class UdpListener {
 public:
  // Binds immediately; throws std::runtime_error with the reason on failure.
  UdpListener(const ListenAddress& address, EventPipeline& pipeline, int receive_buffer_bytes,
              std::size_t workers = 1);
  ~UdpListener();

  // --udp.allowed-networks: datagrams from other sources are dropped unparsed and
  // counted as rejected (unauthorized). Call before Start(); default allows all.
  void SetAllowedNetworks(SourceNetworks networks) { allowed_ = std::move(networks); }

  // Kernel receive-queue drops (SO_RXQ_OVFL) are reported to `metrics`, each
  // socket's own cumulative count: a flood beyond what the threads can parse shows
  // up as a counter, not as silence.
  void ReportKernelDropsTo(ExporterMetrics* metrics) { drop_metrics_ = metrics; }

  void Start();
  // Stops intake, then reads the socket until its queue is empty: every datagram
  // queued when Stop() is called is processed (SIGTERM loses none). Datagrams that
  // arrive after that are refused by the kernel and counted as kernel drops.
  void Stop();
  // Datagrams read by the shutdown drain (after Stop()).
  std::size_t drained() const;
  int port() const { return port_; }
  std::size_t workers() const { return sockets_.size(); }
  // Datagrams each worker has read (tests: did the kernel spread the senders?).
  std::vector<std::size_t> received() const;

 private:
  struct Socket {
    int fd = -1;
    std::size_t index = 0;  // the socket's slot in the drop counters
    std::atomic<std::size_t> received{0};
    std::size_t drained = 0;  // written by the thread before it ends, read after join
    std::thread thread;
  };
  void Run(Socket& socket);
  void ReportKernelDrops(const Socket& socket);

  EventPipeline& pipeline_;
  SourceNetworks allowed_;
  ExporterMetrics* drop_metrics_ = nullptr;
  std::vector<std::unique_ptr<Socket>> sockets_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace llmcost
