#include "record/label_guard.h"

#include <gtest/gtest.h>

namespace llmcost {
namespace {

TEST(LabelGuard, SanitisesValues) {
  EXPECT_EQ(SanitizeLabelValue("  chat \n", 64), "chat");
  EXPECT_EQ(SanitizeLabelValue("", 64), "unknown");
  EXPECT_EQ(SanitizeLabelValue(" \t", 64), "unknown");
  EXPECT_EQ(SanitizeLabelValue("a\x01" "b\x7f" "c", 64), "a_b_c");
  EXPECT_EQ(SanitizeLabelValue("bad\xff\xfeutf8", 64), "bad__utf8");
  EXPECT_EQ(SanitizeLabelValue("\xed\xa0\x80", 64), "___");  // a UTF-16 surrogate is not UTF-8
  EXPECT_EQ(SanitizeLabelValue("caf\xc3\xa9", 64), "caf\xc3\xa9");
  EXPECT_EQ(SanitizeLabelValue(std::string(100, 'x'), 64), std::string(64, 'x'));
  // Cut on a character boundary: 63 ASCII + a 2-byte character does not fit in 64.
  EXPECT_EQ(SanitizeLabelValue(std::string(63, 'x') + "\xc3\xa9", 64), std::string(63, 'x'));
}

TEST(LabelGuard, FoldsValuesPastTheCapIntoOverflow) {
  LabelGuard guard("tenant", 3, 64);
  EXPECT_EQ(guard.Admit("a").value, "a");
  EXPECT_EQ(guard.Admit("b").value, "b");
  EXPECT_EQ(guard.Admit("c").value, "c");
  const auto d = guard.Admit("d");
  EXPECT_EQ(d.value, "__overflow__");
  EXPECT_TRUE(d.overflowed);
  const auto a = guard.Admit("a");  // admitted values keep working
  EXPECT_EQ(a.value, "a");
  EXPECT_FALSE(a.overflowed);
  EXPECT_EQ(guard.size(), 3u);
}

TEST(LabelGuard, AMillionDistinctValuesStayBounded) {
  LabelGuard guard("tenant", 500, 64);
  std::size_t overflowed = 0;
  for (int i = 0; i < 1'000'000; ++i) overflowed += guard.Admit("tenant-" + std::to_string(i)).overflowed;
  EXPECT_EQ(guard.size(), 500u);
  EXPECT_EQ(overflowed, 1'000'000u - 500u);
}

}  // namespace
}  // namespace llmcost
