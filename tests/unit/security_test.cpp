// Ingest auth, UDP source networks and the web config file: the pieces the
// security integration test cannot reach one by one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "config/web_config.h"
#include "transport/basic_auth.h"
#include "transport/ingest_auth.h"
#include "transport/source_networks.h"

namespace llmcost {
namespace {

// bcrypt (cost 4, to keep the test fast) of "example-password", made with
// `htpasswd -nbB -C 4 user example-password`: an input from outside this code.
constexpr const char* kHash = "$2y$04$nhOmhqXXW82Nle5TAcCxxuqyUcyOVB/hwP3a7IPL0d8QEqoOueD9O";

std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// ---- token ----

TEST(IngestToken, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-tokeN", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3cret-token"));        // prefix
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token-and-more", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("s3cret-token\0", 13), "s3cret-token"));
}

TEST(IngestToken, BearerSchemeIsCaseInsensitiveAndNeedsCredentials) {
  EXPECT_EQ(BearerCredentials("Bearer abc").value_or("-"), "abc");
  EXPECT_EQ(BearerCredentials("bearer  abc ").value_or("-"), "abc");
  EXPECT_FALSE(BearerCredentials("Basic abc").has_value());
  EXPECT_FALSE(BearerCredentials("Bearer ").has_value());
  EXPECT_FALSE(BearerCredentials("Bearerabc").has_value());
  EXPECT_FALSE(BearerCredentials("").has_value());
}

TEST(IngestToken, FileTrimsOneTrailingNewlineAndReloads) {
  const std::string path = TempFile("token", "tok-1\n");
  auto token = IngestToken::LoadFile(path);
  EXPECT_TRUE(token->Accepts("Bearer tok-1"));
  EXPECT_FALSE(token->Accepts("Bearer tok-1\n"));
  EXPECT_FALSE(token->Accepts("Bearer tok-2"));
  EXPECT_FALSE(token->Accepts(""));
  std::ofstream(path, std::ios::trunc) << "tok-2\r\n";
  EXPECT_EQ(token->Reload(), "");
  EXPECT_TRUE(token->Accepts("Bearer tok-2"));
  EXPECT_FALSE(token->Accepts("Bearer tok-1"));
  std::ofstream(path, std::ios::trunc) << "";
  EXPECT_NE(token->Reload().find("is empty"), std::string::npos);
  EXPECT_TRUE(token->Accepts("Bearer tok-2"));  // the old token stays on a failed reload
}

TEST(IngestToken, RefusesEmptyOrUnreadableFiles) {
  EXPECT_THROW(IngestToken::LoadFile(TempFile("empty-token", "\n")), std::runtime_error);
  EXPECT_THROW(IngestToken::LoadFile(TempFile("two-lines", "a\nb\n")), std::runtime_error);
  try {
    IngestToken::LoadFile("/nonexistent/token");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--web.ingest-token-file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/token"), std::string::npos) << e.what();
  }
}

// ---- CIDR ----

TEST(SourceNetworks, EmptyAllowsAll) {
  const SourceNetworks any = SourceNetworks::Parse("");
  EXPECT_TRUE(any.AllowsAll());
  EXPECT_TRUE(any.AllowsText("203.0.113.9"));
}

