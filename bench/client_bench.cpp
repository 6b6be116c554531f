// llm-bench-client: what reporting one event costs the calling application, in C++
// (Google Benchmark), against the real exporter on loopback:
//   - fire-and-forget UDP: one sendto() of a pre-built event;
//   - synchronous HTTP: one keep-alive POST per event, waiting for the 202.
//
//   llm-bench-client --target=127.0.0.1:10430 [--benchmark_min_time=0.5]
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace {

std::string g_host = "127.0.0.1";
int g_port = 10430;

// A realistic event, the same shape llm-bench-load sends. Its request_id ends in a
// sequence number stamped per send: the exporter does not count an id twice, and
// duplicates would make the HTTP round trip cheaper than real traffic.
const std::string kEvent =
    R"({"model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":1247,"output_tokens":612,)"
    R"("cache_read_input_tokens":28430,"cache_creation_input_tokens":0,"cache_creation":)"
    R"({"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"service_tier":"standard"},)"
    R"("latency_ms":2300,"ttft_ms":420,"status":200,"stop_reason":"end_turn",)"
    R"("request_id":"msg_01XFDUDYJgAACzvnptvVoYEL000000000000","labels":{"feature":"chat","tenant":"acme","route":"/api/chat"}})";

class EventStamper {
 public:
  EventStamper() : event_(kEvent), slot_(kEvent.find("000000000000\"")) {
    // Distinct per run and per process, so repeated runs against one exporter stay unique.
    seq_ = static_cast<unsigned long long>(std::random_device{}()) << 20;
  }
  const std::string& Next() {
    unsigned long long v = ++seq_;
    for (int d = 11; d >= 0; --d, v /= 10) event_[slot_ + d] = static_cast<char>('0' + v % 10);
    return event_;
  }

 private:
  std::string event_;
  std::size_t slot_;
  unsigned long long seq_;
};

void BM_UdpSendto(benchmark::State& state) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_port));
  inet_pton(AF_INET, g_host.c_str(), &addr.sin_addr);
  long long errors = 0;
  EventStamper events;
  for (auto _ : state) {
    const std::string& event = events.Next();
    // Fire and forget, as a client does: an error is counted, never waited on.
    if (sendto(fd, event.data(), event.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
      ++errors;
  }
  close(fd);
  state.counters["send_errors"] = static_cast<double>(errors);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UdpSendto);

void BM_HttpPostKeepAlive(benchmark::State& state) {
  httplib::Client client(g_host, g_port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  long long failures = 0;
  EventStamper events;
  for (auto _ : state) {
    auto res = client.Post("/v1/events", events.Next(), "application/json");
    if (!res || res->status != 202) ++failures;
  }
  state.counters["failures"] = static_cast<double>(failures);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HttpPostKeepAlive);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto colon = a.rfind(':');
    if (a.rfind("--target=", 0) == 0 && colon != std::string::npos && colon > 9) {
      g_host = a.substr(9, colon - 9);
      g_port = std::stoi(a.substr(colon + 1));
    } else {
      std::fprintf(stderr, "usage: llm-bench-client --target=HOST:PORT [benchmark flags]; unknown %s\n", a.c_str());
      return 2;
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
