#pragma once
// The HTTP/1.1 request reader and response writer every listener shares (web,
// ingest, and any later one such as OTLP): bytes in -> a complete request, "need
// more bytes", or a refusal with a reason. It never allocates more than the bytes
// it is given plus the decoded body, and refuses as soon as a limit is passed:
// header bytes and count before the header block ends, a declared body over the
// route's limit before the body arrives, a body on a route that takes none.
// No sockets here, so it is unit-tested and fuzzed alone (fuzz/http_request_fuzz.cpp).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmcost {

// Why a request was refused; the one list its status codes and names derive from.
enum class RequestFailure : std::uint8_t {
  kNone,
  kMalformed,                     // 400: not HTTP/1.x syntax, or an ambiguous length (smuggling)
  kVersionNotSupported,           // 505: not HTTP/1.0 or 1.1
  kHeadersTooLarge,               // 431: request line + headers over max_header_bytes
  kTooManyHeaders,                // 431: more than max_headers header lines
  kBodyNotAllowed,                // 413: a body on a route that takes none
  kBodyTooLarge,                  // 413: a body (declared or as it arrives, or inflated) over the route's limit
  kUnsupportedTransferEncoding,   // 501: a Transfer-Encoding other than chunked
  kUnsupportedContentEncoding,    // 415: Content-Encoding on a route that takes none, or not gzip/deflate
  kBadContentEncoding,            // 400: a gzip/deflate body that does not inflate
  kTimeout,                       // 408: the request was not complete within its deadline (set by the listener)
};
int RequestFailureStatus(RequestFailure f);
std::string_view RequestFailureName(RequestFailure f);

// What a route takes, looked up by method and path once the request line is read.
struct BodyRule {
  std::size_t max_bytes = 0;  // 0: no body (a zero-length body is still fine)
  bool decodable = false;     // Content-Encoding gzip/deflate allowed (inflated by the handler)
};

struct RequestLimits {
  std::size_t max_header_bytes = 16 * 1024;  // request line + header lines + trailers
  std::size_t max_headers = 64;
  std::function<BodyRule(std::string_view method, std::string_view path)> body_rule;  // null: no bodies
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent, values trimmed
  std::string body;    // decoded from chunked if it was; still content-encoded
  bool keep_alive = true;

  // The first header of that name (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

enum class ReadStatus : std::uint8_t { kIncomplete, kComplete, kRefused };

struct RequestRead {
  ReadStatus status = ReadStatus::kIncomplete;
  RequestFailure failure = RequestFailure::kNone;
  // Complete: the request. Refused after the request line: method, path, version.
  // Incomplete with headers_done: everything but the body.
  HttpRequest request;
  std::size_t consumed = 0;      // complete: bytes of this request (the rest is the next one)
  bool headers_done = false;     // the header block has been read and checked
  bool expect_continue = false;  // headers done, body pending, client sent Expect: 100-continue
};

// Resume state for a buffer that only grows between calls (the listener's read
// buffer), so that trickled bytes are not rescanned from the start: a header block
// or a chunked body arriving byte by byte costs linear time, not quadratic. Reset
// it (= {}) whenever the buffer's start changes. Calling without one is the same
// as calling with a fresh one.
struct ReadProgress {
  std::size_t header_scan = 0;   // start of the first header line not yet complete
  std::size_t header_lines = 0;  // complete lines before header_scan
  std::size_t chunk_next = 0;   // offset of the next chunk-size line (0: not started)
  std::size_t chunk_body = 0;   // decoded body bytes before chunk_next
};

RequestRead ReadRequest(std::string_view bytes, const RequestLimits& limits, ReadProgress* progress = nullptr);

// Inflates a gzip or zlib ("deflate") body into `out`, refusing past max_bytes of
// output (a gzip bomb stops at the cap, not at the end of the stream).
enum class InflateResult : std::uint8_t { kOk, kTooLarge, kCorrupt };
InflateResult InflateBody(std::string_view in, std::size_t max_bytes, std::string& out);

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // close the connection after this response

  HttpResponse& Content(std::string text, std::string content_type);
  HttpResponse& Header(std::string name, std::string value);
};

// Status line, headers (Content-Length always; Connection: close when closing),
// then the body unless `head`.
std::string SerializeResponse(const HttpResponse& response, bool head, bool close);

std::string_view StatusText(int status);

}  // namespace llmcost
