#include "transport/prometheus_spend.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>

namespace llmcost {

PrometheusSpend::PrometheusSpend(std::string url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    throw std::invalid_argument("--budgets.prometheus-url: '" + url + "' is not an http:// or https:// URL");
  }
  const auto path = url.find('/', scheme_end + 3);
  scheme_host_ = url.substr(0, path);
  prefix_ = path == std::string::npos ? "" : url.substr(path);
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  if (scheme_host_.size() <= scheme_end + 3) throw std::invalid_argument("--budgets.prometheus-url: no host in '" + url + "'");
}

std::optional<PrometheusSpend::Sums> PrometheusSpend::ParseQueryResult(const std::string& body, std::string* error,
                                                                      const std::string& first, const std::string& second) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.value("status", "") != "success") {
      *error = "query status " + j.value("status", "missing") + ": " + j.value("error", "");
      return std::nullopt;
    }
    Sums sums;
    for (const auto& r : j.at("data").at("result")) {
      const std::string value = r.at("value").at(1).get<std::string>();
      const double usd = std::stod(value);
      if (!std::isfinite(usd) || usd < 0) continue;
      sums[{r.at("metric").value(first, ""), r.at("metric").value(second, "")}] = std::llround(usd * 1e12);
    }
    return sums;
  } catch (const std::exception& e) {
    *error = std::string("unreadable query answer: ") + e.what();
    return std::nullopt;
  }
}

PrometheusSpend::Answer PrometheusSpend::Get() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (fetched_.time_since_epoch().count() != 0 && now - fetched_ < std::chrono::seconds(kCacheSeconds)) return cached_;
  cached_ = Query("sum by (scope, period) (llm_spend_usd)", "scope", "period");
  fetched_ = now;
  return cached_;
}

PrometheusSpend::Answer PrometheusSpend::Query(const std::string& promql, const std::string& first, const std::string& second) {
  Answer a;
  httplib::Client client(scheme_host_);
  client.set_connection_timeout(kTimeout);
  client.set_read_timeout(kTimeout);
  client.set_write_timeout(kTimeout);
  const std::string path = prefix_ + "/api/v1/query?query=" + httplib::detail::encode_query_param(promql);
  if (auto res = client.Get(path)) {
    if (res->status == 200) {
      a.sums = ParseQueryResult(res->body, &a.error, first, second);
    } else {
      a.error = "query answered HTTP " + std::to_string(res->status);
    }
  } else {
    a.error = "query failed: " + httplib::to_string(res.error());
  }
  return a;
}

}  // namespace llmcost
