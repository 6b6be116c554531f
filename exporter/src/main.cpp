// llm-cost-exporter: wires transport -> parse -> price -> record, and nothing else.
#include <prometheus/registry.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iterator>
#include <iostream>
#include <memory>
#include <optional>
#include <pthread.h>
#include <thread>

#include "commands/price_commands.h"
#include "commands/reconcile_commands.h"
#include "config/exporter_config.h"
#include "config/monitoring_coverage.h"
#include "config/flags.h"
#include "config/web_config.h"
#include "event/event_parser.h"
#include "log/structured_log.h"
#include "pipeline/event_pipeline.h"
#include "pipeline/price_reloader.h"
#include "pricing/price_book.h"
#include "reconcile/admin_api.h"
#include "reconcile/admin_key.h"
#include "reconcile/reconciler.h"
#include "record/exporter_metrics.h"
#include "record/exposition.h"
#include "record/prompt_repeats.h"
#include "record/request_metrics.h"
#include "record/spend_ledger.h"
#include "record/task_tracker.h"
#include "transport/http_servers.h"
#include "transport/otlp_server.h"
#include "transport/source_networks.h"
#include "storage/checkpointer.h"
#include "storage/state_file.h"
#include "transport/udp_listener.h"

#ifndef LLM_COST_EXPORTER_VERSION
#define LLM_COST_EXPORTER_VERSION "dev"
#endif
#ifndef LLM_COST_EXPORTER_REVISION
#define LLM_COST_EXPORTER_REVISION "unknown"
#endif

using namespace llmcost;

