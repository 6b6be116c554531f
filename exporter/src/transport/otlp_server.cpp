#include "transport/otlp_server.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <limits>
#include <set>
#include <unordered_map>

#include "event/otlp_metrics.h"
#include "event/otlp_traces.h"
#include "otlp_common.pb.h"

namespace llmcost {
namespace {

constexpr std::size_t kMessageErrors = 5;  // refusals named in partial_success.error_message

// google.rpc.Status codes used in error bodies.
constexpr int kInvalidArgument = 3;
constexpr int kUnauthenticated = 16;
constexpr int kResourceExhausted = 8;

OtlpEncoding EncodingOf(const HttpRequest& r) {
  return OtlpEncodingOf(r.Header("Content-Type")).value_or(OtlpEncoding::kJson);
}

std::string ContentType(OtlpEncoding e) {
  return e == OtlpEncoding::kProtobuf ? "application/x-protobuf" : "application/json";
}

// An error response: a Status message in the request's encoding (OTLP/HTTP spec).
HttpResponse StatusResponse(int http_status, OtlpEncoding encoding, int code, const std::string& message) {
  HttpResponse r;
  r.status = http_status;
  if (encoding == OtlpEncoding::kProtobuf) {
    otlp::Status s;
    s.set_code(code);
    s.set_message(message);
    r.Content(s.SerializeAsString(), ContentType(encoding));
  } else {
    r.Content(nlohmann::json{{"code", code}, {"message", message}}.dump(), ContentType(encoding));
  }
  return r;
}

HttpResponse Busy(const HttpRequest* head) {
  HttpResponse r = StatusResponse(429, head ? EncodingOf(*head) : OtlpEncoding::kJson, kResourceExhausted,
                                  "the exporter is busy; retry after the Retry-After delay");
  r.Header("Retry-After", "1");
  return r;
}

std::string Describe(std::string_view noun, const EventError& e) {
  return std::string(noun) + " " + std::to_string(e.index) + (e.field.empty() ? "" : " " + e.field) + ": " +
         std::string(RejectReasonName(e.reason)) + ": " + e.message;
}

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::uint64_t NowUnixNano() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

bool Served(std::string_view path) {
  return path == kOtlpLogsPath || path == kOtlpMetricsPath || path == kOtlpTracesPath;
}

void SourcesSeen(ExporterMetrics& m, const std::vector<OtlpSource>& sources) {
  std::set<std::pair<std::string, std::string>> seen;
  const double now = static_cast<double>(NowUnix());
  for (const auto& s : sources) {
    if (seen.emplace(s.service_name, s.service_version).second) m.OtlpSourceSeen(s, now);
  }
}

// The first refusals, and how many more, for partial_success.error_message.
// Duplicates are safe retries: named, never counted as rejected.
std::string Message(std::string_view noun, const IngestResult& result) {
  std::string message;
  std::size_t named = 0;
  for (const auto& e : result.errors) {
    if (named == kMessageErrors) break;
    message += (message.empty() ? "" : "; ") + Describe(noun, e);
    ++named;
  }
  const std::size_t total = result.errors.size();
  if (total > named) message += "; and " + std::to_string(total - named) + " more";
  return message;
}

void CountRejections(ExporterMetrics& m, std::size_t signal, const IngestResult& result) {
  std::array<std::size_t, kRejectReasonCount> by{};
  for (const auto& e : result.errors) ++by[static_cast<std::size_t>(e.reason)];
  for (std::size_t r = 0; r < kRejectReasonCount; ++r) m.OtlpRejected(signal, static_cast<RejectReason>(r), by[r]);
}

}  // namespace

HttpService OtlpService(EventPipeline& pipeline, ExporterMetrics& exporter_metrics, const OtlpOptions& options,
                        const HttpSecurity& security, std::shared_ptr<OtlpStreams> streams) {
  if (!streams) streams = std::make_shared<OtlpStreams>(NowUnixNano(), options.max_streams, options.coverage_window_seconds);
  HttpService s;
  if (security.web_config) {
    for (const auto& [name, value] : security.web_config->headers) s.headers.emplace_back(name, value);
  }
  const std::size_t max_body = options.max_body_bytes;
  s.body_rule = [max_body](std::string_view method, std::string_view path) {
    if (method == "POST" && Served(path)) return BodyRule{max_body, true};
    return BodyRule{};
  };
  const auto token = security.ingest_token;
  const auto basic = security.basic_auth && security.basic_auth->enabled() ? security.basic_auth : nullptr;
  auto unauthorized = [&pipeline, token](const HttpRequest& req) {
    pipeline.RejectWhole(Transport::kOtlp, {0, "Authorization", RejectReason::kUnauthorized,
                                            token ? "missing or wrong bearer token (--web.ingest-token-file)"
                                                  : "missing or wrong basic auth credentials (--web.config.file)"});
    HttpResponse r = StatusResponse(401, EncodingOf(req), kUnauthenticated, "unauthorized");
    r.Header("WWW-Authenticate", token ? "Bearer realm=\"llm-cost-exporter\"" : "Basic realm=\"llm-cost-exporter\"");
    return r;
  };
  s.admit = [token, unauthorized](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (token && !token->Accepts(head.Header("Authorization"))) return unauthorized(head);
    return std::nullopt;
  };
  s.refuse = [&pipeline, max_body](const HttpRequest* head, RequestFailure f) {
    const OtlpEncoding e = head ? EncodingOf(*head) : OtlpEncoding::kJson;
    if (head && Served(head->path) && f == RequestFailure::kBodyTooLarge) {
      pipeline.RejectWhole(Transport::kOtlp, {0, "", RejectReason::kTooLarge, "body over --ingest.max-body-bytes"});
      return StatusResponse(413, e, kInvalidArgument,
                            "body larger than --ingest.max-body-bytes (" + std::to_string(max_body) + ")");
    }
    return StatusResponse(RequestFailureStatus(f), e, kInvalidArgument, std::string(RequestFailureName(f)));
  };
  s.overloaded = [](const HttpRequest* head) { return Busy(head); };
  s.handle = [&pipeline, &exporter_metrics, options, token, basic, unauthorized,
              streams](const HttpRequest& req) -> HttpResponse {
    if (token) {
      if (!token->Accepts(req.Header("Authorization"))) return unauthorized(req);
    } else if (basic) {
      const AuthCheck check = basic->Check(req.Header("Authorization"));
      if (check == AuthCheck::kBusy) return Busy(&req);
      if (check != AuthCheck::kAccepted) return unauthorized(req);
    }
    const OtlpEncoding fallback = EncodingOf(req);
    if (!Served(req.path)) {
      return StatusResponse(404, fallback, kInvalidArgument,
                            "not served; this receiver takes POST /v1/logs, /v1/metrics and /v1/traces");
    }
    if (req.method != "POST") {
      return StatusResponse(405, fallback, kInvalidArgument, "method not allowed; POST").Header("Allow", "POST");
    }
    const auto encoding = OtlpEncodingOf(req.Header("Content-Type"));
    if (!encoding) {
      return StatusResponse(415, OtlpEncoding::kJson, kInvalidArgument,
                            "Content-Type must be application/x-protobuf or application/json");
    }
    std::string inflated;
    std::string_view body = req.body;
    if (const std::string_view ce = req.Header("Content-Encoding"); !req.body.empty() && !ce.empty() && ce != "identity") {
      switch (InflateBody(req.body, options.max_body_bytes, inflated)) {  // a gzip bomb stops at the cap
        case InflateResult::kOk:
          body = inflated;
          break;
        case InflateResult::kTooLarge:
          pipeline.RejectWhole(Transport::kOtlp, {0, "", RejectReason::kTooLarge, "inflated body over the limit"});
          return StatusResponse(413, *encoding, kInvalidArgument, "inflated body larger than --ingest.max-body-bytes");
        case InflateResult::kCorrupt:
          pipeline.RejectWhole(Transport::kOtlp, {0, "Content-Encoding", RejectReason::kBadField,
                                                  "body does not decode as its Content-Encoding"});
          return StatusResponse(400, *encoding, kInvalidArgument, "body does not decode as its Content-Encoding");
      }
    }
    const RejectReason malformed_reason =
        *encoding == OtlpEncoding::kProtobuf ? RejectReason::kMalformedProtobuf : RejectReason::kMalformedJson;
    auto malformed = [&](std::size_t signal, const std::string& error) {
      pipeline.RejectWhole(Transport::kOtlp, {0, "", malformed_reason, error});
      exporter_metrics.OtlpRejected(signal, malformed_reason, 1);
      return StatusResponse(400, *encoding, kInvalidArgument, error);
    };
    const std::int64_t now = NowUnix();
    constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();  // every refusal, to count by reason
    HttpResponse res;
    res.status = 200;
    if (req.path == kOtlpLogsPath) {
      OtlpLogsDecoded decoded = DecodeOtlpLogs(body, *encoding, options.mapping);
      if (decoded.malformed) return malformed(kOtlpLogsSignal, decoded.error);
      SourcesSeen(exporter_metrics, decoded.sources);
      for (const auto& key : std::set<std::string>(decoded.overlap_keys.begin(), decoded.overlap_keys.end())) {
        streams->NotePerRequest(key, now);
      }
      const IngestResult result = pipeline.IngestEvents(decoded.items, decoded.positions, Transport::kOtlp, kAll);
      exporter_metrics.OtlpRecords(kOtlpLogsSignal, OtlpRecordResult::kAccepted, static_cast<double>(result.accepted));
      exporter_metrics.OtlpRecords(kOtlpLogsSignal, OtlpRecordResult::kRejected, static_cast<double>(result.rejected));
      exporter_metrics.OtlpRecords(kOtlpLogsSignal, OtlpRecordResult::kIgnored, static_cast<double>(decoded.ignored));
      exporter_metrics.OtlpIgnored(kOtlpLogsSignal, OtlpIgnoreReason::kNotUsage, static_cast<double>(decoded.ignored));
      CountRejections(exporter_metrics, kOtlpLogsSignal, result);
      res.Content(OtlpLogsResponse(*encoding, result.rejected - result.duplicates, Message("record", result)),
                  ContentType(*encoding));
      return res;
    }
    if (req.path == kOtlpTracesPath) {
      OtlpTracesDecoded decoded = DecodeOtlpTraces(body, *encoding, options.mapping);
      if (decoded.malformed) return malformed(kOtlpTracesSignal, decoded.error);
      SourcesSeen(exporter_metrics, decoded.sources);
      for (const auto& key : decoded.overlap_keys) streams->NotePerRequest(key, now);
      const IngestResult result = pipeline.IngestEvents(decoded.items, decoded.positions, Transport::kOtlp, kAll);
      // As for logs: a duplicate (already counted) is a rejection by reason
      // `duplicate`, never reported to the client as rejected.
      exporter_metrics.OtlpRecords(kOtlpTracesSignal, OtlpRecordResult::kAccepted, static_cast<double>(result.accepted));
      exporter_metrics.OtlpRecords(kOtlpTracesSignal, OtlpRecordResult::kRejected, static_cast<double>(result.rejected));
      exporter_metrics.OtlpRecords(kOtlpTracesSignal, OtlpRecordResult::kIgnored, static_cast<double>(decoded.ignored));
      exporter_metrics.OtlpIgnored(kOtlpTracesSignal, OtlpIgnoreReason::kNotUsage, static_cast<double>(decoded.ignored));
      CountRejections(exporter_metrics, kOtlpTracesSignal, result);
      res.Content(OtlpTracesResponse(*encoding, result.rejected - result.duplicates, Message("span", result)),
                  ContentType(*encoding));
      return res;
    }
    // /v1/metrics
    OtlpMetricsDecoded decoded = DecodeOtlpMetrics(body, *encoding, options.mapping);
    if (decoded.malformed) return malformed(kOtlpMetricsSignal, decoded.error);
    SourcesSeen(exporter_metrics, decoded.sources);
    OtlpAggregated aggregated = AggregateOtlpPoints(decoded, *streams, now, options.mapping);
    exporter_metrics.OtlpStreamsTracked(streams->Streams(), streams->Evicted());
    std::unordered_map<std::size_t, std::size_t> points_at;  // an item's first point -> its points
    std::size_t usage_points = 0;
    for (std::size_t i = 0; i < aggregated.positions.size(); ++i) {
      points_at[aggregated.positions[i]] = aggregated.item_points[i];
      usage_points += aggregated.item_points[i];
    }
    const IngestResult result = pipeline.IngestEvents(aggregated.items, aggregated.positions, Transport::kOtlp, kAll);
    std::size_t rejected_points = 0;
    for (const auto& e : result.errors) rejected_points += points_at.count(e.index) ? points_at[e.index] : 1;
    std::size_t ignored = decoded.ignored;
    for (std::size_t r = 0; r < aggregated.ignored.size(); ++r) {
      exporter_metrics.OtlpIgnored(kOtlpMetricsSignal, static_cast<OtlpIgnoreReason>(r),
                                   static_cast<double>(aggregated.ignored[r]));
      ignored += aggregated.ignored[r];
    }
    exporter_metrics.OtlpIgnored(kOtlpMetricsSignal, OtlpIgnoreReason::kNotUsage, static_cast<double>(decoded.ignored));
    exporter_metrics.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kAccepted,
                                 static_cast<double>(usage_points - std::min(usage_points, rejected_points)));
    exporter_metrics.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kRejected, static_cast<double>(rejected_points));
    exporter_metrics.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kIgnored, static_cast<double>(ignored));
    CountRejections(exporter_metrics, kOtlpMetricsSignal, result);
    res.Content(OtlpMetricsResponse(*encoding, rejected_points, Message("point", result)), ContentType(*encoding));
    return res;
  };
  return s;
}

OtlpServer::OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
                       const OtlpOptions& options, const HttpSecurity& security)
    : HttpListener("otlp", address,
                   security.web_config && security.web_config->tls ? &*security.web_config->tls : nullptr,
                   IngestListenerLimits(options.max_body_bytes, options.max_queued),
                   OtlpService(pipeline, exporter_metrics, options, security)) {}

}  // namespace llmcost
