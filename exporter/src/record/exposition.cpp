#include "record/exposition.h"

#include <prometheus/text_serializer.h>

#include <malloc.h>
#include <zlib.h>

#include <cctype>

#include <sstream>

#include "record/process_metrics.h"

namespace llmcost {

Exposition::Exposition(std::shared_ptr<prometheus::Registry> registry, RequestMetrics& request_metrics)
    : registry_(std::move(registry)), request_metrics_(request_metrics) {}

std::string Exposition::Render() {
  std::vector<prometheus::MetricFamily> computed;
  for (const auto& collect : collectors_) {
    for (auto& f : collect()) computed.push_back(std::move(f));
  }
  const std::uint64_t token = request_metrics_.BeginScrape();
  std::string text;
  // The last scrape's size and a little: the string is not regrown while the
  // bulk of it (the request series) is written.
  const std::size_t expected = last_size_.load(std::memory_order_relaxed);
  text.reserve(expected + expected / 16 + 4096);
  request_metrics_.WriteText(text);
  // The exporter's own metrics (a few hundred series) through prometheus-cpp.
  auto families = registry_->Collect();
  for (auto& f : computed) families.push_back(std::move(f));
  for (auto& f : CollectProcessMetrics()) families.push_back(std::move(f));
  {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    text += std::move(out).str();
  }
  // Only now, with the zero values rendered, may new label sets receive their events.
  request_metrics_.FinishScrape(token);
  last_size_.store(text.size(), std::memory_order_relaxed);
  families.clear();
  families.shrink_to_fit();
  // Hand the scrape's temporary pages back, so that RSS tracks the live series, not
  // the last scrape.
  malloc_trim(0);
  return text;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semi));
    if (!EqualsIgnoreCase(coding, "gzip") && coding != "*") continue;
    bool refused = false;  // q=0 (RFC 9110 12.5.3): "not acceptable"
    if (semi != std::string_view::npos) {
      const std::string_view param = Trim(item.substr(semi + 1));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        const std::string_view q = Trim(param.substr(2));
        refused = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (!refused) return true;
  }
  return false;
}

std::string GzipText(std::string_view text) {
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip framing
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace llmcost
