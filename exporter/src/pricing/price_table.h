#pragma once
// PriceTable: the per-model rates loaded from the shipped price file
// (exporter/pricing/prices.yml). Immutable once loaded; a reload builds a new one
// and swaps it in, so a bad file never replaces a good table.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "event/usage_event.h"
#include "pricing/model_resolver.h"
#include "pricing/money.h"

namespace llmcost {

// pUSD per token for each token type.
struct TokenRates {
  std::array<PicoUsd, kTokenTypeCount> per_token{};
  PicoUsd operator[](TokenType t) const { return per_token[static_cast<std::size_t>(t)]; }
  PicoUsd& operator[](TokenType t) { return per_token[static_cast<std::size_t>(t)]; }
};

struct LongContextPrice {
  std::uint64_t above_input_tokens = 0;  // total input strictly above this switches the request
  TokenRates rates;
};

struct ModelPrice {
  std::string provider;
  std::string model;
  TokenRates rates;
  std::optional<LongContextPrice> long_context;
  std::optional<MicroFactor> us_inference_factor;  // absent: no US-only option for this model
  std::optional<MicroFactor> fast_factor;          // absent: no fast mode for this model
  std::string as_of;
  std::string source;
};

class PriceTableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PriceTable {
 public:
  // Throws PriceTableError naming the file, the entry and the field at fault.
  static std::shared_ptr<const PriceTable> LoadFile(const std::string& path);
  static std::shared_ptr<const PriceTable> Parse(std::string_view yaml_text,
                                                 std::string_view origin = "<string>");

  const ModelPrice* Find(std::string_view provider, std::string_view model) const;
  std::string ResolveModel(std::string_view raw_id) const { return resolver_.Resolve(raw_id); }

  const std::string& as_of() const { return as_of_; }
  std::int64_t as_of_unix_seconds() const { return as_of_unix_; }
  const std::string& source() const { return source_; }
  MicroFactor batch_factor() const { return batch_factor_; }
  PicoUsd web_search_per_request() const { return web_search_per_request_; }
  std::size_t size() const { return models_.size(); }

 private:
  static std::shared_ptr<PriceTable> ParseYaml(std::string_view yaml_text, std::string_view origin);

  std::string as_of_;
  std::int64_t as_of_unix_ = 0;
  std::string source_;
  MicroFactor batch_factor_ = kUnitFactor / 2;
  PicoUsd web_search_per_request_ = 0;
  std::unordered_map<std::string, ModelPrice> models_;  // key: provider + '/' + model
  ModelResolver resolver_;
};

}  // namespace llmcost
