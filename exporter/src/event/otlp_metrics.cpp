#include "event/otlp_metrics.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "otlp_metrics.pb.h"

namespace llmcost {
namespace {

// Canonical text of an attribute set without `skip`, for stream and group keys.
std::string AttributesKey(const OtlpAttributes& a, std::string_view skip) {
  OtlpAttributes kept;
  for (const auto& kv : a) {
    if (kv.first != skip) kept.push_back(kv);
  }
  return OtlpResourceKey(kept);
}

std::optional<TokenType> ClaudeCodeTokenType(const std::string& t, const OtlpMapping& mapping) {
  if (t == "input") return TokenType::kInput;
  if (t == "output") return TokenType::kOutput;
  if (t == "cacheRead") return TokenType::kCacheRead;
  if (t == "cacheCreation") return mapping.cache_write_default;
  return std::nullopt;
}

struct Ctx {
  const OtlpMapping& mapping;
  OtlpMetricsDecoded& out;
};

void Point(Ctx& c, const otlp::Metric& m, OtlpAggregate kind, OtlpTemporality temporality, const OtlpAttributes& attrs,
           const OtlpAttributes& resource, const std::string& resource_key, std::uint64_t start, std::uint64_t time,
           std::optional<double> value) {
  const std::size_t index = c.out.points++;
  const std::string where = "metric " + m.name() + " ";
  auto refuse = [&](const std::string& field, RejectReason reason, std::string message) {
    c.out.errors.push_back(EventError{index, where + field, reason, std::move(message)});
  };
  if (!value || !std::isfinite(*value) || *value < 0) {
    return refuse("value", RejectReason::kBadField, "must be a finite, non-negative number");
  }
  OtlpMetricPoint p;
  p.index = index;
  p.kind = kind;
  p.stream.temporality = temporality;
  p.stream.start_unix_nano = start;
  p.stream.time_unix_nano = time;
  p.stream.value = *value;
  std::string_view type_key;
  if (kind == OtlpAggregate::kClaudeCodeTokens) {
    type_key = "type";
    const auto t = OtlpText(attrs, nullptr, "type");
    const auto tt = t ? ClaudeCodeTokenType(*t, c.mapping) : std::nullopt;
    if (!tt) return refuse("attributes.type", RejectReason::kBadField, "must be input, output, cacheRead or cacheCreation");
    p.token_type = *tt;
  } else if (kind == OtlpAggregate::kGenAiTokens) {
    type_key = "gen_ai.token.type";
    const auto t = OtlpText(attrs, nullptr, "gen_ai.token.type");
    if (!t || (*t != "input" && *t != "output")) {
      return refuse("attributes.gen_ai.token.type", RejectReason::kBadField, "must be input or output");
    }
    p.token_type = *t == "input" ? TokenType::kInput : TokenType::kOutput;
  }
  UsageEvent& e = p.event;
  if (kind == OtlpAggregate::kGenAiTokens) {
    auto model = OtlpText(attrs, &resource, "gen_ai.response.model");
    if (!model || model->empty()) model = OtlpText(attrs, &resource, "gen_ai.request.model");
    if (!model || model->empty()) {
      return refuse("attributes.gen_ai.request.model", RejectReason::kMissingModel,
                    "needs gen_ai.response.model or gen_ai.request.model");
    }
    e.model_id = *model;
    OtlpGenAiProvider(attrs, &resource, e);
  } else {
    const auto model = OtlpText(attrs, &resource, "model");
    if (!model || model->empty()) return refuse("attributes.model", RejectReason::kMissingModel, "needs a model attribute");
    e.model_id = *model;
    if (auto speed = OtlpText(attrs, &resource, "speed")) {
      e.speed = *speed == "fast" ? Speed::kFast : (*speed == "standard" || *speed == "normal") ? Speed::kStandard
                                                                                               : Speed::kOther;
    }
    if (auto provider = OtlpText(attrs, &resource, "anthropic.provider")) e.platform = OtlpPlatformOf(*provider);
  }
  if (e.model_id.size() > 256) return refuse("attributes.model", RejectReason::kBadField, "longer than 256 bytes");
  e.from_aggregate = true;
  if (time != 0) e.ts_unix = static_cast<std::int64_t>(time / 1'000'000'000ULL);
  OtlpMapLabels(c.mapping, attrs, &resource, e.labels);
  const std::string attrs_key = AttributesKey(attrs, type_key);
  p.stream.stream = m.name() + '\x1d' + resource_key + '\x1d' + AttributesKey(attrs, "");
  p.group = std::string(kind == OtlpAggregate::kGenAiTokens ? "g" : "c") + '\x1d' + resource_key + '\x1d' + attrs_key +
            '\x1d' + std::to_string(start) + '\x1d' + std::to_string(time);
  // GenAI spans are matched by resource (a span has no session); Claude Code's
  // logs by session.id, else resource.
  p.overlap_key = kind == OtlpAggregate::kGenAiTokens ? resource_key : OtlpOverlapKey(attrs, resource);
  c.out.usage.push_back(std::move(p));
}

std::optional<OtlpTemporality> TemporalityOf(otlp::AggregationTemporality t) {
  if (t == otlp::AGGREGATION_TEMPORALITY_DELTA) return OtlpTemporality::kDelta;
  if (t == otlp::AGGREGATION_TEMPORALITY_CUMULATIVE) return OtlpTemporality::kCumulative;
  return std::nullopt;
}

void Decode(const otlp::ExportMetricsServiceRequest& request, Ctx& c) {
  for (const auto& rm : request.resource_metrics()) {
    const OtlpAttributes resource = OtlpAttributesFromProto(rm.resource().attributes());
    const std::string resource_key = OtlpResourceKey(resource);
    c.out.sources.push_back(OtlpSourceOf(resource));
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        std::optional<OtlpAggregate> kind;
        if (m.name() == kClaudeCodeTokenUsage && m.has_sum()) kind = OtlpAggregate::kClaudeCodeTokens;
        if (m.name() == kClaudeCodeCostUsage && m.has_sum()) kind = OtlpAggregate::kClaudeCodeCost;
        if (m.name() == kGenAiClientTokenUsage && m.has_histogram()) kind = OtlpAggregate::kGenAiTokens;
        const std::size_t n = m.has_sum() ? static_cast<std::size_t>(m.sum().data_points_size())
                              : m.has_histogram() ? static_cast<std::size_t>(m.histogram().data_points_size())
                                                  : 0;
        if (!kind) {
          c.out.points += n;
          c.out.ignored += n;
          continue;
        }
        const auto temporality = TemporalityOf(m.has_sum() ? m.sum().aggregation_temporality()
                                                           : m.histogram().aggregation_temporality());
        if (!temporality) {
          for (std::size_t i = 0; i < n; ++i) {
            c.out.errors.push_back(EventError{c.out.points++, "metric " + m.name() + " aggregationTemporality",
                                              RejectReason::kBadField, "must be DELTA or CUMULATIVE"});
          }
          continue;
        }
        if (m.has_sum()) {
          for (const auto& dp : m.sum().data_points()) {
            std::optional<double> v;
            if (dp.value_case() == otlp::NumberDataPoint::kAsDouble) v = dp.as_double();
            if (dp.value_case() == otlp::NumberDataPoint::kAsInt) v = static_cast<double>(dp.as_int());
            if (dp.flags() & 1) {  // no recorded value (a staleness marker)
              ++c.out.points;
              ++c.out.ignored;
              continue;
            }
            Point(c, m, *kind, *temporality, OtlpAttributesFromProto(dp.attributes()), resource, resource_key,
                  dp.start_time_unix_nano(), dp.time_unix_nano(), v);
          }
        } else {
          for (const auto& dp : m.histogram().data_points()) {
            if (dp.flags() & 1) {
              ++c.out.points;
              ++c.out.ignored;
              continue;
            }
            std::optional<double> v;
            if (dp.has_sum()) v = dp.sum();
            if (!dp.has_sum() && dp.count() == 0) v = 0;
            Point(c, m, *kind, *temporality, OtlpAttributesFromProto(dp.attributes()), resource, resource_key,
                  dp.start_time_unix_nano(), dp.time_unix_nano(), v);
          }
        }
      }
    }
  }
}

}  // namespace

