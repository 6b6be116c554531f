#pragma once
// Command-line flags, named as in the Prometheus exporter-toolkit and other
// exporters (--web.listen-address, --web.telemetry-path, --log.level, ...).
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace llmcost {

struct Flags {
  std::string web_listen_address = ":10429";
  std::string web_telemetry_path = "/metrics";
  bool web_enable_lifecycle = false;
  std::string ingest_listen_address = "127.0.0.1:10430";
  std::string otlp_listen_address = "127.0.0.1:4318";  // OTLP/HTTP's registered port
  std::chrono::seconds otlp_aggregate_hold{10};        // OtlpOptions::aggregate_hold_seconds
  std::size_t ingest_max_body_bytes = 4 * 1024 * 1024;
  std::size_t ingest_max_queued_requests = 64;
  std::string udp_listen_address = "127.0.0.1:10430";
  int udp_read_buffer_bytes = 0;  // 0: the kernel default
  // UDP sockets bound to the one address with SO_REUSEPORT, each read by its own
  // thread; 0 (the default): one per core (std::thread::hardware_concurrency).
  std::size_t udp_workers = 0;
  std::string config_file;        // empty: built-in defaults
  std::string monitoring_config;  // empty: the shipped monitoring config, built in
  std::string pricing_file;  // empty: the table compiled into the binary
  std::string storage_path;  // empty: counters are not persisted across restarts
  std::chrono::milliseconds storage_checkpoint_interval{5000};
  std::chrono::seconds ingest_dedupe_window{24 * 3600};
  std::size_t ingest_dedupe_max_ids = 1'000'000;
  // How long a new label set is served at zero, from the first scrape that shows it:
  // long enough for every Prometheus of an HA pair to scrape the zero (two of the
  // shipped 15 s scrape intervals), so none of them misses the set's first events.
  std::chrono::milliseconds web_zero_first_duration{30'000};
  std::chrono::seconds ingest_max_event_age{35 * 86400};
  std::chrono::seconds ingest_max_clock_skew{300};
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string web_config_file;        // exporter-toolkit web config (TLS, basic auth); empty: none
  std::string web_ingest_token_file;  // bearer token for HTTP ingest; empty: no token
  std::string udp_allowed_networks;   // CIDR list for UDP sources; empty: all
  std::string budgets_prometheus_url;  // GET /v1/budgets from the sum over replicas there; empty: local ledger
  // Reconciliation with Anthropic's bill (reconcile/, docs/reconciliation.md).
  std::string reconcile_admin_key_file;  // empty: no billing poller (the default)
  std::string reconcile_api_url = "https://api.anthropic.com";
  std::chrono::seconds reconcile_interval{3600};
  std::chrono::seconds reconcile_settle_after{48 * 3600};
  bool reconcile_export_instrumented = false;  // a replica that does not poll exports its share
  bool show_version = false;
  bool show_help = false;
};

// Accepts --name=value and --name value. Returns "" or an error naming the flag.
std::string ParseFlags(const std::vector<std::string>& args, Flags& flags);
std::string FlagsUsage();

// Prometheus-style durations: "500ms", "5s", "10m", "24h", "7d".
bool ParseDuration(const std::string& text, std::chrono::milliseconds& out);

}  // namespace llmcost
