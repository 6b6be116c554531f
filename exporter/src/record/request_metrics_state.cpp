// RequestMetrics' persistence: Snapshot() and Restore(), by name (labels, token and
// cost types, statuses, histograms), kept apart from live recording
// (request_metrics.cpp). Held-back (zero-first) events enter the snapshot through
// the same RecordObservationTo() as live recording, with a sink that adds to the
// saved values.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "record/request_metrics.h"
#include "record/request_series.h"

namespace llmcost {
namespace {

// Saved as the state file has it: per bucket, not cumulative, +Inf last.
HistogramState HistogramValues(const std::atomic<std::uint64_t>* counts, std::size_t n, const std::atomic<double>& sum) {
  HistogramState state;
  for (std::size_t k = 0; k < n; ++k) state.bucket_counts.push_back(static_cast<double>(counts[k].load()));
  state.sum = sum.load();
  return state;
}

// A saved count (a whole number up to 2^53, as the state file validates it).
std::uint64_t Whole(double v) { return static_cast<std::uint64_t>(v); }

void AddToHistogram(HistogramState& h, const std::vector<double>& bounds, double v) {
  std::size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;  // le semantics: v <= bound
  h.bucket_counts[i] += 1;
  h.sum += v;
}


// The snapshot's sink of RecordObservationTo: adds a held-back event to the saved values.
struct SavedSink {
  RequestCountState& requests;
  SeriesGroupState& group;
  std::vector<UnpricedState>& unpriced;
  const std::array<std::size_t, kUnpricedReasonCount>& unpriced_at;
  HistogramSetState& histograms;
  const HistogramBuckets& buckets;

  void Request() { requests.count += 1; }
  void Tokens(TokenType t, std::uint64_t n) { group.tokens[std::string(TokenTypeName(t))] += static_cast<double>(n); }
  void ClientReported(PicoUsd p) { group.client_reported_cost += PicoToUsd(p); }
  void Unpriced(UnpricedReason r) { unpriced[unpriced_at[static_cast<std::size_t>(r)]].count += 1; }
  void Cost(CostType c, PicoUsd p) { group.cost[std::string(CostTypeName(c))] += PicoToUsd(p); }
  void Savings(PicoUsd p) { group.cache_savings += PicoToUsd(p); }
  void Premium(PicoUsd p) { group.cache_write_premium += PicoToUsd(p); }
  void Observe(std::size_t i, double v) {
    const RequestHistogram& h = kRequestHistograms[i];
    AddToHistogram(histograms.by_name[std::string(h.name)], buckets.*h.buckets, v);
  }
};

}  // namespace

std::vector<std::string> RequestMetrics::LabelNames() const {
  std::vector<std::string> names;
  for (const RecordLabel& l : kRecordLabels) names.emplace_back(l.name);
  names.insert(names.end(), attribution_labels_.begin(), attribution_labels_.end());
  return names;
}

LabelMap RequestMetrics::ToLabels(const std::vector<std::string>& values) const {
  LabelMap labels;
  const std::vector<std::string> names = LabelNames();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) labels[names[i]] = values[i];
  return labels;
}

