#include "config/flags.h"

#include <charconv>
#include <functional>
#include <map>

namespace llmcost {
namespace {

struct FlagSpec {
  const char* help;
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
      {"ingest.max-body-bytes", {"Largest HTTP ingest body; larger ones get 413. (default 4194304)", false,
                                 [](Flags& f, const std::string& v) { return SetNumber(f.ingest_max_body_bytes, v, "ingest.max-body-bytes"); }}},
      {"udp.listen-address", {"Address for UDP ingest; empty disables. (default \"127.0.0.1:10430\")", false,
                              [](Flags& f, const std::string& v) { f.udp_listen_address = v; return std::string(); }}},
      {"udp.read-buffer-bytes", {"Socket receive buffer for UDP ingest (SO_RCVBUF); 0 keeps the kernel default.", false,
                                 [](Flags& f, const std::string& v) { return SetNumber(f.udp_read_buffer_bytes, v, "udp.read-buffer-bytes"); }}},
      {"config.file", {"Configuration file (YAML): labels, caps, histograms, budgets.", false,
                       [](Flags& f, const std::string& v) { f.config_file = v; return std::string(); }}},
      {"pricing.file", {"Price table (YAML). (default \"/etc/llm-cost-exporter/prices.yml\")", false,
                        [](Flags& f, const std::string& v) { f.pricing_file = v; return std::string(); }}},
      {"log.level", {"Only log messages with the given severity or above: debug, info, warn, error.", false,
                     [](Flags& f, const std::string& v) { f.log_level = v; return std::string(); }}},
      {"log.format", {"Output format of log messages: logfmt, json.", false,
                      [](Flags& f, const std::string& v) { f.log_format = v; return std::string(); }}},
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

std::string FlagsUsage() {
  std::string out = "usage: llm-cost-exporter [<flags>]\n\nFlags:\n";
  for (const auto& [name, spec] : Specs()) {
    out += "  --" + name + (spec.is_bool ? "" : "=VALUE") + "\n      " + spec.help + "\n";
  }
  return out;
}

}  // namespace llmcost
