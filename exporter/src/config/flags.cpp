#include "config/flags.h"

#include <charconv>
#include <functional>
#include <map>

namespace llmcost {
namespace {

struct FlagSpec {
  std::string help;
  bool is_bool;
  std::function<std::string(Flags&, const std::string&)> set;
};

template <typename T>
std::string SetNumber(T& out, const std::string& v, const char* name) {
  T n{};
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::string("--") + name + ": '" + v + "' is not a number";
  out = n;
  return "";
}

const std::map<std::string, FlagSpec>& Specs() {
  static const std::map<std::string, FlagSpec> specs = {
      {"web.listen-address", {"Address for /metrics, health and the landing page. (default \":10429\")", false,
                              [](Flags& f, const std::string& v) { f.web_listen_address = v; return std::string(); }}},
      {"web.telemetry-path", {"Path under which to expose metrics. (default \"/metrics\")", false,
                              [](Flags& f, const std::string& v) {
                                if (v.empty() || v[0] != '/') return std::string("--web.telemetry-path must start with /");
                                f.web_telemetry_path = v;
                                return std::string();
                              }}},
      {"web.enable-lifecycle", {"Enable POST /-/reload on the web address.", true,
                                [](Flags& f, const std::string& v) { f.web_enable_lifecycle = v != "false"; return std::string(); }}},
      {"ingest.listen-address", {"Address for HTTP ingest (POST /v1/events); empty disables. (default \"127.0.0.1:10430\")", false,
                                 [](Flags& f, const std::string& v) { f.ingest_listen_address = v; return std::string(); }}},
      {"otlp.listen-address", {"Address for the OTLP/HTTP receiver (POST /v1/logs, /v1/metrics, /v1/traces: Claude "
                               "Code's telemetry, GenAI spans and token histograms); empty disables. Body size, queue "
                               "and auth as ingest's. (default \"127.0.0.1:4318\")", false,
                               [](Flags& f, const std::string& v) { f.otlp_listen_address = v; return std::string(); }}},
      {"otlp.aggregate-hold", {"OTLP metrics (aggregates) wait this long before they are priced, so that the same "
                               "client's logs or spans, when it sends them too, count instead. (default 10s)", false,
                               [](Flags& f, const std::string& v) {
                                 std::chrono::milliseconds d;
                                 if (!ParseDuration(v, d)) return "--otlp.aggregate-hold: '" + v + "' is not a duration";
                                 f.otlp_aggregate_hold = std::chrono::duration_cast<std::chrono::seconds>(d);
                                 return std::string();
                               }}},
      {"ingest.max-body-bytes", {"Largest HTTP ingest body; larger ones get 413. (default 4194304)", false,
                                 [](Flags& f, const std::string& v) { return SetNumber(f.ingest_max_body_bytes, v, "ingest.max-body-bytes"); }}},
      {"ingest.max-queued-requests", {"HTTP ingest connections waiting for a worker before new ones get 429 "
                                      "with Retry-After. (default 64)", false,
                                      [](Flags& f, const std::string& v) {
                                        return SetNumber(f.ingest_max_queued_requests, v, "ingest.max-queued-requests");
                                      }}},
      {"udp.listen-address", {"Address for UDP ingest; empty disables. (default \"127.0.0.1:10430\")", false,
                              [](Flags& f, const std::string& v) { f.udp_listen_address = v; return std::string(); }}},
      {"udp.workers", {"UDP receive sockets (SO_REUSEPORT), each with its own thread; the kernel spreads senders "
                       "over them. 0 = one per core. (default 0)", false,
                       [](Flags& f, const std::string& v) {
                         if (std::string e = SetNumber(f.udp_workers, v, "udp.workers"); !e.empty()) return e;
                         if (f.udp_workers > 64) return std::string("--udp.workers: at most 64");
                         return std::string();
                       }}},
      {"udp.read-buffer-bytes", {"Socket receive buffer for UDP ingest (SO_RCVBUF); 0 keeps the kernel default.", false,
                                 [](Flags& f, const std::string& v) { return SetNumber(f.udp_read_buffer_bytes, v, "udp.read-buffer-bytes"); }}},
      {"budgets.prometheus-url", {"Prometheus-compatible query API (Prometheus, Thanos Query, Mimir) that scrapes every "
                                  "replica: GET /v1/budgets answers from sum by (scope, period) (llm_spend_usd) there, "
                                  "falling back to this exporter's own ledger when the query fails. (default: local ledger only)", false,
                                  [](Flags& f, const std::string& v) { f.budgets_prometheus_url = v; return std::string(); }}},
      {"reconcile.admin-key-file", {"File holding an Anthropic Admin API key (sk-ant-admin...): turns on the billing "
                                    "poller, which compares billed cost by model with this exporter's for settled UTC days "
                                    "(docs/reconciliation.md). The key is sent to --reconcile.api-url only and never logged. "
                                    "(default: off)", false,
                                    [](Flags& f, const std::string& v) { f.reconcile_admin_key_file = v; return std::string(); }}},
      {"reconcile.api-url", {"Base URL of the Admin API the billing poller reads. (default \"" + Flags{}.reconcile_api_url + "\")", false,
                             [](Flags& f, const std::string& v) { f.reconcile_api_url = v; return std::string(); }}},
      {"reconcile.interval", {"How often the billing poller reads the Admin API. (default " +
                                  std::to_string(Flags{}.reconcile_interval.count() / 3600) + "h)", false,
                              [](Flags& f, const std::string& v) {
                                std::chrono::milliseconds d;
                                if (!ParseDuration(v, d) || d.count() < 1000) return "--reconcile.interval: '" + v + "' is not a duration >= 1s";
                                f.reconcile_interval = std::chrono::duration_cast<std::chrono::seconds>(d);
                                return std::string();
                              }}},
      {"reconcile.settle-after", {"A UTC day counts as settled once its end is this old (billing data arrives late and "
                                  "is revised). Every replica must use the same value. (default " +
                                      std::to_string(Flags{}.reconcile_settle_after.count() / 3600) + "h)", false,
                                  [](Flags& f, const std::string& v) {
                                    std::chrono::milliseconds d;
                                    if (!ParseDuration(v, d)) return "--reconcile.settle-after: '" + v + "' is not a duration";
                                    f.reconcile_settle_after = std::chrono::duration_cast<std::chrono::seconds>(d);
                                    return std::string();
                                  }}},
      {"reconcile.export-instrumented", {"Export llm_instrumented_cost_usd without polling: set on every replica but the "
                                         "one with --reconcile.admin-key-file, whose drift then uses the sum across "
                                         "replicas read through --budgets.prometheus-url.", true,
                                         [](Flags& f, const std::string& v) { f.reconcile_export_instrumented = v != "false"; return std::string(); }}},
      {"config.file", {"Configuration file (YAML): labels, caps, histograms, budgets.", false,
                       [](Flags& f, const std::string& v) { f.config_file = v; return std::string(); }}},
      {"monitoring.config", {"Monitoring config the Prometheus rules were generated from (prometheus/mixin/config.yml): "
                             "start-up fails on a budget scope or histogram bucket layout no rule can alert on. "
                             "(default: the shipped one, built into the binary)", false,
                             [](Flags& f, const std::string& v) { f.monitoring_config = v; return std::string(); }}},
      {"pricing.file", {"Price table (YAML) replacing the one built into the binary; SIGHUP and /-/reload re-read it. "
                        "(default: the embedded table)", false,
                        [](Flags& f, const std::string& v) { f.pricing_file = v; return std::string(); }}},
      {"storage.path", {"Directory for the state file (counters, histograms, seen request ids), so a restart "
                        "resets nothing; created with its parents, must be writable, and is locked (one exporter "
                        "per directory); empty disables persistence.", false,
                        [](Flags& f, const std::string& v) { f.storage_path = v; return std::string(); }}},
      {"storage.checkpoint-interval", {"How often the state file is written; a kill -9 loses at most this much. (default 5s)", false,
                                       [](Flags& f, const std::string& v) {
                                         std::chrono::milliseconds d;
                                         if (!ParseDuration(v, d) || d.count() < 100) {
                                           return "--storage.checkpoint-interval: '" + v + "' is not a duration >= 100ms";
                                         }
                                         f.storage_checkpoint_interval = d;
                                         return std::string();
                                       }}},
      {"ingest.dedupe-window", {"Events whose request_id was counted within this window are not counted again. (default 24h)", false,
                                [](Flags& f, const std::string& v) {
                                  std::chrono::milliseconds d;
                                  if (!ParseDuration(v, d)) return "--ingest.dedupe-window: '" + v + "' is not a duration";
                                  f.ingest_dedupe_window = std::chrono::duration_cast<std::chrono::seconds>(d);
                                  return std::string();
                                }}},
      {"ingest.max-event-age", {"Events whose own time (ts) is older than this are refused (reason too_old). (default 35d)", false,
                                [](Flags& f, const std::string& v) {
                                  std::chrono::milliseconds d;
                                  if (!ParseDuration(v, d) || d.count() < 1000) return "--ingest.max-event-age: '" + v + "' is not a duration >= 1s";
                                  f.ingest_max_event_age = std::chrono::duration_cast<std::chrono::seconds>(d);
                                  return std::string();
                                }}},
      {"ingest.max-clock-skew", {"Events whose own time (ts) is later than now plus this are refused (reason in_future). (default 5m)", false,
                                 [](Flags& f, const std::string& v) {
                                   std::chrono::milliseconds d;
                                   if (!ParseDuration(v, d)) return "--ingest.max-clock-skew: '" + v + "' is not a duration";
                                   f.ingest_max_clock_skew = std::chrono::duration_cast<std::chrono::seconds>(d);
                                   return std::string();
                                 }}},
      {"ingest.dedupe-max-ids", {"Most request ids remembered (about 50 bytes each); 0 disables de-duplication. (default 1000000)", false,
                                 [](Flags& f, const std::string& v) { return SetNumber(f.ingest_dedupe_max_ids, v, "ingest.dedupe-max-ids"); }}},
      {"web.zero-first-duration",
       {"New label sets are served at zero for this long from the first scrape (GET) that shows them, "
        "before their events are applied; at least two scrape intervals, so every Prometheus of an HA "
        "pair scrapes the zero. HEAD is not a scrape. (default " +
            std::to_string(Flags{}.web_zero_first_duration.count() / 1000) + "s)",
        false,
        [](Flags& f, const std::string& v) {
          std::chrono::milliseconds d;
          if (!ParseDuration(v, d)) return "--web.zero-first-duration: '" + v + "' is not a duration";
          f.web_zero_first_duration = d;
          return std::string();
        }}},
      {"log.level", {"Only log messages with the given severity or above: debug, info, warn, error.", false,
                     [](Flags& f, const std::string& v) { f.log_level = v; return std::string(); }}},
      {"log.format", {"Output format of log messages: logfmt, json.", false,
                      [](Flags& f, const std::string& v) { f.log_format = v; return std::string(); }}},
      {"web.config.file", {"Path to a web configuration file (exporter-toolkit format) enabling TLS and basic auth "
                           "on the web and HTTP ingest listeners.", false,
                           [](Flags& f, const std::string& v) { f.web_config_file = v; return std::string(); }}},
      {"web.ingest-token-file", {"File holding the bearer token HTTP ingest requires (Authorization: Bearer); "
                                 "re-read on SIGHUP.", false,
                                 [](Flags& f, const std::string& v) { f.web_ingest_token_file = v; return std::string(); }}},
      {"udp.allowed-networks", {"Comma-separated CIDRs UDP events are accepted from (e.g. 127.0.0.0/8,::1/128); "
                                "empty allows all.", false,
                                [](Flags& f, const std::string& v) { f.udp_allowed_networks = v; return std::string(); }}},
      {"version", {"Show version and exit.", true,
                   [](Flags& f, const std::string&) { f.show_version = true; return std::string(); }}},
      {"help", {"Show this help and exit.", true,
                [](Flags& f, const std::string&) { f.show_help = true; return std::string(); }}},
  };
  return specs;
}

}  // namespace

std::string ParseFlags(const std::vector<std::string>& args, Flags& flags) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      flags.show_help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + arg + "'";
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
      has_value = true;
    }
    bool negated = false;
    auto it = Specs().find(name);
    if (it == Specs().end() && name.rfind("no-", 0) == 0) {  // kingpin-style --no-flag
      it = Specs().find(name.substr(3));
      negated = it != Specs().end() && it->second.is_bool;
      if (!negated) it = Specs().end();
    }
    if (it == Specs().end()) return "unknown flag --" + name;
    if (it->second.is_bool) {
      if (!has_value) value = negated ? "false" : "true";
      if (value != "true" && value != "false") return "--" + name + " takes true or false";
    } else if (!has_value) {
      if (i + 1 >= args.size()) return "--" + name + " needs a value";
      value = args[++i];
    }
    if (std::string err = it->second.set(flags, value); !err.empty()) return err;
  }
  return "";
}