namespace {

int Fatal(const std::string& msg, const std::string& error) {
  Log(LogLevel::kError, msg, {{"error", error}});
  return 1;
}

// Start-up errors from a file named by a flag name the flag, so the bare binary's
// message says which flag to fix ("--pricing.file: /x: cannot open").
template <typename Load>
auto FromFlag(const std::string& flag, Load&& load) {
  try {
    return load();
  } catch (const std::exception& e) {
    throw std::runtime_error("--" + flag + ": " + e.what());
  }
}

ListenAddress MustParseAddress(const std::string& flag, const std::string& text) {
  auto a = ParseListenAddress(text);
  if (!a) throw std::runtime_error("--" + flag + ": '" + text + "' is not host:port");
  return *a;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (IsReconcileSubcommand(args)) {  // backfill, reconcile: read the Admin API, print, exit
    const CommandResult r = RunReconcileSubcommand(args);
    std::cout << r.out;
    std::cerr << r.err;
    return r.exit_code;
  }
  if (IsSubcommand(args)) {  // price, check pricing: promtool style, no server
    std::string input;
    if (args[0] == "price") input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const CommandResult r = RunSubcommand(args, input, now);
    std::cout << r.out;
    std::cerr << r.err;
    return r.exit_code;
  }
  Flags flags;
  if (std::string err = ParseFlags({argv + 1, argv + argc}, flags); !err.empty()) {
    std::cerr << "llm-cost-exporter: " << err << "\n\n" << FlagsUsage();
    return 2;
  }
  if (flags.show_help) {
    std::cout << FlagsUsage();
    return 0;
  }
  if (flags.show_version) {
    std::cout << "llm-cost-exporter, version " << LLM_COST_EXPORTER_VERSION << " (revision: "
              << LLM_COST_EXPORTER_REVISION << ")\n";
    return 0;
  }
  LogFormat format;
  LogLevel level;
  if (!ParseLogFormat(flags.log_format, format) || !ParseLogLevel(flags.log_level, level)) {
    std::cerr << "llm-cost-exporter: --log.format must be logfmt or json, --log.level debug, info, warn or error\n";
    return 2;
  }
  InitLogging(format, level);

  // Signals are taken by one thread with sigwait; block them everywhere else first.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // A fixed mmap threshold: glibc's adaptive one moves large freed buffers into
  // per-thread heaps, where one 4 MiB body kept ~25 MiB per worker (docs/reliability.md, Request size).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  try {
    const ExporterConfig config =
        flags.config_file.empty()
            ? ExporterConfig{}
            : FromFlag("config.file", [&] { return ExporterConfig::LoadFile(flags.config_file); });
    // Budgets and histogram thresholds the rules cannot alert on are start-up errors.
    const MonitoringCoverage coverage =
        flags.monitoring_config.empty()
            ? MonitoringCoverage::Embedded()
            : FromFlag("monitoring.config", [&] { return MonitoringCoverage::LoadFile(flags.monitoring_config); });
    if (const auto uncovered = UncoveredByRules(config, coverage); !uncovered.empty()) {
      std::string why;
      for (const auto& u : uncovered) why += (why.empty() ? "" : "; ") + u;
      throw std::runtime_error((flags.config_file.empty() ? std::string("built-in config")
                                                          : "--config.file " + flags.config_file) +
                               ": not covered by any alert rule: " + why);
    }
    auto registry = std::make_shared<prometheus::Registry>();
    ExporterMetrics exporter_metrics(*registry, config, LLM_COST_EXPORTER_VERSION, LLM_COST_EXPORTER_REVISION);
    // No --pricing.file: the table built into the binary (the shipped prices.yml).
    PriceBook prices(flags.pricing_file.empty()
                         ? PriceTable::Embedded()
                         : FromFlag("pricing.file", [&] { return PriceTable::LoadFile(flags.pricing_file); }));
    exporter_metrics.PricingLoaded(*prices.Current());
    RequestMetrics request_metrics(config, exporter_metrics);
    request_metrics.SetZeroFirstDuration(flags.web_zero_first_duration);
    TaskTracker task_tracker(*registry, config);
    PromptRepeats prompt_repeats(*registry, config, TaskTracker::SteadyMs);
    Exposition exposition(registry, request_metrics);
    exposition.AddCollector([&task_tracker] {
      task_tracker.Refresh();
      return std::vector<prometheus::MetricFamily>{};
    });
    exposition.AddCollector([&prompt_repeats] {
      prompt_repeats.Refresh();
      return std::vector<prometheus::MetricFamily>{};
    });
    RequestIdWindow request_ids(flags.ingest_dedupe_max_ids, flags.ingest_dedupe_window.count());
    EventPipeline pipeline(EventParser(config.attribution_labels, config.tasks.id_fields), prices, request_metrics, exporter_metrics,
                           &request_ids);
    pipeline.SetTaskTracker(&task_tracker);
    pipeline.SetPromptRepeats(&prompt_repeats);
    pipeline.SetTimeWindow({flags.ingest_max_event_age.count(), flags.ingest_max_clock_skew.count()});
    SpendLedger ledger(config);
    pipeline.SetSpendLedger(&ledger);
    exposition.AddCollector([&ledger] { return ledger.Collect(); });

    // Restore before any listener starts, so no event lands in a half-restored state.
    std::optional<StateFile> state_file;
    std::optional<Checkpointer> checkpointer;
    if (!flags.storage_path.empty()) {
      state_file.emplace(flags.storage_path);
      state_file->Open();  // throws, naming the flag: not creatable, not writable, in use
      StateFile::Loaded loaded = state_file->Load();
      std::string result = loaded.result;
      if (loaded.state) {
        const RestoreReport report = pipeline.Restore(*loaded.state);
        if (!report.incompatible.empty()) {
          result = "incompatible";
          const std::string moved = state_file->SetAside("incompatible");
          Log(LogLevel::kError, "state file does not fit this configuration; starting empty",
              {{"file", state_file->path()}, {"error", report.incompatible}, {"moved_to", moved}});
        } else {
          std::string unknown;
          for (const auto& name : report.unknown_names) unknown += (unknown.empty() ? "" : ",") + name;
          const bool partial = !report.note.empty() || !report.skipped.empty();
          Log(partial ? LogLevel::kWarn : LogLevel::kInfo, "state restored",
              {{"file", state_file->path()},
               {"format_version", std::to_string(loaded.format_version)},
               {"label_sets", std::to_string(request_metrics.label_sets())},
               {"request_ids", std::to_string(request_ids.size())},
               {"spend_scopes_dropped", std::to_string(report.spend_scopes_dropped.size())},
               {"note", report.note},
               {"skipped_unknown_names", unknown}});
        }
      } else if (loaded.result == "corrupt") {
        Log(LogLevel::kError, "state file unreadable; set aside, starting empty",
            {{"file", state_file->path()}, {"error", loaded.detail}});
      }
      exporter_metrics.StateRestored(result);
      checkpointer.emplace(pipeline, *state_file, exporter_metrics, flags.storage_checkpoint_interval);
    }

    PriceReloader price_reloader(prices, exporter_metrics, flags.pricing_file);
    auto reload = [&price_reloader] { return price_reloader.Reload(); };

    HttpSecurity security;
    if (!flags.web_config_file.empty()) {
      const auto web_config = std::make_shared<const WebConfig>(WebConfig::LoadFile(flags.web_config_file));
      security.web_config = web_config;
      security.basic_auth = std::make_shared<BasicAuth>(web_config->basic_auth_users);
    }
    HttpSecurity ingest_security = security;
    if (!flags.web_ingest_token_file.empty()) ingest_security.ingest_token = IngestToken::LoadFile(flags.web_ingest_token_file);
    SourceNetworks udp_networks;
    try {
      udp_networks = SourceNetworks::Parse(flags.udp_allowed_networks);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("--udp.allowed-networks: ") + e.what());
    }

