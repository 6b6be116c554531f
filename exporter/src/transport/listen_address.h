#pragma once
// "host:port", ":port" (all interfaces) or "[v6]:port", as Prometheus flags take them.
#include <optional>
#include <string>
#include <string_view>

namespace llmcost {

struct ListenAddress {
  std::string host;  // "" for all interfaces
  int port = 0;
};

std::optional<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace llmcost
