#include "log/structured_log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace llmcost {
namespace {

TEST(StructuredLog, LogfmtQuotesWhatNeedsQuoting) {
  const std::string line =
      FormatLogLine(LogFormat::kLogfmt, LogLevel::kWarn, "event rejected", {{"field", "model"}, {"error", "must be a \"string\""}});
  EXPECT_NE(line.find(" level=warn msg=\"event rejected\" field=model error=\"must be a \\\"string\\\"\""), std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("ts=", 0), 0u);
}

TEST(StructuredLog, JsonLinesParse) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kInfo, "started", {{"web", ":10429"}, {"odd", "a\nb\x01"}});
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "started");
  EXPECT_EQ(j["odd"], "a\nb\x01");
}

}  // namespace
}  // namespace llmcost
