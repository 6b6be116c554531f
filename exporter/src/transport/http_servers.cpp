#include "transport/http_servers.h"

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

#include "log/structured_log.h"
#include "transport/bounded_task_queue.h"

namespace llmcost {
namespace {

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

// Plain httplib::Server, or an SSLServer set up from tls_server_config.
std::unique_ptr<httplib::Server> MakeServer(const std::string& name, const HttpSecurity& security) {
  if (!security.web_config || !security.web_config->tls) return std::make_unique<httplib::Server>();
  const TlsServerConfig& t = *security.web_config->tls;
  std::string error;
  auto setup = [&t, &error](SSL_CTX& ctx) {
    SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 |
                                  (t.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    if (SSL_CTX_set_min_proto_version(&ctx, t.min_version) != 1 ||
        SSL_CTX_set_max_proto_version(&ctx, t.max_version) != 1) {
      error = "TLS version range: " + OpenSslError();
      return false;
    }
    if (SSL_CTX_use_certificate_chain_file(&ctx, t.cert_file.c_str()) != 1) {
      error = "cert_file '" + t.cert_file + "': " + OpenSslError();
      return false;
    }
    if (SSL_CTX_use_PrivateKey_file(&ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      error = "key_file '" + t.key_file + "': " + OpenSslError();
      return false;
    }
    if (SSL_CTX_check_private_key(&ctx) != 1) {
      error = "key_file '" + t.key_file + "' does not match cert_file '" + t.cert_file + "'";
      return false;
    }
    if (!t.client_ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(&ctx, t.client_ca_file.c_str(), nullptr) != 1) {
        error = "client_ca_file '" + t.client_ca_file + "': " + OpenSslError();
        return false;
      }
      SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(t.client_ca_file.c_str()));
    }
    switch (t.client_auth) {
      case ClientAuthType::kNoClientCert:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_NONE, nullptr);
        break;
      case ClientAuthType::kRequestClientCert:  // asked for, never checked (Go semantics)
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, AcceptAnyClientCert);
        break;
      case ClientAuthType::kRequireAnyClientCert:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyClientCert);
        break;
      case ClientAuthType::kVerifyClientCertIfGiven:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
        break;
      case ClientAuthType::kRequireAndVerifyClientCert:
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        break;
    }
    return true;
  };
  auto server = std::make_unique<httplib::SSLServer>(setup);
  if (!server->is_valid()) {
    throw std::runtime_error(name + ": --web.config.file tls_server_config: " + (error.empty() ? OpenSslError() : error));
  }
  return server;
}

}  // namespace

HttpListener::HttpListener(std::string name, const ListenAddress& address, const HttpSecurity& security)
    : server_owner_(MakeServer(name, security)),
      server_(*server_owner_),
      security_(security),
      name_(std::move(name)),
      tls_(security.web_config && security.web_config->tls) {
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  LimitQueue(4, 64);
  // httplib writes headers and body separately; without TCP_NODELAY, Nagle plus the
  // client's delayed ACK stalls every small response by ~40 ms.
  server_.set_tcp_nodelay(true);
  // stop() waits for idle keep-alive connections to time out: with httplib's 5 s
  // default a restart kept ingest down for 5 s. Clients simply reconnect.
  server_.set_keep_alive_timeout(1);
  if (address.port == 0) {
    port_ = server_.bind_to_any_port(host);
  } else {
    port_ = server_.bind_to_port(host, address.port) ? address.port : -1;
  }
  if (port_ <= 0) {
    throw std::runtime_error(name_ + ": cannot listen on " + host + ":" + std::to_string(address.port));
  }
}

HttpListener::~HttpListener() { Stop(); }

void HttpListener::LimitQueue(std::size_t workers, std::size_t max_queued) {
  server_.new_task_queue = [workers, max_queued] { return new BoundedTaskQueue(workers, max_queued); };
}

