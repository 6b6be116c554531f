// libFuzzer target: the OTLP logs decoder (DecodeOtlpLogs), protobuf and proto3
// JSON. The first input byte picks the encoding (even: JSON, odd: protobuf); the
// rest is the body. Contracts checked on every input:
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

namespace {

using namespace llmcost;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violation: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const OtlpEncoding encoding = (data[0] & 1) ? OtlpEncoding::kProtobuf : OtlpEncoding::kJson;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  OtlpMapping mapping;
  mapping.labels = {{"tenant", {"team.id", "service.name"}}, {"feature", {"query_source"}}};
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
