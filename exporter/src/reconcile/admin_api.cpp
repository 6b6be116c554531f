#include "reconcile/admin_api.h"

#include <httplib.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "record/spend_ledger.h"  // FormatUtc

namespace llmcost {
namespace {

std::string Param(std::string_view name, const std::string& value) {
  return httplib::detail::encode_query_param(std::string(name)) + "=" + httplib::detail::encode_query_param(value);
}

std::string Query(std::int64_t from, std::int64_t to) {
  return Param("starting_at", FormatUtc(from)) + "&" + Param("ending_at", FormatUtc(to));
}

std::string PageParam(const std::string& page) { return page.empty() ? "" : "&" + Param("page", page); }

// Retry-After in whole seconds (the HTTP-date form is not used by the API as far
// as its docs show; an unparseable value falls back to backoff).
std::optional<long> RetryAfterSeconds(const httplib::Result& res) {
  if (!res->has_header("retry-after")) return std::nullopt;
  const std::string v = res->get_header_value("retry-after");
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stol(v);
}

}  // namespace

AdminApi::AdminApi(AdminApiOptions options) : options_(std::move(options)) {
  const std::string& u = options_.base_url;
  const auto scheme_end = u.find("://");
  if (scheme_end == std::string::npos || (u.compare(0, scheme_end, "http") != 0 && u.compare(0, scheme_end, "https") != 0) ||
      u.size() <= scheme_end + 3 || u.find('/', scheme_end + 3) != std::string::npos) {
    throw std::invalid_argument("--reconcile.api-url: '" + u + "' is not http(s)://host[:port] (no path)");
  }
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) {
      std::this_thread::sleep_for(d);
      return true;
    };
  }
}

std::string AdminApi::AnalyticsCostTarget(std::int64_t from, std::int64_t to, std::string_view width, const std::string& page) {
  return "/v1/organizations/analytics/cost?" + Query(from, to) + "&" + Param("time_bucket_width", std::string(width)) +
         "&" + Param("group_by[]", "model") + PageParam(page);
}

std::string AdminApi::LegacyCostTarget(std::int64_t from, std::int64_t to, const std::string& page) {
  // The cost report names the model only when grouped by description; limit 31 is its documented maximum.
  return "/v1/organizations/cost_report?" + Query(from, to) + "&" + Param("bucket_width", "1d") + "&" +
         Param("group_by[]", "description") + "&" + Param("limit", "31") + PageParam(page);
}

std::string AdminApi::LegacyUsageTarget(std::int64_t from, std::int64_t to, std::string_view width, const std::string& page) {
  const std::string limit = width == "1h" ? "168" : "31";  // the documented maxima
  return "/v1/organizations/usage_report/messages?" + Query(from, to) + "&" + Param("bucket_width", std::string(width)) +
         "&" + Param("group_by[]", "model") + "&" + Param("limit", limit) + PageParam(page);
}

