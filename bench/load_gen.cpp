// llm-bench-load: drives the exporter as hard as asked, for benchmarks only.
// Pre-builds its event payloads (so JSON building is not what is measured), then
// sends them over UDP (sendmmsg batches from --threads sender threads, each paced by
// the clock to its share of --rate) or HTTP (keep-alive POSTs of N events) for a
// bounded time and at most --events events, and prints what it sent as JSON, with
// its own CPU time (getrusage) so a benchmark can tell when the sender was the limit.
//
//   llm-bench-load --udp 127.0.0.1:10430 --rate 100000 --seconds 5 --label-sets 100
//   llm-bench-load --udp 127.0.0.1:10430 --rate 400000 --threads 2 --sockets 8
//   llm-bench-load --http 127.0.0.1:10430 --batch 100 --connections 2 --seconds 5
//   llm-bench-load --http 127.0.0.1:10430 --batch 1000 --events 66000 --label-sets 66000   (one event per label set)
//   llm-bench-load --udp 127.0.0.1:8125 --format statsd --rate 50000 --seconds 5
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string udp, http;
  double rate = 0;  // events/s for UDP, all threads together; 0 = as fast as possible
  double seconds = 5;
  long long events = std::numeric_limits<long long>::max();  // at most this many events in all
  int label_sets = 100;
  int batch = 1;  // HTTP events per request
  int connections = 1;
  int sockets = 1;  // UDP: source sockets (source ports), spread over the threads
  int threads = 1;  // UDP sender threads, each with its own sockets and its share of the rate
  int mmsg = 128;   // UDP datagrams per sendmmsg call
  // UDP generic segmentation offload: each sendmmsg message carries up to 64
  // datagrams of one size, which the kernel splits (payloads are padded with JSON
  // whitespace to one size). The receiver still gets one datagram per event; the
  // sender's per-datagram cost in the stack shrinks, so it is less often the limit.
  bool gso = false;
  bool statsd = false;  // UDP payloads as statsd lines instead of JSON events
};

// CPU seconds (user + system) of this process so far: every thread's.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

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

// One UDP sender thread: its own connected sockets, its own pre-built payloads and
// its own block of sequence numbers (so the ids stay unique across threads).
struct UdpSender {
  std::vector<int> fds;
  std::vector<std::string> payloads;
  unsigned long long seq_base = 0;
  long long sent = 0, send_errors = 0, short_sends = 0;
};

// Datagrams per GSO message (the kernel's UDP_MAX_SEGMENTS is at least 64).
constexpr int kGsoSegments = 64;

void SendUdp(const Options& o, UdpSender& u, double rate, long long max_events,
             std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point end) {
  const int batch = std::clamp(o.mmsg, 1, 1024);
  const int per_msg = o.gso ? kGsoSegments : 1;
  std::vector<iovec> iov(static_cast<std::size_t>(batch));
  std::vector<mmsghdr> msgs(static_cast<std::size_t>(batch));
  std::size_t next = 0, batches = 0;
  while (u.sent < max_events) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    long long due = std::min<long long>(batch, max_events - u.sent);
    if (rate > 0) {
      // Paced by the clock: what is due by now, not a sleep per datagram, so a
      // late wake-up is caught up in full batches.
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const long long behind = static_cast<long long>(elapsed * rate) - u.sent;
      if (behind <= 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      due = std::min(due, behind);
    }
    for (long long i = 0; i < due; ++i) {
      std::string& p = u.payloads[next++ % u.payloads.size()];
      if (!o.statsd) StampSeq(p, SeqSlot(p), u.seq_base + static_cast<unsigned long long>(u.sent + i));
      iov[i] = {p.data(), p.size()};
    }
    // Messages of per_msg datagrams each (the last one shorter).
    unsigned nmsgs = 0;
    for (long long i = 0; i < due; i += per_msg, ++nmsgs) {
      std::memset(&msgs[nmsgs], 0, sizeof(mmsghdr));
      msgs[nmsgs].msg_hdr.msg_iov = &iov[i];
      msgs[nmsgs].msg_hdr.msg_iovlen = static_cast<std::size_t>(std::min<long long>(per_msg, due - i));
    }
    const int n = sendmmsg(u.fds[batches++ % u.fds.size()], msgs.data(), nmsgs, 0);
    if (n < 0) {
      ++u.send_errors;
      continue;
    }
    if (static_cast<unsigned>(n) < nmsgs) ++u.short_sends;
    for (int m = 0; m < n; ++m) u.sent += static_cast<long long>(msgs[m].msg_hdr.msg_iovlen);
  }
}

