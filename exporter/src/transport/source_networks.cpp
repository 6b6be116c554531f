#include "transport/source_networks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace llmcost {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseAddress(std::string_view text, bool& v6, std::uint8_t* out) {
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool PrefixMatches(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

const std::uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

}  // namespace

SourceNetworks SourceNetworks::Parse(std::string_view list) {
  SourceNetworks out;
  // Only a blank list means "all sources". An empty entry (",", "a,,b", a trailing
  // comma) is refused: skipping it turned "," into allow-all.
  if (Trim(list).empty()) return out;
  for (;;) {
    const auto comma = list.find(',');
    const std::string_view entry = Trim(list.substr(0, comma));
    if (entry.empty()) throw std::invalid_argument("empty entry in the list (a stray comma?)");
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const auto slash = entry.find('/');
    Cidr c;
    if (!ParseAddress(entry.substr(0, slash), c.v6, c.prefix.data())) {
      throw std::invalid_argument("'" + std::string(entry) + "': not an IPv4 or IPv6 address");
    }
    const int max_bits = c.v6 ? 128 : 32;
    c.bits = max_bits;
    if (slash != std::string_view::npos) {
      const std::string_view len = entry.substr(slash + 1);
      // Digits only: from_chars reads a sign, so "/-0" was taken as "/0" (allow all).
      const bool digits = !len.empty() && len.size() <= 3 && len.find_first_not_of("0123456789") == std::string_view::npos;
      const auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), c.bits);
      if (!digits || ec != std::errc() || p != len.data() + len.size() || c.bits < 0 || c.bits > max_bits) {
        throw std::invalid_argument("'" + std::string(entry) + "': prefix length must be 0.." +
                                    std::to_string(max_bits));
      }
    }
    out.networks_.push_back(c);
    if (comma == std::string_view::npos) break;
  }
  return out;
}

bool SourceNetworks::Allows(bool v6, const std::uint8_t* addr) const {
  if (v6 && std::memcmp(addr, kV4MappedPrefix, sizeof kV4MappedPrefix) == 0) {
    v6 = false;
    addr += sizeof kV4MappedPrefix;
  }
  for (const Cidr& c : networks_) {
    if (c.v6 == v6 && PrefixMatches(c.prefix.data(), addr, c.bits)) return true;
  }
  return false;
}

bool SourceNetworks::Allows(const sockaddr* source) const {
  if (AllowsAll()) return true;
  if (source == nullptr) return false;
  if (source->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(source);
    return Allows(false, reinterpret_cast<const std::uint8_t*>(&in->sin_addr));
  }
  if (source->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(source);
    return Allows(true, reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr));
  }
  return false;
}

bool SourceNetworks::AllowsText(std::string_view address) const {
  if (AllowsAll()) return true;
  std::uint8_t addr[16] = {};
  bool v6 = false;
  return ParseAddress(address, v6, addr) && Allows(v6, addr);
}

std::string SourceNetworks::ToString() const {
  std::string out;
  for (const Cidr& c : networks_) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(c.v6 ? AF_INET6 : AF_INET, c.prefix.data(), buf, sizeof buf);
    if (!out.empty()) out += ',';
    out += std::string(buf) + "/" + std::to_string(c.bits);
  }
  return out.empty() ? "any" : out;
}

}  // namespace llmcost
