// llm-bench-load: drives the exporter as hard as asked, for benchmarks only.
// Pre-builds its event payloads (so JSON building is not what is measured), then
// sends them over UDP (sendmmsg, paced per millisecond) or HTTP (keep-alive POSTs
// of N events) for a bounded time, and prints what it sent as JSON.
//
//   llm-bench-load --udp 127.0.0.1:10430 --rate 100000 --seconds 5 --label-sets 100
//   llm-bench-load --http 127.0.0.1:10430 --batch 100 --connections 2 --seconds 5
//   llm-bench-load --udp 127.0.0.1:8125 --format statsd --rate 50000 --seconds 5
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string udp, http;
  double rate = 0;  // events/s for UDP; 0 = as fast as possible
  double seconds = 5;
  int label_sets = 100;
  int batch = 1;  // HTTP events per request
  int connections = 1;
  int sockets = 1;  // UDP: source sockets the batches go round-robin from
  bool statsd = false;  // UDP payloads as statsd lines instead of JSON events
};

// Every event carries a unique request_id, since the exporter does not count a
// request_id twice: a per-process random prefix (warm-up and measured runs against
// one exporter differ) and a fixed-width sequence number stamped in just before
// sending.
constexpr std::size_t kSeqDigits = 12;
const std::string kIdPrefix = [] {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "msg_01%08x", static_cast<unsigned>(rd()));
  return std::string(buf);
}();

// Offset of the sequence number slot in an Event() payload.
std::size_t SeqSlot(const std::string& event) { return event.find(kIdPrefix) + kIdPrefix.size(); }

void StampSeq(std::string& event, std::size_t slot, unsigned long long seq) {
  for (std::size_t d = kSeqDigits; d-- > 0; seq /= 10) event[slot + d] = static_cast<char>('0' + seq % 10);
}

// The event as the Python example client sends it for a real Messages API response
// (usage as the SDK dumps it, stop reason, request id): about 480 bytes.
std::string Event(int i, int label_sets) {
  const int set = i % label_sets;
  // Distinct (feature, tenant) pairs: label_sets of them.
  return "{\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":" + std::to_string(1000 + i % 97) +
         ",\"output_tokens\":" + std::to_string(200 + i % 31) +
         ",\"cache_read_input_tokens\":20000,\"cache_creation_input_tokens\":0,\"cache_creation\":"
         "{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"service_tier\":\"standard\"},"
         "\"latency_ms\":1800,\"ttft_ms\":300,\"status\":200,\"stop_reason\":\"end_turn\","
         "\"request_id\":\"" + kIdPrefix + std::string(kSeqDigits, '0') +
         "\",\"labels\":{\"feature\":\"f" + std::to_string(set % 10) + "\",\"tenant\":\"t" + std::to_string(set / 10) +
         "\",\"route\":\"/api/chat\"}}";
}

// The same event as a statsd client would send it to collectd (peer B, see
// docs/benchmarks.md): statsd has no labels, so the label set becomes part of each
// metric name; one datagram of newline-separated lines per event. Counters are
// integers in collectd, so cost goes as micro-USD, priced by the client (statsd
// has no price table): Claude Sonnet 4.5, $3 / $15 / $0.30 / $3.75 per MTok.
std::string StatsdEvent(int i, int label_sets) {
  const int set = i % label_sets;
  const long long in = 1000 + i % 97, out = 200 + i % 31, cache_read = 20000, cache_write = 0;
  const std::string scope = ".anthropic.claude-sonnet-4-5-20250929.f" + std::to_string(set % 10) + ".t" +
                            std::to_string(set / 10) + ".api_chat";
  std::string s = "llm.requests" + scope + ".ok:1|c\n";
  auto counter = [&](const std::string& name, long long v) { s += name + scope + ":" + std::to_string(v) + "|c\n"; };
  counter("llm.tokens.input", in);
  counter("llm.tokens.output", out);
  counter("llm.tokens.cache_read", cache_read);
  counter("llm.tokens.cache_write_5m", cache_write);
  counter("llm.cost_microusd.input", in * 3);
  counter("llm.cost_microusd.output", out * 15);
  counter("llm.cost_microusd.cache_read", cache_read * 3 / 10);
  counter("llm.cost_microusd.cache_write_5m", cache_write * 375 / 100);
  s += "llm.latency" + scope + ":1800|ms";
  return s;
}

bool ParseHostPort(const std::string& s, sockaddr_in& out) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<uint16_t>(std::stoi(s.substr(colon + 1))));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &out.sin_addr) == 1;
}

