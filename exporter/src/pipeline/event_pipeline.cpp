#include "pipeline/event_pipeline.h"

#include <malloc.h>

#include <chrono>
#include <memory>

#include "event/batch_splitter.h"
#include "log/structured_log.h"
#include "pricing/pricer.h"
#include "record/label_guard.h"

namespace llmcost {
namespace {

constexpr std::size_t kMaxUnpricedLogged = 1000;
// Bytes a thread's batch may keep between bodies: a 1,000-event body of real events
// holds about 1 MB, a 4 MiB one about 10 MB. Decided by what the buffers hold, not
// by the body's size: the release costs a malloc_trim, a walk over the whole heap,
// which after every 1,000-event POST (480 KB, over the old 256 KiB body limit) more
// than doubled the CPU per event.
constexpr std::size_t kKeepBatchBytesUpTo = 8 * 1024 * 1024;

std::int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What an operator can do about an unpriced request, by reason: only an unknown
// model is fixed by adding it to the price file.
std::string_view UnpricedHint(UnpricedReason reason) {
  switch (reason) {
    case UnpricedReason::kUnknownModel:
      return "the model is not in the price file: add it there (then SIGHUP or POST /-/reload)";
    case UnpricedReason::kNoTierPrice:
      return "the service tier (e.g. priority) has no public per-token price: never guessed; report cost_usd";
    case UnpricedReason::kUnsupportedOption:
      return "the model's price entry cannot price this option (speed, US-only inference, batch with fast): "
             "add the factor to its entry if Anthropic publishes one, or report cost_usd";
    case UnpricedReason::kUnpublishedRate:
      return "the price file marks a rate this request needs as unpublished: never guessed; report cost_usd";
    case UnpricedReason::kUnpublishedCredit:
      return "a fallback credit's size is not published: the cost recorded is an upper bound";
    case UnpricedReason::kNone:
      break;
  }
  return "";
}

}  // namespace

EventPipeline::EventPipeline(EventParser parser, PriceBook& prices, RequestMetrics& request_metrics,
                             ExporterMetrics& exporter_metrics, RequestIdWindow* request_ids)
    : parser_(std::move(parser)),
      prices_(prices),
      request_metrics_(request_metrics),
      exporter_metrics_(exporter_metrics),
      request_ids_(request_ids) {}

IngestResult EventPipeline::Ingest(std::string_view body, Transport transport, std::size_t max_errors) {
  IngestResult result;
  // One batch per thread, reused: its buffers grow to the body's size. Past
  // kKeepBatchBytesUpTo they are freed again after the body (and the heap
  // trimmed), so one large body does not pin tens of MB per thread.
  thread_local auto batch_owner = std::make_unique<EventBatch>();
  thread_local UsageEvent event;  // its strings keep their (field-bounded) buffers
  struct Release {
    std::unique_ptr<EventBatch>& owner;
    ~Release() {
      if (owner->held_bytes() <= kKeepBatchBytesUpTo) return;
      owner = std::make_unique<EventBatch>();
      malloc_trim(0);
    }
  } release{batch_owner};
  EventBatch& batch = *batch_owner;
  SplitBatch(body, batch);
  const auto table = prices_.Current();
  // The whole batch is recorded under one hold: a checkpoint has all of a batch or
  // none of it, so a kill -9 after a checkpoint never leaves half a batch counted
  // (its client, seeing no answer, retries the whole batch).
  const auto hold = HoldForRecording();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::optional<EventError> error;
    BatchItem item = batch.Item(i);
    if (auto* split_error = std::get_if<EventError>(&item)) {
      error = std::move(*split_error);
    } else {
      error = parser_.ParseInto(std::get<JsonValue>(item), i, event);
    }
    if (error) {
      error->index = i;
      Refuse(transport, std::move(*error), max_errors, result);
      continue;
    }
    RecordHeld(event, i, transport, *table, max_errors, result);
  }
  return result;
}

IngestResult EventPipeline::IngestEvents(std::vector<ParseResult>& items, const std::vector<std::size_t>& positions,
                                         Transport transport, std::size_t max_errors) {
  IngestResult result;
  const auto table = prices_.Current();
  const auto hold = HoldForRecording();  // the whole batch or none of it in a checkpoint, as Ingest
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (auto* error = std::get_if<EventError>(&items[i])) {
      Refuse(transport, std::move(*error), max_errors, result);
      continue;
    }
    RecordHeld(std::get<UsageEvent>(items[i]), i < positions.size() ? positions[i] : i, transport, *table, max_errors,
               result);
  }
  return result;
}

void EventPipeline::Refuse(Transport transport, EventError error, std::size_t max_errors, IngestResult& result) {
  CountRejectionHeld(transport, error);
  ++result.rejected;
  if (error.reason == RejectReason::kDuplicate) ++result.duplicates;
  if (result.errors.size() < max_errors) result.errors.push_back(std::move(error));
}

