#pragma once
// The two HTTP listeners:
//   WebServer    -- what Prometheus and operators use: landing page, /metrics,
//                   /-/healthy, /-/ready, POST /-/reload (with --web.enable-lifecycle).
//   IngestServer -- what applications use: POST /v1/events. Loopback by default,
//                   because whoever can write here can create or hide spend.
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "config/web_config.h"
#include "pipeline/event_pipeline.h"
#include "record/exposition.h"
#include "transport/basic_auth.h"
#include "transport/ingest_auth.h"
#include "transport/listen_address.h"

namespace llmcost {

// What guards a listener. TLS, basic auth and response headers come from
// --web.config.file and apply to both listeners; the bearer token is ingest's
// only (when set, it replaces basic auth there: applications hold a token).
struct HttpSecurity {
  std::shared_ptr<const WebConfig> web_config;  // null: plain HTTP, no basic auth
  std::shared_ptr<BasicAuth> basic_auth;        // null or !enabled(): no basic auth
  std::shared_ptr<IngestToken> ingest_token;    // null: no token (ingest only)
};

// Binds on construction (throws std::runtime_error naming the address, or the
// TLS setup error), serves on its own thread after Start().
class HttpListener {
 public:
  HttpListener(std::string name, const ListenAddress& address, const HttpSecurity& security = {});
  virtual ~HttpListener();
  void Start();
  void Stop();
  int port() const { return port_; }
  bool tls() const { return tls_; }

 protected:
  // Runs before routing: adds the configured headers, then answers the request
  // itself (401) when allow() refuses it; allow() fills in the response then.
  void Guard(std::function<bool(const httplib::Request&, httplib::Response&)> allow);

  // Replaces httplib's unbounded connection queue (see BoundedTaskQueue).
  void LimitQueue(std::size_t workers, std::size_t max_queued);

  // An httplib::SSLServer when TLS is configured; server_ refers to it.
  std::unique_ptr<httplib::Server> server_owner_;
  httplib::Server& server_;
  HttpSecurity security_;

 private:
  std::string name_;
  bool tls_ = false;
  int port_ = 0;
  std::thread thread_;
};

struct WebServerOptions {
  std::string telemetry_path = "/metrics";
  bool enable_lifecycle = false;
  std::string version;
};

class WebServer : public HttpListener {
 public:
  // reload: returns "" on success, else the error (the old price table stays).
  WebServer(const ListenAddress& address, const WebServerOptions& options, Exposition& exposition,
            std::function<std::string()> reload, const HttpSecurity& security = {});
};

class IngestServer : public HttpListener {
 public:
  // max_queued: connections waiting for a worker before new ones get 429.
  IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes,
               const HttpSecurity& security = {}, std::size_t max_queued = 64);
};

}  // namespace llmcost
