#include "transport/http_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "log/structured_log.h"

namespace llmcost {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kListenId = 0;
constexpr std::uint64_t kWakeId = 1;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kReadPerEvent = 256 * 1024;  // then other connections get a turn
constexpr auto kScanEvery = std::chrono::milliseconds(100);
constexpr auto kStopGrace = std::chrono::seconds(2);

std::string OpenSslError() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int AcceptAnyClientCert(int, X509_STORE_CTX*) { return 1; }

std::string TlsVersionName(int v) {
  switch (v) {
    case TLS1_VERSION: return "TLS10";
    case TLS1_1_VERSION: return "TLS11";
    case TLS1_2_VERSION: return "TLS12";
    case TLS1_3_VERSION: return "TLS13";
  }
  return std::to_string(v);
}

// True when a client speaking only `version` completes a handshake with this
// server context: an in-memory handshake (BIO pair), the client at security level
// 0 so that only the server's own settings decide.
bool VersionUsable(SSL_CTX* server_ctx, int version) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  if (cctx == nullptr) return false;
  SSL_CTX_set_security_level(cctx, 0);
  SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(cctx, version);
  SSL_CTX_set_max_proto_version(cctx, version);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new(server_ctx);
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  bool ok = false;
  if (client && server && BIO_new_bio_pair(&cb, 0, &sb, 0) == 1) {
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_verify(server, SSL_VERIFY_NONE, nullptr);  // client certificates are not what is probed
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    bool client_done = false, server_done = false, failed = false;
    for (int round = 0; round < 32 && !failed && !(client_done && server_done); ++round) {
      for (SSL* end : {client, server}) {
        bool& done = end == client ? client_done : server_done;
        if (done) continue;
        const int rc = SSL_do_handshake(end);
        if (rc == 1) {
          done = true;
        } else if (const int err = SSL_get_error(end, rc); err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          failed = true;
        }
      }
    }
    ok = client_done && server_done;
  }
  if (client) SSL_free(client);
  if (server) SSL_free(server);
  SSL_CTX_free(cctx);
  ERR_clear_error();
  return ok;
}

// The SSL_CTX for tls_server_config; throws with the file and reason.
SSL_CTX* MakeSslContext(const std::string& name, const TlsServerConfig& t) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) throw std::runtime_error(name + ": TLS: " + OpenSslError());
  auto fail = [&](const std::string& what) {
    SSL_CTX_free(ctx);
    return std::runtime_error(name + ": --web.config.file tls_server_config: " + what);
  };
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_RENEGOTIATION |
                               (t.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_min_proto_version(ctx, t.min_version) != 1 || SSL_CTX_set_max_proto_version(ctx, t.max_version) != 1) {
    throw fail("TLS version range: " + OpenSslError());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) != 1) {
    throw fail("cert_file '" + t.cert_file + "': " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw fail("key_file '" + t.key_file + "': " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw fail("key_file '" + t.key_file + "' does not match cert_file '" + t.cert_file + "'");
  }
  if (!t.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, t.client_ca_file.c_str(), nullptr) != 1) {
      throw fail("client_ca_file '" + t.client_ca_file + "': " + OpenSslError());
    }
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(t.client_ca_file.c_str()));
  }
  switch (t.client_auth) {
    case ClientAuthType::kNoClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuthType::kRequestClientCert:  // asked for, never checked (Go semantics)
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyClientCert);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyClientCert);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  // min_version: TLS10/TLS11 used to start a listener that no TLS 1.0/1.1 client
  // could use (OpenSSL's security level disables them): refuse to start instead,
  // saying so, rather than silently serving a narrower range than configured.
  if (!VersionUsable(ctx, t.min_version)) {
    throw fail("min_version " + TlsVersionName(t.min_version) + " cannot be negotiated by this OpenSSL " +
               "at its security level " + std::to_string(SSL_CTX_get_security_level(ctx)) +
               " (no client at that version could connect); set min_version: TLS12 or TLS13");
  }
  return ctx;
}

// Binds without SO_REUSEPORT: a second exporter on the same address must fail
// here, not share the port with the first one.
int BindListener(const std::string& name, const ListenAddress& address, int& port_out) {
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  const std::string where = name + ": cannot listen on " + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                            ":" + std::to_string(address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(address.port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error(where + ": " + gai_strerror(rc));
  }
  int fd = -1;
  int error = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // restart past TIME_WAIT; not sharing
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) break;
    error = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    std::string reason = std::strerror(error);
    if (error == EADDRINUSE) {
      // Also when a server without SO_REUSEADDR (an exporter built on cpp-httplib's
      // server) stopped under 60 s ago: its connections' TIME_WAIT still holds the port.
      reason += " (another process, perhaps another llm-cost-exporter, listens there, or one stopped "
                "under a minute ago left connections in TIME_WAIT)";
    }
    throw std::runtime_error(where + ": " + reason);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_out = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

}  // namespace