// Issue 13 item 9: "," parsed as an empty list (allow all) and "/-0" as "/0".
TEST(SourceNetworks, RefusesEmptyEntriesAndSignedPrefixLengths) {
  for (const char* bad : {",", " , ", "127.0.0.0/8,", ",127.0.0.0/8", "127.0.0.0/8,,10.0.0.0/8"}) {
    EXPECT_THROW(SourceNetworks::Parse(bad), std::invalid_argument) << bad;
  }
  for (const char* bad : {"0.0.0.0/-0", "10.0.0.0/+8", "::/-0", "10.0.0.0/ 8", "10.0.0.0/0008"}) {
    EXPECT_THROW(SourceNetworks::Parse(bad), std::invalid_argument) << bad;
  }
  try {
    SourceNetworks::Parse("10.0.0.0/-0");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("prefix length"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(SourceNetworks::Parse("  ").AllowsAll());  // blank still means all
  EXPECT_FALSE(SourceNetworks::Parse("10.0.0.0/08").AllowsText("11.0.0.1"));
}

TEST(SourceNetworks, MatchesIpv4Prefixes) {
  const SourceNetworks n = SourceNetworks::Parse("127.0.0.0/8, 10.1.0.0/16,192.168.1.7");
  EXPECT_TRUE(n.AllowsText("127.0.0.1"));
  EXPECT_TRUE(n.AllowsText("127.255.255.255"));
  EXPECT_TRUE(n.AllowsText("10.1.200.3"));
  EXPECT_FALSE(n.AllowsText("10.2.0.1"));
  EXPECT_TRUE(n.AllowsText("192.168.1.7"));   // bare address: /32
  EXPECT_FALSE(n.AllowsText("192.168.1.8"));
  EXPECT_FALSE(n.AllowsText("128.0.0.1"));
  EXPECT_FALSE(n.AllowsText("::1"));           // no IPv6 network listed
}

TEST(SourceNetworks, MatchesNonOctetPrefixLengths) {
  const SourceNetworks n = SourceNetworks::Parse("172.16.0.0/12,0.0.0.0/0");
  EXPECT_TRUE(n.AllowsText("8.8.8.8"));  // /0 matches every IPv4 address
  const SourceNetworks m = SourceNetworks::Parse("172.16.0.0/12");
  EXPECT_TRUE(m.AllowsText("172.31.255.255"));
  EXPECT_FALSE(m.AllowsText("172.32.0.0"));
  EXPECT_FALSE(m.AllowsText("172.15.255.255"));
}

TEST(SourceNetworks, MatchesIpv6AndMappedIpv4) {
  const SourceNetworks n = SourceNetworks::Parse("::1/128,fd00::/8,127.0.0.0/8");
  EXPECT_TRUE(n.AllowsText("::1"));
  EXPECT_FALSE(n.AllowsText("::2"));
  EXPECT_TRUE(n.AllowsText("fd12:3456::1"));
  EXPECT_FALSE(n.AllowsText("fe80::1"));
  EXPECT_TRUE(n.AllowsText("::ffff:127.0.0.1"));  // dual-stack socket view of an IPv4 source
  EXPECT_FALSE(n.AllowsText("::ffff:10.0.0.1"));
}

TEST(SourceNetworks, MatchesSocketAddresses) {
  const SourceNetworks n = SourceNetworks::Parse("10.0.0.0/8,::1/128");
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "10.9.8.7", &v4.sin_addr);
  EXPECT_TRUE(n.Allows(reinterpret_cast<const sockaddr*>(&v4)));
  inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
  EXPECT_FALSE(n.Allows(reinterpret_cast<const sockaddr*>(&v4)));
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  EXPECT_TRUE(n.Allows(reinterpret_cast<const sockaddr*>(&v6)));
  sockaddr unix_like{};
  unix_like.sa_family = AF_UNIX;
  EXPECT_FALSE(n.Allows(&unix_like));
}

TEST(SourceNetworks, BadEntriesNameTheEntryAndReason) {
  for (const char* bad : {"10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.300/8", "localhost",
                          "10.0.0.0/8,nope"}) {
    try {
      SourceNetworks::Parse(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("prefix length") != std::string::npos || msg.find("not an IPv4") != std::string::npos)
          << bad << ": " << msg;
    }
  }
}

// ---- basic auth ----

TEST(BasicAuth, DecodesCredentials) {
  // base64("alice:pa:ss") -- the password may contain ':'.
  const auto c = BasicCredentials("Basic YWxpY2U6cGE6c3M=");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->first, "alice");
  EXPECT_EQ(c->second, "pa:ss");
  EXPECT_FALSE(BasicCredentials("Basic !!!").has_value());
  EXPECT_FALSE(BasicCredentials("Basic YWxpY2U=").has_value());  // "alice", no colon
  EXPECT_FALSE(BasicCredentials("Bearer YWxpY2U6cGE6c3M=").has_value());
}

TEST(BasicAuth, VerifiesBcryptViaLibxcrypt) {
  EXPECT_TRUE(BcryptMatches("example-password", kHash));
  EXPECT_FALSE(BcryptMatches("example-passwore", kHash));
  EXPECT_FALSE(BcryptMatches("", kHash));
  std::string y = kHash;  // htpasswd writes $2y$; $2b$ and $2a$ name the same algorithm here
  y[2] = 'b';
  EXPECT_TRUE(BcryptMatches("example-password", y));
  EXPECT_FALSE(BcryptMatches("example-password", "plaintext"));
}

TEST(BasicAuth, CachesOnlySuccessfulChecks) {
  BasicAuth auth(std::map<std::string, std::string>{{"alice", kHash}});
  const std::string good = "Basic YWxpY2U6ZXhhbXBsZS1wYXNzd29yZA==";  // alice:example-password
  const std::string bad = "Basic YWxpY2U6d3Jvbmc=";                    // alice:wrong
  const std::string unknown = "Basic Ym9iOmV4YW1wbGUtcGFzc3dvcmQ=";    // bob:example-password
  EXPECT_FALSE(auth.Accepts(""));
  EXPECT_FALSE(auth.Accepts(bad));
  EXPECT_FALSE(auth.Accepts(unknown));
  EXPECT_EQ(auth.cache_size(), 0u);
  const std::size_t before = auth.bcrypt_calls();
  EXPECT_TRUE(auth.Accepts(good));
  EXPECT_TRUE(auth.Accepts(good));
  EXPECT_TRUE(auth.Accepts(good));
  EXPECT_EQ(auth.bcrypt_calls(), before + 1);  // verified once, then served from the cache
  EXPECT_EQ(auth.cache_size(), 1u);
  EXPECT_FALSE(auth.Accepts(bad));             // a cached success does not let other passwords in
}

