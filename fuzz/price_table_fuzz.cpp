// libFuzzer target: the price table loader. Any text either loads or throws
// PriceTableError (the documented error, naming the entry and field); any other
// exception escapes and libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pricing/price_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto table = llmcost::PriceTable::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
    // A loaded table must answer lookups, including the resolver on a fuzzed id.
    (void)table->Find("anthropic", table->ResolveModel(std::string_view(reinterpret_cast<const char*>(data),
                                                                         size < 64 ? size : 64)));
  } catch (const llmcost::PriceTableError&) {
  }
  return 0;
}
