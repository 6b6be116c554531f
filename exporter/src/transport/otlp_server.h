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
#include <cstddef>
#include <memory>

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
};

// streams: the metric streams' state (null: a new one, started now).
HttpService OtlpService(EventPipeline& pipeline, ExporterMetrics& exporter_metrics, const OtlpOptions& options,
                        const HttpSecurity& security, std::shared_ptr<OtlpStreams> streams = nullptr);

class OtlpServer : public HttpListener {
 public:
  OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
             const OtlpOptions& options, const HttpSecurity& security = {});
};

}  // namespace llmcost
