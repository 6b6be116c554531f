#pragma once
// SeededHash: the hash for keys an attacker chooses (JSON member names, raw label
// tuples). SipHash-1-3 over the whole key with a 128-bit key drawn at random once
// per process, so nobody outside the process can compute which keys collide: a body
// of "colliding" keys then costs what any body of the same size costs. (An unseeded
// or partial hash let one 4 MiB event of keys differing only in the middle cost 77 s
// of CPU; docs/reliability.md, "Hash flooding".) Not for anything persisted: the
// value changes with every start.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace llmcost {

struct SipKey {
  std::uint64_t k0 = 0, k1 = 0;
};

// The process's key, drawn from the OS random source at start.
const SipKey& ProcessHashKey();

// SipHash-c-d (Aumasson and Bernstein) of `data` under `key`; c=2, d=4 is the
// reference SipHash-2-4 (used by the tests' known-answer vector).
template <int C = 1, int D = 3>
std::uint64_t SipHash(const SipKey& key, std::string_view data) {
  std::uint64_t v0 = key.k0 ^ 0x736f6d6570736575ULL, v1 = key.k1 ^ 0x646f72616e646f6dULL;
  std::uint64_t v2 = key.k0 ^ 0x6c7967656e657261ULL, v3 = key.k1 ^ 0x7465646279746573ULL;
  auto round = [&] {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  };
  const std::size_t n = data.size();
  const char* p = data.data();
  const char* const whole_end = p + (n & ~std::size_t{7});
  for (; p != whole_end; p += 8) {
    std::uint64_t m;
    std::memcpy(&m, p, 8);
    if constexpr (std::endian::native == std::endian::big) m = __builtin_bswap64(m);
    v3 ^= m;
    for (int i = 0; i < C; ++i) round();
    v0 ^= m;
  }
  // The 0-7 bytes left, little-endian, under the length byte. With 8 or more bytes
  // in all, one load of the key's last 8 bytes shifted right gives them (no byte loop).
  const std::size_t rest = n & 7;
  std::uint64_t tail = 0;
  if (rest != 0) {
    if (n >= 8) {
      std::memcpy(&tail, data.data() + n - 8, 8);
      if constexpr (std::endian::native == std::endian::big) tail = __builtin_bswap64(tail);
      tail >>= 8 * (8 - rest);
    } else {
      for (std::size_t i = 0; i < rest; ++i) tail |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    }
  }
  const std::uint64_t last = static_cast<std::uint64_t>(n) << 56 | tail;
  v3 ^= last;
  for (int i = 0; i < C; ++i) round();
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < D; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

inline std::uint64_t SeededHash(std::string_view key) { return SipHash(ProcessHashKey(), key); }

}  // namespace llmcost
