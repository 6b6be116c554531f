#pragma once
// SourceNetworks: the CIDR allow-list for UDP ingest (--udp.allowed-networks).
// UDP has no handshake and no credentials, so the source address is the only
// thing to check; datagrams from elsewhere are dropped before parsing.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;

namespace llmcost {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> prefix{};  // network bytes; IPv4 uses the first 4
  int bits = 0;
};

class SourceNetworks {
 public:
  // Empty list: every source is allowed.
  SourceNetworks() = default;

  // "127.0.0.0/8,10.0.0.0/8,::1/128"; a bare address means a single host.
  // Throws std::invalid_argument naming the entry and the reason.
  static SourceNetworks Parse(std::string_view list);

  bool AllowsAll() const { return networks_.empty(); }
  // IPv4-mapped IPv6 sources (::ffff:a.b.c.d, seen on dual-stack sockets) are
  // matched against the IPv4 networks.
  bool Allows(const sockaddr* source) const;
  bool AllowsText(std::string_view address) const;  // numeric address; false if unparsable

  std::string ToString() const;

 private:
  bool Allows(bool v6, const std::uint8_t* addr) const;
  std::vector<Cidr> networks_;
};

}  // namespace llmcost