int RunUdp(const Options& o) {
  sockaddr_in addr{};
  if (!ParseHostPort(o.udp, addr)) return std::fprintf(stderr, "bad --udp address\n"), 2;
  const int threads = std::max(1, o.threads);
  const int sockets = std::max(o.sockets, threads);
  // Connected, as a long-lived client socket would be: the kernel resolves the
  // route once instead of per datagram. --sockets N sends the batches round-robin
  // from N sockets (N source ports), as N clients would: the kernel spreads source
  // ports over the exporter's --udp.workers sockets.
  std::vector<UdpSender> senders(static_cast<std::size_t>(threads));
  for (int s = 0; s < sockets; ++s) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return std::fprintf(stderr, "connect %s: %s\n", o.udp.c_str(), std::strerror(errno)), 2;
    }
    int sndbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    senders[static_cast<std::size_t>(s % threads)].fds.push_back(fd);
  }
  // Every label set at least once per thread (a fill sends each once), and token
  // counts that vary across the sets' repeats; at least one batch of distinct
  // buffers, since each is stamped in place before sendmmsg.
  const int sets = std::max(o.label_sets, 1);
  const int distinct = std::max({sets <= 10000 ? sets * 7 : sets, o.mmsg, 128});
  std::size_t payload_bytes = 0;
  // Each thread's ids: a block of 10^11 sequence numbers (the slot has 12 digits).
  constexpr unsigned long long kSeqBlock = 100000000000ULL;
  for (int t = 0; t < threads; ++t) {
    UdpSender& u = senders[static_cast<std::size_t>(t)];
    u.seq_base = static_cast<unsigned long long>(t) * kSeqBlock;
    u.payloads.reserve(static_cast<std::size_t>(distinct));
    for (int i = 0; i < distinct; ++i) {
      u.payloads.push_back(o.statsd ? StatsdEvent(i, sets) : Event(i, sets));
      if (t == 0) payload_bytes += u.payloads.back().size();
    }
  }
  if (o.gso) {
    // One segment size for every datagram: pad with whitespace after the JSON
    // (or, for statsd, after the last line's newline) to the largest payload.
    std::size_t size = 0;
    for (const auto& p : senders[0].payloads) size = std::max(size, p.size());
    if (size * kGsoSegments > 65000) return std::fprintf(stderr, "--gso: payloads too large\n"), 2;
    payload_bytes = size * static_cast<std::size_t>(distinct);
    for (auto& u : senders) {
      for (auto& p : u.payloads) p.resize(size, o.statsd ? '\n' : ' ');
      for (int fd : u.fds) {
        int seg = static_cast<int>(size);
        if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) != 0) {
          return std::fprintf(stderr, "--gso: UDP_SEGMENT: %s\n", std::strerror(errno)), 2;
        }
      }
    }
  }

  const double cpu0 = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) {
    // The rate and the event bound shared out; thread 0 takes the remainders.
    const long long share = o.events / threads + (t == 0 ? o.events % threads : 0);
    running.emplace_back(SendUdp, std::cref(o), std::ref(senders[static_cast<std::size_t>(t)]), o.rate / threads,
                         share, start, end);
  }
  for (auto& r : running) r.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu0;
  long long sent = 0, send_errors = 0, short_sends = 0;
  for (auto& u : senders) {
    sent += u.sent, send_errors += u.send_errors, short_sends += u.short_sends;
    for (int fd : u.fds) close(fd);
  }
  std::printf("{\"transport\":\"udp\",\"format\":\"%s\",\"sent\":%lld,\"seconds\":%.3f,\"send_errors\":%lld,"
              "\"short_sends\":%lld,\"label_sets\":%d,\"payload_bytes\":%.0f,\"rate\":%.0f,\"threads\":%d,"
              "\"sockets\":%d,\"gso\":%s,\"cpu_seconds\":%.3f}\n",
              o.statsd ? "statsd" : "json", sent, secs, send_errors, short_sends, o.label_sets,
              static_cast<double>(payload_bytes) / distinct, o.rate, threads, sockets, o.gso ? "true" : "false", cpu);
  return 0;
}

