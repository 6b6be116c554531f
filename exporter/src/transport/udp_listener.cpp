#include "transport/udp_listener.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "log/structured_log.h"

namespace llmcost {
namespace {

constexpr std::size_t kBatch = 64;                   // datagrams per recvmmsg
constexpr std::size_t kMaxDatagram = 65507 + 1;      // +1 to see truncation

}  // namespace

UdpListener::UdpListener(const ListenAddress& address, EventPipeline& pipeline, int receive_buffer_bytes)
    : pipeline_(pipeline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  const int rc = getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("udp: cannot resolve '" + address.host + "': " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (ai->ai_family == AF_INET6) {
      const int off = 0;  // ":port" means both IPv4 and IPv6
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (receive_buffer_bytes > 0) {
      // SO_RCVBUF is silently capped at net.core.rmem_max; SO_RCVBUFFORCE is not,
      // where the process may use it (CAP_NET_ADMIN).
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes, sizeof receive_buffer_bytes) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
      }
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);  // drop count with each datagram
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  if (fd_ < 0) throw std::runtime_error("udp: cannot bind " + address.host + ":" + port + ": " + last_error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

UdpListener::~UdpListener() {
  Stop();
  if (fd_ >= 0) close(fd_);
}

void UdpListener::Start() { thread_ = std::thread([this] { Run(); }); }

void UdpListener::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void UdpListener::Run() {
  std::vector<char> buffers(kBatch * kMaxDatagram);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<sockaddr_storage> sources(kBatch);  // filled by recvmmsg for the allow-list
  constexpr std::size_t kControl = CMSG_SPACE(sizeof(std::uint32_t));
  std::vector<char> control(kBatch * kControl);
  for (std::size_t i = 0; i < kBatch; ++i) {
    iov[i] = {buffers.data() + i * kMaxDatagram, kMaxDatagram};
  }
  auto receive = [&]() -> int {  // one recvmmsg pass: datagrams handled, 0 when the queue is empty
    for (std::size_t i = 0; i < kBatch; ++i) {
      std::memset(&msgs[i], 0, sizeof(mmsghdr));
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &sources[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_control = control.data() + i * kControl;
      msgs[i].msg_hdr.msg_controllen = kControl;
    }
    const int n = recvmmsg(fd_, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) return -1;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        Log(LogLevel::kError, "udp receive failed", {{"error", std::strerror(errno)}});
      }
      return 0;
    }
    if (drop_metrics_ != nullptr && n > 0) {
      // The count is cumulative since the socket was created; the newest datagram has the latest.
      msghdr& last = msgs[n - 1].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&last); c != nullptr; c = CMSG_NXTHDR(&last, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          std::uint32_t dropped = 0;
          std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
          drop_metrics_->UdpKernelDrops(dropped);
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      if (!allowed_.Allows(reinterpret_cast<const sockaddr*>(&sources[i]))) {
        pipeline_.RejectWhole(Transport::kUdp, EventError{0, "", RejectReason::kUnauthorized,
                                                          "source address not in --udp.allowed-networks"});
        continue;
      }
      const std::size_t len = msgs[i].msg_len;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len >= kMaxDatagram) {
        pipeline_.RejectWhole(Transport::kUdp,
                              EventError{0, "", RejectReason::kTooLarge, "datagram larger than 65507 bytes"});
        continue;
      }
      pipeline_.Ingest(std::string_view(buffers.data() + i * kMaxDatagram, len), Transport::kUdp, 0);
    }
    return n;
  };

  while (!stopping_.load(std::memory_order_relaxed)) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, 200);  // wake up to notice Stop()
    if (ready == 0) ReportKernelDrops();  // idle: drops after the last datagram show up too
    if (ready <= 0) continue;
    receive();
  }

  // Shutdown: what is already queued was sent before we stopped and is counted.
  // A socket filter refusing everything stops new datagrams from queueing (the
  // kernel counts them as drops, reported below), so the drain ends even under a
  // flood; then the queue is read until empty.
  sock_filter refuse_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog program{1, refuse_all};
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    Log(LogLevel::kWarn, "udp: cannot stop intake for the shutdown drain; draining what arrives meanwhile",
        {{"error", std::strerror(errno)}});
  }
  // Bounded all the same, in case the filter could not be attached and a flood goes on.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t drained = 0;
  for (int n; (n = receive()) != 0;) {
    if (n > 0) drained += static_cast<std::size_t>(n);
    if (std::chrono::steady_clock::now() > give_up) {
      Log(LogLevel::kWarn, "udp: shutdown drain stopped after 10 s; datagrams still arriving are not counted",
          {{"drained", std::to_string(drained)}});
      break;
    }
  }
  ReportKernelDrops();
  drained_ = drained;
}

void UdpListener::ReportKernelDrops() {
  if (drop_metrics_ == nullptr) return;
  // SO_MEMINFO's drop count is the one SO_RXQ_OVFL reports, without waiting for a datagram.
  std::uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, info, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(std::uint32_t)) {
    drop_metrics_->UdpKernelDrops(info[SK_MEMINFO_DROPS]);
  }
}

}  // namespace llmcost
