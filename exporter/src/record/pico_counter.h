#pragma once
// PicoCounter: a money counter in exact pico-dollars that never wraps.
//
// A plain int64 pico-dollar sum wraps at ~$9.2M, which one busy label set can pass
// over months of persisted counting (and a state file written by a build that kept
// USD as a double can hold more). The hot path stays one relaxed fetch_add on the
// low word; when the low word passes kCarry (2^61 pUSD, ~$2.3M) one carry moves
// kCarry into the high word. The high word counts carries twice over: it is odd while
// a carry is under way, so a reader that sees an odd or changed high word reads
// again, and a total never goes backwards (Prometheus would take that for a reset).
// Exact up to 2^63 carries of $2.3M; lock-free; 16 bytes.
#include <atomic>
#include <cstdint>

#include "pricing/money.h"

namespace llmcost {

// An exact total (GCC/Clang extension, as WideInt in pricing/money.h).
__extension__ using PicoTotal = unsigned __int128;

class PicoCounter {
 public:
  static constexpr PicoUsd kCarry = PicoUsd{1} << 61;

  // p >= 0 (a cost, a saving); one event's amount is far below kCarry.
  void Add(PicoUsd p) {
    if (low_.fetch_add(p, std::memory_order_relaxed) + p >= kCarry) Carry();
  }
  // Restoring a saved USD figure, which may be beyond int64 pico-dollars; rounded to
  // the nearest pico-dollar as the state file's USD allows.
  void AddUsd(double usd);

  // The exact total in pico-dollars.
  PicoTotal Total() const;
  double Usd() const { return static_cast<double>(static_cast<long double>(Total()) / 1e12L); }

 private:
  void Carry();

  std::atomic<PicoUsd> low_{0};
  std::atomic<std::uint64_t> high_{0};  // 2 x carries, +1 while one is under way
};

}  // namespace llmcost
