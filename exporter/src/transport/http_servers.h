#pragma once
// The two HTTP listeners:
//   WebServer    -- what Prometheus and operators use: landing page, /metrics,
//                   /-/healthy, /-/ready, POST /-/reload (with --web.enable-lifecycle).
//   IngestServer -- what applications use: POST /v1/events, and GET /v1/budgets and
//                   /v1/prices (transport/client_api.h). Loopback by default,
//                   because whoever can write here can create or hide spend.
// Each is an HttpListener (sockets, TLS, deadlines, bounds) serving an HttpService
// of plain functions; WebService() and IngestService() build those, so every
// route, status code and counter is testable in-process without sockets.
#include <functional>
#include <memory>
#include <string>

#include "config/web_config.h"
#include "pipeline/event_pipeline.h"
#include "record/exposition.h"
#include "transport/basic_auth.h"
#include "transport/client_api.h"
#include "transport/http_listener.h"
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

struct WebServerOptions {
  std::string telemetry_path = "/metrics";  // matched literally
  bool enable_lifecycle = false;
  std::string version;
};

// The events route; an OTLP listener adds its own beside it.
inline constexpr std::string_view kEventsPath = "/v1/events";

// reload: returns "" on success, else the error (the old price table stays).
HttpService WebService(const WebServerOptions& options, Exposition& exposition, std::function<std::string()> reload,
                       const HttpSecurity& security);
// api: what GET /v1/budgets and /v1/prices read (behind the same authentication).
HttpService IngestService(EventPipeline& pipeline, std::size_t max_body_bytes, const HttpSecurity& security,
                          ClientApi api = {});

ListenerLimits WebListenerLimits();
ListenerLimits IngestListenerLimits(std::size_t max_body_bytes, std::size_t max_queued);

class WebServer : public HttpListener {
 public:
  WebServer(const ListenAddress& address, const WebServerOptions& options, Exposition& exposition,
            std::function<std::string()> reload, const HttpSecurity& security = {});
};

class IngestServer : public HttpListener {
 public:
  // max_queued: complete requests waiting for a worker before new ones get 429.
  IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes,
               const HttpSecurity& security = {}, std::size_t max_queued = 64, ClientApi api = {});
};

}  // namespace llmcost
