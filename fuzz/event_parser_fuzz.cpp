// libFuzzer target: the batch splitter and the event parser, as the transports
// drive them (one body or datagram -> SplitBatch -> EventParser::Parse per item).
// Beyond "no crash, no sanitizer report" it checks the event contract of
// docs/metrics.md on every outcome, so a silently wrong accept also fails.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "event/batch_splitter.h"
#include "event/event_parser.h"

namespace {

using namespace llmcost;

void Fail(const char* what) {
  std::fprintf(stderr, "contract violation: %s\n", what);
  std::abort();
}

bool NonNegativeFinite(const std::optional<double>& v) { return !v || (std::isfinite(*v) && *v >= 0); }

void CheckEvent(const UsageEvent& e) {
  if (e.model_id.empty()) Fail("accepted an event without a model");
  for (std::uint64_t n : e.tokens.by_type) {
    if (n > kMaxTokenCount) Fail("accepted a token count above 10^9");
  }
  if (e.web_search_requests > kMaxWebSearches) Fail("accepted an absurd web search count");
  if (!NonNegativeFinite(e.latency_seconds)) Fail("accepted a negative or non-finite latency");
  if (!NonNegativeFinite(e.ttft_seconds)) Fail("accepted a negative or non-finite ttft");
  if (!NonNegativeFinite(e.client_cost_usd)) Fail("accepted a negative or non-finite cost_usd");
  for (const auto& [name, value] : e.labels) {
    if (name != "feature" && name != "tenant" && name != "route") Fail("read a label outside the allowlist");
  }
}

void CheckError(const EventError& err) {
  if (static_cast<std::size_t>(err.reason) >= kRejectReasonCount) Fail("unknown rejection reason");
  if (err.message.empty()) Fail("rejection without a message");
}


// "[]" (white space allowed) is a batch of no events: the one body with no outcome.
bool IsEmptyArray(std::string_view body) {
  const auto open = body.find_first_not_of(" \t\r\n");
  if (open == std::string_view::npos || body[open] != '[') return false;
  const auto close = body.find_first_not_of(" \t\r\n", open + 1);
  return close != std::string_view::npos && body[close] == ']' &&
         body.find_first_not_of(" \t\r\n", close + 1) == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const EventParser parser({"feature", "tenant", "route"});
  // Reused across inputs, as the pipeline reuses its per-thread batch.
  static EventBatch batch;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  SplitBatch(body, batch);
  if (batch.empty() && !IsEmptyArray(body)) Fail("a body produced no event and no error");
  std::size_t index = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const BatchItem item = batch.Item(i);
    if (const auto* err = std::get_if<EventError>(&item)) {
      CheckError(*err);
    } else {
      const auto result = parser.Parse(std::get<JsonValue>(item), index);
      if (const auto* err = std::get_if<EventError>(&result)) {
        CheckError(*err);
        if (err->reason == RejectReason::kEmpty || err->reason == RejectReason::kTooLarge) {
          Fail("the parser used a transport-level rejection reason");
        }
      } else {
        CheckEvent(std::get<UsageEvent>(result));
      }
    }
    ++index;
  }
  return 0;
}
