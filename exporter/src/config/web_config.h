#pragma once
// WebConfig: --web.config.file in the Prometheus exporter-toolkit format
// (tls_server_config, http_server_config, basic_auth_users), applied to the web
// listener (/metrics, health, reload) and to the HTTP ingest listener. Read once
// at start. Unknown keys and settings this exporter cannot honour are refused,
// never ignored: a silently dropped security setting is worse than a refusal.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace llmcost {

struct WebConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Go crypto/tls ClientAuthType names, as the exporter-toolkit takes them.
enum class ClientAuthType {
  kNoClientCert, kRequestClientCert, kRequireAnyClientCert, kVerifyClientCertIfGiven, kRequireAndVerifyClientCert
};

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  ClientAuthType client_auth = ClientAuthType::kNoClientCert;
  int min_version = 0x0303;  // TLS 1.2, as wire version numbers (TLS1_2_VERSION)
  int max_version = 0x0304;  // TLS 1.3
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;           // none: plain HTTP
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash; empty: no basic auth
  std::map<std::string, std::string> headers;   // http_server_config.headers, added to every response

  // origin names the file in errors. Throws WebConfigError naming the key and reason.
  static WebConfig Parse(const std::string& yaml_text, const std::string& origin);
  static WebConfig LoadFile(const std::string& path);
};

}  // namespace llmcost