int RunUdp(const Options& o) {
  sockaddr_in addr{};
  if (!ParseHostPort(o.udp, addr)) return std::fprintf(stderr, "bad --udp address\n"), 2;
  // Connected, as a long-lived client socket would be: the kernel resolves the
  // route once instead of per datagram, which keeps the sender (sharing the 2-core
  // machine with the exporter) from being the bottleneck. --sockets N sends the
  // batches round-robin from N sockets (N source ports), as N clients would: the
  // kernel spreads source ports over the exporter's --udp.workers sockets.
  std::vector<int> fds;
  for (int s = 0; s < o.sockets; ++s) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return std::fprintf(stderr, "connect %s: %s\n", o.udp.c_str(), std::strerror(errno)), 2;
    }
    int sndbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    fds.push_back(fd);
  }
  std::size_t batches = 0;
  std::vector<std::string> payloads;
  // At least one batch of distinct buffers: each is stamped in place before sendmmsg.
  const int distinct = std::max(std::max(o.label_sets, 1) * 7, 128);
  std::size_t payload_bytes = 0;
  for (int i = 0; i < distinct; ++i) {
    payloads.push_back(o.statsd ? StatsdEvent(i, o.label_sets) : Event(i, o.label_sets));
    payload_bytes += payloads.back().size();
  }

  constexpr int kBatch = 64;
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  long long sent = 0, send_errors = 0;
  std::size_t next = 0;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    long long due = kBatch;
    if (o.rate > 0) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      due = static_cast<long long>(elapsed * o.rate) - sent;
      if (due <= 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      due = std::min<long long>(due, kBatch);
    }
    for (int i = 0; i < due; ++i) {
      std::string& p = payloads[next++ % payloads.size()];
      if (!o.statsd) StampSeq(p, SeqSlot(p), static_cast<unsigned long long>(sent + i));
      iov[i] = {const_cast<char*>(p.data()), p.size()};
      std::memset(&msgs[i], 0, sizeof(mmsghdr));
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = sendmmsg(fds[batches++ % fds.size()], msgs.data(), static_cast<unsigned>(due), 0);
    if (n < 0) {
      ++send_errors;
      continue;
    }
    sent += n;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int fd : fds) close(fd);
  std::printf("{\"transport\":\"udp\",\"format\":\"%s\",\"sent\":%lld,\"seconds\":%.3f,\"send_errors\":%lld,"
              "\"label_sets\":%d,\"payload_bytes\":%.0f}\n",
              o.statsd ? "statsd" : "json", sent, secs, send_errors, o.label_sets,
              static_cast<double>(payload_bytes) / payloads.size());
  return 0;
}

int RunHttp(const Options& o) {
  const auto colon = o.http.rfind(':');
  const std::string host = o.http.substr(0, colon);
  const int port = std::stoi(o.http.substr(colon + 1));
  std::string body = "[";
  std::vector<std::size_t> slots;
  for (int i = 0; i < o.batch; ++i) {
    const std::string e = Event(i, o.label_sets);
    slots.push_back(body.size() + (i ? 1 : 0) + SeqSlot(e));
    body += (i ? "," : "") + e;
  }
  body += "]";
  std::atomic<unsigned long long> seq{0};
  std::atomic<long long> events{0}, failures{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      std::string mine = body;
      while (std::chrono::steady_clock::now() < end) {
        const unsigned long long first = seq.fetch_add(slots.size());
        for (std::size_t k = 0; k < slots.size(); ++k) StampSeq(mine, slots[k], first + k);
        auto res = client.Post("/v1/events", mine, "application/json");
        if (res && res->status == 202) {
          events += o.batch;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"transport\":\"http\",\"sent\":%lld,\"seconds\":%.3f,\"failures\":%lld,\"batch\":%d,\"connections\":%d}\n",
              events.load(), secs, failures.load(), o.batch, o.connections);
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--udp") o.udp = v;
    else if (k == "--http") o.http = v;
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--seconds") o.seconds = std::min(std::stod(v), 600.0);  // bounded
    else if (k == "--label-sets") o.label_sets = std::max(1, std::stoi(v));
    else if (k == "--batch") o.batch = std::max(1, std::stoi(v));
    else if (k == "--connections") o.connections = std::max(1, std::stoi(v));
    else if (k == "--sockets") o.sockets = std::clamp(std::stoi(v), 1, 64);
    else if (k == "--format" && (v == "json" || v == "statsd")) o.statsd = v == "statsd";
    else return std::fprintf(stderr, "unknown flag %s\n", k.c_str()), 2;
  }
  if (!o.udp.empty()) return RunUdp(o);
  if (!o.http.empty()) return RunHttp(o);
  std::fprintf(stderr, "usage: llm-bench-load (--udp HOST:PORT [--rate N] [--format json|statsd] | --http HOST:PORT [--batch N "
                       "--connections N]) [--seconds S] [--label-sets N]\n");
  return 2;
}