RequestMetricsState RequestMetrics::Snapshot() const {
  RequestMetricsState s;
  for (const RequestHistogram& h : kRequestHistograms) s.bucket_bounds[std::string(h.name)] = buckets_.*h.buckets;
  const std::string& histogram_label = attribution_labels_[histogram_label_index_];
  std::unordered_map<const SeriesGroup*, std::size_t> group_index;
  std::unordered_map<const UnpricedSet*, std::size_t> unpriced_index;  // of its first reason
  std::unordered_map<const HistogramSet*, std::size_t> histogram_index;

  std::shared_lock lock(sets_mu_);
  auto add_unpriced = [&](const UnpricedSet& u) {
    auto [it, added] = unpriced_index.emplace(&u, s.unpriced.size());
    if (added) {
      for (std::size_t r = 1; r < kUnpricedReasonCount; ++r) {
        s.unpriced.push_back({{{"provider", u.provider},
                               {"model", u.model},
                               {"reason", std::string(UnpricedReasonName(static_cast<UnpricedReason>(r)))}},
                              static_cast<double>(u.count[r].load())});
      }
    }
    return it->second;
  };
  for (const auto& [key, set] : sets_) {
    std::lock_guard pending_lock(set->pending_mu);
    const SeriesGroup& group = *set->group;
    RequestCountState r{ToLabels(group.values), static_cast<double>(set->requests.load())};
    r.labels["status"] = std::string(RequestStatusName(set->status));

    auto [git, new_group] = group_index.emplace(&group, s.groups.size());
    if (new_group) {
      SeriesGroupState g;
      g.labels = ToLabels(group.values);
      for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
        g.tokens[std::string(TokenTypeName(static_cast<TokenType>(t)))] = static_cast<double>(group.tokens[t].load());
      }
      for (std::size_t c = 0; c < kCostTypeCount; ++c) {
        g.cost[std::string(CostTypeName(static_cast<CostType>(c)))] = group.cost[c].Usd();
      }
      g.cache_savings = group.savings.Usd();
      g.cache_write_premium = group.premium.Usd();
      g.client_reported_cost = group.client_reported.Usd();
      s.groups.push_back(std::move(g));
    }
    std::array<std::size_t, kUnpricedReasonCount> unpriced_at{};
    const std::size_t first_reason = add_unpriced(*set->unpriced);
    for (std::size_t u = 1; u < kUnpricedReasonCount; ++u) unpriced_at[u] = first_reason + u - 1;
    auto [hit, new_hist] = histogram_index.emplace(set->histograms, s.histogram_sets.size());
    if (new_hist) {
      const std::vector<std::string>& values = group.values;
      HistogramSetState h;
      h.labels = {{"provider", values[0]},
                  {"model", values[1]},
                  {histogram_label, values[kFixedLabels + histogram_label_index_]}};
      for (std::size_t i = 0; i < kRequestHistograms.size(); ++i) {
        h.by_name[std::string(kRequestHistograms[i].name)] =
            HistogramValues(&set->histograms->counts[histogram_offsets_[i]],
                            histogram_offsets_[i + 1] - histogram_offsets_[i], set->histograms->sums[i]);
      }
      s.histogram_sets.push_back(std::move(h));
    }

    // Events held back until this label set's first scrape are part of the state,
    // recorded by the same path as live events.
    SavedSink sink{r, s.groups[git->second], s.unpriced, unpriced_at, s.histogram_sets[hit->second], buckets_};
    for (const Observation& obs : set->pending) RecordObservationTo(obs, sink);
    s.requests.push_back(std::move(r));
  }
  // Restored counts of a provider and model no label set has (yet) are kept too.
  for (const auto& u : unpriced_sets_) add_unpriced(*u);
  return s;
}

