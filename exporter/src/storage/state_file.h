#pragma once
// StateFile: the exporter's counters, histograms and remembered request ids on
// disk, so a restart does not reset what Prometheus has seen. Written atomically
// (temporary file, fsync, rename, fsync of the directory); guarded by a format
// version and a CRC-32 and validated field by field, so that a torn, corrupt or
// nonsensical file is detected, set aside and never loaded. The directory is
// locked: a second exporter on it refuses to start.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "record/metrics_state.h"

namespace llmcost {

// Format 2 stores every series by label name and every counter by its name (see
// record/metrics_state.h); format 1 (up to commit a8c76fd) stored them by position
// and is migrated on load. Files are always written in the current format.
inline constexpr int kStateFormatVersion = 2;
inline constexpr int kOldestStateFormatVersion = 1;

// Bounds a state file must keep to be loaded (anything else is corrupt):
inline constexpr double kMaxStateCount = 9007199254740992.0;  // 2^53: above it a double cannot count by 1
inline constexpr std::size_t kMaxStateLabelValueBytes = 1024;  // label values, sanitised as when recorded
inline constexpr std::size_t kMaxStateEntries = 10'000'000;     // per list or map
inline constexpr std::size_t kMaxStateBuckets = 1000;           // per histogram
inline constexpr std::uint64_t kMaxStateFileBytes = 1ULL << 30;  // read whole into memory at start

std::string EncodeState(const MetricsState& state);
// nullopt with `error` set (naming the field and why) when the bytes are not a
// valid state file of a format this build reads; `format_version` gets the format.
std::optional<MetricsState> DecodeState(std::string_view bytes, std::string& error, int* format_version = nullptr);

class StateFile {
 public:
  explicit StateFile(std::string directory);
  ~StateFile();
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  // Creates the directory (with parents), takes its lock (flock on
  // llm-cost-exporter.lock, held until exit: one exporter per directory) and
  // proves it writable. Throws std::runtime_error naming --storage.path and the
  // reason. Call before Load() and Save().
  void Open();

  struct Loaded {
    std::string result;  // "none" (no file), "restored" (state set), "corrupt" (file set aside)
    std::optional<MetricsState> state;
    std::string detail;  // why it was corrupt, or where it was moved
    int format_version = 0;  // of the file restored (1: migrated from positional)
  };
  Loaded Load();

  // Renames the current file to <name>.<why>-<unix time> so it is kept for
  // inspection but never loaded again. Returns the new path, or "" if none.
  std::string SetAside(const std::string& why);

  // Writes a new temporary file (unique name, O_EXCL|O_NOFOLLOW), fsyncs it and
  // renames it over the state file. Throws std::runtime_error naming the step that failed.
  void Save(const MetricsState& state);

  const std::string& path() const { return path_; }

 private:
  // An exclusively created temporary file next to the state file; -1 (errno set) on failure.
  int CreateTemporary(std::string& name);

  std::string directory_;
  std::string path_;
  int lock_fd_ = -1;
  unsigned temp_counter_ = 0;
};

}  // namespace llmcost
