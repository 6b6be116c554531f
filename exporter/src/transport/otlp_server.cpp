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
                        const HttpSecurity& security, std::shared_ptr<OtlpState> state) {
  if (!state) state = std::make_shared<OtlpState>(NowUnixNano(), options);
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
              state](const HttpRequest& req) -> HttpResponse {
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
    state->Release(pipeline, exporter_metrics, now, false);  // what came due since the last request
    constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();  // every refusal, to count by reason
    HttpResponse res;
    res.status = 200;
    // Logs and spans are per-request signals: priced as events; they cover their
    // source's aggregates (metrics), and a duplicate (already counted) is a rejection
    // by reason `duplicate`, never reported to the client as rejected.
    auto per_request = [&](std::size_t signal, auto& decoded, const char* noun, auto respond) -> HttpResponse {
      if (decoded.malformed) return malformed(signal, decoded.error);
      SourcesSeen(exporter_metrics, decoded.sources);
      for (const auto& key : std::set<std::string>(decoded.overlap_keys.begin(), decoded.overlap_keys.end())) {
        state->streams().NotePerRequest(key, now);
      }
      const IngestResult result = pipeline.IngestEvents(decoded.items, decoded.positions, Transport::kOtlp, kAll);
      exporter_metrics.OtlpRecords(signal, OtlpRecordResult::kAccepted, static_cast<double>(result.accepted));
      exporter_metrics.OtlpRecords(signal, OtlpRecordResult::kRejected, static_cast<double>(result.rejected));
      exporter_metrics.OtlpRecords(signal, OtlpRecordResult::kIgnored, static_cast<double>(decoded.ignored));
      exporter_metrics.OtlpIgnored(signal, OtlpIgnoreReason::kNotUsage, static_cast<double>(decoded.ignored));
      CountRejections(exporter_metrics, signal, result);
      res.Content(respond(*encoding, result.rejected - result.duplicates, Message(noun, result)), ContentType(*encoding));
      return res;
    };
    if (req.path == kOtlpLogsPath) {
      OtlpLogsDecoded decoded = DecodeOtlpLogs(body, *encoding, options.mapping);
      return per_request(kOtlpLogsSignal, decoded, "record", OtlpLogsResponse);
    }
    if (req.path == kOtlpTracesPath) {
      OtlpTracesDecoded decoded = DecodeOtlpTraces(body, *encoding, options.mapping);
      return per_request(kOtlpTracesSignal, decoded, "span", OtlpTracesResponse);
    }
    // /v1/metrics
    OtlpMetricsDecoded decoded = DecodeOtlpMetrics(body, *encoding, options.mapping);
    if (decoded.malformed) return malformed(kOtlpMetricsSignal, decoded.error);
    SourcesSeen(exporter_metrics, decoded.sources);
    OtlpAggregated aggregated = AggregateOtlpPoints(decoded, state->streams(), now, options.mapping);
    exporter_metrics.OtlpStreamsTracked(state->streams().Streams(), state->streams().Evicted());
    // Refused points are counted (and named) now; events wait in the hold for the
    // same client's logs or spans (see OtlpOptions::aggregate_hold_seconds).
    std::vector<ParseResult> refusals;
    std::vector<std::size_t> refusal_positions;
    std::vector<OtlpState::Held> held;
    for (std::size_t i = 0; i < aggregated.items.size(); ++i) {
      if (std::holds_alternative<EventError>(aggregated.items[i])) {
        refusals.push_back(std::move(aggregated.items[i]));
        refusal_positions.push_back(aggregated.positions[i]);
        continue;
      }
      held.push_back(OtlpState::Held{now + options.aggregate_hold_seconds, aggregated.item_keys[i],
                                     std::move(aggregated.items[i]), aggregated.positions[i],
                                     aggregated.item_points[i]});
    }
    const IngestResult result = pipeline.IngestEvents(refusals, refusal_positions, Transport::kOtlp, kAll);
    const std::size_t rejected_points = result.rejected;
    std::size_t ignored = decoded.ignored;
    for (std::size_t r = 0; r < aggregated.ignored.size(); ++r) {
      exporter_metrics.OtlpIgnored(kOtlpMetricsSignal, static_cast<OtlpIgnoreReason>(r),
                                   static_cast<double>(aggregated.ignored[r]));
      ignored += aggregated.ignored[r];
    }
    exporter_metrics.OtlpIgnored(kOtlpMetricsSignal, OtlpIgnoreReason::kNotUsage, static_cast<double>(decoded.ignored));
    exporter_metrics.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kRejected, static_cast<double>(rejected_points));
    exporter_metrics.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kIgnored, static_cast<double>(ignored));
    CountRejections(exporter_metrics, kOtlpMetricsSignal, result);
    state->Hold(std::move(held));
    if (options.aggregate_hold_seconds <= 0) state->Release(pipeline, exporter_metrics, now, false);
    res.Content(OtlpMetricsResponse(*encoding, rejected_points, Message("point", result)), ContentType(*encoding));
    return res;
  };
  return s;
}

