#pragma once
// OtlpStreams: the state OTLP aggregates need to be counted exactly once.
//  - Metric streams (one per metric name + resource + point attributes): a DELTA
//    point is counted unless the same interval (start, time) was already counted
//    (a re-sent batch); a CUMULATIVE point counts what it adds to the stream's last
//    value, and a new start time (or a smaller value) is a reset, counted from 0.
//    A cumulative stream first seen with a start time before the exporter started
//    (or before a stream was evicted) is taken as a baseline, not counted: its value
//    may include what an earlier run already counted.
//  - Per-request coverage: sources (OtlpOverlapKey) whose per-request usage (Claude
//    Code's api_request log records, GenAI spans) was seen within the coverage
//    window; their aggregates are then not counted again (docs/otlp.md, "Sent twice").
// Bounded: at most max_streams streams (least recently updated evicted, counted)
// and max_streams coverage keys. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmcost {

enum class OtlpTemporality : std::uint8_t { kDelta, kCumulative };

struct OtlpStreamPoint {
  std::string stream;  // identity; compared in memory only
  OtlpTemporality temporality = OtlpTemporality::kDelta;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  double value = 0;
};

enum class OtlpStreamVerdict : std::uint8_t {
  kCount,      // `delta` is new
  kDuplicate,  // this interval was already counted (a re-sent batch)
  kStale,      // older than what the stream already counted (out of order)
  kBaseline,   // first sight of a cumulative stream that started before we did
  kUnchanged   // nothing new (delta 0)
};

struct OtlpStreamDelta {
  OtlpStreamVerdict verdict = OtlpStreamVerdict::kCount;
  double delta = 0;
};

class OtlpStreams {
 public:
  // started_unix_nano: when this exporter started counting.
  OtlpStreams(std::uint64_t started_unix_nano, std::size_t max_streams = 10000,
              std::int64_t coverage_window_seconds = 600);

  OtlpStreamDelta Advance(const OtlpStreamPoint& point);

  void NotePerRequest(const std::string& key, std::int64_t now_unix);
  bool CoveredByPerRequest(const std::string& key, std::int64_t now_unix) const;

  std::size_t Streams() const;
  std::uint64_t Evicted() const;

 private:
  static constexpr std::size_t kRecentIntervals = 8;
  struct Stream {
    OtlpTemporality temporality = OtlpTemporality::kDelta;
    std::uint64_t start = 0;
    std::uint64_t time = 0;
    double value = 0;
    // DELTA: the (start, time) of the last intervals counted.
    std::uint64_t recent_start[kRecentIntervals] = {};
    std::uint64_t recent_time[kRecentIntervals] = {};
    std::size_t recent_next = 0;
    std::list<std::string>::iterator lru;
  };

  const std::uint64_t started_;
  const std::size_t max_streams_;
  const std::int64_t coverage_window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Stream> streams_;
  std::list<std::string> lru_;  // front: most recently updated
  std::uint64_t evicted_ = 0;
  std::uint64_t evicted_start_max_ = 0;  // a returning cumulative stream started at or before this
  std::unordered_map<std::string, std::int64_t> covered_;  // key -> last seen (unix seconds)
};

}  // namespace llmcost