    WebServerOptions web_options{flags.web_telemetry_path, flags.web_enable_lifecycle, LLM_COST_EXPORTER_VERSION};
    WebServer web(MustParseAddress("web.listen-address", flags.web_listen_address), web_options, exposition, reload,
                  security);
    std::optional<PrometheusSpend> remote_spend;
    if (!flags.budgets_prometheus_url.empty()) {
      try {
        remote_spend.emplace(flags.budgets_prometheus_url);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(e.what());
      }
    }
    // Reconciliation with the bill (off by default): the poller with an Admin key,
    // or only this replica's instrumented share for the replica that polls.
    std::optional<Reconciler> reconciler;
    std::shared_ptr<AdminApi> admin_api;
    if (!flags.reconcile_admin_key_file.empty() || flags.reconcile_export_instrumented) {
      Reconciler::Options ro;
      ro.settle_after_seconds = flags.reconcile_settle_after.count();
      ro.interval = flags.reconcile_interval;
      ro.polls = !flags.reconcile_admin_key_file.empty();
      reconciler.emplace(ledger, ro, [&prices](std::string_view m) { return prices.Current()->ResolveModel(m); });
      exposition.AddCollector([&reconciler] { return reconciler->Collect(); });
      if (ro.polls) {
        AdminApiOptions ao;
        ao.base_url = flags.reconcile_api_url;
        ao.admin_key = ReadAdminKeyFile(flags.reconcile_admin_key_file);  // throws naming the flag, never the key
        ao.sleep = [&reconciler](std::chrono::milliseconds d) { return reconciler->Sleep(d); };
        try {
          admin_api = std::make_shared<AdminApi>(std::move(ao));
        } catch (const std::invalid_argument& e) {
          throw std::runtime_error(e.what());
        }
        if (flags.reconcile_api_url.rfind("https://", 0) != 0) {
          Log(LogLevel::kWarn, "--reconcile.api-url is not https: the Admin key travels unencrypted",
              {{"url", flags.reconcile_api_url}});
        }
      }
    }
    std::optional<IngestServer> ingest;
    if (!flags.ingest_listen_address.empty()) {
      ingest.emplace(MustParseAddress("ingest.listen-address", flags.ingest_listen_address), pipeline,
                     flags.ingest_max_body_bytes, ingest_security, flags.ingest_max_queued_requests,
                     ClientApi{&ledger, &prices, remote_spend ? &*remote_spend : nullptr, &task_tracker,
                               &prompt_repeats});
    }
    std::optional<OtlpServer> otlp;
    if (!flags.otlp_listen_address.empty()) {
      OtlpOptions otlp_options;
      otlp_options.max_body_bytes = flags.ingest_max_body_bytes;
      otlp_options.max_queued = flags.ingest_max_queued_requests;
      otlp_options.aggregate_hold_seconds = flags.otlp_aggregate_hold.count();
      for (const auto& [label, attributes] : config.otlp_labels) otlp_options.mapping.labels.push_back({label, attributes});
      otlp_options.mapping.cache_write_default =
          config.otlp_cache_writes_1h ? TokenType::kCacheWrite1h : TokenType::kCacheWrite5m;
      otlp.emplace(MustParseAddress("otlp.listen-address", flags.otlp_listen_address), pipeline, exporter_metrics,
                   otlp_options, ingest_security);
    }
    std::optional<UdpListener> udp;
    if (!flags.udp_listen_address.empty()) {
      std::size_t udp_workers = flags.udp_workers;
      if (udp_workers == 0) {
        udp_workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, ExporterMetrics::kMaxUdpSockets);
      }
      udp.emplace(MustParseAddress("udp.listen-address", flags.udp_listen_address), pipeline,
                  flags.udp_read_buffer_bytes, udp_workers);
      udp->SetAllowedNetworks(udp_networks);
      udp->ReportKernelDropsTo(&exporter_metrics);
    }

    if (checkpointer) checkpointer->Start();
    web.Start();
    if (ingest) ingest->Start();
    if (otlp) otlp->Start();
    if (udp) udp->Start();
    if (admin_api) {
      Reconciler::InstrumentedSum across_replicas;
      if (remote_spend) {
        across_replicas = [&remote_spend](std::string* error) {
          auto a = remote_spend->Query("sum by (model, period) (llm_instrumented_cost_usd)", "model", "period");
          if (!a.sums) *error = a.error;
          return a.sums;
        };
      }
      reconciler->Start(admin_api, across_replicas);
    }
    Log(LogLevel::kInfo, "llm-cost-exporter started",
        {{"version", LLM_COST_EXPORTER_VERSION},
         {"web", flags.web_listen_address + " (port " + std::to_string(web.port()) + ")"},
         {"ingest", ingest ? flags.ingest_listen_address : "disabled"},
         {"udp", udp ? flags.udp_listen_address : "disabled"},
         {"udp_workers", udp ? std::to_string(udp->workers()) : "0"},
         {"otlp", otlp ? flags.otlp_listen_address : "disabled"},
         {"reconcile", admin_api ? "polling " + flags.reconcile_api_url
                                 : reconciler ? "instrumented share only" : "off"},
         {"pricing_as_of", prices.Current()->as_of()},
         {"pricing_table", prices.Current()->origin()},
         {"tls", web.tls() ? "on" : "off"},
         {"basic_auth", security.basic_auth && security.basic_auth->enabled() ? "on" : "off"},
         {"ingest_token", ingest_security.ingest_token ? "on" : "off"},
         {"udp_allowed_networks", udp_networks.ToString()},
         {"models_priced", std::to_string(prices.Current()->size())}});

    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        reload();
        if (ingest_security.ingest_token) {
          if (const std::string error = ingest_security.ingest_token->Reload(); !error.empty()) {
            Log(LogLevel::kError, "ingest token reload failed; keeping the previous token", {{"error", error}});
          } else {
            Log(LogLevel::kInfo, "ingest token reloaded", {{"file", ingest_security.ingest_token->path()}});
          }
        }
        continue;
      }
      Log(LogLevel::kInfo, "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
    // Stop intake first (the UDP socket is drained: what was queued is counted), then serve nothing more.
    if (udp) {
      udp->Stop();
      Log(LogLevel::kInfo, "udp intake stopped; queued datagrams drained", {{"datagrams", std::to_string(udp->drained())}});
    }
    if (ingest) ingest->Stop();
    if (otlp) otlp->Stop();
    if (reconciler) reconciler->Stop();
    web.Stop();
    // Everything accepted is in the final checkpoint: intake stopped above.
    if (checkpointer && !checkpointer->StopAndFlush()) {
      Log(LogLevel::kError, "final state checkpoint failed");
      return 1;
    }
    Log(LogLevel::kInfo, "stopped");
    return 0;
  } catch (const std::exception& e) {
    return Fatal("cannot start", e.what());
  }
}