void EventPipeline::RecordHeld(const UsageEvent& event, std::size_t i, Transport transport, const PriceTable& table,
                               std::size_t max_errors, IngestResult& result) {
  const std::int64_t now = UnixSeconds();
  if (auto error = CheckTime(event, now, window_)) {
    error->index = i;
    Refuse(transport, std::move(*error), max_errors, result);
    return;
  }
  const RequestCost cost = PriceRequest(event, table, now);
  if (cost.overflow) {
    Refuse(transport,
           {i, "usage", RejectReason::kBadField,
            "the request's cost at the price table's rates exceeds 9,223,372 USD, more than "
            "is counted exactly; check the table's rates and factors"},
           max_errors, result);
    return;
  }
  if (request_ids_ != nullptr && !event.request_id.empty() && !request_ids_->FirstSeen(event.request_id, UnixSeconds())) {
    Refuse(transport,
           {i, "request_id", RejectReason::kDuplicate,
            "request_id already counted within the dedupe window; not counted again"},
           max_errors, result);
    return;
  }
  request_metrics_.Record(event, cost);
  if (ledger_ != nullptr) ledger_->Record(event, cost);
  if (tasks_ != nullptr) tasks_->Record(event, cost);
  if (prompts_ != nullptr) prompts_->Record(event, cost);
  exporter_metrics_.Accepted(transport);
  if (cost.unpriced != UnpricedReason::kNone) NoteUnpriced(cost, event);
  for (const CostPart& part : cost.others) {
    if (part.unpriced != UnpricedReason::kNone) NoteUnpriced(part, event);
  }
  ++result.accepted;
}

std::optional<EventError> EventPipeline::CheckTime(const UsageEvent& event, std::int64_t now_unix,
                                                  const EventTimeWindow& window) {
  if (!event.ts_unix) return std::nullopt;
  if (*event.ts_unix < now_unix - window.max_age_seconds) {
    return EventError{0, "ts", RejectReason::kTooOld,
                      "older than the accepted window (--ingest.max-event-age, " +
                          std::to_string(window.max_age_seconds / 86400) + " days)"};
  }
  if (*event.ts_unix > now_unix + window.max_clock_skew_seconds) {
    return EventError{0, "ts", RejectReason::kInFuture,
                      "later than now plus the allowed clock skew (--ingest.max-clock-skew, " +
                          std::to_string(window.max_clock_skew_seconds) + "s)"};
  }
  return std::nullopt;
}

void EventPipeline::RejectWhole(Transport transport, const EventError& error) { CountRejection(transport, error); }

std::shared_lock<std::shared_mutex> EventPipeline::HoldForRecording() const {
  // A waiting snapshot goes first: holders arriving after it wait, so overlapping
  // batches on many threads can never keep a checkpoint out.
  for (int waiting; (waiting = snapshots_waiting_.load(std::memory_order_acquire)) != 0;) {
    snapshots_waiting_.wait(waiting, std::memory_order_acquire);
  }
  return record_gate_.Share();
}

MetricsState EventPipeline::Snapshot() const {
  snapshots_waiting_.fetch_add(1, std::memory_order_acq_rel);
  MetricsState state;
  {
    const RecordingGate::Exclusive lock(record_gate_);
    state.requests = request_metrics_.Snapshot();
    state.exporter = exporter_metrics_.Snapshot();
    if (request_ids_ != nullptr) state.request_ids = request_ids_->Entries();
    if (ledger_ != nullptr) {
      state.spend = ledger_->Snapshot();
      state.model_days = ledger_->ModelDaySnapshot();
    }
  }
  snapshots_waiting_.fetch_sub(1, std::memory_order_acq_rel);
  snapshots_waiting_.notify_all();
  return state;
}

RestoreReport EventPipeline::Restore(const MetricsState& state) {
  const RecordingGate::Exclusive lock(record_gate_);
  RestoreReport report;
  request_metrics_.Restore(state.requests, report);
  if (!report.incompatible.empty()) return report;  // nothing was restored
  exporter_metrics_.Restore(state.exporter, report);
  if (ledger_ != nullptr) {
    ledger_->Restore(state.spend, report);
    ledger_->RestoreModelDays(state.model_days, report);
  }
  exporter_metrics_.StateEntriesSkipped(report);
  if (request_ids_ != nullptr) request_ids_->Restore(state.request_ids, UnixSeconds());
  return report;
}

void EventPipeline::CountRejection(Transport transport, const EventError& error) {
  const auto hold = HoldForRecording();
  CountRejectionHeld(transport, error);
}

void EventPipeline::CountRejectionHeld(Transport transport, const EventError& error) {
  exporter_metrics_.Rejected(transport, error.reason);
  auto& rl = reject_log_[static_cast<std::size_t>(error.reason)];
  const std::int64_t now = NowMs();
  std::int64_t last = rl.last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !rl.last_ms.compare_exchange_strong(last, now)) {
    rl.suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Log(LogLevel::kWarn, "event rejected",
      {{"transport", std::string(TransportName(transport))},
       {"reason", std::string(RejectReasonName(error.reason))},
       {"field", error.field},
       {"error", error.message},
       {"suppressed_since_last", std::to_string(rl.suppressed.exchange(0))}});
}

void EventPipeline::NoteUnpriced(const CostPart& cost, const UsageEvent& event) {
  std::string key = event.provider + "/" + cost.model + "/" + std::string(UnpricedReasonName(cost.unpriced));
  {
    std::lock_guard lock(unpriced_mu_);
    if (unpriced_logged_.size() >= kMaxUnpricedLogged || !unpriced_logged_.insert(key).second) return;
  }
  Log(LogLevel::kWarn, "request not priced; cost not recorded",
      {{"provider", SanitizeLabelValue(event.provider, 64)},
       {"model", SanitizeLabelValue(cost.model, 128)},
       {"reason", std::string(UnpricedReasonName(cost.unpriced))},
       {"hint", std::string(UnpricedHint(cost.unpriced))}});
}

}  // namespace llmcost
