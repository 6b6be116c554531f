#include "record/pico_counter.h"

#include <cmath>
#include <thread>

namespace llmcost {

void PicoCounter::Carry() {
  std::uint64_t h = high_.load();
  while (low_.load() >= kCarry) {
    if ((h & 1) != 0) {  // another thread is carrying
      h = high_.load();
      continue;
    }
    if (!high_.compare_exchange_weak(h, h + 1)) continue;  // h reloaded
    if (low_.load() >= kCarry) {
      low_.fetch_sub(kCarry);
      high_.fetch_add(1);  // h + 2: one carry more, even again
    } else {
      high_.fetch_sub(1);  // someone else carried first: nothing changed
    }
    h = high_.load();
  }
}

PicoTotal PicoCounter::Total() const {
  for (;;) {
    const std::uint64_t h1 = high_.load(std::memory_order_acquire);
    if ((h1 & 1) != 0) {  // a carry is under way: a few instructions
      std::this_thread::yield();
      continue;
    }
    const PicoUsd low = low_.load(std::memory_order_acquire);
    if (high_.load(std::memory_order_acquire) != h1) continue;
    return static_cast<PicoTotal>(h1 / 2) * static_cast<PicoTotal>(kCarry) +
           static_cast<PicoTotal>(low);
  }
}

void PicoCounter::AddUsd(double usd) {
  if (!(usd > 0) || !std::isfinite(usd)) return;  // the state file's validation refuses these
  const long double pico = std::nearbyint(static_cast<long double>(usd) * 1e12L);
  const long double carries = std::floor(pico / static_cast<long double>(kCarry));
  const auto rest = static_cast<PicoUsd>(pico - carries * static_cast<long double>(kCarry));
  high_.fetch_add(2 * static_cast<std::uint64_t>(carries));
  Add(rest);
}

}  // namespace llmcost