void HttpListener::Guard(std::function<bool(const httplib::Request&, httplib::Response&)> allow) {
  const std::map<std::string, std::string> headers =
      security_.web_config ? security_.web_config->headers : std::map<std::string, std::string>{};
  server_.set_pre_routing_handler([headers, allow = std::move(allow)](const httplib::Request& req,
                                                                     httplib::Response& res) {
    for (const auto& [name, value] : headers) res.set_header(name, value);
    if (allow(req, res)) return httplib::Server::HandlerResponse::Unhandled;
    // The refused request's body is never read; close rather than parse it as
    // the next request on this connection.
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
}

void HttpListener::Start() {
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

void HttpListener::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

namespace {

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
void RefuseBody(EventPipeline& pipeline, httplib::Response& res, int status, const EventError& error) {
  pipeline.RejectWhole(Transport::kHttp, error);
  IngestResult r;
  r.rejected = 1;
  r.errors.push_back(error);
  res.status = status;
  res.set_content(ErrorsJson(r).dump(), "application/json");
}

EventError TooLarge(std::size_t max_body_bytes) {
  return {0, "", RejectReason::kTooLarge,
          "body larger than --ingest.max-body-bytes (" + std::to_string(max_body_bytes) + ")"};
}

}  // namespace

WebServer::WebServer(const ListenAddress& address, const WebServerOptions& options, Exposition& exposition,
                     std::function<std::string()> reload, const HttpSecurity& security)
    : HttpListener("web", address, security) {
  if (security.basic_auth && security.basic_auth->enabled()) {
    Guard([auth = security.basic_auth](const httplib::Request& req, httplib::Response& res) {
      if (auth->Accepts(req.get_header_value("Authorization"))) return true;
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"llm-cost-exporter\"");
      res.set_content("Unauthorized\n", "text/plain; charset=utf-8");
      return false;
    });
  } else {
    Guard([](const httplib::Request&, httplib::Response&) { return true; });
  }
  const std::string landing = LandingPage(options);
  server_.Get("/", [landing](const httplib::Request&, httplib::Response& res) {
    res.set_content(landing, "text/html; charset=utf-8");
  });
  server_.Get(options.telemetry_path, [&exposition](const httplib::Request& req, httplib::Response& res) {
    // httplib routes HEAD here too; a HEAD is not a scrape (record/exposition.h).
    res.set_content(exposition.Render(Exposition::RequestFor(req.method)), kExpositionContentType);
  });
  server_.Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Healthy.\n", "text/plain; charset=utf-8");
  });
  server_.Get("/-/ready", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Ready.\n", "text/plain; charset=utf-8");
  });
  auto reload_handler = [enabled = options.enable_lifecycle, reload](const httplib::Request&, httplib::Response& res) {
    if (!enabled) {
      res.status = 403;
      res.set_content("Lifecycle API is not enabled (--web.enable-lifecycle).\n", "text/plain; charset=utf-8");
      return;
    }
    const std::string error = reload();
    if (!error.empty()) {
      res.status = 500;
      res.set_content("failed to reload price table: " + error + "\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_content("Price table reloaded.\n", "text/plain; charset=utf-8");
  };
  server_.Post("/-/reload", reload_handler);
  server_.Put("/-/reload", reload_handler);
}

IngestServer::IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes,
                           const HttpSecurity& security, std::size_t max_queued)
    : HttpListener("ingest", address, security) {
  LimitQueue(4, max_queued);
  // Checked before the body is read or parsed: a refused request changes only
  // the unauthorized rejection counter.
  Guard([&pipeline, token = security.ingest_token, basic = security.basic_auth](const httplib::Request& req,
                                                                                httplib::Response& res) {
    const std::string authorization = req.get_header_value("Authorization");
    std::string challenge;
    if (token) {
      if (token->Accepts(authorization)) return true;
      challenge = "Bearer realm=\"llm-cost-exporter\"";
    } else if (basic && basic->enabled()) {
      if (basic->Accepts(authorization)) return true;
      challenge = "Basic realm=\"llm-cost-exporter\"";
    } else {
      return true;
    }
    const EventError error{0, "Authorization", RejectReason::kUnauthorized,
                           token ? "missing or wrong bearer token (--web.ingest-token-file)"
                                 : "missing or wrong basic auth credentials (--web.config.file)"};
    res.set_header("WWW-Authenticate", challenge);
    RefuseBody(pipeline, res, 401, error);
    return false;
  });
  server_.set_payload_max_length(max_body_bytes);
  // The body is read here, not by httplib: httplib would parse an
  // application/x-www-form-urlencoded body (what curl -d and urllib send by default)
  // as a form and refuse it past 8 KiB.
  server_.Post("/v1/events", [&pipeline, max_body_bytes](const httplib::Request& req, httplib::Response& res,
                                                         const httplib::ContentReader& read_body) {
    auto refuse = [&](int status, const EventError& error) {
      res.set_header("Connection", "close");  // the rest of the body is not read
      RefuseBody(pipeline, res, status, error);
    };
    if (BoundedTaskQueue::IsShedding()) {
      // Back-pressure: nothing in this body is counted; the client retries it later.
      // The body is drained unparsed (cheap) so that a client still uploading gets
      // this answer instead of a broken pipe.
      std::size_t drained = 0;
      read_body([&](const char*, std::size_t n) { return (drained += n) <= max_body_bytes; });
      res.set_header("Retry-After", "1");
      refuse(429, {0, "", RejectReason::kOverloaded, "ingest is overloaded; retry after the Retry-After delay"});
      return;
    }
    const std::string declared = req.get_header_value("Content-Length");
    if (!declared.empty() && declared.find_first_not_of("0123456789") == std::string::npos &&
        (declared.size() > 18 || std::stoull(declared) > max_body_bytes)) {
      refuse(413, TooLarge(max_body_bytes));
      return;
    }
    std::string body;
    bool too_large = false;  // a chunked body has no Content-Length: checked as it arrives
    const bool complete = read_body([&](const char* data, std::size_t n) {
      if (body.size() + n > max_body_bytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (too_large) {
      refuse(413, TooLarge(max_body_bytes));
      return;
    }
    if (!complete) {
      refuse(400, {0, "", RejectReason::kMalformedJson, "body could not be read completely"});
      return;
    }
    const IngestResult result = pipeline.Ingest(body, Transport::kHttp);
    // 202: accepted for counting. 400 when nothing in the body could be used; a
    // body of only already-counted request ids is a safe retry, so it gets 202.
    res.status = (result.accepted == 0 && result.rejected > result.duplicates) ? 400 : 202;
    res.set_content(ErrorsJson(result).dump(), "application/json");
  });
  // httplib answers a Content-Length over the limit with 413 before any handler
  // runs; count it and say why in the same JSON shape. httplib calls this for every
  // status >= 400, also those our handlers answered (they set a body): skip those.
  server_.set_error_handler([&pipeline, max_body_bytes](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      RefuseBody(pipeline, res, 413, TooLarge(max_body_bytes));
    } else if (res.status == 404) {
      res.set_content("{\"error\":\"not found; POST usage events to /v1/events\"}", "application/json");
    }
    (void)req;
  });
}

}  // namespace llmcost