OtlpState::OtlpState(std::uint64_t started_unix_nano, const OtlpOptions& options)
    : streams_(started_unix_nano, options.max_streams, options.coverage_window_seconds) {}

void OtlpState::Hold(std::vector<Held> held) {
  if (held.empty()) return;
  std::lock_guard lock(mu_);
  for (auto& h : held) held_.push_back(std::move(h));
}

std::size_t OtlpState::HeldCount() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void OtlpState::Release(EventPipeline& pipeline, ExporterMetrics& m, std::int64_t now, bool all) {
  std::lock_guard release(release_mu_);
  std::vector<Held> due;
  {
    std::lock_guard lock(mu_);
    while (!held_.empty() && (all || held_.front().due <= now)) {
      due.push_back(std::move(held_.front()));
      held_.pop_front();
    }
  }
  if (due.empty()) return;
  std::vector<ParseResult> items;
  std::vector<std::size_t> positions, points;
  std::size_t covered = 0, total_points = 0;
  for (auto& h : due) {
    if (streams_.CoveredByPerRequest(h.key, now)) {  // the client's logs or spans arrived meanwhile
      covered += h.points;
      continue;
    }
    positions.push_back(items.size());  // refusals below are matched by this index
    items.push_back(std::move(h.item));
    points.push_back(h.points);
    total_points += h.points;
  }
  m.OtlpIgnored(kOtlpMetricsSignal, OtlpIgnoreReason::kCovered, static_cast<double>(covered));
  m.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kIgnored, static_cast<double>(covered));
  if (items.empty()) return;
  const IngestResult result =
      pipeline.IngestEvents(items, positions, Transport::kOtlp, std::numeric_limits<std::size_t>::max());
  std::size_t rejected_points = 0;
  for (const auto& e : result.errors) rejected_points += e.index < points.size() ? points[e.index] : 1;
  rejected_points = std::min(rejected_points, total_points);
  m.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kAccepted, static_cast<double>(total_points - rejected_points));
  m.OtlpRecords(kOtlpMetricsSignal, OtlpRecordResult::kRejected, static_cast<double>(rejected_points));
  CountRejections(m, kOtlpMetricsSignal, result);
}

OtlpServer::OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
                       const OtlpOptions& options, const HttpSecurity& security)
    : OtlpServer(address, pipeline, exporter_metrics, options, security,
                 std::make_shared<OtlpState>(NowUnixNano(), options)) {}

OtlpServer::OtlpServer(const ListenAddress& address, EventPipeline& pipeline, ExporterMetrics& exporter_metrics,
                       const OtlpOptions& options, const HttpSecurity& security, std::shared_ptr<OtlpState> state)
    : HttpListener("otlp", address,
                   security.web_config && security.web_config->tls ? &*security.web_config->tls : nullptr,
                   IngestListenerLimits(options.max_body_bytes, options.max_queued),
                   OtlpService(pipeline, exporter_metrics, options, security, state)),
      pipeline_(pipeline),
      exporter_metrics_(exporter_metrics),
      state_(std::move(state)) {}

OtlpServer::~OtlpServer() { Stop(); }

void OtlpServer::Start() {
  HttpListener::Start();
  ticker_ = std::thread([this] {
    std::unique_lock lock(tick_mu_);
    while (!tick_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      lock.unlock();
      state_->Release(pipeline_, exporter_metrics_, NowUnix(), false);
      lock.lock();
    }
  });
}

void OtlpServer::Stop() {
  HttpListener::Stop();
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  state_->Release(pipeline_, exporter_metrics_, NowUnix(), true);  // accepted: counted before the final checkpoint
}

}  // namespace llmcost
