// --udp.workers: the same datagrams through one socket and through four
// SO_REUSEPORT sockets, each read by its own thread, give the same exposition
// (every request, token, exact cost, histogram, duplicate and overflow counted
// once; money is exact pico-dollars, so its totals cannot depend on the order
// the threads added them in). Sent from 16 source ports so the kernel spreads them over the sockets;
// paced in rounds so no socket queue overflows (a drop would differ by chance).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/exporter_config.h"
#include "pipeline/event_pipeline.h"
#include "pipeline/request_id_window.h"
#include "pricing/price_book.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/request_metrics.h"
#include "transport/udp_listener.h"

namespace llmcost {
namespace {

constexpr int kSenders = 16;
constexpr int kEvents = 1200;

ExporterConfig Config() {
  ExporterConfig c;
  c.max_values_per_label = 8;  // tenants past 8 overflow: the fold must not depend on the thread
  c.max_label_sets = 1000;
  return c;
}

struct World {
  ExporterConfig config = Config();
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  ExporterMetrics exporter{*registry, config, "t", "t"};
  RequestMetrics requests{config, exporter};
  PriceBook prices{PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml")};
  RequestIdWindow ids{100000, 86400};
  EventPipeline pipeline{EventParser(config.attribution_labels), prices, requests, exporter, &ids};
  Exposition exposition{registry, requests};
};

std::string Event(int i) {
  // Every 10th event is a retry of an earlier one (the same body): counted once, from any worker.
  if (i % 10 == 9) i -= 5;
  const int id = i;
  const char* models[] = {"claude-sonnet-4-5-20250929", "claude-haiku-4-5", "claude-opus-4-1"};
  return std::string(R"({"model":")") + models[i % 3] + R"(","usage":{"input_tokens":)" + std::to_string(100 + i) +
         R"(,"output_tokens":)" + std::to_string(7 * i % 900) + R"(,"cache_read_input_tokens":)" +
         std::to_string(i % 4 * 1000) + R"(},"latency_ms":)" + std::to_string(50 + i % 3000) +
         R"(,"status":)" + (i % 17 == 0 ? "529" : "200") + R"(,"labels":{"feature":"f)" + std::to_string(i % 3) +
         R"(","tenant":"t)" + std::to_string(i % 11) + R"("},"request_id":"req-)" + std::to_string(id) + R"("})";
}

double Processed(World& w) {
  // Sum of llm_exporter_events_total{transport="udp"} (accepted and rejected).
  std::istringstream in(w.exposition.Render());
  double n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("llm_exporter_events_total{", 0) == 0 && line.find("transport=\"udp\"") != std::string::npos) {
      n += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return n;
}

// The request series and the exporter's event counters: everything the events
// decide, sorted (within a family, series are listed in the order their label sets
// were created, which is the order events happened to arrive in).
std::string EventSeries(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    const bool request = line.rfind("llm_", 0) == 0 && line.rfind("llm_exporter_", 0) != 0;
    const bool counted = line.rfind("llm_exporter_events", 0) == 0 || line.rfind("llm_exporter_label", 0) == 0;
    if (request || counted) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A histogram's _sum is a double sum of observations (latency, and the cost
// histogram's USD): its last digits depend on the order of the terms, as with any
// Prometheus client. Those lines are compared as numbers, to 1e-12 relative.
void ExpectSameSeries(const std::string& a, const std::string& b) {
  std::istringstream ia(a), ib(b);
  std::string la, lb;
  while (std::getline(ia, la)) {
    ASSERT_TRUE(std::getline(ib, lb)) << "missing: " << la;
    const std::size_t sa = la.rfind(' '), sb = lb.rfind(' ');
    const bool histogram_sum = la.find("_sum{") != std::string::npos;
    if (!histogram_sum) {
      EXPECT_EQ(la, lb);
      continue;
    }
    EXPECT_EQ(la.substr(0, sa), lb.substr(0, sb));
    const double va = std::stod(la.substr(sa + 1)), vb = std::stod(lb.substr(sb + 1));
    EXPECT_NEAR(va, vb, 1e-12 * std::max(1.0, std::abs(va))) << la;
  }
  EXPECT_FALSE(std::getline(ib, lb)) << "extra: " << lb;
}

std::string RunThrough(std::size_t workers, std::vector<std::size_t>* per_worker) {
  World w;
  w.requests.SetZeroFirstDuration(std::chrono::milliseconds(0));
  UdpListener udp(ListenAddress{"127.0.0.1", 0}, w.pipeline, 4 << 20, workers);
  EXPECT_EQ(udp.workers(), workers);
  udp.Start();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(udp.port()));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> senders;
  for (int s = 0; s < kSenders; ++s) senders.push_back(socket(AF_INET, SOCK_DGRAM, 0));
  // The first events one at a time: which 8 tenants are admitted before the cap
  // folds the rest into __overflow__ is decided by arrival, so it is fixed here.
  constexpr int kPrimed = 11;
  auto wait_for = [&w](int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (Processed(w) < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  for (int i = 0; i < kPrimed; ++i) {
    const std::string e = Event(i);
    sendto(senders[static_cast<std::size_t>(i % kSenders)], e.data(), e.size(), 0,
           reinterpret_cast<const sockaddr*>(&to), sizeof to);
    wait_for(i + 1);
  }
  constexpr int kRound = 100;
  for (int start = kPrimed; start < kEvents; start += kRound) {
    const int end = std::min(kEvents, start + kRound);
    for (int i = start; i < end; ++i) {
      const std::string e = Event(i);
      sendto(senders[static_cast<std::size_t>(i % kSenders)], e.data(), e.size(), 0,
             reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
    wait_for(end);
  }
  udp.Stop();
  for (int fd : senders) close(fd);
  *per_worker = udp.received();
  EXPECT_EQ(Processed(w), kEvents);
  w.exposition.Render();  // label sets created since the last render go live
  return EventSeries(w.exposition.Render());
}

TEST(UdpWorkers, FourWorkersGiveTheSameExpositionAsOne) {
  std::vector<std::size_t> one, four;
  const std::string single = RunThrough(1, &one);
  const std::string several = RunThrough(4, &four);
  ASSERT_EQ(four.size(), 4u);
  std::size_t busy = 0;
  for (std::size_t n : four) busy += n > 0;
  EXPECT_GE(busy, 2u) << "the kernel put all 16 senders on one socket";
  EXPECT_NE(single.find("llm_cost_usd_total{"), std::string::npos);
  EXPECT_NE(single.find("result=\"rejected\",transport=\"udp\"} 120"), std::string::npos) << single;
  ExpectSameSeries(single, several);
}

TEST(UdpWorkers, EveryWorkerSocketSharesThePort) {
  World w;
  UdpListener udp(ListenAddress{"127.0.0.1", 0}, w.pipeline, 0, 3);
  EXPECT_EQ(udp.workers(), 3u);
  EXPECT_GT(udp.port(), 0);
  // One worker binds without SO_REUSEPORT: a second listener on its port fails.
  UdpListener single(ListenAddress{"127.0.0.1", 0}, w.pipeline, 0, 1);
  EXPECT_THROW(UdpListener(ListenAddress{"127.0.0.1", single.port()}, w.pipeline, 0, 1), std::runtime_error);
}

}  // namespace
}  // namespace llmcost
