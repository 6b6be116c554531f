#pragma once
// PriceBook: the price table in force, swapped atomically on reload. A file that
// fails to load leaves the current table in place. A mutex guards the pointer, not
// std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal lock
// with relaxed order, which ThreadSanitizer reports as a race with a reload's store
// (the TSan run of the reload paths, docs/reliability.md). One uncontended lock per
// ingested body.
#include <memory>
#include <mutex>
#include <string>

#include "pricing/price_table.h"

namespace llmcost {

class PriceBook {
 public:
  explicit PriceBook(std::shared_ptr<const PriceTable> initial) : table_(std::move(initial)) {}

  std::shared_ptr<const PriceTable> Current() const {
    std::lock_guard lock(table_mu_);
    return table_;
  }

  // Loads `path` ("" = the table compiled into the binary); on success swaps it in
  // and returns nullptr, else returns the error text and keeps the old table.
  std::unique_ptr<std::string> Reload(const std::string& path) {
    std::lock_guard lock(reload_mu_);
    try {
      std::shared_ptr<const PriceTable> loaded = path.empty() ? PriceTable::Embedded() : PriceTable::LoadFile(path);
      std::lock_guard table_lock(table_mu_);
      table_.swap(loaded);  // the old table is released outside the lock, below
      return nullptr;
    } catch (const std::exception& e) {
      return std::make_unique<std::string>(e.what());
    }
  }

 private:
  mutable std::mutex table_mu_;  // guards table_
  std::shared_ptr<const PriceTable> table_;
  std::mutex reload_mu_;
};

}  // namespace llmcost