int RunHttp(const Options& o) {
  const auto colon = o.http.rfind(':');
  const std::string host = o.http.substr(0, colon);
  const int port = std::stoi(o.http.substr(colon + 1));
  // A request's events, from sequence number `first`: label set (first + k) % sets,
  // so with more label sets than events per request the requests walk through all
  // of them (a fill); otherwise one body is built once and only its ids change.
  const bool walk = o.label_sets > o.batch;
  auto build = [&](unsigned long long first, int n, std::vector<std::size_t>& slots) {
    std::string body = "[";
    slots.clear();
    for (int i = 0; i < n; ++i) {
      const std::string e = Event(static_cast<int>((first + static_cast<unsigned long long>(i)) %
                                                   static_cast<unsigned long long>(o.label_sets)),
                                  o.label_sets);
      slots.push_back(body.size() + (i ? 1 : 0) + SeqSlot(e));
      body += (i ? "," : "") + e;
    }
    return body + "]";
  };
  std::atomic<unsigned long long> seq{0};
  std::atomic<long long> events{0}, failures{0};
  const double cpu0 = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  const auto limit = static_cast<unsigned long long>(o.events);
  std::vector<std::thread> workers;
  for (int c = 0; c < o.connections; ++c) {
    workers.emplace_back([&] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(60, 0);
      std::vector<std::size_t> slots;
      std::string mine = build(0, o.batch, slots);
      while (std::chrono::steady_clock::now() < end) {
        const unsigned long long first = seq.fetch_add(static_cast<unsigned long long>(o.batch));
        if (first >= limit) break;
        const int n = static_cast<int>(std::min<unsigned long long>(static_cast<unsigned long long>(o.batch), limit - first));
        if (walk || n < o.batch) mine = build(first, n, slots);
        for (std::size_t k = 0; k < slots.size(); ++k) StampSeq(mine, slots[k], first + k);
        auto res = client.Post("/v1/events", mine, "application/json");
        if (res && res->status == 202) {
          events += n;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"transport\":\"http\",\"sent\":%lld,\"seconds\":%.3f,\"failures\":%lld,\"batch\":%d,\"connections\":%d,"
              "\"label_sets\":%d,\"cpu_seconds\":%.3f}\n",
              events.load(), secs, failures.load(), o.batch, o.connections, o.label_sets, CpuSeconds() - cpu0);
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
    else if (k == "--events") o.events = std::max(0LL, std::stoll(v));
    else if (k == "--label-sets") o.label_sets = std::clamp(std::stoi(v), 1, 10000000);
    else if (k == "--batch") o.batch = std::max(1, std::stoi(v));
    else if (k == "--connections") o.connections = std::max(1, std::stoi(v));
    else if (k == "--sockets") o.sockets = std::clamp(std::stoi(v), 1, 64);
    else if (k == "--threads") o.threads = std::clamp(std::stoi(v), 1, 9);  // 9 blocks of ids (see RunUdp)
    else if (k == "--mmsg") o.mmsg = std::clamp(std::stoi(v), 1, 1024);
    else if (k == "--gso") o.gso = v == "1" || v == "true";
    else if (k == "--format" && (v == "json" || v == "statsd")) o.statsd = v == "statsd";
    else return std::fprintf(stderr, "unknown flag %s\n", k.c_str()), 2;
  }
  if (!o.udp.empty()) return RunUdp(o);
  if (!o.http.empty()) return RunHttp(o);
  std::fprintf(stderr, "usage: llm-bench-load (--udp HOST:PORT [--rate N] [--threads N] [--sockets N] [--mmsg N] [--gso 0|1] "
                       "[--format json|statsd] | --http HOST:PORT [--batch N] [--connections N]) [--seconds S] "
                       "[--events N] [--label-sets N]\n");
  return 2;
}
