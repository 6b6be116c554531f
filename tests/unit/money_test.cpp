#include "pricing/money.h"

#include <gtest/gtest.h>

namespace llmcost {
namespace {

TEST(Money, ParsesPerMillionRatesExactly) {
  EXPECT_EQ(ParseUsdPerMillion("3"), 3'000'000);
  EXPECT_EQ(ParseUsdPerMillion("0.30"), 300'000);
  EXPECT_EQ(ParseUsdPerMillion("22.50"), 22'500'000);
  EXPECT_EQ(ParseUsdPerMillion("0.03"), 30'000);
  EXPECT_EQ(ParseUsdPerMillion("1.25"), 1'250'000);
  EXPECT_EQ(ParseUsdPerMillion("0.000001"), 1);
  EXPECT_EQ(ParseUsdPerMillion("5.000000000"), 5'000'000);  // trailing zeros are not precision
}

TEST(Money, RefusesWhatItCannotRepresentExactly) {
  EXPECT_FALSE(ParseUsdPerMillion(""));
  EXPECT_FALSE(ParseUsdPerMillion("-1"));
  EXPECT_FALSE(ParseUsdPerMillion("1e3"));
  EXPECT_FALSE(ParseUsdPerMillion("0.0000001"));  // 7 decimals would need rounding
  EXPECT_FALSE(ParseUsdPerMillion("abc"));
  EXPECT_FALSE(ParseUsdPerMillion("."));
  EXPECT_FALSE(ParseUsdPerMillion("99999999999999999999"));
}

TEST(Money, AppliesFactorsExactly) {
  // 0.03 x 0.5 = 0.015; 5 x 1.1 = 5.5; 0.5 x 1.1 x 6 = 3.3
  EXPECT_EQ(ApplyFactor(30'000, 500'000), 15'000);
  EXPECT_EQ(ApplyFactor(5'000'000, 1'100'000), 5'500'000);
  EXPECT_EQ(ApplyFactor(ApplyFactor(500'000, 1'100'000), 6'000'000), 3'300'000);
  EXPECT_EQ(FormatUsdPerMillion(15'000), "0.015");
  EXPECT_EQ(FormatUsdPerMillion(3'000'000), "3");
}

}  // namespace
}  // namespace llmcost
