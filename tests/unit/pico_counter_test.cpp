// PicoCounter: exact pico-dollar sums past int64 (where a plain counter wraps at
// ~$9.2M), monotonic under concurrent adds and reads, and restored from USD.
#include "record/pico_counter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace llmcost {
namespace {

using u128 = PicoTotal;

TEST(PicoCounter, SumsExactlyPastWhereInt64Wraps) {
  PicoCounter c;
  // $75 of Opus output a call ($75/MTok x 1M tokens = 75e12 pUSD), 200,000 calls:
  // $15M, beyond int64's 9.22e18 pUSD.
  const std::int64_t per_call = 75LL * 1'000'000'000'000LL;
  u128 expected = 0;
  for (int i = 0; i < 200'000; ++i) {
    c.Add(per_call + i);  // + i so every addend differs
    expected += static_cast<u128>(per_call + i);
  }
  EXPECT_TRUE(c.Total() == expected);
  EXPECT_GT(expected, static_cast<u128>(INT64_MAX));
  EXPECT_DOUBLE_EQ(c.Usd(), 15'000'000.0 + 199'999.0 * 200'000.0 / 2 / 1e12);
}

TEST(PicoCounter, ConcurrentAddsAreExactAndReadsNeverGoBackwards) {
  PicoCounter c;
  constexpr int kThreads = 4;
  constexpr int kAdds = 20'000;
  // Large addends so that carries happen often (every ~2^61 / 2^57 = 16 adds).
  constexpr std::int64_t kStep = std::int64_t{1} << 57;
  std::atomic<bool> done{false};
  std::atomic<int> backwards{0};
  std::thread reader([&] {
    u128 last = 0;
    while (!done.load()) {
      const u128 now = c.Total();
      if (now < last) backwards.fetch_add(1);
      last = now;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kAdds; ++i) c.Add(kStep + t);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  u128 expected = 0;
  for (int t = 0; t < kThreads; ++t) expected += static_cast<u128>(kAdds) * static_cast<u128>(kStep + t);
  EXPECT_TRUE(c.Total() == expected);
  EXPECT_EQ(backwards.load(), 0);
}

TEST(PicoCounter, RestoresUsdBeyondInt64PicoDollars) {
  PicoCounter c;
  c.AddUsd(25'000'000.5);  // $25M: 2.5e19 pUSD, past int64
  c.Add(1'000'000);        // and a $0.000001 event after the restore
  EXPECT_DOUBLE_EQ(c.Usd(), 25'000'000.500001);
  PicoCounter small;
  small.AddUsd(0.0123);
  EXPECT_TRUE(small.Total() == static_cast<u128>(12'300'000'000LL));
  small.AddUsd(-1);  // refused by the state file's validation; ignored here too
  small.AddUsd(0);
  EXPECT_TRUE(small.Total() == static_cast<u128>(12'300'000'000LL));
}

}  // namespace
}  // namespace llmcost
