#include "transport/http_servers.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace llmcost {
namespace {

constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kJson = "application/json";

const TlsServerConfig* Tls(const HttpSecurity& s) {
  return s.web_config && s.web_config->tls ? &*s.web_config->tls : nullptr;
}

std::vector<std::pair<std::string, std::string>> ConfiguredHeaders(const HttpSecurity& s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (s.web_config) {
    for (const auto& [name, value] : s.web_config->headers) out.emplace_back(name, value);
  }
  return out;
}

bool IsGet(const HttpRequest& r) { return r.method == "GET" || r.method == "HEAD"; }

HttpResponse Text(int status, std::string text) {
  HttpResponse r;
  r.status = status;
  r.Content(std::move(text), kText);
  return r;
}

std::string LandingPage(const WebServerOptions& o) {
  return "<!DOCTYPE html>\n<html><head><title>llm-cost-exporter</title></head><body>\n"
         "<h1>llm-cost-exporter</h1>\n<p>Version " + o.version + "</p>\n"
         "<ul><li><a href=\"" + o.telemetry_path + "\">Metrics</a></li>\n"
         "<li><a href=\"/-/healthy\">Health</a></li>\n<li><a href=\"/-/ready\">Readiness</a></li></ul>\n"
         "<p>Usage events: <code>POST /v1/events</code> and UDP on the ingest address "
         "(<code>--ingest.listen-address</code>, <code>--udp.listen-address</code>).</p>\n"
         "</body></html>\n";
}

nlohmann::json ErrorsJson(const IngestResult& r) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : r.errors) {
    errors.push_back({{"index", e.index}, {"field", e.field}, {"reason", RejectReasonName(e.reason)}, {"message", e.message}});
  }
  return {{"accepted", r.accepted}, {"rejected", r.rejected}, {"errors", errors}};
}

// Refuses a whole body before it is parsed: counts the rejection once and answers
// the ingest's JSON error shape with `status`.
HttpResponse RefuseBody(EventPipeline& pipeline, int status, const EventError& error) {
  pipeline.RejectWhole(Transport::kHttp, error);
  IngestResult r;
  r.rejected = 1;
  r.errors.push_back(error);
  HttpResponse res;
  res.status = status;
  res.Content(ErrorsJson(r).dump(), kJson);
  return res;
}

// A refusal that is about HTTP, not about events: the same JSON shape, not counted.
HttpResponse JsonError(int status, std::string_view message) {
  HttpResponse res;
  res.status = status;
  res.Content(nlohmann::json{{"error", message}}.dump(), kJson);
  return res;
}

EventError TooLarge(std::size_t max_body_bytes) {
  return {0, "", RejectReason::kTooLarge,
          "body larger than --ingest.max-body-bytes (" + std::to_string(max_body_bytes) + ")"};
}

HttpResponse Overloaded(EventPipeline& pipeline) {
  HttpResponse r = RefuseBody(pipeline, 429, {0, "", RejectReason::kOverloaded,
                                              "ingest is overloaded; retry after the Retry-After delay"});
  r.Header("Retry-After", "1");
  return r;
}

}  // namespace

ListenerLimits WebListenerLimits() { return ListenerLimits{}; }

ListenerLimits IngestListenerLimits(std::size_t max_body_bytes, std::size_t max_queued) {
  ListenerLimits l;
  l.max_queued = max_queued;
  // Room for several full-size bodies at once; beyond it, 429.
  l.buffer_budget_bytes = std::max<std::size_t>(l.buffer_budget_bytes, 8 * max_body_bytes);
  return l;
}