OtlpMetricsDecoded DecodeOtlpMetrics(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping) {
  OtlpMetricsDecoded out;
  otlp::ExportMetricsServiceRequest request;
  if (encoding == OtlpEncoding::kProtobuf) {
    if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      out.malformed = true;
      out.error = "body is not a protobuf ExportMetricsServiceRequest";
      return out;
    }
  } else {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // fields this subset does not declare
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(body.data(), body.size()), &request, options);
    if (!status.ok()) {
      out.malformed = true;
      out.error = "body is not an OTLP/JSON ExportMetricsServiceRequest: " + std::string(status.message());
      if (out.error.size() > 300) out.error.resize(300);
      return out;
    }
  }
  Ctx c{mapping, out};
  Decode(request, c);
  return out;
}

OtlpAggregated AggregateOtlpPoints(OtlpMetricsDecoded& decoded, OtlpStreams& streams, std::int64_t now_unix,
                                   const OtlpMapping&) {
  OtlpAggregated out;
  for (auto& e : decoded.errors) {
    out.items.emplace_back(e);
    out.positions.push_back(e.index);
    out.item_points.push_back(1);
    out.item_keys.emplace_back();
  }
  auto ignore = [&out](OtlpIgnoreReason r) { ++out.ignored[static_cast<std::size_t>(r)]; };
  struct Group {
    UsageEvent event;
    std::size_t first = 0;
    std::size_t points = 0;
    double cost = 0;
    bool has_cost = false;
    std::optional<EventError> error;
    std::string key;
  };
  std::map<std::string, Group> groups;  // ordered: events in a stable order
  std::vector<std::string> order;
  for (auto& p : decoded.usage) {
    const OtlpStreamDelta d = streams.Advance(p.stream);
    // Advanced even when covered: a cumulative stream's last value stays current
    // for the day the per-request signal stops.
    if (streams.CoveredByPerRequest(p.overlap_key, now_unix)) {
      ignore(OtlpIgnoreReason::kCovered);
      continue;
    }
    switch (d.verdict) {
      case OtlpStreamVerdict::kCount: break;
      case OtlpStreamVerdict::kDuplicate: ignore(OtlpIgnoreReason::kDuplicate); continue;
      case OtlpStreamVerdict::kStale: ignore(OtlpIgnoreReason::kStale); continue;
      case OtlpStreamVerdict::kBaseline: ignore(OtlpIgnoreReason::kBaseline); continue;
      case OtlpStreamVerdict::kUnchanged: ignore(OtlpIgnoreReason::kUnchanged); continue;
    }
    auto [it, fresh] = groups.try_emplace(p.group);
    Group& g = it->second;
    if (fresh) {
      g.event = std::move(p.event);
      g.first = p.index;
      g.key = p.overlap_key;
      order.push_back(p.group);
    }
    ++g.points;
    if (p.kind == OtlpAggregate::kClaudeCodeCost) {
      g.cost += d.delta;
      g.has_cost = true;
      continue;
    }
    const double rounded = std::round(d.delta);
    if (std::fabs(rounded - d.delta) > 1e-6 || rounded > static_cast<double>(kMaxTokenCount)) {
      if (!g.error) {
        g.error = EventError{p.index, "metric value", RejectReason::kBadField,
                             "a token count must be a whole number between 0 and " + std::to_string(kMaxTokenCount)};
      }
      continue;
    }
    g.event.tokens[p.token_type] += static_cast<std::uint64_t>(rounded);
    if (g.event.tokens[p.token_type] > kMaxTokenCount && !g.error) {
      g.error = EventError{p.index, "metric value", RejectReason::kBadField, "more tokens than one event may carry"};
    }
  }
  for (const auto& key : order) {
    Group& g = groups[key];
    if (g.has_cost && g.cost > 0) g.event.reported_cost_usd = g.cost;
    if (g.error) {
      out.items.emplace_back(*g.error);
    } else {
      out.items.emplace_back(std::move(g.event));
    }
    out.positions.push_back(g.first);
    out.item_points.push_back(g.points);
    out.item_keys.push_back(g.error ? std::string() : std::move(g.key));
  }
  return out;
}

std::string OtlpMetricsResponse(OtlpEncoding encoding, std::size_t rejected, const std::string& error_message) {
  if (encoding == OtlpEncoding::kProtobuf) {
    otlp::ExportMetricsServiceResponse response;
    if (rejected > 0 || !error_message.empty()) {
      response.mutable_partial_success()->set_rejected_data_points(static_cast<std::int64_t>(rejected));
      response.mutable_partial_success()->set_error_message(error_message);
    }
    return response.SerializeAsString();
  }
  nlohmann::json j = nlohmann::json::object();
  if (rejected > 0 || !error_message.empty()) {
    j["partialSuccess"] = {{"rejectedDataPoints", std::to_string(rejected)}, {"errorMessage", error_message}};
  }
  return j.dump();
}

}  // namespace llmcost
