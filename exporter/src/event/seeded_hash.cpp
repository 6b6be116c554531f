#include "event/seeded_hash.h"

#include <random>

namespace llmcost {

const SipKey& ProcessHashKey() {
  // std::random_device reads the kernel's random source (getrandom) on Linux.
  static const SipKey key = [] {
    std::random_device rd;
    auto word = [&rd] { return static_cast<std::uint64_t>(rd()) << 32 | rd(); };
    SipKey k;
    k.k0 = word();
    k.k1 = word();
    return k;
  }();
  return key;
}

}  // namespace llmcost
