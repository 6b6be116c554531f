#include "config/flags.h"

#include <gtest/gtest.h>

#include "transport/listen_address.h"

namespace llmcost {
namespace {

TEST(Flags, DefaultsFollowTheContract) {
  Flags f;
  ASSERT_EQ(ParseFlags({}, f), "");
  EXPECT_EQ(f.web_listen_address, ":10429");
  EXPECT_EQ(f.ingest_listen_address, "127.0.0.1:10430");  // ingest is loopback-only by default
  EXPECT_EQ(f.udp_listen_address, "127.0.0.1:10430");
  EXPECT_EQ(f.web_telemetry_path, "/metrics");
  EXPECT_FALSE(f.web_enable_lifecycle);
}

TEST(Flags, BothSpellingsAndBooleans) {
  Flags f;
  ASSERT_EQ(ParseFlags({"--web.listen-address=127.0.0.1:1", "--pricing.file", "p.yml", "--web.enable-lifecycle",
                        "--udp.read-buffer-bytes=8388608", "--log.format=json"},
                       f),
            "");
  EXPECT_EQ(f.web_listen_address, "127.0.0.1:1");
  EXPECT_EQ(f.pricing_file, "p.yml");
  EXPECT_TRUE(f.web_enable_lifecycle);
  EXPECT_EQ(f.udp_read_buffer_bytes, 8388608);
  EXPECT_EQ(f.log_format, "json");
  ASSERT_EQ(ParseFlags({"--no-web.enable-lifecycle"}, f), "");
  EXPECT_FALSE(f.web_enable_lifecycle);
}

TEST(Flags, ErrorsNameTheFlag) {
  Flags f;
  EXPECT_NE(ParseFlags({"--nope"}, f).find("--nope"), std::string::npos);
  EXPECT_NE(ParseFlags({"--pricing.file"}, f).find("needs a value"), std::string::npos);
  EXPECT_NE(ParseFlags({"--ingest.max-body-bytes=lots"}, f).find("not a number"), std::string::npos);
  EXPECT_NE(ParseFlags({"--web.telemetry-path=metrics"}, f).find("start with /"), std::string::npos);
}

TEST(ListenAddress, Forms) {
  auto a = ParseListenAddress(":10429");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "");
  EXPECT_EQ(a->port, 10429);
  a = ParseListenAddress("[::1]:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_FALSE(ParseListenAddress("localhost"));
  EXPECT_FALSE(ParseListenAddress("h:99999"));
  EXPECT_FALSE(ParseListenAddress("h:abc"));
}

}  // namespace
}  // namespace llmcost
