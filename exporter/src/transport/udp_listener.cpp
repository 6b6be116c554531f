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

namespace {

// A UDP socket for `ai`, options set, bound; -1 and `error` on failure.
int BindSocket(const sockaddr* addr, socklen_t addr_len, int family, int receive_buffer_bytes, bool reuse_port,
               std::string& error) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  if (family == AF_INET6) {
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
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    error = std::string("SO_REUSEPORT: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (bind(fd, addr, addr_len) != 0) {
    error = std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

UdpListener::UdpListener(const ListenAddress& address, EventPipeline& pipeline, int receive_buffer_bytes,
                         std::size_t workers)
    : pipeline_(pipeline) {
  if (workers == 0) workers = 1;
  const bool reuse_port = workers > 1;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  const int rc = getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("udp: cannot resolve '" + address.host + "': " + gai_strerror(rc));
  std::string last_error = "no address";
  int first = -1;
  int family = AF_UNSPEC;
  for (addrinfo* ai = res; ai != nullptr && first < 0; ai = ai->ai_next) {
    first = BindSocket(ai->ai_addr, ai->ai_addrlen, ai->ai_family, receive_buffer_bytes, reuse_port, last_error);
    family = ai->ai_family;
  }
  freeaddrinfo(res);
  if (first < 0) throw std::runtime_error("udp: cannot bind " + address.host + ":" + port + ": " + last_error);
  // The others bind where the first one did (its port, when the flag said :0).
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(first, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  auto add = [this](int fd) {
    auto s = std::make_unique<Socket>();
    s->fd = fd;
    s->index = sockets_.size();
    sockets_.push_back(std::move(s));
  };
  add(first);
  for (std::size_t i = 1; i < workers; ++i) {
    const int fd = BindSocket(reinterpret_cast<const sockaddr*>(&bound), len, family, receive_buffer_bytes, true,
                              last_error);
    if (fd < 0) {
      for (auto& s : sockets_) close(s->fd);
      throw std::runtime_error("udp: cannot bind worker socket " + std::to_string(i + 1) + " of " +
                               std::to_string(workers) + " to " + address.host + ":" + std::to_string(port_) + ": " +
                               last_error);
    }
    add(fd);
  }
}

UdpListener::~UdpListener() {
  Stop();
  for (auto& s : sockets_) close(s->fd);
}

void UdpListener::Start() {
  for (auto& s : sockets_) {
    Socket* socket = s.get();
    socket->thread = std::thread([this, socket] { Run(*socket); });
  }
}

void UdpListener::Stop() {
  stopping_.store(true);
  for (auto& s : sockets_) {
    if (s->thread.joinable()) s->thread.join();
  }
}

std::size_t UdpListener::drained() const {
  std::size_t n = 0;
  for (const auto& s : sockets_) n += s->drained;
  return n;
}

std::vector<std::size_t> UdpListener::received() const {
  std::vector<std::size_t> r;
  for (const auto& s : sockets_) r.push_back(s->received.load(std::memory_order_relaxed));
  return r;
}

void UdpListener::Run(Socket& socket) {
  const int fd = socket.fd;
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
    const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
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
          drop_metrics_->UdpKernelDrops(socket.index, dropped);
        }
      }
    }
    socket.received.fetch_add(static_cast<std::size_t>(n), std::memory_order_relaxed);
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
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 200);  // wake up to notice Stop()
    if (ready == 0) ReportKernelDrops(socket);  // idle: drops after the last datagram show up too
    if (ready <= 0) continue;
    receive();
  }

  // Shutdown: what is already queued was sent before we stopped and is counted.
  // A socket filter refusing everything stops new datagrams from queueing (the
  // kernel counts them as drops, reported below), so the drain ends even under a
  // flood; then the queue is read until empty.
  sock_filter refuse_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog program{1, refuse_all};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
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
  ReportKernelDrops(socket);
  socket.drained = drained;
}

void UdpListener::ReportKernelDrops(const Socket& socket) {
  if (drop_metrics_ == nullptr) return;
  // SO_MEMINFO's drop count is the one SO_RXQ_OVFL reports, without waiting for a datagram.
  std::uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (getsockopt(socket.fd, SOL_SOCKET, SO_MEMINFO, info, &len) == 0 &&
      len > SK_MEMINFO_DROPS * sizeof(std::uint32_t)) {
    drop_metrics_->UdpKernelDrops(socket.index, info[SK_MEMINFO_DROPS]);
  }
}

}  // namespace llmcost