struct HttpListener::Conn {
  enum class State { kHandshake, kReading, kDispatched, kWriting };
  std::uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::kReading;
  Clock::time_point deadline;
  std::uint32_t interest = 0;
  bool want_write = false;  // TLS: a read needs the socket writable first
  bool started = false;     // some bytes of the current request arrived
  bool admitted = false;    // admit() ran for the current request
  bool sent_continue = false;
  bool head = false;        // the request being answered is a HEAD
  std::string in;
  ReadProgress progress;
  std::size_t charged = 0;
  std::string out;
  std::size_t out_off = 0;
  bool close_after = false;
};

HttpListener::HttpListener(std::string name, const ListenAddress& address, const TlsServerConfig* tls,
                           ListenerLimits limits, HttpService service)
    : name_(std::move(name)), limits_(limits), service_(std::move(service)) {
  request_limits_.max_header_bytes = limits_.max_header_bytes;
  request_limits_.max_headers = limits_.max_headers;
  request_limits_.body_rule = service_.body_rule;
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    limits_.max_connections = std::min<std::size_t>(limits_.max_connections, std::max<rlim_t>(16, nofile.rlim_cur / 2));
  }
  if (tls != nullptr) ssl_ctx_ = MakeSslContext(name_, *tls);
  try {
    listen_fd_ = BindListener(name_, address, port_);
  } catch (...) {
    if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
    throw;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

HttpListener::~HttpListener() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
}

void HttpListener::Start() {
  if (started_) return;
  started_ = true;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, limits_.workers); ++i) workers_.emplace_back([this] { Work(); });
  loop_thread_ = std::thread([this] { Loop(); });
}

void HttpListener::Stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  if (loop_thread_.joinable()) loop_thread_.join();
  {
    // Requests not started within the grace period are dropped, not run: their
    // connections are closed unanswered, so a client retries them (nothing counted).
    std::lock_guard<std::mutex> lock(mu_);
    workers_stop_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void HttpListener::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return workers_stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    HttpResponse response;
    try {
      response = service_.handle(job.request);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "HTTP handler failed", {{"listener", name_}, {"path", job.request.path}, {"error", e.what()}});
      response = HttpResponse{};
      response.status = 500;
      response.Content("internal error\n", "text/plain; charset=utf-8");
    }
    for (const auto& h : service_.headers) response.headers.push_back(h);
    const bool close = response.close || !job.request.keep_alive;
    Done done{job.conn, SerializeResponse(response, job.request.method == "HEAD", close), close};
    job.request = HttpRequest{};  // the body's memory goes now, not with the next job
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(done));
    }
    const std::uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void HttpListener::Loop() {
  std::vector<epoll_event> events(256);
  auto last_scan = Clock::now();
  bool accepting = true;
  Clock::time_point stop_by{};
  for (;;) {
    if (stopping_ && accepting) {
      accepting = false;
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      close(listen_fd_);  // new connections are refused now, not left in the backlog
      listen_fd_ = -1;
      stop_by = Clock::now() + kStopGrace;
      std::vector<std::uint64_t> idle;
      for (const auto& [id, c] : conns_) {
        if (c->state != Conn::State::kDispatched && c->state != Conn::State::kWriting) idle.push_back(id);
      }
      for (auto id : idle) Close(id);
    }
    if (!accepting) {
      bool busy = false;
      for (const auto& [id, c] : conns_) busy |= c->state == Conn::State::kDispatched || c->state == Conn::State::kWriting;
      if (!busy || Clock::now() > stop_by) break;
    }
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), again_.empty() ? 100 : 0);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == kListenId) {
        if (accepting) Accept();
      } else if (id == kWakeId) {
        std::uint64_t count;
        (void)!read(wake_fd_, &count, sizeof count);
        DrainDone();
      } else if (auto it = conns_.find(id); it != conns_.end()) {
        Pump(*it->second, events[i].events);
      }
    }
    if (!again_.empty()) {
      std::vector<std::uint64_t> again;
      again.swap(again_);
      for (auto id : again) {
        if (auto it = conns_.find(id); it != conns_.end() && it->second->state == Conn::State::kReading) {
          ReadPhase(*it->second);
        }
      }
    }
    if (Clock::now() - last_scan >= kScanEvery) {
      last_scan = Clock::now();
      ExpireDeadlines();
    }
  }
  std::vector<std::uint64_t> all;
  for (const auto& [id, c] : conns_) all.push_back(id);
  for (auto id : all) Close(id);
}

