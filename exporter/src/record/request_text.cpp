// RequestMetrics::WriteText(): the record stage's series in the Prometheus text
// format 0.0.4, written straight from the label sets' atomics into one string (no
// per-series copies); the label blocks were rendered when each set was created.
#include <algorithm>
#include <array>
#include <shared_mutex>

#include "record/request_families.h"
#include "record/request_metrics.h"
#include "record/request_series.h"
#include "record/text_format.h"

namespace llmcost {
namespace {

// The name each RequestMetrics::ExtraLabel stands for (the label a series adds to
// its group's, sorted in at RenderedLabels::cut).
constexpr std::array<std::string_view, 4> kExtraLabelNames = {"status", "token_type", "cost_type", "reason"};

void WriteHead(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// `name{labels} ` with no label added.
void OpenSeries(std::string& out, std::string_view name, const RenderedLabels& l) {
  out += name;
  if (l.text.empty()) {
    out += ' ';
    return;
  }
  out += '{';
  out += l.text;
  out.back() = '}';  // the last pair's ','
  out += ' ';
}

// `name{labels} ` with `pair` (rendered `extra="value",`) sorted in at l.cut[cut].
void OpenSeries(std::string& out, std::string_view name, const RenderedLabels& l, std::size_t cut,
                std::string_view pair) {
  out += name;
  out += '{';
  const std::string_view text = l.text;
  out.append(text.substr(0, l.cut[cut]));
  out += pair;
  out.append(text.substr(l.cut[cut]));
  out.back() = '}';
  out += ' ';
}

std::string Pair(std::string_view name, std::string_view value) {
  std::string p(name);
  p += "=\"";
  AppendEscapedLabelValue(p, value);
  p += "\",";
  return p;
}

template <typename Enum, std::size_t N, typename NameFn>
std::array<std::string, N> Pairs(std::string_view label, NameFn name_of, std::size_t first = 0) {
  std::array<std::string, N> out;
  for (std::size_t i = first; i < N; ++i) out[i] = Pair(label, name_of(static_cast<Enum>(i)));
  return out;
}

}  // namespace

RenderedLabels RequestMetrics::RenderLabels(std::vector<std::pair<std::string_view, std::string_view>> labels) const {
  std::sort(labels.begin(), labels.end());
  RenderedLabels r;
  for (std::size_t e = 0; e < kExtraLabelNames.size(); ++e) {
    for (const auto& [name, value] : labels) {
      if (name < kExtraLabelNames[e]) r.cut[e] += static_cast<std::uint32_t>(Pair(name, value).size());
    }
  }
  for (const auto& [name, value] : labels) r.text += Pair(name, value);
  r.text.shrink_to_fit();
  return r;
}

void RequestMetrics::WriteText(std::string& out) const {
  static const auto kStatusPairs =
      Pairs<RequestStatus, kRequestStatusCount>(kExtraLabelNames[kStatusLabel], RequestStatusName);
  static const auto kTokenPairs = Pairs<TokenType, kTokenTypeCount>(kExtraLabelNames[kTokenTypeLabel], TokenTypeName);
  static const auto kCostPairs = Pairs<CostType, kCostTypeCount>(kExtraLabelNames[kCostTypeLabel], CostTypeName);
  static const auto kReasonPairs =
      Pairs<UnpricedReason, kUnpricedReasonCount>(kExtraLabelNames[kReasonLabel], UnpricedReasonName, 1);
  const auto& families = kRequestCounterFamilies;
  auto head = [&out](const RequestFamily& f) { WriteHead(out, f.name, f.help, f.type); };

  std::shared_lock lock(sets_mu_);
  head(families[kRequestsFamily]);
  for (const SeriesSet* s : set_order_) {
    OpenSeries(out, families[kRequestsFamily].name, s->group->labels, kStatusLabel,
               kStatusPairs[static_cast<std::size_t>(s->status)]);
    AppendTextValue(out, s->requests.load(std::memory_order_relaxed));
    out += '\n';
  }
  head(families[kTokensFamily]);
  for (const auto& g : groups_) {
    for (std::size_t t = 0; t < kTokenTypeCount; ++t) {
      OpenSeries(out, families[kTokensFamily].name, g->labels, kTokenTypeLabel, kTokenPairs[t]);
      AppendTextValue(out, g->tokens[t].load(std::memory_order_relaxed));
      out += '\n';
    }
  }
  head(families[kCostFamily]);
  for (const auto& g : groups_) {
    for (std::size_t c = 0; c < kCostTypeCount; ++c) {
      OpenSeries(out, families[kCostFamily].name, g->labels, kCostTypeLabel, kCostPairs[c]);
      AppendTextValue(out, g->cost[c].Usd());
      out += '\n';
    }
  }
  auto money = [&](RequestFamilyIndex f, PicoCounter SeriesGroup::*counter) {
    head(families[f]);
    for (const auto& g : groups_) {
      OpenSeries(out, families[f].name, g->labels);
      AppendTextValue(out, ((*g).*counter).Usd());
      out += '\n';
    }
  };
  money(kCacheSavingsFamily, &SeriesGroup::savings);
  money(kCacheWritePremiumFamily, &SeriesGroup::premium);
  money(kClientReportedCostFamily, &SeriesGroup::client_reported);
  head(families[kUnpricedFamily]);
  for (const auto& u : unpriced_sets_) {
    for (std::size_t r = 1; r < kUnpricedReasonCount; ++r) {
      OpenSeries(out, families[kUnpricedFamily].name, u->labels, kReasonLabel, kReasonPairs[r]);
      AppendTextValue(out, u->count[r].load(std::memory_order_relaxed));
      out += '\n';
    }
  }

  std::vector<std::uint64_t> counts;
  for (std::size_t i = 0; i < kRequestHistograms.size(); ++i) {
    const RequestHistogram& h = kRequestHistograms[i];
    WriteHead(out, h.metric, h.help, "histogram");
    const std::string count_name = std::string(h.metric) + "_count";
    const std::string sum_name = std::string(h.metric) + "_sum";
    const std::string bucket_name = std::string(h.metric) + "_bucket";
    const std::size_t first = histogram_offsets_[i];
    const std::size_t n = histogram_offsets_[i + 1] - first;
    counts.resize(n);
    for (const HistogramSet* set : histogram_order_) {
      // One read of each bucket: _count and the +Inf bucket are the same total.
      std::uint64_t total = 0;
      for (std::size_t k = 0; k < n; ++k) total += counts[k] = set->counts[first + k].load(std::memory_order_relaxed);
      OpenSeries(out, count_name, set->labels);
      AppendTextValue(out, total);
      out += '\n';
      OpenSeries(out, sum_name, set->labels);
      AppendTextValue(out, set->sums[i].load(std::memory_order_relaxed));
      out += '\n';
      std::uint64_t cumulative = 0;
      for (std::size_t k = 0; k < n; ++k) {
        cumulative += counts[k];
        out += bucket_name;
        out += '{';
        out += set->labels.text;
        out += "le=\"";
        out += le_text_[i][k];
        out += "\"} ";
        AppendTextValue(out, cumulative);
        out += '\n';
      }
    }
  }
}

}  // namespace llmcost