namespace {

// The index of `name` among the names an enum's Name() function gives, or -1.
template <typename Enum, typename NameFn>
int IndexOfName(std::string_view name, std::size_t count, NameFn name_of, std::size_t first = 0) {
  for (std::size_t i = first; i < count; ++i) {
    if (name_of(static_cast<Enum>(i)) == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

void RequestMetrics::Restore(const RequestMetricsState& state, RestoreReport& report) {
  const std::vector<std::string> names = LabelNames();
  const std::string& histogram_label = attribution_labels_[histogram_label_index_];
  auto default_for = [](std::string_view name) -> std::string_view {
    for (const RecordLabel& l : kRecordLabels) {
      if (l.name == name) return l.migration_default;
    }
    return kUnknownValue;
  };
  // A label the state has and this configuration does not would merge series that
  // were apart: refuse rather than mix (the file is set aside).
  auto check = [&](const LabelMap& labels, std::string_view also) -> bool {
    for (const auto& [name, value] : labels) {
      if (name != also && std::find(names.begin(), names.end(), name) == names.end()) {
        report.incompatible = "the saved state has label '" + name +
                              "', which this configuration does not (labels.attribution changed)";
        return false;
      }
    }
    return true;
  };
  for (const auto& r : state.requests) {
    if (!check(r.labels, "status")) return;
  }
  for (const auto& g : state.groups) {
    if (!check(g.labels, "")) return;
  }
  auto values_of = [&](const LabelMap& labels) {
    std::vector<std::string> values;
    values.reserve(names.size());
    for (const auto& name : names) {
      const auto it = labels.find(name);
      values.emplace_back(it != labels.end() ? std::string_view(it->second) : default_for(name));
    }
    return values;
  };
  auto restore_set = [&](const std::vector<std::string>& values, RequestStatus status) -> SeriesSet& {
    provider_guard_.Restore(values[0]);
    model_guard_.Restore(values[1]);
    for (std::size_t i = 0; i < attribution_labels_.size(); ++i) {
      attribution_guards_[i]->Restore(values[kFixedLabels + i]);
    }
    SeriesSet& set = FindOrCreate(values, status, GroupKey(values) + std::string(RequestStatusName(status)));
    set.live.store(true, std::memory_order_release);  // it existed before the restart
    return set;
  };

  std::unordered_map<std::string, SeriesSet*> by_group;
  for (const auto& r : state.requests) {
    const auto st = r.labels.find("status");
    const std::string status_name = st != r.labels.end() ? st->second : "ok";
    RequestStatus status;
    if (!RequestStatusFromName(status_name, status)) {
      report.Unknown("status", status_name);
      continue;
    }
    const std::vector<std::string> values = values_of(r.labels);
    SeriesSet& set = restore_set(values, status);
    if (r.count > 0) set.requests.fetch_add(Whole(r.count));
    by_group.emplace(GroupKey(values), &set);
  }
  for (const auto& g : state.groups) {
    const std::vector<std::string> values = values_of(g.labels);
    auto it = by_group.find(GroupKey(values));
    SeriesSet& set = it != by_group.end() ? *it->second : restore_set(values, RequestStatus::kOk);
    for (const auto& [name, v] : g.tokens) {
      const int t = IndexOfName<TokenType>(name, kTokenTypeCount, TokenTypeName);
      if (t < 0) {
        report.Unknown("token_type", name);
      } else if (v > 0) {
        set.group->tokens[static_cast<std::size_t>(t)].fetch_add(Whole(v));
      }
    }
    for (const auto& [name, v] : g.cost) {
      const int c = IndexOfName<CostType>(name, kCostTypeCount, CostTypeName);
      if (c < 0) {
        report.Unknown("cost_type", name);
      } else if (v > 0) {
        set.group->cost[static_cast<std::size_t>(c)].AddUsd(v);
      }
    }
    if (g.cache_savings > 0) set.group->savings.AddUsd(g.cache_savings);
    if (g.cache_write_premium > 0) set.group->premium.AddUsd(g.cache_write_premium);
    if (g.client_reported_cost > 0) set.group->client_reported.AddUsd(g.client_reported_cost);
  }
  for (const auto& u : state.unpriced) {
    auto label = [&](const char* name) {
      const auto it = u.labels.find(name);
      return it != u.labels.end() ? it->second : std::string(default_for(name));
    };
    const std::string reason = label("reason");
    if (IndexOfName<UnpricedReason>(reason, kUnpricedReasonCount, UnpricedReasonName, 1) < 0) {
      report.Unknown("unpriced_reason", reason);
      continue;
    }
    if (u.count > 0) {
      std::unique_lock lock(sets_mu_);
      const auto r = IndexOfName<UnpricedReason>(reason, kUnpricedReasonCount, UnpricedReasonName, 1);
      UnpricedFor(label("provider"), label("model")).count[static_cast<std::size_t>(r)].fetch_add(Whole(u.count));
    }
  }
  for (const auto& h : state.histogram_sets) {
    bool same_label = true;
    for (const auto& [name, value] : h.labels) {
      if (name != "provider" && name != "model" && name != histogram_label) same_label = false;
    }
    if (!same_label) {
      report.note = "labels.histogram_label changed; the histograms start from zero";
      continue;
    }
    auto label = [&](const std::string& name) {
      const auto it = h.labels.find(name);
      return it != h.labels.end() ? it->second : std::string(default_for(name));
    };
    std::unique_lock lock(sets_mu_);
    const auto it = histograms_.find(label("provider") + kKeySeparator + label("model") + kKeySeparator +
                                     label(histogram_label));
    if (it == histograms_.end()) continue;
    for (const auto& [name, saved] : h.by_name) {
      const int at = RequestHistogramIndex(name);
      if (at < 0) {
        report.Unknown("histogram", name);
        continue;
      }
      const auto i = static_cast<std::size_t>(at);
      const std::vector<double>& bounds = buckets_.*kRequestHistograms[i].buckets;
      // Saved buckets only fit the same bounds; otherwise that histogram restarts.
      const auto saved_bounds = state.bucket_bounds.find(name);
      if (saved_bounds == state.bucket_bounds.end() || saved_bounds->second != bounds ||
          saved.bucket_counts.size() != bounds.size() + 1) {
        report.note = "histogram buckets changed; those histograms start from zero";
        continue;
      }
      HistogramSet& set = *it->second;
      for (std::size_t k = 0; k < saved.bucket_counts.size(); ++k) {
        set.counts[histogram_offsets_[i] + k].fetch_add(Whole(saved.bucket_counts[k]));
      }
      set.sums[i].fetch_add(saved.sum);
    }
  }
}

}  // namespace llmcost
