#include "event/otlp_streams.h"

#include <algorithm>

namespace llmcost {

OtlpStreams::OtlpStreams(std::uint64_t started_unix_nano, std::size_t max_streams, std::int64_t coverage_window_seconds)
    : started_(started_unix_nano), max_streams_(std::max<std::size_t>(1, max_streams)),
      coverage_window_(coverage_window_seconds) {}

OtlpStreamDelta OtlpStreams::Advance(const OtlpStreamPoint& p) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(p.stream);
  if (it == streams_.end()) {
    if (streams_.size() >= max_streams_) {
      auto victim = streams_.find(lru_.back());
      evicted_start_max_ = std::max(evicted_start_max_, victim->second.start);
      streams_.erase(victim);
      lru_.pop_back();
      ++evicted_;
    }
    lru_.push_front(p.stream);
    Stream s;
    s.temporality = p.temporality;
    s.start = p.start_unix_nano;
    s.time = p.time_unix_nano;
    s.value = p.value;
    s.lru = lru_.begin();
    OtlpStreamDelta d{OtlpStreamVerdict::kCount, p.value};
    if (p.temporality == OtlpTemporality::kCumulative) {
      // Unknown start, or one before we (or an evicted stream) began: part of the
      // value may have been counted already.
      const bool ours = p.start_unix_nano != 0 && p.start_unix_nano >= started_ &&
                        (evicted_ == 0 || p.start_unix_nano > evicted_start_max_);
      if (!ours) d = {OtlpStreamVerdict::kBaseline, 0};
    } else {
      s.recent_start[0] = p.start_unix_nano;
      s.recent_time[0] = p.time_unix_nano;
      s.recent_next = 1;
    }
    streams_.emplace(p.stream, std::move(s));
    if (d.verdict == OtlpStreamVerdict::kCount && d.delta == 0) d.verdict = OtlpStreamVerdict::kUnchanged;
    return d;
  }
  Stream& s = it->second;
  lru_.splice(lru_.begin(), lru_, s.lru);
  OtlpStreamDelta d;
  if (p.temporality != s.temporality) {  // the client changed temporality: start over from this point
    s = Stream{p.temporality, p.start_unix_nano, p.time_unix_nano, p.value, {}, {}, 0, s.lru};
    return {OtlpStreamVerdict::kBaseline, 0};
  }
  if (p.temporality == OtlpTemporality::kDelta) {
    for (std::size_t i = 0; i < kRecentIntervals; ++i) {
      if (s.recent_time[i] == p.time_unix_nano && s.recent_start[i] == p.start_unix_nano && p.time_unix_nano != 0) {
        return {OtlpStreamVerdict::kDuplicate, 0};
      }
    }
    s.recent_start[s.recent_next] = p.start_unix_nano;
    s.recent_time[s.recent_next] = p.time_unix_nano;
    s.recent_next = (s.recent_next + 1) % kRecentIntervals;
    s.time = std::max(s.time, p.time_unix_nano);
    d = {OtlpStreamVerdict::kCount, p.value};
  } else if (p.start_unix_nano > s.start) {  // a new start time: the stream was reset
    s.start = p.start_unix_nano;
    s.time = p.time_unix_nano;
    s.value = p.value;
    d = {OtlpStreamVerdict::kCount, p.value};
  } else if (p.start_unix_nano < s.start) {
    return {OtlpStreamVerdict::kStale, 0};  // from before the last reset
  } else if (p.time_unix_nano == s.time) {
    return {p.value == s.value ? OtlpStreamVerdict::kDuplicate : OtlpStreamVerdict::kStale, 0};
  } else if (p.time_unix_nano < s.time) {
    return {OtlpStreamVerdict::kStale, 0};  // a late retry: a newer value already includes it
  } else if (p.value < s.value) {  // a reset the client did not mark with a new start time
    s.time = p.time_unix_nano;
    s.value = p.value;
    d = {OtlpStreamVerdict::kCount, p.value};
  } else {
    d = {OtlpStreamVerdict::kCount, p.value - s.value};
    s.time = p.time_unix_nano;
    s.value = p.value;
  }
  if (d.delta == 0) d.verdict = OtlpStreamVerdict::kUnchanged;
  return d;
}

void OtlpStreams::NotePerRequest(const std::string& key, std::int64_t now) {
  std::lock_guard lock(mu_);
  if (covered_.size() >= max_streams_ && covered_.find(key) == covered_.end()) {
    // Full: forget the keys past the window first, else the oldest one.
    std::erase_if(covered_, [&](const auto& kv) { return kv.second < now - coverage_window_; });
    if (covered_.size() >= max_streams_) {
      auto oldest = std::min_element(covered_.begin(), covered_.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
      covered_.erase(oldest);
    }
  }
  covered_[key] = now;
}

bool OtlpStreams::CoveredByPerRequest(const std::string& key, std::int64_t now) const {
  std::lock_guard lock(mu_);
  auto it = covered_.find(key);
  return it != covered_.end() && it->second >= now - coverage_window_;
}

std::size_t OtlpStreams::Streams() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

std::uint64_t OtlpStreams::Evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

}  // namespace llmcost