TEST(BasicAuth, NoUsersMeansNoAuth) {
  BasicAuth auth(std::map<std::string, std::string>{});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Accepts(""));
}

// ---- web config ----

WebConfig Parse(const std::string& yaml) { return WebConfig::Parse(yaml, "web.yml"); }

std::string ErrorOf(const std::string& yaml) {
  try {
    Parse(yaml);
  } catch (const WebConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(WebConfig, EmptyFileMeansPlainHttpWithoutAuth) {
  const WebConfig c = Parse("");
  EXPECT_FALSE(c.tls.has_value());
  EXPECT_TRUE(c.basic_auth_users.empty());
}

TEST(WebConfig, ParsesTheToolkitExample) {
  const WebConfig c = Parse(std::string(
      "tls_server_config:\n"
      "  cert_file: server.crt\n"
      "  key_file: server.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  client_ca_file: ca.crt\n"
      "  min_version: TLS13\n"
      "  prefer_server_cipher_suites: false\n"
      "http_server_config:\n"
      "  http2: false\n"
      "  headers:\n"
      "    X-Frame-Options: deny\n"
      "basic_auth_users:\n"
      "  alice: ") + kHash + "\n");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->cert_file, "server.crt");
  EXPECT_EQ(c.tls->key_file, "server.key");
  EXPECT_EQ(c.tls->client_ca_file, "ca.crt");
  EXPECT_EQ(c.tls->client_auth, ClientAuthType::kRequireAndVerifyClientCert);
  EXPECT_EQ(c.tls->min_version, 0x0304);
  EXPECT_EQ(c.tls->max_version, 0x0304);
  EXPECT_FALSE(c.tls->prefer_server_cipher_suites);
  EXPECT_EQ(c.headers.at("X-Frame-Options"), "deny");
  EXPECT_EQ(c.basic_auth_users.at("alice"), kHash);
}

TEST(WebConfig, DefaultsAreTls12To13WithoutClientCerts) {
  const WebConfig c = Parse("tls_server_config: {cert_file: a.crt, key_file: a.key}\n");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->min_version, 0x0303);
  EXPECT_EQ(c.tls->max_version, 0x0304);
  EXPECT_EQ(c.tls->client_auth, ClientAuthType::kNoClientCert);
}

TEST(WebConfig, RefusesWithFileKeyAndReason) {
  struct Case {
    std::string yaml, where, why;
  };
  const Case cases[] = {
      {"tls_server_confg: {}\n", "top level", "unknown key 'tls_server_confg'"},
      {"tls_server_config: {cert_file: a, key_file: b, min_verison: TLS12}\n", "tls_server_config",
       "unknown key 'min_verison'"},
      {"tls_server_config: {key_file: b}\n", "tls_server_config.cert_file", "missing"},
      {"tls_server_config: {cert_file: a}\n", "tls_server_config.key_file", "missing"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: SSL3}\n", "tls_server_config.min_version",
       "not one of"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}\n",
       "tls_server_config.min_version", "above max_version"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: Always}\n",
       "tls_server_config.client_auth_type", "not one of"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
       "tls_server_config.client_ca_file", "missing"},
      {"tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_AES_128_GCM_SHA256]}\n",
       "tls_server_config.cipher_suites", "not supported"},
      {"tls_server_config: {cert: '-----BEGIN', key_file: b}\n", "tls_server_config.cert", "not supported"},
      {"basic_auth_users: {alice: plaintext}\n", "basic_auth_users.alice", "not a bcrypt hash"},
      {"basic_auth_users: [alice]\n", "basic_auth_users", "must be a map"},
      {"http_server_config: {headers: {X-Powered-By: me}}\n", "http_server_config.headers", "unknown key"},
      {"rate_limit: {interval: 1s, burst: 20}\n", "rate_limit", "not supported"},
      {"tls_server_config: [\n", "YAML", ""},
  };
  for (const Case& c : cases) {
    const std::string error = ErrorOf(c.yaml);
    EXPECT_EQ(error.rfind("web.yml: " + c.where + ": ", 0), 0u) << c.yaml << " -> " << error;
    EXPECT_NE(error.find(c.why), std::string::npos) << c.yaml << " -> " << error;
  }
}

TEST(WebConfig, LoadFileNamesAnUnreadableFile) {
  try {
    WebConfig::LoadFile("/nonexistent/web.yml");
    FAIL() << "no error";
  } catch (const WebConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/web.yml"), std::string::npos);
  }
}

TEST(WebConfig, ShippedExampleParses) {
  const WebConfig c = WebConfig::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/examples/web-config.yml");
  EXPECT_TRUE(c.tls.has_value());
  EXPECT_FALSE(c.basic_auth_users.empty());
  // The example documents its placeholder password; it must match the hash.
  for (const auto& [user, hash] : c.basic_auth_users) EXPECT_TRUE(BcryptMatches("change-me", hash)) << user;
}

}  // namespace
}  // namespace llmcost
