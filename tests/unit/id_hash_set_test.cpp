// IdHashSet against std::unordered_set: the same random inserts and erases (values
// from a small range, so most operations hit a present value or a probe run, and
// backward-shift deletion is exercised across the table's wrap-around), then the
// same membership for every value of the range.
#include "pipeline/id_hash_set.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_set>

namespace llmcost {
namespace {

void ExpectSame(const IdHashSet& set, const std::unordered_set<std::uint64_t>& ref, std::uint64_t range) {
  ASSERT_EQ(set.size(), ref.size());
  for (std::uint64_t v = 0; v < range; ++v) ASSERT_EQ(set.Contains(v), ref.count(v) == 1) << "value " << v;
}

TEST(IdHashSet, MatchesUnorderedSetUnderRandomInsertsAndErases) {
  for (const std::uint64_t key : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x9e3779b97f4a7c15ULL}, IdHashSet::RandomKey()}) {
    std::mt19937_64 rng(key + 7);
    IdHashSet set(key);
    std::unordered_set<std::uint64_t> ref;
    constexpr std::uint64_t kRange = 3000;  // includes the hash 0, kept outside the table
    for (int round = 0; round < 40; ++round) {
      // Alternate growing and shrinking phases, so the table fills, grows and empties.
      const bool grow = round % 4 != 3;
      for (int op = 0; op < 500; ++op) {
        const std::uint64_t v = rng() % kRange;
        if (grow ? rng() % 3 != 0 : rng() % 3 == 0) {
          ASSERT_EQ(set.Insert(v), ref.insert(v).second) << "insert " << v;
        } else {
          ASSERT_EQ(set.Erase(v), ref.erase(v) == 1) << "erase " << v;
        }
      }
      ExpectSame(set, ref, kRange);
    }
    // Never more than half full, so every probe run ends at an empty slot.
    EXPECT_LE(set.size() * 2, set.capacity());
  }
}

TEST(IdHashSet, LargeHashesAndZero) {
  IdHashSet set;
  EXPECT_TRUE(set.Insert(0));
  EXPECT_FALSE(set.Insert(0));
  EXPECT_TRUE(set.Insert(~0ULL));
  EXPECT_TRUE(set.Insert(1ULL << 63));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.Erase(0));
  EXPECT_FALSE(set.Contains(0));
  EXPECT_TRUE(set.Contains(~0ULL));
  EXPECT_FALSE(set.Erase(0));
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace llmcost