HttpService WebService(const WebServerOptions& options, Exposition& exposition, std::function<std::string()> reload,
                       const HttpSecurity& security) {
  HttpService s;
  s.headers = ConfiguredHeaders(security);
  // No route of the web listener takes a body (POST /-/reload has none).
  s.body_rule = [](std::string_view, std::string_view) { return BodyRule{}; };
  s.refuse = [](const HttpRequest*, RequestFailure f) {
    return Text(RequestFailureStatus(f), std::string(RequestFailureName(f)) + "\n");
  };
  s.overloaded = [](const HttpRequest*) {
    HttpResponse r = Text(503, "overloaded; retry later\n");
    r.Header("Retry-After", "1");
    return r;
  };
  const std::string landing = LandingPage(options);
  s.handle = [options, landing, &exposition, reload = std::move(reload),
              auth = security.basic_auth](const HttpRequest& req) -> HttpResponse {
    if (auth && auth->enabled()) {
      switch (auth->Check(req.Header("Authorization"))) {
        case AuthCheck::kAccepted:
          break;
        case AuthCheck::kBusy: {
          HttpResponse r = Text(429, "too many login attempts at once; retry\n");
          r.Header("Retry-After", "1");
          return r;
        }
        case AuthCheck::kRefused: {
          HttpResponse r = Text(401, "Unauthorized\n");
          r.Header("WWW-Authenticate", "Basic realm=\"llm-cost-exporter\"");
          return r;
        }
      }
    }
    const std::string& path = req.path;
    if (path == options.telemetry_path) {  // literally: "/metr.cs" does not serve /metrics
      if (!IsGet(req)) return Text(405, "405 method not allowed\n").Header("Allow", "GET, HEAD");
      HttpResponse r;
      // HEAD renders nothing: it is not a scrape.
      r.Content(req.method == "HEAD" ? std::string() : exposition.Render(), std::string(kExpositionContentType));
      r.Header("Vary", "Accept-Encoding");
      if (req.method != "HEAD" && AcceptsGzip(req.Header("Accept-Encoding"))) {
        r.body = GzipText(r.body);
        r.Header("Content-Encoding", "gzip");
      }
      return r;
    }
    if (path == "/" || path == "/-/healthy" || path == "/-/ready") {
      if (!IsGet(req)) return Text(405, "405 method not allowed\n").Header("Allow", "GET, HEAD");
      if (path == "/") {
        HttpResponse r;
        r.Content(landing, "text/html; charset=utf-8");
        return r;
      }
      return Text(200, path == "/-/healthy" ? "Healthy.\n" : "Ready.\n");
    }
    if (path == "/-/reload") {
      if (req.method != "POST" && req.method != "PUT") return Text(405, "405 method not allowed\n").Header("Allow", "POST, PUT");
      if (!options.enable_lifecycle) return Text(403, "Lifecycle API is not enabled (--web.enable-lifecycle).\n");
      const std::string error = reload();
      if (!error.empty()) return Text(500, "failed to reload price table: " + error + "\n");
      return Text(200, "Price table reloaded.\n");
    }
    return Text(404, "404 page not found\n");
  };
  return s;
}

