#include "transport/http_request.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace llmcost {
namespace {

constexpr std::size_t kMaxChunkSizeLine = 1024;  // hex digits plus extensions

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsTchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsTchar(static_cast<unsigned char>(c)); });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Field values: visible characters, spaces, tabs and obs-text; no other controls.
bool IsFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

// Comma-separated tokens of a header value, e.g. Connection: keep-alive, Upgrade.
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (IEquals(TrimOws(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

RequestRead Refuse(RequestRead r, RequestFailure f) {
  r.status = ReadStatus::kRefused;
  r.failure = f;
  r.request.body.clear();
  return r;
}

// One chunk-size line at `pos`: the size, and where its data starts. nullopt-like
// results through `state`: 0 incomplete, 1 ok, -1 malformed.
int ChunkSizeLine(std::string_view bytes, std::size_t pos, std::uint64_t& size, std::size_t& data) {
  const std::size_t eol = bytes.find("\r\n", pos);
  if (eol == std::string_view::npos) return bytes.size() - pos > kMaxChunkSizeLine ? -1 : 0;
  if (eol - pos > kMaxChunkSizeLine) return -1;
  std::string_view line = bytes.substr(pos, eol - pos);
  const std::size_t semi = line.find(';');
  std::string_view hex = semi == std::string_view::npos ? line : line.substr(0, semi);
  while (!hex.empty() && (hex.back() == ' ' || hex.back() == '\t')) hex.remove_suffix(1);  // BWS before ';'
  if (hex.empty() || hex.size() > 15) return -1;  // 15 hex digits: < 2^60, no overflow below
  size = 0;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return -1;
    size = size * 16 + static_cast<std::uint64_t>(v);
  }
  if (semi != std::string_view::npos && !IsFieldValue(line.substr(semi))) return -1;
  data = eol + 2;
  return 1;
}

}  // namespace

int RequestFailureStatus(RequestFailure f) {
  switch (f) {
    case RequestFailure::kNone: return 200;
    case RequestFailure::kMalformed: return 400;
    case RequestFailure::kVersionNotSupported: return 505;
    case RequestFailure::kHeadersTooLarge: return 431;
    case RequestFailure::kTooManyHeaders: return 431;
    case RequestFailure::kBodyNotAllowed: return 413;
    case RequestFailure::kBodyTooLarge: return 413;
    case RequestFailure::kUnsupportedTransferEncoding: return 501;
    case RequestFailure::kUnsupportedContentEncoding: return 415;
    case RequestFailure::kBadContentEncoding: return 400;
    case RequestFailure::kTimeout: return 408;
  }
  return 400;
}

std::string_view RequestFailureName(RequestFailure f) {
  switch (f) {
    case RequestFailure::kNone: return "none";
    case RequestFailure::kMalformed: return "malformed request";
    case RequestFailure::kVersionNotSupported: return "HTTP version not supported";
    case RequestFailure::kHeadersTooLarge: return "request headers too large";
    case RequestFailure::kTooManyHeaders: return "too many request headers";
    case RequestFailure::kBodyNotAllowed: return "this route takes no request body";
    case RequestFailure::kBodyTooLarge: return "request body too large";
    case RequestFailure::kUnsupportedTransferEncoding: return "unsupported Transfer-Encoding (only chunked)";
    case RequestFailure::kUnsupportedContentEncoding: return "unsupported Content-Encoding on this route";
    case RequestFailure::kBadContentEncoding: return "body does not decode as its Content-Encoding";
    case RequestFailure::kTimeout: return "request not received in time";
  }
  return "malformed request";
}

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) return v;
  }
  return {};
}

