#pragma once
// StateFile: the exporter's counters, histograms and remembered request ids on
// disk, so a restart does not reset what Prometheus has seen. Written atomically
// (temporary file, fsync, rename, fsync of the directory); guarded by a format
// version and a CRC-32 so that a torn or corrupt file is detected, set aside and
// never loaded.
#include <optional>
#include <string>
#include <string_view>

#include "record/metrics_state.h"

namespace llmcost {

inline constexpr int kStateFormatVersion = 1;

std::string EncodeState(const MetricsState& state);
// nullopt with `error` set when the bytes are not a valid state of this version.
std::optional<MetricsState> DecodeState(std::string_view bytes, std::string& error);

class StateFile {
 public:
  explicit StateFile(std::string directory);

  struct Loaded {
    std::string result;  // "none" (no file), "restored" (state set), "corrupt" (file set aside)
    std::optional<MetricsState> state;
    std::string detail;  // why it was corrupt, or where it was moved
  };
  Loaded Load();

  // Renames the current file to <name>.<why>-<unix time> so it is kept for
  // inspection but never loaded again. Returns the new path, or "" if none.
  std::string SetAside(const std::string& why);

  // Throws std::runtime_error naming the step that failed.
  void Save(const MetricsState& state);

  const std::string& path() const { return path_; }

 private:
  std::string directory_;
  std::string path_;
};

}  // namespace llmcost
