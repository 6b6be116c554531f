// libFuzzer target: the config file loader. Any text either loads or throws
// ConfigError (the documented error, naming the key); any other exception escapes
// and libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/exporter_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto config = llmcost::ExporterConfig::Parse(std::string(reinterpret_cast<const char*>(data), size));
    for (const auto& label : config.attribution_labels) (void)config.CapFor(label);
  } catch (const llmcost::ConfigError&) {
  }
  return 0;
}
