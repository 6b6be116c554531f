#pragma once
// EventPipeline: wires the stages for one body or datagram:
//   split (batch) -> parse (event) -> price -> record (metrics).
// Transports hand it bytes; it answers with what was accepted and why the rest
// was refused. A refused event changes nothing but the rejection counters.
#include <atomic>
#include <array>
#include <cstddef>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "event/event_error.h"
#include "event/event_parser.h"
#include "pipeline/recording_gate.h"
#include "pipeline/request_id_window.h"
#include "pricing/price_book.h"
#include "record/metrics_state.h"
#include "record/exporter_metrics.h"
#include "record/request_metrics.h"
#include "record/spend_ledger.h"
#include "record/prompt_repeats.h"
#include "record/task_tracker.h"

namespace llmcost {

struct IngestResult {
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  std::size_t duplicates = 0;  // of `rejected`: request ids already counted (a safe retry)
  std::vector<EventError> errors;  // at most `max_errors` of them
};

// Which event times are accepted: an event's own `ts` older than max_age or later
// than now + max_clock_skew is refused (too_old / in_future), never priced.
struct EventTimeWindow {
  std::int64_t max_age_seconds = 35 * 86400;
  std::int64_t max_clock_skew_seconds = 300;
};

class EventPipeline {
 public:
  // request_ids: the dedupe window, or nullptr to count every event.
  EventPipeline(EventParser parser, PriceBook& prices, RequestMetrics& request_metrics,
                ExporterMetrics& exporter_metrics, RequestIdWindow* request_ids = nullptr);

  IngestResult Ingest(std::string_view body, Transport transport, std::size_t max_errors = 100);

  // Events a transport has already parsed (OTLP): each item an event or its
  // refusal (EventError::index is kept), positions[i] the index a refusal of
  // event i is reported with; the same checks, pricing and counters as Ingest.
  IngestResult IngestEvents(std::vector<ParseResult>& items, const std::vector<std::size_t>& positions,
                            Transport transport, std::size_t max_errors = 100);

  void SetTimeWindow(EventTimeWindow window) { window_ = window; }
  // The spend ledger fed with every accepted event's cost (none: not kept). Set
  // before Restore() and before any Ingest().
  void SetSpendLedger(SpendLedger* ledger) { ledger_ = ledger; }
  // The task tracker fed every accepted, priced event (nullptr: none). Set before ingesting.
  void SetTaskTracker(TaskTracker* tasks) { tasks_ = tasks; }
  // The repeated-prompt detector, likewise (nullptr: none).
  void SetPromptRepeats(PromptRepeats* prompts) { prompts_ = prompts; }
  // Returns the refusal for an event time outside the window, if any.
  static std::optional<EventError> CheckTime(const UsageEvent& event, std::int64_t now_unix,
                                             const EventTimeWindow& window);

  // A refusal decided by the transport before parsing (oversized body, truncated datagram).
  void RejectWhole(Transport transport, const EventError& error);

  // An event-consistent copy of every counter, histogram and remembered request id:
  // recording pauses while it is taken (milliseconds), so no event is half in it.
  MetricsState Snapshot() const;
  // What was and was not restored; see RequestMetrics::Restore and RestoreReport.
  RestoreReport Restore(const MetricsState& state);

 private:
  void CountRejection(Transport transport, const EventError& error);
  // Under HoldForRecording(): count and list one refusal; time-check, price,
  // de-duplicate and record one event.
  void Refuse(Transport transport, EventError error, std::size_t max_errors, IngestResult& result);
  void RecordHeld(const UsageEvent& event, std::size_t i, Transport transport, const PriceTable& table,
                  std::size_t max_errors, IngestResult& result);
  // The same, by a caller that holds HoldForRecording() (holds never nest: a
  // waiting snapshot would deadlock a second one).
  void CountRejectionHeld(Transport transport, const EventError& error);
  // Shared by everything that records; a snapshot takes record_gate_ exclusively.
  std::shared_lock<std::shared_mutex> HoldForRecording() const;
  void NoteUnpriced(const CostPart& cost, const UsageEvent& event);

  EventParser parser_;
  PriceBook& prices_;
  RequestMetrics& request_metrics_;
  ExporterMetrics& exporter_metrics_;
  RequestIdWindow* request_ids_;
  SpendLedger* ledger_ = nullptr;
  TaskTracker* tasks_ = nullptr;
  PromptRepeats* prompts_ = nullptr;
  EventTimeWindow window_;
  // Shared by every batch being recorded, exclusive for a snapshot.
  mutable RecordingGate record_gate_;
  mutable std::atomic<int> snapshots_waiting_{0};

  // Rejections are logged at most once per second per reason (a broken client
  // must not flood the log); the count in between is reported with the next line.
  struct RejectLog {
    std::atomic<std::int64_t> last_ms{0};
    std::atomic<std::uint64_t> suppressed{0};
  };
  std::array<RejectLog, kRejectReasonCount> reject_log_;

  std::mutex unpriced_mu_;
  std::unordered_set<std::string> unpriced_logged_;  // each unpriced model is logged once
};

}  // namespace llmcost