bool ParseDuration(const std::string& text, std::chrono::milliseconds& out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return false;
  const long long n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  long long ms_per = 0;
  if (unit == "ms") ms_per = 1;
  else if (unit == "s") ms_per = 1000;
  else if (unit == "m") ms_per = 60'000;
  else if (unit == "h") ms_per = 3'600'000;
  else if (unit == "d") ms_per = 86'400'000;
  else return false;
  out = std::chrono::milliseconds(n * ms_per);
  return true;
}

std::string FlagsUsage() {
  std::string out =
      "usage: llm-cost-exporter [<flags>]\n"
      "       llm-cost-exporter price [--pricing.file=FILE] < events.ndjson   (how each event is priced)\n"
      "       llm-cost-exporter check pricing FILE                            (validate a price table)\n"
      "       llm-cost-exporter backfill --from DATE --to DATE [--reconcile.*]   (billed history as OpenMetrics)\n"
      "       llm-cost-exporter reconcile --from DATE --to DATE [--metrics-url URL] [--reconcile.*]  (billed vs instrumented)\n\nFlags:\n";
  for (const auto& [name, spec] : Specs()) {
    out += "  --" + name + (spec.is_bool ? "" : "=VALUE") + "\n      " + spec.help + "\n";
  }
  return out;
}

}  // namespace llmcost
