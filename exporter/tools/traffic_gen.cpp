// llm-traffic-gen: sends realistic LLM usage events (docs/metrics.md "The event") to
// llm-cost-exporter over UDP or HTTP. Used by the compose `demo` profile, the tests
// and the benchmarks, so it is deterministic for a given --seed and every loop is
// bounded by --count, --duration or a signal.
//
//   llm-traffic-gen --target udp://127.0.0.1:10430 --rate 20 --duration 60 --seed 1
//   llm-traffic-gen --target http://127.0.0.1:10430/v1/events --http-batch 50 --count 1000
//   llm-traffic-gen --scenario cache-regression --spike-at 30 --spike-duration 20 --print-summary

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::ordered_json;  // keeps "model" first: easier to read in logs
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

constexpr double kMaxRate = 100000.0;  // beyond this, pacing is meaningless on 2 cores
constexpr int kMaxHttpBatch = 10000;

struct Options {
  std::string target = "udp://127.0.0.1:10430";
  double rate = 10.0;
  double duration = 0.0;  // seconds, 0 = until count or signal
  uint64_t count = 0;     // 0 = unlimited
  uint64_t seed = 1;
  int http_batch = 20;
  std::string scenario = "steady";
  double spike_at = -1.0;  // < 0: no spike
  double spike_duration = 30.0;
  double spike_every = 0.0;  // > 0: repeat the spike every S seconds
  double spike_multiplier = 5.0;
  std::string spike_feature = "agent";
  std::string spike_tenant = "globex";
  std::string spike_model = "claude-opus-4-6";
  bool print_summary = false;
  bool quiet = false;
};

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::cerr << "llm-traffic-gen: " << error << "\n";
  std::cerr <<
      R"(usage: llm-traffic-gen [flags]
  --target URL            udp://HOST:PORT or http://HOST:PORT/v1/events (default udp://127.0.0.1:10430)
  --rate N                events per second, evenly paced (default 10)
  --duration S            stop after S seconds; 0 = until --count or SIGTERM/SIGINT (default 0)
  --count N               stop after N events (default 0 = no limit)
  --seed N                random seed; same seed, same events (default 1)
  --http-batch N          events per POST for http targets (default 20)
  --scenario NAME         steady | expensive-model | cache-regression (default steady)
  --spike-at S            start a runaway-job spike S seconds in (default: no spike)
  --spike-duration S      spike length in seconds (default 30)
  --spike-every S         repeat the spike every S seconds (default 0 = once)
  --spike-multiplier X    total rate during the spike = X * rate (default 5)
  --spike-feature NAME    feature of the spike traffic (default agent)
  --spike-tenant NAME     tenant of the spike traffic (default globex)
  --spike-model MODEL     model of the spike traffic (default claude-opus-4-6)
  --print-summary         print a JSON summary of what was delivered on stdout at exit
  --quiet                 no progress lines on stderr
)";
  std::exit(2);
}

double parse_number(const std::string& flag, const std::string& v, double lo, double hi) {
  size_t pos = 0;
  double d = 0;
  try {
    d = std::stod(v, &pos);
  } catch (const std::exception&) {
    usage(flag + ": not a number: " + v);
  }
  if (pos != v.size() || !std::isfinite(d) || d < lo || d > hi)
    usage(flag + ": out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]: " + v);
  return d;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "--print-summary" || a == "--quiet" || a == "--help" || a == "-h" || a.rfind("--", 0) != 0) {
      // boolean flags take no value; anything else falls through to "unknown flag"
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      usage(a + " needs a value");
    }
    if (a == "--target") o.target = v;
    else if (a == "--rate") o.rate = parse_number(a, v, 0.001, kMaxRate);
    else if (a == "--duration") o.duration = parse_number(a, v, 0, 365.0 * 86400);
    else if (a == "--count") o.count = static_cast<uint64_t>(parse_number(a, v, 0, 1e12));
    else if (a == "--seed") o.seed = static_cast<uint64_t>(parse_number(a, v, 0, 9e15));
    else if (a == "--http-batch") o.http_batch = static_cast<int>(parse_number(a, v, 1, kMaxHttpBatch));
    else if (a == "--scenario") o.scenario = v;
    else if (a == "--spike-at") o.spike_at = parse_number(a, v, 0, 365.0 * 86400);
    else if (a == "--spike-duration") o.spike_duration = parse_number(a, v, 0, 365.0 * 86400);
    else if (a == "--spike-every") o.spike_every = parse_number(a, v, 0, 365.0 * 86400);
    else if (a == "--spike-multiplier") o.spike_multiplier = parse_number(a, v, 1, 1000);
    else if (a == "--spike-feature") o.spike_feature = v;
    else if (a == "--spike-tenant") o.spike_tenant = v;
    else if (a == "--spike-model") o.spike_model = v;
    else if (a == "--print-summary") o.print_summary = true;
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--help" || a == "-h") usage("");
    else usage("unknown flag " + a);
  }
  if (o.scenario != "steady" && o.scenario != "expensive-model" && o.scenario != "cache-regression")
    usage("unknown scenario " + o.scenario);
  if (o.spike_every > 0 && o.spike_every < o.spike_duration) usage("--spike-every must be >= --spike-duration");
  if (o.rate * o.spike_multiplier > kMaxRate) usage("rate x spike-multiplier exceeds " + std::to_string(kMaxRate));
  return o;
}