AdminApi::Response AdminApi::Get(const std::string& target, bool beta, int& retries, PollResult& failure, std::string& detail) {
  httplib::Client client(options_.base_url);
  client.set_follow_location(false);  // the key goes to the configured URL and nowhere else
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(options_.timeout);
  client.set_connection_timeout(secs);
  client.set_read_timeout(secs);
  client.set_write_timeout(secs);
  httplib::Headers headers = {{"x-api-key", options_.admin_key}, {"anthropic-version", std::string(kAnthropicVersion)}};
  if (beta) headers.emplace("anthropic-beta", std::string(kAnalyticsBeta));
  std::chrono::milliseconds backoff{1000};
  for (int attempt = 1;; ++attempt) {
    auto res = client.Get(target, headers);
    Response r;
    std::optional<std::chrono::milliseconds> wait;
    if (!res) {
      failure = PollResult::kTransportError;
      detail = "request failed: " + httplib::to_string(res.error());
      wait = backoff;
    } else {
      r.status = res->status;
      r.body = res->body;
      if (res->status == 429) {
        failure = PollResult::kRateLimited;
        detail = "HTTP 429";
        if (const auto s = RetryAfterSeconds(res)) {
          if (std::chrono::seconds(*s) > options_.max_retry_after) {
            detail = "HTTP 429, Retry-After " + std::to_string(*s) + "s is beyond the limit";
            return r;
          }
          wait = std::chrono::seconds(*s);
        } else {
          wait = backoff;
        }
      } else if (res->status >= 500) {
        failure = PollResult::kServerError;
        detail = "HTTP " + std::to_string(res->status);
        wait = backoff;
      } else {
        return r;  // 2xx and the other 4xx: the caller decides
      }
    }
    if (attempt >= options_.max_attempts) return r;
    ++retries;
    if (!options_.sleep(*wait)) return r;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(60'000));
  }
}

template <typename Row, typename Parse, typename Target>
Fetched<Row> AdminApi::Pages(Target&& target, bool beta, Parse&& parse) {
  Fetched<Row> out;
  std::string page;
  for (;;) {
    if (out.pages >= options_.max_pages) {
      out.result = PollResult::kBadResponse;
      out.detail = "more than " + std::to_string(options_.max_pages) + " pages";
      out.rows.clear();
      return out;
    }
    PollResult failure = PollResult::kSuccess;
    std::string detail;
    const Response r = Get(target(page), beta, out.retries, failure, detail);
    ++out.pages;
    if (r.status != 200) {
      if (r.status == 401 || r.status == 403) {
        out.result = PollResult::kUnauthorized;
      } else if (r.status == 0 || r.status == 429 || r.status >= 500) {
        out.result = failure;
      } else {
        out.result = PollResult::kHttpError;
      }
      out.detail = r.status == 0 || r.status == 429 || r.status >= 500 ? detail : "HTTP " + std::to_string(r.status);
      if (const std::string type = ParseApiErrorType(r.body); !type.empty()) out.detail += " (" + type + ")";
      out.rows.clear();
      return out;
    }
    auto parsed = parse(r.body);
    if (!parsed.ok()) {
      out.result = PollResult::kBadResponse;
      out.detail = std::string(ReportErrorName(parsed.error)) + ": " + parsed.detail;
      out.rows.clear();
      return out;
    }
    out.rows.insert(out.rows.end(), std::make_move_iterator(parsed.rows.begin()), std::make_move_iterator(parsed.rows.end()));
    if (!parsed.has_more) return out;
    page = parsed.next_page;
  }
}

Fetched<BilledCost> AdminApi::Cost(std::int64_t from, std::int64_t to, std::string_view width) {
  auto analytics = Pages<BilledCost>([&](const std::string& page) { return AnalyticsCostTarget(from, to, width, page); },
                                     true, ParseAnalyticsCostPage);
  // The beta refused: what that answer looks like is not documented; any 4xx
  // other than 401/403 (the key) and 429 (rate) on the beta endpoint falls back to
  // the legacy report, which every Admin key can read.
  if (analytics.result != PollResult::kHttpError) return analytics;
  auto legacy = Pages<BilledCost>([&](const std::string& page) { return LegacyCostTarget(from, to, page); }, false,
                                  ParseLegacyCostReportPage);
  legacy.source = CostSource::kLegacyCostReport;
  legacy.retries += analytics.retries;
  legacy.pages += analytics.pages;
  if (legacy.ok()) legacy.detail = "analytics refused: " + analytics.detail;
  return legacy;
}

Fetched<BilledTokens> AdminApi::Usage(std::int64_t from, std::int64_t to, std::string_view width) {
  auto f = Pages<BilledTokens>([&](const std::string& page) { return LegacyUsageTarget(from, to, width, page); }, false,
                               ParseLegacyUsageReportPage);
  f.source = CostSource::kLegacyCostReport;
  return f;
}

}  // namespace llmcost
