// The HTTP request reader (transport/http_request.h): every limit refuses at the
// point it is passed, framing is unambiguous, and feeding bytes in pieces gives
// what feeding them at once gives. Also the capped inflater and basic auth's
// bcrypt bounds (transport/basic_auth.h).
#include <crypt.h>
#include "gzip_body.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "transport/basic_auth.h"
#include "transport/http_request.h"

namespace llmcost {
namespace {

RequestLimits Limits(std::size_t max_body = 1000) {
  RequestLimits l;
  l.max_header_bytes = 1024;
  l.max_headers = 8;
  l.body_rule = [max_body](std::string_view method, std::string_view path) {
    if (method == "POST" && path == "/v1/events") return BodyRule{max_body, true};
    return BodyRule{};
  };
  return l;
}

RequestRead Read(const std::string& bytes, std::size_t max_body = 1000) { return ReadRequest(bytes, Limits(max_body)); }

TEST(HttpRequest, ReadsAGetAndLeavesThePipelinedRest) {
  const std::string first = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n";
  const RequestRead r = Read(first + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(r.status, ReadStatus::kComplete);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.path, "/metrics");
  EXPECT_EQ(r.request.target, "/metrics?x=1");
  EXPECT_EQ(r.request.Header("accept"), "text/plain");
  EXPECT_TRUE(r.request.keep_alive);
  EXPECT_FALSE(Read("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Read("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").request.keep_alive);
}

// Issue 11 item 2: curl -X POST .../-/reload sends neither Content-Length nor a body.
TEST(HttpRequest, PostWithoutLengthHasAnEmptyBody) {
  const RequestRead r = Read("POST /-/reload HTTP/1.1\r\nHost: a\r\nUser-Agent: curl\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.status, ReadStatus::kComplete);
  EXPECT_EQ(r.request.body, "");
  EXPECT_EQ(Read("POST /-/reload HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status, ReadStatus::kComplete);
}

TEST(HttpRequest, HeaderFloodsAreRefusedBeforeTheBlockEnds) {
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  RequestRead r = Read(many);  // no terminating empty line yet
  EXPECT_EQ(r.status, ReadStatus::kRefused);
  EXPECT_EQ(r.failure, RequestFailure::kTooManyHeaders);
  EXPECT_EQ(RequestFailureStatus(r.failure), 431);

  r = Read("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a'));  // one line, never ended
  EXPECT_EQ(r.status, ReadStatus::kRefused);
  EXPECT_EQ(r.failure, RequestFailure::kHeadersTooLarge);
  // Just under the limit it is still waiting for more.
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nX-Big: " + std::string(900, 'a')).status, ReadStatus::kIncomplete);
}

TEST(HttpRequest, RoutesWithoutABodyRefuseOne) {
  RequestRead r = Read("POST /-/reload HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(r.status, ReadStatus::kRefused);  // refused before the body is sent
  EXPECT_EQ(r.failure, RequestFailure::kBodyNotAllowed);
  EXPECT_EQ(r.request.path, "/-/reload");
  r = Read("POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(r.failure, RequestFailure::kBodyNotAllowed);
  r = Read("GET /metrics HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(r.failure, RequestFailure::kBodyNotAllowed);
  EXPECT_EQ(RequestFailureStatus(r.failure), 413);
  // An empty chunked body is no body.
  EXPECT_EQ(Read("POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status, ReadStatus::kComplete);
}

TEST(HttpRequest, BodyLimitsApplyToDeclaredAndChunkedBodies) {
  RequestRead r = Read("POST /v1/events HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(r.failure, RequestFailure::kBodyTooLarge);  // before a byte of it arrives
  r = Read("POST /v1/events HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
  EXPECT_EQ(r.status, ReadStatus::kComplete);
  EXPECT_EQ(r.request.body.size(), 1000u);
  std::string chunked = "POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "190\r\n" + std::string(400, 'x') + "\r\n";  // 3 x 400 > 1000
  r = Read(chunked);
  EXPECT_EQ(r.failure, RequestFailure::kBodyTooLarge);
  r = Read("POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\nNEXT");
  ASSERT_EQ(r.status, ReadStatus::kComplete);
  EXPECT_EQ(r.request.body, "abcdef");
  EXPECT_EQ(std::string_view("POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\nNEXT")
                .substr(r.consumed),
            "NEXT");  // the rest is the next request
}

TEST(HttpRequest, AmbiguousFramingIsRefused) {
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").failure,
            RequestFailure::kMalformed);
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").failure,
            RequestFailure::kMalformed);
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Length: -1\r\n\r\n").failure, RequestFailure::kMalformed);
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").failure,
            RequestFailure::kUnsupportedTransferEncoding);
  EXPECT_EQ(Read("GET / HTTP/1.1\nHost: a\n\n").failure, RequestFailure::kMalformed);  // bare LF
  EXPECT_EQ(Read("GET / HTTP/1.1\r\n Folded: x\r\n\r\n").failure, RequestFailure::kMalformed);
  EXPECT_EQ(Read("GET / HTTP/2.0\r\n\r\n").failure, RequestFailure::kVersionNotSupported);
  EXPECT_EQ(Read("GET  / HTTP/1.1\r\n\r\n").failure, RequestFailure::kMalformed);
  EXPECT_EQ(Read("GET http://x/ HTTP/1.1\r\n\r\n").failure, RequestFailure::kMalformed);
}

TEST(HttpRequest, ContentEncodingOnlyWhereTheRouteDecodes) {
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab").status,
            ReadStatus::kComplete);  // inflated by the handler
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nab").failure,
            RequestFailure::kUnsupportedContentEncoding);
  // A multipart body is just bytes to the reader (the events parser refuses it).
  EXPECT_EQ(Read("POST /v1/events HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 2\r\n\r\nab")
                .status,
            ReadStatus::kComplete);
}

TEST(HttpRequest, ExpectContinueIsReportedOnceHeadersAreIn) {
  const RequestRead r = Read("POST /v1/events HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(r.status, ReadStatus::kIncomplete);
  EXPECT_TRUE(r.headers_done);
  EXPECT_TRUE(r.expect_continue);
}

TEST(HttpRequest, PiecewiseFeedingMatchesWholeAndIsLinear) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += "1\r\nx\r\n";  // 200 one-byte chunks
  const std::string bytes = "POST /v1/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "0\r\n\r\n";
  const RequestRead whole = Read(bytes);
  ASSERT_EQ(whole.status, ReadStatus::kComplete);
  ReadProgress progress;
  RequestRead part;
  for (std::size_t n = 1; n <= bytes.size(); ++n) {
    part = ReadRequest(std::string_view(bytes).substr(0, n), Limits(), &progress);
    if (part.status != ReadStatus::kIncomplete) break;
  }
  EXPECT_EQ(part.status, ReadStatus::kComplete);
  EXPECT_EQ(part.request.body, std::string(200, 'x'));
  EXPECT_EQ(part.consumed, whole.consumed);
  EXPECT_GT(progress.chunk_next, 0u);  // resumed, not rescanned
}

TEST(InflateBody, StopsAGzipBombAtTheCap) {
  const std::string bomb = Gzip(std::string(64 << 20, '0'));  // 64 MiB of zeros in ~64 KiB
  ASSERT_LT(bomb.size(), 100u * 1024);
  std::string out;
  EXPECT_EQ(InflateBody(bomb, 1 << 20, out), InflateResult::kTooLarge);
  EXPECT_LE(out.capacity(), 1u << 20);
  EXPECT_EQ(InflateBody(Gzip("{\"model\":\"m\"}"), 1 << 20, out), InflateResult::kOk);
  EXPECT_EQ(out, "{\"model\":\"m\"}");
  EXPECT_EQ(InflateBody("not gzip", 1 << 20, out), InflateResult::kCorrupt);
  const std::string g = Gzip("abc");
  EXPECT_EQ(InflateBody(g.substr(0, g.size() - 3), 1 << 20, out), InflateResult::kCorrupt);  // truncated
}

TEST(HttpResponse, SerializesLengthAndClose) {
  HttpResponse r;
  r.status = 202;
  r.Content("{}", "application/json");
  EXPECT_EQ(SerializeResponse(r, false, true),
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(SerializeResponse(r, true, false), "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n");
}

// bcrypt hashes made here with libxcrypt, at a given cost.
std::string Bcrypt(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt) == nullptr) return "";
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), salt, &data, sizeof data);
  return out ? out : "";
}

std::string Basic(const std::string& user_password) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  std::size_t i = 0;
  for (; i + 2 < user_password.size(); i += 3) {
    const unsigned v = (unsigned char)user_password[i] << 16 | (unsigned char)user_password[i + 1] << 8 | (unsigned char)user_password[i + 2];
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (user_password.size() - i == 1) {
    const unsigned v = (unsigned char)user_password[i] << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (user_password.size() - i == 2) {
    const unsigned v = (unsigned char)user_password[i] << 16 | (unsigned char)user_password[i + 1] << 8;
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

// Issue 13 item 9: with hashes of cost 4 (not 10), an unknown user name used to
// cost a cost-10 bcrypt (~64x a real user's), telling which names exist.
TEST(BasicAuth, UnknownUserCostsWhatAConfiguredUserCosts) {
  const std::string alice = Bcrypt("pw-a", 4), bob = Bcrypt("pw-b", 5);
  ASSERT_FALSE(alice.empty());
  BasicAuth auth(std::map<std::string, std::string>{{"alice", alice}, {"bob", bob}});
  for (const std::string name : {"mallory", "eve", "root", "admin", "x"}) {
    const std::string& h = auth.HashFor(name);
    EXPECT_TRUE(h == alice || h == bob) << name;
    EXPECT_EQ(&h, &auth.HashFor(name));  // stable per name
  }
  EXPECT_FALSE(auth.Accepts(Basic("mallory:pw-a")));  // another user's password is not a login
  EXPECT_TRUE(auth.Accepts(Basic("alice:pw-a")));
}

// Issue 13 item 9: 64 clients with wrong passwords made a remembered, correct
// login wait 1.7 s. Now bcrypt runs kMaxConcurrentBcrypt at a time; the rest are
// told kBusy at once, and remembered logins never wait for bcrypt.
TEST(BasicAuth, BcryptWorkIsBoundedAndRememberedLoginsStayFast) {
  const std::string hash = Bcrypt("right", 12);  // ~0.25 s per check on this machine
  ASSERT_FALSE(hash.empty());
  BasicAuth auth(std::map<std::string, std::string>{{"alice", hash}});
  ASSERT_TRUE(auth.Accepts(Basic("alice:right")));  // remembered from now on
  const std::size_t calls = auth.bcrypt_calls();
  std::atomic<bool> done{false};
  std::thread slow([&] {
    EXPECT_EQ(auth.Check(Basic("alice:wrong-1")), AuthCheck::kRefused);
    done = true;
  });
  while (auth.bcrypt_calls() == calls) std::this_thread::yield();  // the slow check holds the one slot
  if (!done) {
    EXPECT_EQ(auth.Check(Basic("alice:wrong-2")), AuthCheck::kBusy);
  }
  EXPECT_EQ(auth.Check(Basic("alice:right")), AuthCheck::kAccepted);  // while the slot is taken
  slow.join();
  EXPECT_EQ(auth.bcrypt_calls(), calls + 1);  // only the slow check ran bcrypt
}

}  // namespace
}  // namespace llmcost
