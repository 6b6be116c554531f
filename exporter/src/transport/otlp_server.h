#pragma once
// OtlpServer: the OTLP/HTTP receiver (--otlp.listen-address, OTLP's port 4318),
// a transport stage like HTTP ingest and UDP: it turns OTLP requests into the same
// UsageEvents and hands them to the same pipeline (price -> record).
//   POST /v1/logs: Claude Code's `claude_code.api_request` events (event/otlp_logs.h);
//   POST /v1/metrics: Claude Code's token/cost metrics and GenAI token histograms,
//   priced from aggregates (event/otlp_metrics.h), not counted again when the same
//   client also sends its per-request logs or spans;
//   POST /v1/traces: GenAI spans with gen_ai.usage.* (event/otlp_traces.h);
//   application/x-protobuf or application/json, optionally gzip.
// Responses follow the OTLP/HTTP spec: 200 with partial_success naming the
// rejected records and why; 400 (not retryable) for a body that is not an OTLP
// request; 429 with Retry-After when the workers are busy; 401 without the token.
// Everything else (sockets, TLS, deadlines, limits, the request reader) is the
// shared HttpListener's; OtlpService() is plain functions, testable in-process.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "event/otlp_logs.h"
#include "event/otlp_streams.h"
#include "pipeline/event_pipeline.h"
#include "record/exporter_metrics.h"
#include "transport/http_listener.h"
#include "transport/http_servers.h"

namespace llmcost {

inline constexpr std::string_view kOtlpLogsPath = "/v1/logs";
inline constexpr std::string_view kOtlpMetricsPath = "/v1/metrics";
inline constexpr std::string_view kOtlpTracesPath = "/v1/traces";

struct OtlpOptions {
  std::size_t max_body_bytes = 4 * 1024 * 1024;  // --ingest.max-body-bytes, after inflation too
  std::size_t max_queued = 64;                   // --ingest.max-queued-requests
  OtlpMapping mapping;
  std::size_t max_streams = 10000;              // metric streams and per-request coverage keys tracked
  std::int64_t coverage_window_seconds = 600;   // a source's logs/spans cover its metrics this long
  // Aggregates (metrics) wait this long before they are priced, so that the same
  // client's per-request logs or spans, exported on their own schedule (Claude
  // Code: logs every 5 s, metrics every 60 s; both at exit), can cover them.
  std::int64_t aggregate_hold_seconds = 10;
};

// What the receiver keeps between requests: the metric streams, and aggregates
// held back for OtlpOptions::aggregate_hold_seconds. Held aggregates are priced
// when due (on the next request, by OtlpServer's ticker, at Stop), unless the
// same source's per-request usage arrived meanwhile. Thread-safe.
class OtlpState {
 public:
  OtlpState(std::uint64_t started_unix_nano, const OtlpOptions& options);

  OtlpStreams& streams() { return streams_; }
  struct Held {
    std::int64_t due = 0;
    std::string key;
    ParseResult item;
    std::size_t position = 0;
    std::size_t points = 0;
  };
  void Hold(std::vector<Held> held);
  // Prices (or drops as covered) what is due at `now`; everything with `all`.
  void Release(EventPipeline& pipeline, ExporterMetrics& exporter_metrics, std::int64_t now, bool all);
  std::size_t HeldCount() const;

 private:
  OtlpStreams streams_;
  mutable std::mutex mu_;
  std::deque<Held> held_;  // in arrival order; due times grow with it
  std::mutex release_mu_;  // one release at a time: each held aggregate is priced once
};

// state: streams and held aggregates (null: a new one, started now).
HttpService OtlpService(EventPipeline& pipeline, ExporterMetrics& exporter_metrics, const OtlpOptions& options,
                        const HttpSecurity& security, std::shared_ptr<OtlpState> state = nullptr);

class OtlpServer : public HttpListener {
 public:
  OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
             const OtlpOptions& options, const HttpSecurity& security = {});
  OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
             const OtlpOptions& options, const HttpSecurity& security, std::shared_ptr<OtlpState> state);
  ~OtlpServer() override;
  // The listener, and a ticker that prices held aggregates when due.
  void Start();
  // Stops the listener, then prices every held aggregate (nothing accepted is lost).
  void Stop();

 private:
  EventPipeline& pipeline_;
  ExporterMetrics& exporter_metrics_;
  std::shared_ptr<OtlpState> state_;
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace llmcost
