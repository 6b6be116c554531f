#include "event/batch_splitter.h"

#include <gtest/gtest.h>

namespace llmcost {
namespace {

const EventError* ErrorAt(const std::vector<BatchItem>& items, std::size_t i) {
  return std::get_if<EventError>(&items.at(i));
}

TEST(BatchSplitter, OneObjectEvenPrettyPrinted) {
  auto items = SplitBatch("{\"model\": \"m\"}");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(std::get<nlohmann::json>(items[0])["model"], "m");
  items = SplitBatch("{\n  \"model\": \"m\",\n  \"usage\": {\"input_tokens\": 1}\n}\n");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(std::get<nlohmann::json>(items[0])["usage"]["input_tokens"], 1);
}

TEST(BatchSplitter, ArrayKeepsEveryElementInOrder) {
  auto items = SplitBatch(R"([{"model":"a"}, 5, {"model":"b"}])");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(std::get<nlohmann::json>(items[0])["model"], "a");
  EXPECT_TRUE(std::get<nlohmann::json>(items[1]).is_number());  // the parser refuses it, not the splitter
  EXPECT_EQ(std::get<nlohmann::json>(items[2])["model"], "b");
}

TEST(BatchSplitter, NdjsonKeepsGoodLinesAndIndexesBadOnes) {
  auto items = SplitBatch("{\"model\":\"a\"}\n\n{\"model\":\"b\"\n{\"model\":\"c\"}\r\n");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(std::get<nlohmann::json>(items[0])["model"], "a");
  ASSERT_NE(ErrorAt(items, 1), nullptr);
  EXPECT_EQ(ErrorAt(items, 1)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(items, 1)->index, 1u);
  EXPECT_EQ(std::get<nlohmann::json>(items[2])["model"], "c");
}

TEST(BatchSplitter, BadBodiesGetAReason) {
  EXPECT_EQ(ErrorAt(SplitBatch(""), 0)->reason, RejectReason::kEmpty);
  EXPECT_EQ(ErrorAt(SplitBatch(" \n\t "), 0)->reason, RejectReason::kEmpty);
  EXPECT_EQ(ErrorAt(SplitBatch("{\"model\":"), 0)->reason, RejectReason::kMalformedJson);  // truncated
  EXPECT_EQ(ErrorAt(SplitBatch("[{\"model\":\"a\"},"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(SplitBatch("{\"latency_ms\": NaN}"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(SplitBatch("{\"latency_ms\": Infinity}"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(SplitBatch("\xff\xfe"), 0)->reason, RejectReason::kMalformedJson);
  EXPECT_EQ(ErrorAt(SplitBatch(std::string("{\"model\":\"a\0\"}", 14)), 0)->reason, RejectReason::kMalformedJson);
}

}  // namespace
}  // namespace llmcost
