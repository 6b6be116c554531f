#include "pipeline/event_pipeline.h"

#include <chrono>

#include "event/batch_splitter.h"
#include "log/structured_log.h"
#include "pricing/pricer.h"
#include "record/label_guard.h"

namespace llmcost {
namespace {

constexpr std::size_t kMaxUnpricedLogged = 1000;

std::int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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
  // One batch per thread, reused: its buffers grow to the largest body seen and stay.
  thread_local EventBatch batch;
  thread_local UsageEvent event;  // likewise: its strings keep their buffers
  SplitBatch(body, batch);
  const auto& items = batch.items;
  const auto table = prices_.Current();
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::optional<EventError> error;
    if (const auto* split_error = std::get_if<EventError>(&items[i])) {
      error = *split_error;
    } else {
      error = parser_.ParseInto(std::get<JsonValue>(items[i]), i, event);
    }
    if (error) {
      error->index = i;
      CountRejection(transport, *error);
      ++result.rejected;
      if (result.errors.size() < max_errors) result.errors.push_back(std::move(*error));
      continue;
    }
    const RequestCost cost = PriceRequest(event, *table);
    if (cost.overflow) {
      EventError too_costly{i, "usage", RejectReason::kBadField,
                            "the request's cost at the price table's rates exceeds 9,223,372 USD, more than "
                            "is counted exactly; check the table's rates and factors"};
      CountRejection(transport, too_costly);
      ++result.rejected;
      if (result.errors.size() < max_errors) result.errors.push_back(std::move(too_costly));
      continue;
    }
    {
      std::shared_lock lock(record_mu_);
      if (request_ids_ != nullptr && !event.request_id.empty() &&
          !request_ids_->FirstSeen(event.request_id, UnixSeconds())) {
        lock.unlock();
        EventError dup{i, "request_id", RejectReason::kDuplicate,
                       "request_id already counted within the dedupe window; not counted again"};
        CountRejection(transport, dup);
        ++result.rejected;
        ++result.duplicates;
        if (result.errors.size() < max_errors) result.errors.push_back(std::move(dup));
        continue;
      }
      request_metrics_.Record(event, cost);
      exporter_metrics_.Accepted(transport);
    }
    if (cost.unpriced != UnpricedReason::kNone) NoteUnpriced(cost, event);
    ++result.accepted;
  }
  return result;
}

void EventPipeline::RejectWhole(Transport transport, const EventError& error) { CountRejection(transport, error); }

MetricsState EventPipeline::Snapshot() const {
  std::unique_lock lock(record_mu_);
  MetricsState state;
  state.requests = request_metrics_.Snapshot();
  state.exporter = exporter_metrics_.Snapshot();
  if (request_ids_ != nullptr) state.request_ids = request_ids_->Entries();
  return state;
}

std::string EventPipeline::Restore(const MetricsState& state) {
  std::unique_lock lock(record_mu_);
  std::string note = request_metrics_.Restore(state.requests);
  if (!note.empty() && note.rfind("partial:", 0) != 0) return note;  // nothing was restored
  exporter_metrics_.Restore(state.exporter);
  if (request_ids_ != nullptr) request_ids_->Restore(state.request_ids, UnixSeconds());
  return note;
}

void EventPipeline::CountRejection(Transport transport, const EventError& error) {
  {
    std::shared_lock lock(record_mu_);
    exporter_metrics_.Rejected(transport, error.reason);
  }
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

void EventPipeline::NoteUnpriced(const RequestCost& cost, const UsageEvent& event) {
  std::string key = event.provider + "/" + cost.model + "/" + std::string(UnpricedReasonName(cost.unpriced));
  {
    std::lock_guard lock(unpriced_mu_);
    if (unpriced_logged_.size() >= kMaxUnpricedLogged || !unpriced_logged_.insert(key).second) return;
  }
  Log(LogLevel::kWarn, "request not priced; cost not recorded (add the model to the price file)",
      {{"provider", SanitizeLabelValue(event.provider, 64)},
       {"model", SanitizeLabelValue(cost.model, 128)},
       {"reason", std::string(UnpricedReasonName(cost.unpriced))}});
}

}  // namespace llmcost
