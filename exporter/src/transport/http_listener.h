#pragma once
// HttpListener: the socket side every HTTP listener shares (web, ingest, and any
// later one such as OTLP). One epoll thread accepts, does TLS handshakes, reads
// and writes for every connection without ever blocking on one, and enforces the
// deadlines; only complete, bounded requests (see http_request.h) go to a small
// pool of workers that run the plain handler functions. A slow or idle client
// therefore costs a socket and at most its bounded buffer, never a worker:
// thousands of them cannot delay /metrics or a fast ingest client. A new
// listener (OTLP/HTTP) is one more HttpListener with its own HttpService: its
// body_rule admits its POST routes (decodable, so gzip is inflated by its handler
// under the same cap), everything else here comes with it.
//
// Why not cpp-httplib's server (Debian's 0.11): it serves each connection on a
// pool thread with blocking reads and per-read timeouts only (four trickling
// clients hold all four workers), buffers header lines without a limit, reads
// and inflates bodies on any route, has a listen backlog of 5, and sets
// SO_REUSEPORT (a second exporter silently shares the port). None of that is
// configurable in the packaged library.
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/web_config.h"
#include "transport/http_request.h"
#include "transport/listen_address.h"

namespace llmcost {

// Every bound of a listener, declared once; the figures behind them are in
// docs/reliability.md ("Slow clients", "Request size").
struct ListenerLimits {
  std::chrono::milliseconds handshake_timeout{5000};  // TCP accept to TLS handshake done
  std::chrono::milliseconds idle_timeout{5000};       // keep-alive: between requests (and before the first byte)
  std::chrono::milliseconds request_timeout{10000};   // a request's first byte to its last (headers and body)
  std::chrono::milliseconds write_timeout{30000};     // a response, start to end
  std::size_t max_connections = 4096;                 // also bounded by half of RLIMIT_NOFILE
  std::size_t workers = 4;
  std::size_t max_queued = 64;                        // complete requests waiting for a worker; then overloaded()
  std::size_t buffer_budget_bytes = 64 << 20;         // request bytes buffered over all connections
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_headers = 64;
};

// What a listener serves: plain functions, testable without sockets.
struct HttpService {
  // Which routes take a body, how large, and whether it may be gzip/deflate.
  std::function<BodyRule(std::string_view method, std::string_view path)> body_rule;
  // On the I/O thread once the headers are in, before the body is read: a response
  // to refuse the request now (401), or nullopt. Must be cheap (no bcrypt).
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> admit;
  // On a worker: the complete request.
  std::function<HttpResponse(const HttpRequest& request)> handle;
  // On the I/O thread: a request refused by the reader or its deadline. head is
  // null when not even the request line was read. Must be cheap.
  std::function<HttpResponse(const HttpRequest* head, RequestFailure failure)> refuse;
  // On the I/O thread: the workers' queue is full, or the buffer budget is spent
  // (head is null when the headers are not in yet). Must be cheap.
  std::function<HttpResponse(const HttpRequest* head)> overloaded;
  // Added to every response (http_server_config.headers).
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpListener {
 public:
  // Binds (without SO_REUSEPORT) and sets up TLS when tls is given. Throws
  // std::runtime_error naming the listener, address and reason.
  HttpListener(std::string name, const ListenAddress& address, const TlsServerConfig* tls, ListenerLimits limits,
               HttpService service);
  virtual ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  void Start();
  // Stops accepting, lets requests already with a worker finish (up to 2 s), closes.
  void Stop();
  int port() const { return port_; }
  bool tls() const { return ssl_ctx_ != nullptr; }
  const ListenerLimits& limits() const { return limits_; }

 private:
  struct Conn;
  struct Job {
    std::uint64_t conn;
    HttpRequest request;
  };
  struct Done {
    std::uint64_t conn;
    std::string bytes;
    bool close;
  };

  void Loop();
  void Work();
  void Accept();
  void Pump(Conn& c, std::uint32_t events);
  void ReadPhase(Conn& c);
  void Parse(Conn& c);
  void Respond(Conn& c, HttpResponse response, bool head, bool close);
  void WritePhase(Conn& c);
  void Close(std::uint64_t id);
  void SetInterest(Conn& c, std::uint32_t events);
  void Charge(Conn& c);
  void ExpireDeadlines();
  void DrainDone();

  const std::string name_;
  ListenerLimits limits_;
  HttpService service_;
  RequestLimits request_limits_;
  SSL_CTX* ssl_ctx_ = nullptr;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::thread loop_thread_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  // I/O thread only.
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns_;
  std::uint64_t next_id_ = 2;  // 0: the listening socket, 1: the wake-up eventfd
  std::size_t buffered_ = 0;
  std::vector<std::uint64_t> again_;  // connections with bytes left to process (read cap, TLS buffer)

  // Shared with the workers.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
  bool workers_stop_ = false;
};

}  // namespace llmcost
