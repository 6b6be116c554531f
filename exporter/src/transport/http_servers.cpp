#include "transport/http_servers.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "log/structured_log.h"

namespace llmcost {

HttpListener::HttpListener(std::string name, const ListenAddress& address) : name_(std::move(name)) {
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  server_.new_task_queue = [] { return new httplib::ThreadPool(4); };
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

}  // namespace

WebServer::WebServer(const ListenAddress& address, const WebServerOptions& options, Exposition& exposition,
                     std::function<std::string()> reload)
    : HttpListener("web", address) {
  const std::string landing = LandingPage(options);
  server_.Get("/", [landing](const httplib::Request&, httplib::Response& res) {
    res.set_content(landing, "text/html; charset=utf-8");
  });
  server_.Get(options.telemetry_path, [&exposition](const httplib::Request&, httplib::Response& res) {
    res.set_content(exposition.Render(), kExpositionContentType);
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

IngestServer::IngestServer(const ListenAddress& address, EventPipeline& pipeline, std::size_t max_body_bytes)
    : HttpListener("ingest", address) {
  server_.set_payload_max_length(max_body_bytes);
  server_.Post("/v1/events", [&pipeline](const httplib::Request& req, httplib::Response& res) {
    const IngestResult result = pipeline.Ingest(req.body, Transport::kHttp);
    // 202: accepted for counting. 400 when nothing in the body could be used.
    res.status = (result.accepted == 0 && result.rejected > 0) ? 400 : 202;
    res.set_content(ErrorsJson(result).dump(), "application/json");
  });
  // httplib answers an over-long body with 413 before any handler runs; count it
  // and say why in the same JSON shape.
  server_.set_error_handler([&pipeline, max_body_bytes](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 413) {
      const EventError error{0, "", RejectReason::kTooLarge,
                             "body larger than --ingest.max-body-bytes (" + std::to_string(max_body_bytes) + ")"};
      pipeline.RejectWhole(Transport::kHttp, error);
      IngestResult r;
      r.rejected = 1;
      r.errors.push_back(error);
      res.set_content(ErrorsJson(r).dump(), "application/json");
    } else if (res.status == 404) {
      res.set_content("{\"error\":\"not found; POST usage events to /v1/events\"}", "application/json");
    }
    (void)req;
  });
}

}  // namespace llmcost