RequestRead ReadRequest(std::string_view bytes, const RequestLimits& limits, ReadProgress* progress) {
  ReadProgress local;
  ReadProgress& p = progress ? *progress : local;
  RequestRead r;

  // RFC 9112 2.2: empty lines before a request line are ignored.
  std::size_t start = 0;
  while (bytes.size() - start >= 2 && bytes[start] == '\r' && bytes[start + 1] == '\n') start += 2;
  if (start > 0 && start >= limits.max_header_bytes) return Refuse(r, RequestFailure::kHeadersTooLarge);

  // 1. Find the end of the header block, line by line, resuming where the last call
  //    stopped; refuse on size or line count before the block is complete.
  const bool resume = p.header_scan > start;
  std::size_t pos = resume ? p.header_scan : start;
  std::size_t lines = resume ? p.header_lines : 0;
  std::size_t header_end = std::string_view::npos;  // offset just past the empty line
  {
    while (true) {
      const std::size_t nl = bytes.find('\n', pos);
      if (nl == std::string_view::npos) break;
      if (nl == pos || bytes[nl - 1] != '\r') return Refuse(r, RequestFailure::kMalformed);  // bare LF
      if (nl + 1 - start > limits.max_header_bytes) return Refuse(r, RequestFailure::kHeadersTooLarge);
      if (nl - 1 == pos && lines > 0) {  // "\r\n" alone: the end of the block
        header_end = nl + 1;
        break;
      }
      if (nl - 1 == pos) return Refuse(r, RequestFailure::kMalformed);
      ++lines;
      if (lines > limits.max_headers + 1) return Refuse(r, RequestFailure::kTooManyHeaders);
      pos = nl + 1;
    }
    if (header_end == std::string_view::npos) {
      if (bytes.size() - start > limits.max_header_bytes) return Refuse(r, RequestFailure::kHeadersTooLarge);
      p.header_scan = pos;
      p.header_lines = lines;
      return r;
    }
  }

  // 2. Request line.
  std::string_view block = bytes.substr(start, header_end - start - 2);  // ends with the last line's CRLF
  const std::size_t line_end = block.find("\r\n");
  const std::string_view line = block.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Refuse(r, RequestFailure::kMalformed);
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || target.empty()) return Refuse(r, RequestFailure::kMalformed);
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return Refuse(r, RequestFailure::kMalformed);
  }
  if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) return Refuse(r, RequestFailure::kMalformed);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Refuse(r, RequestFailure::kMalformed);
  }
  HttpRequest& req = r.request;
  req.method = std::string(method);
  req.target = std::string(target);
  req.path = std::string(target.substr(0, target.find('?')));
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return Refuse(r, RequestFailure::kVersionNotSupported);
  }
  req.minor_version = version[7] - '0';

  // 3. Header lines.
  std::string_view rest = block.substr(line_end + 2);
  while (!rest.empty()) {
    const std::size_t eol = rest.find("\r\n");
    const std::string_view h = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || !IsToken(h.substr(0, colon))) {
      return Refuse(r, RequestFailure::kMalformed);  // also obs-fold and "Name : value"
    }
    const std::string_view value = TrimOws(h.substr(colon + 1));
    if (!IsFieldValue(value)) return Refuse(r, RequestFailure::kMalformed);
    req.headers.emplace_back(std::string(h.substr(0, colon)), std::string(value));
  }
  if (req.headers.size() > limits.max_headers) return Refuse(r, RequestFailure::kTooManyHeaders);

  // 4. Framing. Both lengths, or two different ones, is how requests are smuggled.
  bool has_length = false, chunked = false;
  std::uint64_t length = 0;
  for (const auto& [name, value] : req.headers) {
    if (IEquals(name, "Content-Length")) {
      if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos) {
        return Refuse(r, RequestFailure::kMalformed);
      }
      const std::uint64_t v = std::stoull(value);
      if (has_length && v != length) return Refuse(r, RequestFailure::kMalformed);
      has_length = true;
      length = v;
    } else if (IEquals(name, "Transfer-Encoding")) {
      if (chunked || req.minor_version == 0) return Refuse(r, RequestFailure::kMalformed);
      if (!IEquals(value, "chunked")) return Refuse(r, RequestFailure::kUnsupportedTransferEncoding);
      chunked = true;
    }
  }
  if (has_length && chunked) return Refuse(r, RequestFailure::kMalformed);
  const std::string_view connection = req.Header("Connection");
  req.keep_alive = req.minor_version == 1 ? !HasToken(connection, "close") : HasToken(connection, "keep-alive");

  const BodyRule rule = limits.body_rule ? limits.body_rule(req.method, req.path) : BodyRule{};
  const bool may_have_body = chunked || length > 0;
  if (may_have_body) {
    if (has_length && rule.max_bytes == 0) return Refuse(r, RequestFailure::kBodyNotAllowed);
    const std::string_view encoding = req.Header("Content-Encoding");
    if (!encoding.empty() && !IEquals(encoding, "identity") &&
        (!rule.decodable || !(IEquals(encoding, "gzip") || IEquals(encoding, "x-gzip") || IEquals(encoding, "deflate")))) {
      return Refuse(r, RequestFailure::kUnsupportedContentEncoding);
    }
  }
  r.headers_done = true;
  const bool expects = IEquals(req.Header("Expect"), "100-continue");

  // 5. Body.
  if (!chunked) {
    if (length > rule.max_bytes) return Refuse(r, RequestFailure::kBodyTooLarge);
    if (bytes.size() - header_end < length) {
      r.expect_continue = expects;
      return r;
    }
    req.body = std::string(bytes.substr(header_end, length));
    r.consumed = header_end + length;
    r.status = ReadStatus::kComplete;
    return r;
  }
  std::size_t at = p.chunk_next > header_end ? p.chunk_next : header_end;
  std::size_t decoded = p.chunk_next > header_end ? p.chunk_body : 0;
  while (true) {
    std::uint64_t size = 0;
    std::size_t data = 0;
    const int got = ChunkSizeLine(bytes, at, size, data);
    if (got < 0) return Refuse(r, RequestFailure::kMalformed);
    if (got == 0) break;
    if (size == 0) {
      // Last chunk, then trailer lines (ignored, but bounded) and an empty line.
      std::size_t t = data;
      std::size_t trailers = 0;
      while (true) {
        const std::size_t eol = bytes.find("\r\n", t);
        if (eol == std::string_view::npos) {
          if (bytes.size() - data > limits.max_header_bytes) return Refuse(r, RequestFailure::kHeadersTooLarge);
          break;
        }
        if (eol + 2 - data > limits.max_header_bytes) return Refuse(r, RequestFailure::kHeadersTooLarge);
        if (eol == t) {  // end of trailers: decode the chunks once, now that all are here
          std::size_t c = header_end;
          req.body.reserve(decoded);
          while (true) {
            std::uint64_t n = 0;
            std::size_t d = 0;
            ChunkSizeLine(bytes, c, n, d);
            if (n == 0) break;
            req.body.append(bytes.data() + d, n);
            c = d + n + 2;
          }
          r.consumed = eol + 2;
          r.status = ReadStatus::kComplete;
          return r;
        }
        const std::string_view tl = bytes.substr(t, eol - t);
        const std::size_t colon = tl.find(':');
        if (colon == std::string_view::npos || !IsToken(tl.substr(0, colon))) return Refuse(r, RequestFailure::kMalformed);
        if (++trailers > limits.max_headers) return Refuse(r, RequestFailure::kTooManyHeaders);
        t = eol + 2;
      }
      break;
    }
    if (rule.max_bytes == 0) return Refuse(r, RequestFailure::kBodyNotAllowed);
    if (size > rule.max_bytes - decoded) return Refuse(r, RequestFailure::kBodyTooLarge);
    // Framing is bounded too: a body of one-byte chunks is six times its size.
    if (data - header_end - decoded > std::max<std::size_t>(64 * 1024, rule.max_bytes)) {
      return Refuse(r, RequestFailure::kBodyTooLarge);
    }
    if (bytes.size() - data < size + 2) break;
    if (bytes[data + size] != '\r' || bytes[data + size + 1] != '\n') return Refuse(r, RequestFailure::kMalformed);
    decoded += size;
    at = data + size + 2;
    p.chunk_next = at;
    p.chunk_body = decoded;
  }
  r.expect_continue = expects && decoded == 0;
  return r;
}

