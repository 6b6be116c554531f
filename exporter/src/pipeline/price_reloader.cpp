#include "pipeline/price_reloader.h"

#include "log/structured_log.h"

namespace llmcost {

std::string PriceReloader::Reload() {
  std::lock_guard lock(mu_);
  if (auto error = prices_.Reload(path_)) {
    metrics_.PricingReloadFailed();
    Log(LogLevel::kError, "price table reload failed; keeping the previous table", {{"error", *error}});
    return *error;
  }
  const auto table = prices_.Current();
  metrics_.PricingLoaded(*table);
  Log(LogLevel::kInfo, "price table reloaded",
      {{"table", table->origin()}, {"as_of", table->as_of()}, {"models", std::to_string(table->size())}});
  return "";
}

}  // namespace llmcost
