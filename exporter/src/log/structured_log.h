#pragma once
// Structured logging on spdlog, in logfmt or JSON (--log.format). Callers pass a
// message and key/value fields; values are escaped for the chosen format. Never
// log prompt or response text: events carry none, and no caller logs raw bodies.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace llmcost {

enum class LogFormat { kLogfmt, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };

bool ParseLogFormat(std::string_view text, LogFormat& out);
bool ParseLogLevel(std::string_view text, LogLevel& out);

// Configures the process-wide logger (stderr). Safe to call once at start.
void InitLogging(LogFormat format, LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// Builds a log line without emitting it (tests).
std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view msg,
                          std::initializer_list<LogField> fields);

}  // namespace llmcost
