#include "reconcile/billing_report.h"

#include <nlohmann/json.hpp>

#include "event/event_time.h"

namespace llmcost {
namespace {

using json = nlohmann::json;
constexpr int kCentScaleDigits = 10;  // 1 cent = 1e10 pUSD

struct Fail {
  ReportError error;
  std::string detail;
};

const json& Field(const json& obj, const char* name, const std::string& path) {
  if (!obj.is_object() || !obj.contains(name)) throw Fail{ReportError::kMissingField, path + "." + name};
  return obj.at(name);
}

std::int64_t Time(const json& obj, const char* name, const std::string& path) {
  const json& v = Field(obj, name, path);
  if (!v.is_string()) throw Fail{ReportError::kBadTime, path + "." + name};
  const auto t = ParseRfc3339(v.get_ref<const std::string&>());
  if (!t) throw Fail{ReportError::kBadTime, path + "." + name};
  return *t;
}

std::string Model(const json& obj, const std::string& path) {
  if (!obj.is_object() || !obj.contains("model") || obj.at("model").is_null()) return std::string(kUnattributedModel);
  const json& m = obj.at("model");
  if (!m.is_string() || m.get_ref<const std::string&>().empty()) throw Fail{ReportError::kMissingField, path + ".model"};
  return m.get<std::string>();
}

// {"amount": "..", "currency": "USD"}
PicoUsd Amount(const json& obj, const std::string& path) {
  const json& a = Field(obj, "amount", path);
  if (!a.is_string()) throw Fail{ReportError::kBadAmount, path + ".amount"};
  const auto p = ParseCentsToPico(a.get_ref<const std::string&>());
  if (!p) throw Fail{ReportError::kBadAmount, path + ".amount"};
  if (obj.contains("currency") && !obj.at("currency").is_null() && obj.at("currency") != "USD") {
    throw Fail{ReportError::kBadCurrency, path + ".currency"};
  }
  return *p;
}

std::uint64_t Count(const json& obj, const char* name, const std::string& path) {
  if (!obj.is_object() || !obj.contains(name) || obj.at(name).is_null()) return 0;
  const json& v = obj.at(name);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    throw Fail{ReportError::kMissingField, path + "." + name};
  }
  return v.get<std::uint64_t>();
}

template <typename Row, typename EachBucket>
ReportPage<Row> ParsePage(std::string_view body, EachBucket&& each) {
  ReportPage<Row> page;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j.at("data").is_array()) {
    page.error = ReportError::kMalformedJson;
    page.detail = "data";
    return page;
  }
  try {
    const json& data = j.at("data");
    for (std::size_t i = 0; i < data.size(); ++i) each(data[i], "data[" + std::to_string(i) + "]", page.rows);
    const json& more = Field(j, "has_more", "");
    if (!more.is_boolean()) throw Fail{ReportError::kMissingField, "has_more"};
    page.has_more = more.get<bool>();
    if (j.contains("next_page") && j.at("next_page").is_string()) page.next_page = j.at("next_page").get<std::string>();
    if (page.has_more && page.next_page.empty()) throw Fail{ReportError::kMissingField, "next_page"};
  } catch (const Fail& f) {
    page.rows.clear();
    page.error = f.error;
    page.detail = f.detail;
  } catch (const std::exception& e) {  // a JSON type the checks above did not foresee: refused, never thrown on
    page.rows.clear();
    page.error = ReportError::kMissingField;
    page.detail = e.what();
  }
  return page;
}

}  // namespace

std::string_view ReportErrorName(ReportError e) {
  switch (e) {
    case ReportError::kNone: return "none";
    case ReportError::kMalformedJson: return "malformed_json";
    case ReportError::kMissingField: return "missing_field";
    case ReportError::kBadAmount: return "bad_amount";
    case ReportError::kBadCurrency: return "bad_currency";
    case ReportError::kBadTime: return "bad_time";
  }
  return "unknown";
}

std::string_view CostSourceName(CostSource s) { return s == CostSource::kAnalytics ? "analytics" : "cost_report"; }

std::optional<PicoUsd> ParseCentsToPico(std::string_view cents) { return ParseScaledDecimal(cents, kCentScaleDigits); }

ReportPage<BilledCost> ParseAnalyticsCostPage(std::string_view body) {
  return ParsePage<BilledCost>(body, [](const json& row, const std::string& path, std::vector<BilledCost>& out) {
    BilledCost c;
    c.start_unix = Time(row, "starting_at", path);
    c.end_unix = Time(row, "ending_at", path);
    const json& group = row.contains("group") && row.at("group").is_object() ? row.at("group") : json::object();
    c.model = Model(group, path + ".group");
    c.pusd = Amount(Field(row, "cost", path), path + ".cost");
    out.push_back(std::move(c));
  });
}

namespace {

// A legacy report bucket: its time range and each of its `results`, with the path
// of each result for error messages (both legacy reports share this shape).
template <typename Fn>
void ForEachResult(const json& bucket, const std::string& path, Fn&& fn) {
  const std::int64_t start = Time(bucket, "starting_at", path);
  const std::int64_t end = Time(bucket, "ending_at", path);
  const json& results = Field(bucket, "results", path);
  if (!results.is_array()) throw Fail{ReportError::kMissingField, path + ".results"};
  for (std::size_t i = 0; i < results.size(); ++i) {
    fn(start, end, results[i], path + ".results[" + std::to_string(i) + "]");
  }
}

}  // namespace

ReportPage<BilledCost> ParseLegacyCostReportPage(std::string_view body) {
  return ParsePage<BilledCost>(body, [](const json& bucket, const std::string& path, std::vector<BilledCost>& out) {
    ForEachResult(bucket, path, [&](std::int64_t start, std::int64_t end, const json& r, const std::string& rp) {
      out.push_back({start, end, Model(r, rp), Amount(r, rp)});
    });
  });
}

ReportPage<BilledTokens> ParseLegacyUsageReportPage(std::string_view body) {
  return ParsePage<BilledTokens>(body, [](const json& bucket, const std::string& path, std::vector<BilledTokens>& out) {
    ForEachResult(bucket, path, [&](std::int64_t start, std::int64_t end, const json& r, const std::string& rp) {
      BilledTokens t;
      t.start_unix = start;
      t.end_unix = end;
      t.model = Model(r, rp);
      t.uncached_input = Count(r, "uncached_input_tokens", rp);
      t.output = Count(r, "output_tokens", rp);
      t.cache_read = Count(r, "cache_read_input_tokens", rp);
      if (r.contains("cache_creation") && r.at("cache_creation").is_object()) {
        t.cache_write_5m = Count(r.at("cache_creation"), "ephemeral_5m_input_tokens", rp + ".cache_creation");
        t.cache_write_1h = Count(r.at("cache_creation"), "ephemeral_1h_input_tokens", rp + ".cache_creation");
      }
      out.push_back(std::move(t));
    });
  });
}

std::string ParseApiErrorType(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("type", "") != "error") return "";
  if (!j.contains("error") || !j.at("error").is_object()) return "";
  const json& e = j.at("error");
  return e.contains("type") && e.at("type").is_string() ? e.at("type").get<std::string>() : "";
}

}  // namespace llmcost
