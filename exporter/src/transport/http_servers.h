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

#include "pipeline/event_pipeline.h"
#include "record/exposition.h"
#include "transport/listen_address.h"

namespace llmcost {

// Binds on construction (throws std::runtime_error naming the address), serves
// on its own thread after Start().
class HttpListener {
 public:
  HttpListener(std::string name, const ListenAddress& address);
  virtual ~HttpListener();
  void Start();
  void Stop();
  int port() const { return port_; }

 protected:
  httplib::Server server_;

 private:
  std::string name_;
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
            std::function<std::string()> reload);
};

class IngestServer : public HttpListener {
 public:
  IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes);
};

}  // namespace llmcost
