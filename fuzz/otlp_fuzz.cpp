// libFuzzer target: the OTLP decoders, protobuf and proto3 JSON: logs
// (DecodeOtlpLogs), metrics (DecodeOtlpMetrics, then AggregateOtlpPoints with
// stream state kept across inputs) and traces (DecodeOtlpTraces). The first input
// byte picks the encoding (even: JSON, odd: protobuf) and the signal ((byte / 2) % 3:
// logs, metrics, traces); the rest is the body. One target for the three, so the
// fuzz.short run stays as long as it was. Contracts checked on every input:
//  - a malformed body yields no events and names why;
//  - otherwise every log record is either ignored or has exactly one item (an
//    event or its refusal), at a position inside the request, in order;
//  - an event's token counts are within the parser's bound, and it has a model;
//  - the response encodes whatever the rejection count and message are.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "event/otlp_logs.h"
#include "event/otlp_metrics.h"
#include "event/otlp_traces.h"

namespace {

using namespace llmcost;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violation: %s\n", what);
  std::abort();
}

void CheckEvent(const UsageEvent& e, const OtlpMapping& mapping) {
  if (e.model_id.empty()) Fail("an event without a model");
  for (auto n : e.tokens.by_type) {
    if (n > kMaxTokenCount) Fail("a token count beyond the bound");
  }
  if (e.labels.size() > mapping.labels.size()) Fail("more labels than the mapping has");
}

void Metrics(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping) {
  static OtlpStreams streams(0, 64);  // small: eviction is exercised too
  OtlpMetricsDecoded d = DecodeOtlpMetrics(body, encoding, mapping);
  if (d.malformed) {
    if (!d.usage.empty() || d.error.empty()) Fail("a malformed metrics body with points or without a reason");
    return;
  }
  if (d.usage.size() + d.errors.size() + d.ignored != d.points) Fail("a point neither ignored, refused nor usage");
  const std::size_t usage = d.usage.size(), errors = d.errors.size();
  const OtlpAggregated a = AggregateOtlpPoints(d, streams, 1'800'000'000, mapping);
  std::size_t accounted = 0;
  for (std::size_t n : a.ignored) accounted += n;
  for (std::size_t n : a.item_points) accounted += n;
  if (accounted != usage + errors) Fail("an aggregated point lost or counted twice");
  if (a.items.size() != a.positions.size() || a.items.size() != a.item_points.size()) Fail("aggregate lengths differ");
  for (const auto& item : a.items) {
    if (const auto* e = std::get_if<UsageEvent>(&item)) {
      CheckEvent(*e, mapping);
      if (!e->from_aggregate) Fail("a metrics event not marked as an aggregate");
    }
  }
  if (streams.Streams() > 64) Fail("the stream table outgrew its bound");
  (void)OtlpMetricsResponse(encoding, errors, std::string(body.substr(0, 64)));
}

void Traces(std::string_view body, OtlpEncoding encoding, const OtlpMapping& mapping) {
  const OtlpTracesDecoded d = DecodeOtlpTraces(body, encoding, mapping);
  if (d.malformed) {
    if (!d.items.empty() || d.error.empty()) Fail("a malformed traces body with items or without a reason");
    return;
  }
  if (d.items.size() + d.ignored != d.spans || d.items.size() != d.positions.size()) {
    Fail("a span neither ignored nor decoded");
  }
  for (std::size_t i = 0; i < d.items.size(); ++i) {
    if (d.positions[i] >= d.spans) Fail("span position outside the request");
    if (const auto* e = std::get_if<UsageEvent>(&d.items[i])) CheckEvent(*e, mapping);
  }
  (void)OtlpTracesResponse(encoding, d.items.size(), std::string(body.substr(0, 64)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const OtlpEncoding encoding = (data[0] & 1) ? OtlpEncoding::kProtobuf : OtlpEncoding::kJson;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  OtlpMapping mapping;
  mapping.labels = {{"tenant", {"team.id", "service.name"}}, {"feature", {"query_source"}}};
  switch ((data[0] / 2) % 3) {
    case 1: Metrics(body, encoding, mapping); return 0;
    case 2: Traces(body, encoding, mapping); return 0;
    default: break;
  }
  const OtlpLogsDecoded d = DecodeOtlpLogs(body, encoding, mapping);
  if (d.malformed) {
    if (!d.items.empty()) Fail("a malformed body yielded items");
    if (d.error.empty()) Fail("a malformed body without a reason");
    return 0;
  }
  if (d.items.size() != d.positions.size()) Fail("items and positions differ in length");
  if (d.items.size() + d.ignored != d.records) Fail("a record neither ignored nor decoded, or decoded twice");
  std::size_t last = 0;
  for (std::size_t i = 0; i < d.items.size(); ++i) {
    if (d.positions[i] >= d.records) Fail("position outside the request");
    if (i > 0 && d.positions[i] <= last) Fail("positions out of order");
    last = d.positions[i];
    if (const auto* e = std::get_if<UsageEvent>(&d.items[i])) {
      if (e->model_id.empty()) Fail("an event without a model");
      for (auto n : e->tokens.by_type) {
        if (n > kMaxTokenCount) Fail("a token count beyond the bound");
      }
      if (e->labels.size() > mapping.labels.size()) Fail("more labels than the mapping has");
    } else if (std::get<EventError>(d.items[i]).index != d.positions[i]) {
      Fail("a refusal's index is not its record's position");
    }
  }
  (void)OtlpLogsResponse(encoding, d.items.size(), std::string(body.substr(0, 64)));
  return 0;
}
