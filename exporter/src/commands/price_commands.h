#pragma once
// The promtool-style subcommands for people who doubt a number:
//   llm-cost-exporter price                 events (JSON or NDJSON) on stdin -> how each is priced
//   llm-cost-exporter check pricing FILE    validate a price table, print a summary
// Plain functions from input text to output text and an exit code, so they are
// tested in-process; main.cpp only reads stdin and prints.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/event_pipeline.h"
#include "pricing/price_table.h"

namespace llmcost {

struct CommandResult {
  int exit_code = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// One JSON object per event, on its own line: the canonical model, platform, tier,
// the rates applied, each cost component and total_usd, exactly as the exporter
// records them (same parser, time window and pricer). Exit 1 if any event is
// refused, naming its index, field and reason.
CommandResult PriceCommand(std::string_view input, const PriceTable& table, std::int64_t now_unix,
                           const EventTimeWindow& window = {});

// Exit 1 naming the entry and field at fault; otherwise a summary of the table.
CommandResult CheckPricingCommand(const std::string& path);

// Dispatches argv (without the program name) when it starts with a subcommand;
// returns false when it does not (the exporter then starts). `stdin_text` is read
// only by `price`.
bool IsSubcommand(const std::vector<std::string>& args);
CommandResult RunSubcommand(const std::vector<std::string>& args, std::string_view stdin_text, std::int64_t now_unix);
std::string SubcommandUsage();

}  // namespace llmcost
