// The web and ingest routes as plain functions (WebService, IngestService), in
// process without sockets: literal telemetry path, reload without a body, body
// rules per route, gzip on the events route only, HEAD renders nothing.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include "gzip_body.h"

#include <memory>
#include <string>

#include "config/exporter_config.h"
#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_metrics.h"
#include "transport/http_servers.h"

namespace llmcost {
namespace {

struct World {
  ExporterConfig config;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  RequestIdWindow ids{1000, 86400};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  Exposition exposition{registry, requests};
};

HttpRequest Req(std::string method, std::string path, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = path;
  r.target = std::move(path);
  r.body = std::move(body);
  return r;
}

TEST(WebService, TelemetryPathIsLiteralAndReloadNeedsNoBody) {
  World w;
  int reloads = 0;
  WebServerOptions o{"/metr.cs", true, "t"};
  HttpService s = WebService(o, w.exposition, [&] { ++reloads; return std::string(); }, HttpSecurity{});
  EXPECT_EQ(s.handle(Req("GET", "/metr.cs")).status, 200);
  EXPECT_EQ(s.handle(Req("GET", "/metrics")).status, 404);  // '.' is not a wildcard
  EXPECT_EQ(s.handle(Req("GET", "/metrXcs")).status, 404);
  EXPECT_EQ(s.handle(Req("POST", "/-/reload")).status, 200);
  EXPECT_EQ(reloads, 1);
  EXPECT_EQ(s.handle(Req("GET", "/-/reload")).status, 405);
  EXPECT_EQ(s.handle(Req("POST", "/-/healthy")).status, 405);
  const HttpResponse head = s.handle(Req("HEAD", "/metr.cs"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());  // not rendered: HEAD is not a scrape
  // Every web route refuses a body, and nothing is decoded.
  const BodyRule rule = s.body_rule("POST", "/-/reload");
  EXPECT_EQ(rule.max_bytes, 0u);
  EXPECT_FALSE(rule.decodable);
}

TEST(WebService, LifecycleOffIs403) {
  World w;
  HttpService s = WebService(WebServerOptions{}, w.exposition, [] { return std::string(); }, HttpSecurity{});
  EXPECT_EQ(s.handle(Req("POST", "/-/reload")).status, 403);
}

TEST(IngestService, GzipOnTheEventsRouteIsInflatedUpToTheLimit) {
  World w;
  const std::size_t limit = 64 * 1024;
  HttpService s = IngestService(w.pipeline, limit, HttpSecurity{});
  EXPECT_EQ(s.body_rule("POST", "/v1/events").max_bytes, limit);
  EXPECT_TRUE(s.body_rule("POST", "/v1/events").decodable);
  EXPECT_EQ(s.body_rule("POST", "/other").max_bytes, 0u);
  HttpRequest r = Req("POST", "/v1/events", Gzip(R"({"model":"claude-haiku-4-5","usage":{"input_tokens":10}})"));
  r.headers.emplace_back("Content-Encoding", "gzip");
  EXPECT_EQ(s.handle(r).status, 202);
  r.body = Gzip(std::string(limit + 1, ' '));  // inflates past the limit
  const HttpResponse big = s.handle(r);
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find("too_large"), std::string::npos);
  r.body = "not gzip";
  EXPECT_EQ(s.handle(r).status, 400);
  // A multipart body is bad input, not a server error.
  HttpRequest m = Req("POST", "/v1/events", "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\x01\r\n--b--\r\n");
  m.headers.emplace_back("Content-Type", "multipart/form-data; boundary=b");
  EXPECT_EQ(s.handle(m).status, 400);
  EXPECT_EQ(s.handle(Req("GET", "/v1/events")).status, 405);
  EXPECT_EQ(s.handle(Req("GET", "/nope")).status, 404);
  // The reader's refusals on the events route are counted like before.
  const HttpRequest head = Req("POST", "/v1/events");
  EXPECT_EQ(s.refuse(&head, RequestFailure::kBodyTooLarge).status, 413);
  EXPECT_EQ(s.refuse(nullptr, RequestFailure::kTimeout).status, 408);
}

}  // namespace
}  // namespace llmcost