HttpService IngestService(EventPipeline& pipeline, std::size_t max_body_bytes, const HttpSecurity& security,
                          ClientApi api) {
  HttpService s;
  s.headers = ConfiguredHeaders(security);
  s.body_rule = [max_body_bytes](std::string_view method, std::string_view path) {
    if (method == "POST" && path == kEventsPath) return BodyRule{max_body_bytes, true};
    return BodyRule{};
  };
  const auto token = security.ingest_token;
  const auto basic = security.basic_auth && security.basic_auth->enabled() ? security.basic_auth : nullptr;
  auto unauthorized = [&pipeline, token](bool busy) {
    if (busy) return Overloaded(pipeline);
    const EventError error{0, "Authorization", RejectReason::kUnauthorized,
                           token ? "missing or wrong bearer token (--web.ingest-token-file)"
                                 : "missing or wrong basic auth credentials (--web.config.file)"};
    HttpResponse r = RefuseBody(pipeline, 401, error);
    r.Header("WWW-Authenticate", token ? "Bearer realm=\"llm-cost-exporter\"" : "Basic realm=\"llm-cost-exporter\"");
    return r;
  };
  // Before the body is read: a refused request changes only the unauthorized
  // counter. Basic auth costs a bcrypt, so it is checked on a worker (handle),
  // once the (bounded) body is in; it too counts only as unauthorized.
  s.admit = [token, unauthorized](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (token && !token->Accepts(head.Header("Authorization"))) return unauthorized(false);
    return std::nullopt;
  };
  s.refuse = [&pipeline, max_body_bytes](const HttpRequest* head, RequestFailure f) {
    const bool events = head != nullptr && head->path == kEventsPath;
    if (events && f == RequestFailure::kBodyTooLarge) return RefuseBody(pipeline, 413, TooLarge(max_body_bytes));
    return JsonError(RequestFailureStatus(f), RequestFailureName(f));
  };
  s.overloaded = [&pipeline, token](const HttpRequest* head) {
    if (head && token && !token->Accepts(head->Header("Authorization"))) {
      HttpResponse r = RefuseBody(pipeline, 401, {0, "Authorization", RejectReason::kUnauthorized,
                                                  "missing or wrong bearer token (--web.ingest-token-file)"});
      r.Header("WWW-Authenticate", "Bearer realm=\"llm-cost-exporter\"");
      return r;
    }
    return Overloaded(pipeline);
  };
  s.handle = [&pipeline, max_body_bytes, token, basic, unauthorized, api](const HttpRequest& req) -> HttpResponse {
    const std::string_view authorization = req.Header("Authorization");
    if (token) {
      if (!token->Accepts(authorization)) return unauthorized(false);
    } else if (basic) {
      const AuthCheck check = basic->Check(authorization);
      if (check != AuthCheck::kAccepted) return unauthorized(check == AuthCheck::kBusy);
    }
    if (IsClientApiPath(req.path)) return ServeClientApi(api, req);
    if (req.path != kEventsPath) return JsonError(404, "not found; POST usage events to /v1/events");
    if (req.method != "POST") return JsonError(405, "method not allowed; POST usage events to /v1/events").Header("Allow", "POST");
    std::string inflated;
    std::string_view body = req.body;
    if (const std::string_view encoding = req.Header("Content-Encoding");
        !req.body.empty() && !encoding.empty() && encoding != "identity") {
      // Only here, and never past the body limit: a gzip bomb stops at the cap.
      switch (InflateBody(req.body, max_body_bytes, inflated)) {
        case InflateResult::kOk:
          body = inflated;
          break;
        case InflateResult::kTooLarge:
          return RefuseBody(pipeline, 413, TooLarge(max_body_bytes));
        case InflateResult::kCorrupt:
          return RefuseBody(pipeline, 400, {0, "Content-Encoding", RejectReason::kMalformedJson,
                                            "body does not decode as its Content-Encoding"});
      }
    }
    const IngestResult result = pipeline.Ingest(body, Transport::kHttp);
    // 202: accepted for counting. 400 when nothing in the body could be used; a
    // body of only already-counted request ids is a safe retry, so it gets 202.
    HttpResponse res;
    res.status = (result.accepted == 0 && result.rejected > result.duplicates) ? 400 : 202;
    res.Content(ErrorsJson(result).dump(), kJson);
    return res;
  };
  return s;
}

WebServer::WebServer(const ListenAddress& address, const WebServerOptions& options, Exposition& exposition,
                     std::function<std::string()> reload, const HttpSecurity& security)
    : HttpListener("web", address, Tls(security), WebListenerLimits(),
                   WebService(options, exposition, std::move(reload), security)) {}

IngestServer::IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes,
                           const HttpSecurity& security, std::size_t max_queued, ClientApi api)
    : HttpListener("ingest", address, Tls(security), IngestListenerLimits(max_body_bytes, max_queued),
                   IngestService(pipeline, max_body_bytes, security, api)) {}

}  // namespace llmcost
