#include "transport/otlp_server.h"

#include <nlohmann/json.hpp>

#include "otlp_logs.pb.h"

namespace llmcost {
namespace {

constexpr std::size_t kLogsSignal = 0;  // kOtlpSignals

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

std::string Describe(const EventError& e) {
  return "record " + std::to_string(e.index) + (e.field.empty() ? "" : " " + e.field) + ": " +
         std::string(RejectReasonName(e.reason)) + ": " + e.message;
}

}  // namespace

HttpService OtlpService(EventPipeline& pipeline, ExporterMetrics& exporter_metrics, const OtlpOptions& options,
                        const HttpSecurity& security) {
  HttpService s;
  if (security.web_config) {
    for (const auto& [name, value] : security.web_config->headers) s.headers.emplace_back(name, value);
  }
  const std::size_t max_body = options.max_body_bytes;
  s.body_rule = [max_body](std::string_view method, std::string_view path) {
    if (method == "POST" && path == kOtlpLogsPath) return BodyRule{max_body, true};
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
    if (head && head->path == kOtlpLogsPath && f == RequestFailure::kBodyTooLarge) {
      pipeline.RejectWhole(Transport::kOtlp, {0, "", RejectReason::kTooLarge, "body over --ingest.max-body-bytes"});
      return StatusResponse(413, e, kInvalidArgument,
                            "body larger than --ingest.max-body-bytes (" + std::to_string(max_body) + ")");
    }
    return StatusResponse(RequestFailureStatus(f), e, kInvalidArgument, std::string(RequestFailureName(f)));
  };
  s.overloaded = [](const HttpRequest* head) { return Busy(head); };
  s.handle = [&pipeline, &exporter_metrics, options, token, basic, unauthorized](const HttpRequest& req) -> HttpResponse {
    if (token) {
      if (!token->Accepts(req.Header("Authorization"))) return unauthorized(req);
    } else if (basic) {
      const AuthCheck check = basic->Check(req.Header("Authorization"));
      if (check == AuthCheck::kBusy) return Busy(&req);
      if (check != AuthCheck::kAccepted) return unauthorized(req);
    }
    const OtlpEncoding fallback = EncodingOf(req);
    if (req.path != kOtlpLogsPath) {
      return StatusResponse(404, fallback, kInvalidArgument,
                            "not served; this receiver takes POST /v1/logs (Claude Code's events)");
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
    OtlpLogsDecoded decoded = DecodeOtlpLogs(body, *encoding, options.mapping);
    if (decoded.malformed) {
      pipeline.RejectWhole(Transport::kOtlp,
                           {0, "", *encoding == OtlpEncoding::kProtobuf ? RejectReason::kMalformedProtobuf
                                                                        : RejectReason::kMalformedJson,
                            decoded.error});
      return StatusResponse(400, *encoding, kInvalidArgument, decoded.error);
    }
    const IngestResult result = pipeline.IngestEvents(decoded.items, decoded.positions, Transport::kOtlp, 5);
    exporter_metrics.OtlpRecords(kLogsSignal, OtlpRecordResult::kAccepted, static_cast<double>(result.accepted));
    exporter_metrics.OtlpRecords(kLogsSignal, OtlpRecordResult::kRejected, static_cast<double>(result.rejected));
    exporter_metrics.OtlpRecords(kLogsSignal, OtlpRecordResult::kIgnored, static_cast<double>(decoded.ignored));
    // A duplicate (request_id already counted) is a safe retry: not reported as
    // rejected, so the client does not retry or alarm; it is named in the message.
    std::string message;
    for (const auto& e : result.errors) message += (message.empty() ? "" : "; ") + Describe(e);
    if (result.rejected > result.errors.size()) {
      message += "; and " + std::to_string(result.rejected - result.errors.size()) + " more";
    }
    HttpResponse res;
    res.status = 200;
    res.Content(OtlpLogsResponse(*encoding, result.rejected - result.duplicates, message), ContentType(*encoding));
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
