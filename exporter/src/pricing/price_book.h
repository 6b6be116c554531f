#pragma once
// PriceBook: the price table in force, swapped atomically on reload. A file that
// fails to load leaves the current table in place.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "pricing/price_table.h"

namespace llmcost {

class PriceBook {
 public:
  explicit PriceBook(std::shared_ptr<const PriceTable> initial) : table_(std::move(initial)) {}

  std::shared_ptr<const PriceTable> Current() const { return table_.load(std::memory_order_acquire); }

  // Loads `path` ("" = the table compiled into the binary); on success swaps it in
  // and returns nullptr, else returns the error text and keeps the old table.
  std::unique_ptr<std::string> Reload(const std::string& path) {
    std::lock_guard lock(reload_mu_);
    try {
      table_.store(path.empty() ? PriceTable::Embedded() : PriceTable::LoadFile(path), std::memory_order_release);
      return nullptr;
    } catch (const std::exception& e) {
      return std::make_unique<std::string>(e.what());
    }
  }

 private:
  std::atomic<std::shared_ptr<const PriceTable>> table_;
  std::mutex reload_mu_;
};

}  // namespace llmcost
