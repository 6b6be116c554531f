#pragma once
// UTF-8 validity, shared by the JSON reader (strings must be valid UTF-8) and the
// label guard (label values are sanitised to valid UTF-8).
#include <cstddef>
#include <string_view>

namespace llmcost {

// Length (1-4) of the valid UTF-8 sequence starting at s[i], or 0 if it is not one
// (stray continuation byte, overlong form, UTF-16 surrogate, past U+10FFFF, cut off).
inline std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  if ((c & 0xE0) == 0xC0 && c >= 0xC2) len = 2;
  else if ((c & 0xF0) == 0xE0) len = 3;
  else if ((c & 0xF8) == 0xF0 && c <= 0xF4) len = 4;
  else return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (len == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;
  if (len == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
  return len;
}

}  // namespace llmcost
