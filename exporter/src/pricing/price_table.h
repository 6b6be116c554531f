#pragma once
// PriceTable: the per-model rates loaded from the shipped price file
// (exporter/pricing/prices.yml, also compiled into the binary as the default).
// Immutable once loaded; a reload builds a new one and swaps it in, so a bad file
// never replaces a good table.
//
// A model's rates are a list of dated periods: the entry's own fields are in force
// until its first `changes` item, each change in force from its date (00:00 UTC)
// until the next. An event is priced at the period in force at its own time.
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event/usage_event.h"
#include "pricing/model_resolver.h"
#include "pricing/money.h"

namespace llmcost {

// pUSD per token for each token type. A rate the vendor has not published is
// marked, never filled in: a request using that token type stays unpriced.
struct TokenRates {
  std::array<PicoUsd, kTokenTypeCount> per_token{};
  std::array<bool, kTokenTypeCount> unpublished{};
  PicoUsd operator[](TokenType t) const { return per_token[static_cast<std::size_t>(t)]; }
  PicoUsd& operator[](TokenType t) { return per_token[static_cast<std::size_t>(t)]; }
  bool Unpublished(TokenType t) const { return unpublished[static_cast<std::size_t>(t)]; }
};

// Above `above_prompt_tokens` prompt tokens (fresh input + cache reads + cache
// writes), the WHOLE request moves to these rates.
struct PromptTier {
  std::uint64_t above_prompt_tokens = 0;
  TokenRates rates;
};

inline constexpr std::int64_t kSinceAlways = std::numeric_limits<std::int64_t>::min();

struct RatePeriod {
  std::int64_t from_unix = kSinceAlways;  // first second in force
  std::string from;                       // YYYY-MM-DD, "" for the entry's own rates
  std::string source;
  TokenRates rates;
  std::vector<PromptTier> prompt_tiers;            // ascending thresholds
  std::optional<MicroFactor> us_inference_factor;  // absent: no US-only option
  std::optional<MicroFactor> fast_factor;          // absent: no fast mode
  std::optional<MicroFactor> regional_factor;      // absent: regional endpoints cost the same as global
};

struct ModelPrice {
  std::string provider;
  std::string model;
  std::string as_of;
  std::string source;
  std::string retired;  // "" while offered; else where and since when it is retired
  std::vector<RatePeriod> periods;  // ascending, periods[0].from_unix == kSinceAlways

  const RatePeriod& At(std::int64_t unix_seconds) const;
  const RatePeriod& Latest() const { return periods.back(); }
};

// One model id as the pricer needs it: its canonical name, what the id shows about
// where it was served, and the price entry for it (nullptr: not in the table).
struct ModelLookup {
  std::string model;                  // ResolveModel(raw_id)
  IdShape shape;                      // ModelResolver::Shape(raw_id)
  const ModelPrice* price = nullptr;  // Find(provider, model)
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
  // The table compiled into the binary from exporter/pricing/prices.yml.
  static std::shared_ptr<const PriceTable> Embedded();
  static std::string_view EmbeddedText();

  const ModelPrice* Find(std::string_view provider, std::string_view model) const;
  std::string ResolveModel(std::string_view raw_id) const { return resolver_.Resolve(raw_id); }
  // ResolveModel, ModelResolver::Shape and Find at once, memoised per thread for this
  // table (an event costs one lookup, not a normalisation, a lower-cased copy and a
  // keyed search): a reloaded table is another table and starts with nothing
  // remembered. At most kMaxLookupsMemoized ids per thread, forgotten all at once
  // when full; a provider and id longer than kMaxLookupKeyBytes together are looked
  // up every time, never remembered. The reference is valid until this thread's
  // next LookupModel call.
  const ModelLookup& LookupModel(std::string_view provider, std::string_view raw_id) const;
  static constexpr std::size_t kMaxLookupsMemoized = 1024;
  static constexpr std::size_t kMaxLookupKeyBytes = 256;
  // Ids this thread's memo holds (for tests of the bound).
  static std::size_t LookupsMemoized();

  const std::string& as_of() const { return as_of_; }
  std::int64_t as_of_unix_seconds() const { return as_of_unix_; }
  const std::string& source() const { return source_; }
  // Where the table came from: "embedded" or the file path.
  const std::string& origin() const { return origin_; }
  MicroFactor batch_factor() const { return batch_factor_; }
  PicoUsd web_search_per_request() const { return web_search_per_request_; }
  std::size_t size() const { return models_.size(); }
  std::size_t rate_changes() const;
  std::size_t retired_models() const;
  // Every model, sorted by provider then name (for `check pricing`).
  std::vector<const ModelPrice*> Models() const;

 private:
  static std::shared_ptr<PriceTable> ParseYaml(std::string_view yaml_text, std::string_view origin);

  std::string as_of_;
  std::int64_t as_of_unix_ = 0;
  std::string source_;
  std::string origin_;
  MicroFactor batch_factor_ = kUnitFactor / 2;
  PicoUsd web_search_per_request_ = 0;
  std::unordered_map<std::string, ModelPrice> models_;  // key: provider + '/' + model
  ModelResolver resolver_;
  // Names this table for the lookup memo. A copy is another table (its ModelPrice
  // pointers differ), so it takes a new number.
  struct Identity {
    std::uint64_t value;
    Identity();
    Identity(const Identity&) : Identity() {}
    Identity& operator=(const Identity&) {
      value = Identity().value;
      return *this;
    }
  };
  Identity identity_;
};

}  // namespace llmcost
