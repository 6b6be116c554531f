#include "config/web_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "config/yaml_keys.h"

namespace llmcost {
namespace {

[[noreturn]] void Fail(const std::string& origin, const std::string& where, const std::string& why) {
  throw WebConfigError(origin + ": " + where + ": " + why);
}

void CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed, std::string_view origin,
               const std::string& where) {
  CheckYamlKeys<WebConfigError>(node, allowed, origin, where);
}

std::string Scalar(const YAML::Node& n, const std::string& origin, const std::string& where) {
  if (!n.IsScalar()) Fail(origin, where, "must be a string");
  return n.as<std::string>();
}

bool Bool(const YAML::Node& n, const std::string& origin, const std::string& where) {
  const std::string v = Scalar(n, origin, where);
  if (v == "true") return true;
  if (v == "false") return false;
  Fail(origin, where, "must be true or false");
}

int TlsVersion(const YAML::Node& n, const std::string& origin, const std::string& where) {
  const std::string v = Scalar(n, origin, where);
  if (v == "TLS10") return 0x0301;
  if (v == "TLS11") return 0x0302;
  if (v == "TLS12") return 0x0303;
  if (v == "TLS13") return 0x0304;
  Fail(origin, where, "'" + v + "' is not one of TLS10, TLS11, TLS12, TLS13");
}

ClientAuthType ClientAuth(const YAML::Node& n, const std::string& origin, const std::string& where) {
  const std::string v = Scalar(n, origin, where);
  if (v == "" || v == "NoClientCert") return ClientAuthType::kNoClientCert;
  if (v == "RequestClientCert") return ClientAuthType::kRequestClientCert;
  if (v == "RequireAnyClientCert") return ClientAuthType::kRequireAnyClientCert;
  if (v == "VerifyClientCertIfGiven") return ClientAuthType::kVerifyClientCertIfGiven;
  if (v == "RequireAndVerifyClientCert") return ClientAuthType::kRequireAndVerifyClientCert;
  Fail(origin, where,
       "'" + v + "' is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
                 "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
}

// Settings of the format that name Go-specific values; refused when set.
void RefuseIfSet(const YAML::Node& n, const std::string& origin, const std::string& where, const std::string& why) {
  if (!n || n.IsNull() || (n.IsSequence() && n.size() == 0)) return;
  Fail(origin, where, "not supported by llm-cost-exporter (" + why + ")");
}

TlsServerConfig ParseTls(const YAML::Node& t, const std::string& origin) {
  CheckKeys(t, {"cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file",
                "client_allowed_sans", "min_version", "max_version", "cipher_suites",
                "prefer_server_cipher_suites", "curve_preferences"},
            origin, "tls_server_config");
  const std::string w = "tls_server_config.";
  for (const char* inline_key : {"cert", "key", "client_ca"}) {
    RefuseIfSet(t[inline_key], origin, w + inline_key, std::string("use ") + inline_key + "_file");
  }
  RefuseIfSet(t["client_allowed_sans"], origin, w + "client_allowed_sans", "verify client certificates by CA");
  RefuseIfSet(t["cipher_suites"], origin, w + "cipher_suites", "OpenSSL's default suites are used");
  RefuseIfSet(t["curve_preferences"], origin, w + "curve_preferences", "OpenSSL's default groups are used");

  TlsServerConfig c;
  if (t["cert_file"]) c.cert_file = Scalar(t["cert_file"], origin, w + "cert_file");
  if (t["key_file"]) c.key_file = Scalar(t["key_file"], origin, w + "key_file");
  if (c.cert_file.empty()) Fail(origin, w + "cert_file", "missing (TLS needs a certificate)");
  if (c.key_file.empty()) Fail(origin, w + "key_file", "missing (TLS needs the certificate's private key)");
  if (t["client_ca_file"]) c.client_ca_file = Scalar(t["client_ca_file"], origin, w + "client_ca_file");
  if (t["client_auth_type"]) c.client_auth = ClientAuth(t["client_auth_type"], origin, w + "client_auth_type");
  const bool verifies = c.client_auth == ClientAuthType::kVerifyClientCertIfGiven ||
                        c.client_auth == ClientAuthType::kRequireAndVerifyClientCert;
  if (verifies && c.client_ca_file.empty()) {
    Fail(origin, w + "client_ca_file", "missing (client_auth_type verifies client certificates against it)");
  }
  if (!c.client_ca_file.empty() && c.client_auth == ClientAuthType::kNoClientCert) {
    Fail(origin, w + "client_auth_type", "is NoClientCert, so client_ca_file would never be used");
  }
  if (t["min_version"]) c.min_version = TlsVersion(t["min_version"], origin, w + "min_version");
  if (t["max_version"]) c.max_version = TlsVersion(t["max_version"], origin, w + "max_version");
  if (c.min_version > c.max_version) Fail(origin, w + "min_version", "is above max_version");
  if (t["prefer_server_cipher_suites"]) {
    c.prefer_server_cipher_suites = Bool(t["prefer_server_cipher_suites"], origin, w + "prefer_server_cipher_suites");
  }
  return c;
}

const std::set<std::string> kHeaders = {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                                        "X-XSS-Protection", "Strict-Transport-Security"};

}  // namespace

WebConfig WebConfig::Parse(const std::string& yaml_text, const std::string& origin) {
  WebConfig c;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    Fail(origin, "YAML", e.what());
  }
  if (root.IsNull()) return c;  // empty file: plain HTTP, no auth (as the toolkit)
  CheckKeys(root, {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}, origin,
            "top level");
  RefuseIfSet(root["rate_limit"], origin, "rate_limit", "use a reverse proxy to rate-limit");

  if (const YAML::Node t = root["tls_server_config"]; t && !t.IsNull()) c.tls = ParseTls(t, origin);

  if (const YAML::Node h = root["http_server_config"]; h && !h.IsNull()) {
    CheckKeys(h, {"http2", "headers"}, origin, "http_server_config");
    // HTTP/2 is not served at all (cpp-httplib speaks HTTP/1.1), so either value is honest.
    if (h["http2"]) Bool(h["http2"], origin, "http_server_config.http2");
    if (const YAML::Node hs = h["headers"]; hs && !hs.IsNull()) {
      CheckKeys(hs, kHeaders, origin, "http_server_config.headers");
      for (const auto& kv : hs) {
        const auto name = kv.first.as<std::string>();
        const auto v = Scalar(kv.second, origin, "http_server_config.headers." + name);
        if (v.find_first_of("\r\n") != std::string::npos) {
          Fail(origin, "http_server_config.headers." + name, "must be one line");
        }
        if (!v.empty()) c.headers[name] = v;
      }
    }
  }

  if (const YAML::Node u = root["basic_auth_users"]; u && !u.IsNull()) {
    if (!u.IsMap()) Fail(origin, "basic_auth_users", "must be a map of user name to bcrypt hash");
    for (const auto& kv : u) {
      const auto user = kv.first.as<std::string>();
      const std::string where = "basic_auth_users." + user;
      if (user.empty() || user.find(':') != std::string::npos) Fail(origin, where, "user names must be non-empty and have no ':'");
      const auto hash = Scalar(kv.second, origin, where);
      const bool bcrypt = hash.size() == 60 && hash[0] == '$' && hash[1] == '2' &&
                          (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$';
      if (!bcrypt) Fail(origin, where, "is not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)");
      c.basic_auth_users[user] = hash;
    }
  }
  return c;
}

WebConfig WebConfig::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw WebConfigError("--web.config.file: cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return Parse(s.str(), path);
}

}  // namespace llmcost