// Randomness: mt19937_64's output sequence is fixed by the standard, but the std::
// distributions are not, so the distributions are written out here to keep a seed's
// events identical across compilers and standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  double normal() {  // Box-Muller
    double u1 = uniform();
    double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // Token counts and latencies are long-tailed: log-normal around a median.
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }
  template <class T>
  const T& weighted(const std::vector<std::pair<T, double>>& items) {
    double total = 0;
    for (const auto& it : items) total += it.second;
    double r = uniform() * total;
    for (const auto& it : items) {
      if ((r -= it.second) < 0) return it.first;
    }
    return items.back().first;
  }

 private:
  std::mt19937_64 gen_;
};

struct Model {
  std::string id;         // what the client sends (API, Bedrock or Vertex form)
  std::string canonical;  // the `model` label the exporter must resolve it to (docs/metrics.md)
  double ms_per_output_token;
  double ttft_median_ms;
};

const Model kSonnet{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5", 14, 600};
const Model kHaiku{"claude-haiku-4-5-20251001", "claude-haiku-4-5", 6, 350};
const Model kOpus46{"claude-opus-4-6", "claude-opus-4-6", 22, 900};
const Model kSonnetBedrock{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", 15, 700};
const Model kSonnetVertex{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5", 15, 700};
const Model kOpus41{"claude-opus-4-1-20250805", "claude-opus-4-1", 25, 1100};

// Per-feature shape of a request: fresh input, a cacheable prefix (system prompt,
// tools, documents) that is read from cache on a hit, output size, streaming.
struct Feature {
  std::string name;
  std::vector<std::string> routes;
  double input_median, prefix_tokens, output_median;
  double cache_hit_rate;  // share of requests that read the prefix from cache
  double web_search_rate;
  double batch_rate;
  bool streaming;
};

const std::vector<std::pair<Feature, double>> kFeatures = {
    {{"chat", {"/api/chat", "/api/chat/stream"}, 900, 6000, 380, 0.85, 0.0, 0.0, true}, 40},
    {{"search", {"/api/search"}, 2200, 3000, 300, 0.6, 0.25, 0.0, false}, 25},
    {{"summarize", {"/api/documents/summarize"}, 9000, 2500, 650, 0.3, 0.0, 0.15, false}, 20},
    {{"agent", {"/api/agent/run", "/api/agent/step"}, 2500, 24000, 1100, 0.9, 0.05, 0.0, true}, 15},
};

// A normal agent task: 2 to 5 hops (under the exporter's default runaway limit
// of 12), a few tasks open at a time.
constexpr std::pair<uint64_t, uint64_t> kAgentTaskHops{2, 5};
constexpr std::size_t kAgentTasksOpen = 4;

const std::vector<std::pair<std::string, double>> kTenants = {
    {"acme", 32}, {"globex", 22}, {"initech", 16}, {"umbrella", 12}, {"hooli", 8}, {"stark", 6}, {"wayne", 4}};

struct Tally {  // what was delivered, in the exporter's label vocabulary
  uint64_t events = 0;
  std::map<std::string, uint64_t> tokens{{"input", 0}, {"output", 0}, {"cache_read", 0},
                                         {"cache_write_5m", 0}, {"cache_write_1h", 0}};
  uint64_t web_search_requests = 0;
  uint64_t spike_events = 0;
  std::map<std::string, uint64_t> by_status, by_model, by_model_id, by_feature, by_tenant, by_route;

  void add(const Tally& o) {
    events += o.events;
    web_search_requests += o.web_search_requests;
    spike_events += o.spike_events;
    for (const auto& pair : {std::pair{&tokens, &o.tokens}, std::pair{&by_status, &o.by_status},
                       std::pair{&by_model, &o.by_model}, std::pair{&by_model_id, &o.by_model_id},
                       std::pair{&by_feature, &o.by_feature}, std::pair{&by_tenant, &o.by_tenant},
                       std::pair{&by_route, &o.by_route}})
      for (const auto& [k, v] : *pair.second) (*pair.first)[k] += v;
  }
};

struct Event {
  json body;
  Tally tally;  // this one event's contribution
};

class Generator {
 public:
  explicit Generator(const Options& o) : opt_(o), rng_(o.seed) {}

  Event next(bool spike) {
    const Feature* f = nullptr;
    for (const auto& [feat, w] : kFeatures)
      if (feat.name == (spike ? opt_.spike_feature : "")) f = &feat;
    if (f == nullptr) f = &rng_.weighted(kFeatures);
    std::string feature = spike ? opt_.spike_feature : f->name;
    std::string tenant = spike ? opt_.spike_tenant : rng_.weighted(kTenants);
    const Model model = spike ? spike_model() : pick_model(*f);
    std::string route = f->routes[rng_.below(f->routes.size())];

    Event ev;
    json& e = ev.body;
    e["model"] = model.id;
    e["labels"] = {{"feature", feature}, {"tenant", tenant}, {"route", route}};
    e["request_id"] = request_id();
    // Every request carries a prompt_hash, distinct for distinct prompts (no retry
    // loops in normal traffic); the spike is one recursive job, one task. Steady
    // agent requests are hops of a few concurrent tasks of kAgentTaskHops hops,
    // the last one marked task_end. Drawn from tasks_rng_, so the rest of a seed's
    // events is what it was before tasks existed.
    e["prompt_hash"] = prompt_hash();
    if (spike) {
      e["task_id"] = "runaway-job-" + std::to_string(opt_.seed);
    } else if (feature == "agent") {
      AgentTask& task = open_tasks_[tasks_rng_.below(open_tasks_.size())];
      if (task.hops_left == 0) task = new_task();
      e["task_id"] = task.id;
      if (--task.hops_left == 0) e["task_end"] = true;
    }
    Tally& t = ev.tally;
    t.events = 1;
    t.spike_events = spike ? 1 : 0;
    t.by_model[model.canonical] = 1;
    t.by_model_id[model.id] = 1;
    t.by_feature[feature] = 1;
    t.by_tenant[tenant] = 1;
    t.by_route[route] = 1;

    // Errors carry no usage: Anthropic bills nothing for them. 429 and 529 answer fast.
    double r = rng_.uniform();
    if (!spike && r < 0.035) {
      int status;
      std::string error_type, label;
      if (r < 0.02) status = 429, error_type = "rate_limit_error", label = "rate_limited";
      else if (r < 0.03) status = 529, error_type = "overloaded_error", label = "overloaded";
      else status = 500, error_type = "api_error", label = "server_error";
      e["status"] = status;
      e["error_type"] = error_type;
      e["latency_ms"] = static_cast<int64_t>(std::round(rng_.lognormal(status == 500 ? 1500 : 120, 0.6)));
      t.by_status[label] = 1;
      return ev;
    }

    bool batch = !spike && rng_.chance(f->batch_rate);
    double hit_rate = f->cache_hit_rate;
    bool cache_regression = opt_.scenario == "cache-regression";
    if (cache_regression) hit_rate = 0.02;  // e.g. a timestamp crept into the system prompt
    // A runaway recursive job re-sends a growing transcript every step.
    double growth = spike ? 1.0 + 0.02 * static_cast<double>(spike_step_++ % 200) : 1.0;
    uint64_t input = tokens(f->input_median * growth, 0.7);
    uint64_t output = tokens(f->output_median, 0.8);
    uint64_t prefix = tokens(f->prefix_tokens * growth, 0.25);
    uint64_t cache_read = 0, write_5m = 0, write_1h = 0;
    if (rng_.chance(hit_rate)) {
      cache_read = prefix;
    } else if (cache_regression && rng_.chance(0.5)) {
      input += prefix;  // cache_control dropped: the prefix is paid as fresh input
    } else if (f->name == "agent" && rng_.chance(0.3)) {
      write_1h = prefix;  // long-running agents keep their tools cached for an hour
    } else {
      write_5m = prefix;
    }
    uint64_t searches = rng_.chance(f->web_search_rate) ? 1 + rng_.below(3) : 0;

    json usage = {{"input_tokens", input},
                  {"output_tokens", output},
                  {"cache_read_input_tokens", cache_read},
                  {"cache_creation_input_tokens", write_5m + write_1h},
                  {"cache_creation", {{"ephemeral_5m_input_tokens", write_5m}, {"ephemeral_1h_input_tokens", write_1h}}},
                  {"server_tool_use", {{"web_search_requests", searches}}},
                  {"service_tier", batch ? "batch" : "standard"}};
    e["usage"] = usage;
    e["status"] = 200;
    e["error_type"] = nullptr;
    e["batch"] = batch;
    e["stop_reason"] = rng_.chance(0.03) ? "max_tokens" : (f->name == "agent" ? "tool_use" : "end_turn");
    // Batch results arrive hours later: an end-to-end latency would be meaningless.
    if (!batch) {
      double ttft = rng_.lognormal(model.ttft_median_ms * (1.0 + static_cast<double>(input + prefix) / 100000.0), 0.4);
      double gen = static_cast<double>(output) * model.ms_per_output_token * rng_.lognormal(1.0, 0.2);
      e["latency_ms"] = static_cast<int64_t>(std::round(ttft + gen));
      if (f->streaming) e["ttft_ms"] = static_cast<int64_t>(std::round(ttft));
    }
    t.tokens = {{"input", input}, {"output", output}, {"cache_read", cache_read},
                {"cache_write_5m", write_5m}, {"cache_write_1h", write_1h}};
    t.web_search_requests = searches;
    t.by_status["ok"] = 1;
    return ev;
  }

 private:
  Model pick_model(const Feature& f) {
    if (opt_.scenario == "expensive-model" && rng_.chance(0.35)) return kOpus41;
    // Cheap features lean on Haiku, agents on Opus; some traffic goes through Bedrock/Vertex.
    if (f.name == "search" || f.name == "summarize")
      return rng_.weighted<Model>({{kHaiku, 55}, {kSonnet, 30}, {kSonnetBedrock, 10}, {kSonnetVertex, 5}});
    if (f.name == "agent") return rng_.weighted<Model>({{kOpus46, 45}, {kSonnet, 45}, {kSonnetBedrock, 10}});
    return rng_.weighted<Model>({{kSonnet, 50}, {kHaiku, 20}, {kSonnetBedrock, 15}, {kSonnetVertex, 10}, {kOpus46, 5}});
  }

  Model spike_model() const {
    for (const Model* m : {&kSonnet, &kHaiku, &kOpus46, &kSonnetBedrock, &kSonnetVertex, &kOpus41})
      if (m->id == opt_.spike_model) return *m;
    // Any other id is sent as given; its canonical name is only known to the exporter.
    return {opt_.spike_model, opt_.spike_model, 20, 900};
  }

  uint64_t tokens(double median, double sigma) {
    double v = rng_.lognormal(median, sigma);
    return static_cast<uint64_t>(std::clamp(v, 1.0, 900000.0));
  }

  struct AgentTask {
    std::string id;
    uint64_t hops_left = 0;
  };
  AgentTask new_task() {
    const auto [lo, hi] = kAgentTaskHops;
    return {"agent-task-" + std::to_string(opt_.seed) + "-" + std::to_string(++tasks_started_),
            lo + tasks_rng_.below(hi - lo + 1)};
  }

  std::string prompt_hash() {
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string h = "sha256:";
    for (int i = 0; i < 16; ++i) h += kHex[tasks_rng_.below(16)];
    return h;
  }

  std::string request_id() {
    static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string id = "msg_01";
    for (int i = 0; i < 22; ++i) id += kAlphabet[rng_.below(kAlphabet.size())];
    return id;
  }

  const Options& opt_;
  Rng rng_;
  uint64_t spike_step_ = 0;
  Rng tasks_rng_{opt_.seed ^ 0x7a5c5eedULL};
  uint64_t tasks_started_ = 0;
  std::vector<AgentTask> open_tasks_ = std::vector<AgentTask>(kAgentTasksOpen);
};

// Delivery: UDP sends one datagram per event (fire-and-forget, like the clients);
// HTTP posts JSON arrays of up to --http-batch events and counts only what the
// exporter accepted.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(Event ev) = 0;
  virtual void flush() {}
  Tally delivered;      // UDP: handed to the kernel; HTTP: accepted by the exporter
  uint64_t failed = 0;  // not sent, or rejected by the exporter
  uint64_t refused = 0; // UDP only: earlier datagrams reported unreachable
};

class UdpSink : public Sink {
 public:
  UdpSink(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
      throw std::runtime_error("cannot resolve " + host + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
    fd_ = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    if (connect(fd_, res->ai_addr, res->ai_addrlen) != 0)
      throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  }
  ~UdpSink() override { close(fd_); }
  void send(Event ev) override {
    std::string payload = ev.body.dump();
    ssize_t n = ::send(fd_, payload.data(), payload.size(), 0);
    // On a connected UDP socket, ECONNREFUSED reports the ICMP "port unreachable" of
    // an EARLIER datagram (nobody was listening); this one was not sent, so retry it
    // once and count the refusal: each one is a datagram the exporter never saw.
    if (n < 0 && errno == ECONNREFUSED) {
      ++refused;
      n = ::send(fd_, payload.data(), payload.size(), 0);
    }
    if (n == static_cast<ssize_t>(payload.size()))
      delivered.add(ev.tally);
    else
      ++failed;
  }

 private:
  int fd_ = -1;
};

class HttpSink : public Sink {
 public:
  HttpSink(const std::string& base, std::string path, int batch)
      : client_(base), path_(std::move(path)), batch_(static_cast<size_t>(batch)) {
    client_.set_connection_timeout(2);
    client_.set_read_timeout(5);
    client_.set_write_timeout(5);
    client_.set_keep_alive(true);
  }
  void send(Event ev) override {
    if (pending_.empty()) first_pending_ = Clock::now();
    pending_.push_back(std::move(ev));
    // Flush on a full batch, or after 1 s so that a slow rate still shows up promptly.
    if (pending_.size() >= batch_ || Clock::now() - first_pending_ > std::chrono::seconds(1)) flush();
  }
  void flush() override {
    if (pending_.empty()) return;
    json arr = json::array();
    for (const auto& ev : pending_) arr.push_back(ev.body);
    auto res = client_.Post(path_, arr.dump(), "application/json");
    if (res && res->status == 202) {
      // Events are valid by construction; a rejection means a contract mismatch, so
      // count exactly what the exporter reports and leave rejected indexes out.
      std::vector<bool> rejected(pending_.size(), false);
      try {
        for (const auto& err : json::parse(res->body).value("errors", json::array()))
          if (size_t i = err.value("index", size_t{0}); i < rejected.size()) rejected[i] = true;
      } catch (const std::exception&) {
      }
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (rejected[i]) ++failed;
        else delivered.add(pending_[i].tally);
      }
    } else {
      failed += pending_.size();
      if (!warned_) {
        std::cerr << "llm-traffic-gen: POST " << path_ << " failed: "
                  << (res ? "HTTP " + std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()))
                  << "\n";
        warned_ = true;
      }
    }
    pending_.clear();
  }

 private:
  httplib::Client client_;
  std::string path_;
  size_t batch_;
  std::vector<Event> pending_;
  Clock::time_point first_pending_;
  bool warned_ = false;
};

std::unique_ptr<Sink> make_sink(const Options& o) {
  const std::string& t = o.target;
  auto split_host_port = [&](std::string_view hp) {
    auto colon = hp.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == hp.size()) usage("target needs HOST:PORT: " + t);
    std::string host(hp.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return std::pair{host, std::string(hp.substr(colon + 1))};
  };
  if (t.rfind("udp://", 0) == 0) {
    auto [host, port] = split_host_port(std::string_view(t).substr(6));
    return std::make_unique<UdpSink>(host, port);
  }
  if (t.rfind("http://", 0) == 0) {
    auto slash = t.find('/', 7);
    std::string base = t.substr(0, slash);
    std::string path = slash == std::string::npos ? "/v1/events" : t.substr(slash);
    split_host_port(std::string_view(base).substr(7));  // validates
    return std::make_unique<HttpSink>(base, path, o.http_batch);
  }
  usage("target must start with udp:// or http://: " + t);
}

json summary_json(const Options& o, const Sink& sink, uint64_t generated, double elapsed) {
  const Tally& d = sink.delivered;
  return {{"scenario", o.scenario},
          {"seed", o.seed},
          {"target", o.target},
          {"duration_seconds", std::round(elapsed * 1000) / 1000},
          {"events_generated", generated},
          {"events_sent", d.events},
          {"events_failed", sink.failed},
          {"udp_refused", sink.refused},
          {"spike_events", d.spike_events},
          {"tokens", d.tokens},
          {"web_search_requests", d.web_search_requests},
          {"by_status", d.by_status},
          {"by_model", d.by_model},
          {"by_model_id", d.by_model_id},
          {"by_feature", d.by_feature},
          {"by_tenant", d.by_tenant},
          {"by_route", d.by_route}};
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<Sink> sink;
  try {
    sink = make_sink(opt);
  } catch (const std::exception& ex) {
    std::cerr << "llm-traffic-gen: " << ex.what() << "\n";
    return 1;
  }
  Generator gen(opt);
  if (!opt.quiet)
    std::cerr << "llm-traffic-gen: " << opt.scenario << " at " << opt.rate << " events/s to " << opt.target << "\n";

  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto in_spike = [&](double t) {
    if (opt.spike_at < 0 || t < opt.spike_at) return false;
    double since = t - opt.spike_at;
    if (opt.spike_every > 0) since = std::fmod(since, opt.spike_every);
    return since < opt.spike_duration;
  };
  // Pacing: each event is due 1/rate after the previous one (rate x multiplier during
  // the spike), measured from the start, so sleep jitter does not accumulate and the
  // traffic is evenly spread rather than sent in bursts.
  double due = 0;
  uint64_t generated = 0;
  double last_report = 0;
  double spike_share = 0;
  while (!g_stop.load()) {
    if (opt.count > 0 && generated >= opt.count) break;
    if (opt.duration > 0 && due >= opt.duration) break;
    // Sleep in slices of at most 200 ms so that a signal or the 1 s HTTP flush is seen.
    for (double now = elapsed(); now < due && !g_stop.load(); now = elapsed()) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(due - now, 0.2)));
      if (due - elapsed() > 0.2) sink->flush();
    }
    if (g_stop.load()) break;
    bool spiking = in_spike(due);
    double rate = spiking ? opt.rate * opt.spike_multiplier : opt.rate;
    // During the spike the normal traffic goes on at --rate and the extra
    // (multiplier - 1) / multiplier share of events is the runaway job; an
    // accumulator spreads those evenly instead of drawing them at random.
    bool is_spike = false;
    if (spiking) {
      spike_share += (opt.spike_multiplier - 1.0) / opt.spike_multiplier;
      if (spike_share >= 1.0) is_spike = true, spike_share -= 1.0;
    }
    sink->send(gen.next(is_spike));
    ++generated;
    due += 1.0 / rate;
    if (!opt.quiet && elapsed() - last_report >= 10) {
      last_report = elapsed();
      std::cerr << "llm-traffic-gen: " << generated << " events in " << static_cast<int>(last_report) << " s"
                << (spiking ? " (spike)" : "") << "\n";
    }
  }
  sink->flush();
  double total = elapsed();
  if (!opt.quiet)
    std::cerr << "llm-traffic-gen: done: " << sink->delivered.events << " delivered, " << sink->failed << " failed in "
              << total << " s\n";
  if (opt.print_summary) std::cout << summary_json(opt, *sink, generated, total).dump(2) << std::endl;
  return sink->failed > 0 && sink->delivered.events == 0 && generated > 0 ? 1 : 0;
}
