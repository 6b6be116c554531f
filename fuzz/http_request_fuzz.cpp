// libFuzzer target: the HTTP request reader every listener shares (ReadRequest)
// and the body inflater. Contracts checked on every input:
//  - feeding the bytes in pieces (with ReadProgress, as the listener does) gives
//    the same outcome as feeding them at once: status, reason, consumed, body;
//  - a complete request consumed no more than it was given, and its body is
//    within the route's limit; nothing but the limits' bytes is ever buffered;
//  - a refused request never reports headers it did not check;
//  - inflating never returns more than the cap.
// The first input byte picks the piece size; the rest is the byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transport/http_request.h"

namespace {

using namespace llmcost;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violation: %s\n", what);
  std::abort();
}

RequestLimits Limits() {
  RequestLimits l;
  l.max_header_bytes = 2048;
  l.max_headers = 16;
  l.body_rule = [](std::string_view method, std::string_view path) {
    if (method == "POST" && path == "/v1/events") return BodyRule{1024, true};
    return BodyRule{};
  };
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const RequestLimits limits = Limits();
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const RequestRead whole = ReadRequest(bytes, limits);
  ReadProgress progress;
  RequestRead part;
  std::size_t fed = 0;
  do {
    fed = std::min(bytes.size(), fed + piece);
    part = ReadRequest(bytes.substr(0, fed), limits, &progress);
  } while (part.status == ReadStatus::kIncomplete && fed < bytes.size());

  if (part.status != whole.status) Fail("piecewise and whole status differ");
  if (part.failure != whole.failure) Fail("piecewise and whole reason differ");
  if (whole.status == ReadStatus::kComplete) {
    // Piecewise may complete on a prefix: the same request, the same length.
    if (part.consumed != whole.consumed || part.request.body != whole.request.body) Fail("piecewise request differs");
    if (whole.consumed == 0 || whole.consumed > bytes.size()) Fail("consumed out of range");
    const BodyRule rule = limits.body_rule(whole.request.method, whole.request.path);
    if (whole.request.body.size() > rule.max_bytes) Fail("body over the route's limit");
    if (!whole.headers_done) Fail("complete without headers");
    std::string inflated;
    if (InflateBody(whole.request.body, 4096, inflated) == InflateResult::kOk && inflated.size() > 4096) {
      Fail("inflated past the cap");
    }
  }
  if (whole.status == ReadStatus::kIncomplete && !whole.headers_done && bytes.size() > limits.max_header_bytes + 2 * 1024) {
    Fail("kept reading headers past max_header_bytes");
  }
  if (whole.status == ReadStatus::kRefused && whole.failure == RequestFailure::kNone) Fail("refused without a reason");
  return 0;
}