InflateResult InflateBody(std::string_view in, std::size_t max_bytes, std::string& out) {
  out.clear();
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return InflateResult::kCorrupt;  // +32: gzip or zlib header
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), UINT32_MAX));
  char buf[16384];
  InflateResult result = InflateResult::kCorrupt;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = sizeof buf - z.avail_out;
    if (out.size() + produced > max_bytes) {
      result = InflateResult::kTooLarge;
      break;
    }
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      // Trailing bytes after the stream are not silently ignored.
      result = z.avail_in == 0 && in.size() <= UINT32_MAX ? InflateResult::kOk : InflateResult::kCorrupt;
      break;
    }
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && produced > 0)) break;  // corrupt, or truncated input
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;                 // truncated
  }
  inflateEnd(&z);
  if (result != InflateResult::kOk) {
    out.clear();
    out.shrink_to_fit();
  }
  return result;
}

HttpResponse& HttpResponse::Content(std::string text, std::string content_type) {
  body = std::move(text);
  return Header("Content-Type", std::move(content_type));
}

HttpResponse& HttpResponse::Header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string SerializeResponse(const HttpResponse& response, bool head, bool close) {
  std::string out;
  out.reserve(256 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += StatusText(response.status);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "Content-Length") || IEquals(name, "Connection")) continue;  // ours below
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!(head && response.body.empty())) {  // a HEAD answered without rendering has no length to tell
    out += "Content-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head) out += response.body;
  return out;
}

}  // namespace llmcost
