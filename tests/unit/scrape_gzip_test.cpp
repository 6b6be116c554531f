// /metrics compressed when the scraper asks for it (Prometheus sends
// Accept-Encoding: gzip), plain text otherwise, and never for q=0.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "config/exporter_config.h"
#include "pipeline/event_pipeline.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_metrics.h"
#include "transport/http_request.h"
#include "transport/http_servers.h"

namespace llmcost {
namespace {

TEST(ScrapeGzip, AcceptEncodingIsReadAsRfc9110Says) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("identity, GZIP"));
  EXPECT_TRUE(AcceptsGzip("deflate;q=1.0, gzip;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("x-gzip2"));
}

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(ScrapeGzip, MetricsAreGzippedOnlyWhenAsked) {
  ExporterConfig config;
  auto registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter};
  Exposition exposition{registry, requests};
  requests.SetZeroFirstDuration(std::chrono::milliseconds(0));
  ASSERT_EQ(pipeline.Ingest(R"({"model":"claude-haiku-4-5","usage":{"input_tokens":1000,"output_tokens":10}})",
                            Transport::kHttp).accepted, 1u);
  exposition.Render();  // the new label set goes live
  HttpService web = WebService(WebServerOptions{"/metrics", false, "t"}, exposition, [] { return std::string(); },
                               HttpSecurity{});
  HttpRequest get;
  get.method = "GET";
  get.path = get.target = "/metrics";
  const HttpResponse plain = web.handle(get);
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  EXPECT_EQ(Header(plain, "Vary"), "Accept-Encoding");
  get.headers.push_back({"Accept-Encoding", "gzip"});
  const HttpResponse zipped = web.handle(get);
  EXPECT_EQ(Header(zipped, "Content-Encoding"), "gzip");
  std::string text;
  ASSERT_EQ(InflateBody(zipped.body, 64 << 20, text), InflateResult::kOk);
  EXPECT_LT(zipped.body.size(), text.size());
  // The same series (process metrics aside, which move between two renders).
  const std::string cost_line = "llm_tokens_total{feature=\"unknown\",model=\"claude-haiku-4-5\"";
  EXPECT_NE(text.find(cost_line), std::string::npos) << text;
  EXPECT_NE(plain.body.find(cost_line), std::string::npos);
  EXPECT_EQ(text.substr(0, text.find("\nprocess_")), plain.body.substr(0, plain.body.find("\nprocess_")));
}

}  // namespace
}  // namespace llmcost