void HttpListener::Accept() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors: retried on the next wake-up
    }
    if (conns_.size() >= limits_.max_connections) {
      close(fd);  // at the cap: refuse rather than grow
      continue;
    }
    const int yes = 1;
    // Headers and body go out in one write, but the client's next request should
    // not wait for a delayed ACK either.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    const auto now = Clock::now();
    if (ssl_ctx_) {
      c->ssl = SSL_new(ssl_ctx_);
      if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
        if (c->ssl) SSL_free(c->ssl);
        close(fd);
        ERR_clear_error();
        continue;
      }
      SSL_set_accept_state(c->ssl);
      c->state = Conn::State::kHandshake;
      c->deadline = now + limits_.handshake_timeout;
    } else {
      c->state = Conn::State::kReading;
      c->deadline = now + limits_.idle_timeout;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    c->interest = EPOLLIN;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_.emplace(c->id, std::move(c));
  }
}

void HttpListener::SetInterest(Conn& c, std::uint32_t events) {
  if (c.interest == events) return;
  c.interest = events;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void HttpListener::Charge(Conn& c) {
  buffered_ = buffered_ - c.charged + c.in.size();
  c.charged = c.in.size();
}

void HttpListener::Close(std::uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  buffered_ -= c.charged;
  if (c.ssl) {
    SSL_shutdown(c.ssl);  // best effort, non-blocking
    SSL_free(c.ssl);
    ERR_clear_error();
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  conns_.erase(it);
}

void HttpListener::Pump(Conn& c, std::uint32_t events) {
  if ((events & (EPOLLERR | EPOLLHUP)) && c.state != Conn::State::kWriting && !(events & EPOLLIN)) {
    Close(c.id);
    return;
  }
  switch (c.state) {
    case Conn::State::kHandshake: {
      ERR_clear_error();
      const int rc = SSL_accept(c.ssl);
      if (rc == 1) {
        c.state = Conn::State::kReading;
        c.deadline = Clock::now() + limits_.idle_timeout;
        SetInterest(c, EPOLLIN);
        ReadPhase(c);
        return;
      }
      const int err = SSL_get_error(c.ssl, rc);
      if (err == SSL_ERROR_WANT_READ) {
        SetInterest(c, EPOLLIN);
      } else if (err == SSL_ERROR_WANT_WRITE) {
        SetInterest(c, EPOLLOUT);
      } else {
        Close(c.id);  // a failed handshake (wrong version, no client cert): the client sees the alert
      }
      return;
    }
    case Conn::State::kReading:
      ReadPhase(c);
      return;
    case Conn::State::kWriting:
      WritePhase(c);
      return;
    case Conn::State::kDispatched:
      return;
  }
}

void HttpListener::ReadPhase(Conn& c) {
  const std::uint64_t id = c.id;
  std::size_t read_now = 0;
  bool eof = false;
  char buf[kReadChunk];
  while (read_now < kReadPerEvent) {
    ssize_t n;
    if (c.ssl) {
      ERR_clear_error();
      n = SSL_read(c.ssl, buf, sizeof buf);
      if (n <= 0) {
        const int err = SSL_get_error(c.ssl, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ) {
          c.want_write = false;
          break;
        }
        if (err == SSL_ERROR_WANT_WRITE) {
          c.want_write = true;
          break;
        }
        eof = true;
        break;
      }
    } else {
      n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        eof = true;
        break;
      }
      if (n == 0) {
        eof = true;
        break;
      }
    }
    if (!c.started) {
      c.started = true;
      c.deadline = Clock::now() + limits_.request_timeout;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
    read_now += static_cast<std::size_t>(n);
    if (c.ssl && SSL_pending(c.ssl) == 0 && static_cast<std::size_t>(n) < sizeof buf) break;
  }
  if (read_now >= kReadPerEvent) again_.push_back(id);
  Charge(c);
  if (buffered_ > limits_.buffer_budget_bytes) {
    // Never buffer past the budget shared by all connections: the request that
    // would is answered as overloaded instead (the client retries).
    const RequestRead head = ReadRequest(c.in, request_limits_);
    Respond(c, service_.overloaded(head.headers_done ? &head.request : nullptr), false, true);
    return;
  }
  if (!c.in.empty()) Parse(c);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& now = *it->second;
  if (eof && now.state == Conn::State::kReading) {
    Close(id);  // the client closed before a complete request: nothing to answer
    return;
  }
  if (now.state == Conn::State::kReading) SetInterest(now, now.want_write ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

void HttpListener::Parse(Conn& c) {
  RequestRead r = ReadRequest(c.in, request_limits_, &c.progress);
  if (r.status == ReadStatus::kRefused) {
    HttpResponse response = service_.refuse(r.headers_done || !r.request.method.empty() ? &r.request : nullptr, r.failure);
    Respond(c, std::move(response), r.request.method == "HEAD", true);  // the rest of the stream cannot be trusted
    return;
  }
  if (r.headers_done && !c.admitted) {
    c.admitted = true;
    if (service_.admit) {
      if (std::optional<HttpResponse> refusal = service_.admit(r.request)) {
        // The body is never read: close rather than parse it as the next request.
        Respond(c, std::move(*refusal), r.request.method == "HEAD", true);
        return;
      }
    }
  }
  if (r.status == ReadStatus::kIncomplete) {
    if (r.expect_continue && !c.sent_continue) {
      c.sent_continue = true;
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (c.ssl) {
        SSL_write(c.ssl, kContinue, sizeof kContinue - 1);  // small: fits the socket buffer
      } else {
        (void)!send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL);
      }
    }
    return;
  }
  // Complete. Keep only the bytes after it, in a fresh (small) buffer, so that a
  // large body's memory is not kept for the connection's lifetime.
  std::string rest = c.in.substr(r.consumed);
  c.in.swap(rest);
  c.progress = {};
  Charge(c);
  c.head = r.request.method == "HEAD";
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.size() < limits_.max_queued) {
      jobs_.push_back(Job{c.id, std::move(r.request)});
      queued = true;
    }
  }
  if (!queued) {
    Respond(c, service_.overloaded(&r.request), c.head, !r.request.keep_alive);
    return;
  }
  cv_.notify_one();
  c.state = Conn::State::kDispatched;
  SetInterest(c, 0);  // pipelined bytes wait in the kernel until this one is answered
}

void HttpListener::Respond(Conn& c, HttpResponse response, bool head, bool close) {
  for (const auto& h : service_.headers) response.headers.push_back(h);
  close = close || response.close;
  c.out = SerializeResponse(response, head, close);
  c.out_off = 0;
  c.close_after = close;
  c.state = Conn::State::kWriting;
  c.deadline = Clock::now() + limits_.write_timeout;
  WritePhase(c);
}

void HttpListener::DrainDone() {
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (auto& d : done) {
    auto it = conns_.find(d.conn);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    c.out = std::move(d.bytes);
    c.out_off = 0;
    c.close_after = d.close;
    c.state = Conn::State::kWriting;
    c.deadline = Clock::now() + limits_.write_timeout;
    WritePhase(c);
  }
}

void HttpListener::WritePhase(Conn& c) {
  while (c.out_off < c.out.size()) {
    const std::size_t left = c.out.size() - c.out_off;
    ssize_t n;
    if (c.ssl) {
      ERR_clear_error();
      n = SSL_write(c.ssl, c.out.data() + c.out_off, static_cast<int>(std::min<std::size_t>(left, 1 << 30)));
      if (n <= 0) {
        const int err = SSL_get_error(c.ssl, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_WRITE) {
          SetInterest(c, EPOLLOUT);
          return;
        }
        if (err == SSL_ERROR_WANT_READ) {
          SetInterest(c, EPOLLIN);
          return;
        }
        Close(c.id);
        return;
      }
    } else {
      n = send(c.fd, c.out.data() + c.out_off, left, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          SetInterest(c, EPOLLOUT);
          return;
        }
        Close(c.id);
        return;
      }
    }
    c.out_off += static_cast<std::size_t>(n);
  }
  if (c.close_after || stopping_) {
    if (!c.ssl) shutdown(c.fd, SHUT_WR);
    Close(c.id);
    return;
  }
  std::string().swap(c.out);
  c.out_off = 0;
  c.state = Conn::State::kReading;
  c.started = false;
  c.admitted = false;
  c.sent_continue = false;
  c.deadline = Clock::now() + limits_.idle_timeout;
  SetInterest(c, EPOLLIN);
  if (!c.in.empty()) {  // a pipelined request already here
    c.started = true;
    c.deadline = Clock::now() + limits_.request_timeout;
    Parse(c);
  } else if (c.ssl && SSL_pending(c.ssl) > 0) {
    again_.push_back(c.id);
  }
}

void HttpListener::ExpireDeadlines() {
  const auto now = Clock::now();
  std::vector<std::uint64_t> expired;
  for (const auto& [id, c] : conns_) {
    if (c->state != Conn::State::kDispatched && now > c->deadline) expired.push_back(id);
  }
  for (auto id : expired) {
    Conn& c = *conns_.at(id);
    if (c.state == Conn::State::kReading && c.started) {
      // One best-effort 408 without waiting for the client to read it.
      HttpResponse r = service_.refuse(nullptr, RequestFailure::kTimeout);
      for (const auto& h : service_.headers) r.headers.push_back(h);
      const std::string bytes = SerializeResponse(r, false, true);
      if (c.ssl) {
        SSL_write(c.ssl, bytes.data(), static_cast<int>(bytes.size()));
      } else {
        (void)!send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    Close(id);
  }
}

}  // namespace llmcost
