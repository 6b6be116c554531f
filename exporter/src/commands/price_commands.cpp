#include "commands/price_commands.h"

#include <nlohmann/json.hpp>

#include "config/flags.h"
#include "event/batch_splitter.h"
#include "event/event_parser.h"
#include "pricing/pricer.h"

namespace llmcost {
namespace {

using json = nlohmann::ordered_json;

constexpr std::array<TokenType, kTokenTypeCount> kTokenTypes = {
    TokenType::kInput, TokenType::kOutput, TokenType::kCacheRead, TokenType::kCacheWrite5m,
    TokenType::kCacheWrite1h};

std::string FactorText(MicroFactor f) { return FormatUsdPerMillion(f); }  // the same six-decimal form

json PartJson(const CostPart& p) {
  json j;
  j["model"] = p.model;
  j["iterations"] = p.iterations;
  json tokens = json::object();
  for (TokenType t : kTokenTypes) tokens[std::string(TokenTypeName(t))] = p.tokens[t];
  j["tokens"] = tokens;
  j["billed"] = p.billed;
  j["unpriced_reason"] = p.unpriced == UnpricedReason::kNone ? json(nullptr) : json(UnpricedReasonName(p.unpriced));
  if (p.billed && p[CostType::kClientReported] == 0) {
    const AppliedRates& a = p.applied;
    json rates = json::object();
    for (TokenType t : kTokenTypes) rates[std::string(TokenTypeName(t))] = FormatUsdPerMillion(a.per_token[t]);
    j["rates_usd_per_mtok"] = rates;
    j["rates_from"] = a.rates_from.empty() ? json(nullptr) : json(a.rates_from);
    j["prompt_tokens"] = a.prompt_tokens;
    j["prompt_tier_above"] = a.prompt_tier == 0 ? json(nullptr) : json(a.prompt_tier);
    j["factors"] = {{"batch", FactorText(a.batch)},
                    {"us_inference", FactorText(a.us_inference)},
                    {"fast", FactorText(a.fast)},
                    {"regional", FactorText(a.regional)}};
  }
  json costs = json::object();
  for (std::size_t c = 0; c < kCostTypeCount; ++c) {
    if (p.by_type[c] != 0 || c < kTokenTypeCount) costs[std::string(CostTypeName(static_cast<CostType>(c)))] = PicoToUsd(p.by_type[c]);
  }
  j["cost_usd"] = costs;
  j["total_usd"] = p.billed ? PicoToUsd(p.Total()) : 0.0;
  return j;
}

}  // namespace

CommandResult PriceCommand(std::string_view input, const PriceTable& table, std::int64_t now_unix,
                           const EventTimeWindow& window) {
  CommandResult r;
  EventBatch batch;
  SplitBatch(input, batch);
  // Attribution labels do not change a price; the parser only needs to accept them.
  const EventParser parser({});
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::optional<EventError> error;
    UsageEvent event;
    BatchItem item = batch.Item(i);
    if (auto* split_error = std::get_if<EventError>(&item)) {
      error = std::move(*split_error);
    } else {
      error = parser.ParseInto(std::get<JsonValue>(item), i, event);
    }
    if (!error) error = EventPipeline::CheckTime(event, now_unix, window);
    if (error) {
      r.exit_code = 1;
      r.err += "event " + std::to_string(i) + ": " + std::string(RejectReasonName(error->reason)) +
               (error->field.empty() ? "" : ": " + error->field) + ": " + error->message + "\n";
      continue;
    }
    const RequestCost cost = PriceRequest(event, table, now_unix);
    json j;
    j["index"] = i;
    j["model"] = cost.model;
    j["platform"] = PlatformName(cost.platform);
    j["service_tier"] = ServiceTierName(cost.tier);
    j["regional_endpoint"] = cost.regional;
    j["priced_at_unix"] = cost.priced_at_unix;
    j["price_table"] = table.origin();
    j["status"] = RequestStatusName(event.status);
    json parts = json::array();
    parts.push_back(PartJson(cost));
    for (const auto& p : cost.others) parts.push_back(PartJson(p));
    j["parts"] = parts;
    j["total_usd"] = PicoToUsd(cost.RequestTotal());
    r.out += j.dump() + "\n";
  }
  return r;
}

CommandResult CheckPricingCommand(const std::string& path) {
  CommandResult r;
  std::shared_ptr<const PriceTable> table;
  try {
    table = PriceTable::LoadFile(path);
  } catch (const PriceTableError& e) {
    r.exit_code = 1;
    r.err = std::string("FAILED: ") + e.what() + "\n";
    return r;
  }
  std::string lines;
  for (const ModelPrice* m : table->Models()) {
    lines += "  " + m->provider + "/" + m->model + "  as_of " + m->as_of;
    if (m->periods.size() > 1) {
      lines += "  changes:";
      for (std::size_t i = 1; i < m->periods.size(); ++i) lines += " " + m->periods[i].from;
    }
    if (!m->retired.empty()) lines += "  retired: " + m->retired;
    lines += "\n";
  }
  r.out = "SUCCESS: " + path + ": " + std::to_string(table->size()) + " models (" +
          std::to_string(table->retired_models()) + " retired), " + std::to_string(table->rate_changes()) +
          " dated changes, table as_of " + table->as_of() + "\n" + lines;
  return r;
}

bool IsSubcommand(const std::vector<std::string>& args) {
  return !args.empty() && (args[0] == "price" || args[0] == "check");
}

std::string SubcommandUsage() {
  return "usage: llm-cost-exporter price [--pricing.file=FILE] < events.ndjson\n"
         "       llm-cost-exporter check pricing FILE\n";
}

CommandResult RunSubcommand(const std::vector<std::string>& args, std::string_view stdin_text, std::int64_t now_unix) {
  if (args.size() == 3 && args[0] == "check" && args[1] == "pricing") return CheckPricingCommand(args[2]);
  if (!args.empty() && args[0] == "price") {
    Flags flags;
    if (std::string err = ParseFlags({args.begin() + 1, args.end()}, flags); !err.empty()) {
      return {2, "", "llm-cost-exporter price: " + err + "\n" + SubcommandUsage()};
    }
    if (flags.show_help) return {0, SubcommandUsage(), ""};
    std::shared_ptr<const PriceTable> table;
    try {
      table = flags.pricing_file.empty() ? PriceTable::Embedded() : PriceTable::LoadFile(flags.pricing_file);
    } catch (const PriceTableError& e) {
      return {1, "", std::string("llm-cost-exporter price: ") + e.what() + "\n"};
    }
    EventTimeWindow window{flags.ingest_max_event_age.count(), flags.ingest_max_clock_skew.count()};
    return PriceCommand(stdin_text, *table, now_unix, window);
  }
  return {2, "", SubcommandUsage()};
}

}  // namespace llmcost
