#include "storage/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llmcost {
namespace {

using nlohmann::json;

constexpr std::string_view kMagic = "LLMCOSTSTATE";
constexpr std::size_t kIdBytes = 16;  // int64 seen time + uint64 hash, little endian

void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetU64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

json HistogramsToJson(const HistogramSetState& h) {
  json hists = json::array();
  for (const auto& one : h.histograms) hists.push_back({{"buckets", one.bucket_counts}, {"sum", one.sum}});
  return {{"values", h.values}, {"histograms", hists}};
}

json ToJson(const MetricsState& s) {
  const auto& r = s.requests;
  json requests = json::array(), groups = json::array(), unpriced = json::array(), histograms = json::array();
  for (const auto& x : r.requests) requests.push_back({{"values", x.values}, {"status", x.status}, {"count", x.count}});
  for (const auto& g : r.groups) {
    groups.push_back({{"values", g.values}, {"tokens", g.tokens}, {"cost", g.cost},
                      {"cache_savings", g.cache_savings}, {"cache_write_premium", g.cache_write_premium}});
  }
  for (const auto& u : r.unpriced) {
    unpriced.push_back({{"provider", u.provider}, {"model", u.model}, {"reason", u.reason}, {"count", u.count}});
  }
  for (const auto& h : r.histogram_sets) histograms.push_back(HistogramsToJson(h));
  json bounds = json::array();
  for (const auto& b : r.bucket_bounds) bounds.push_back(b);
  const auto& e = s.exporter;
  return {{"attribution_labels", r.attribution_labels},
          {"histogram_label", r.histogram_label},
          {"bucket_bounds", bounds},
          {"requests", requests},
          {"groups", groups},
          {"unpriced", unpriced},
          {"histogram_sets", histograms},
          {"exporter", {{"events", e.events}, {"rejected", e.rejected}, {"label_overflow", e.label_overflow}}}};
}

template <typename T, std::size_t N>
void ReadArray(const json& j, std::array<T, N>& out) {
  // Shorter is an older build's file: enums only grow at the end, the rest stays zero.
  if (!j.is_array() || j.size() > N) throw std::runtime_error("array of wrong size");
  for (std::size_t i = 0; i < j.size(); ++i) out[i] = j[i].get<T>();
}

MetricsState FromJson(const json& j) {
  MetricsState s;
  auto& r = s.requests;
  r.attribution_labels = j.at("attribution_labels").get<std::vector<std::string>>();
  r.histogram_label = j.at("histogram_label").get<std::string>();
  const json& bounds = j.at("bucket_bounds");
  if (!bounds.is_array() || bounds.size() != kRequestHistogramCount) throw std::runtime_error("bucket_bounds");
  for (std::size_t i = 0; i < kRequestHistogramCount; ++i) r.bucket_bounds[i] = bounds[i].get<std::vector<double>>();
  for (const auto& x : j.at("requests")) {
    r.requests.push_back({x.at("values").get<std::vector<std::string>>(), x.at("status").get<std::string>(),
                          x.at("count").get<double>()});
  }
  for (const auto& x : j.at("groups")) {
    SeriesGroupState g;
    g.values = x.at("values").get<std::vector<std::string>>();
    ReadArray(x.at("tokens"), g.tokens);
    ReadArray(x.at("cost"), g.cost);
    g.cache_savings = x.at("cache_savings").get<double>();
    g.cache_write_premium = x.at("cache_write_premium").get<double>();
    r.groups.push_back(std::move(g));
  }
  for (const auto& x : j.at("unpriced")) {
    r.unpriced.push_back({x.at("provider").get<std::string>(), x.at("model").get<std::string>(),
                          x.at("reason").get<std::string>(), x.at("count").get<double>()});
  }
  for (const auto& x : j.at("histogram_sets")) {
    HistogramSetState h;
    h.values = x.at("values").get<std::vector<std::string>>();
    const json& hs = x.at("histograms");
    if (!hs.is_array() || hs.size() != kRequestHistogramCount) throw std::runtime_error("histograms");
    for (std::size_t i = 0; i < kRequestHistogramCount; ++i) {
      h.histograms[i].bucket_counts = hs[i].at("buckets").get<std::vector<double>>();
      h.histograms[i].sum = hs[i].at("sum").get<double>();
    }
    r.histogram_sets.push_back(std::move(h));
  }
  const json& e = j.at("exporter");
  ReadArray(e.at("events")[0], s.exporter.events[0]);
  ReadArray(e.at("events")[1], s.exporter.events[1]);
  ReadArray(e.at("rejected")[0], s.exporter.rejected[0]);
  ReadArray(e.at("rejected")[1], s.exporter.rejected[1]);
  s.exporter.label_overflow = e.at("label_overflow").get<std::map<std::string, double>>();
  return s;
}

[[noreturn]] void Fail(const std::string& step, const std::string& path) {
  throw std::runtime_error(step + " " + path + ": " + std::strerror(errno));
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("write", path);
    }
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string EncodeState(const MetricsState& state) {
  std::string body = ToJson(state).dump();
  const std::size_t json_size = body.size();
  for (const auto& [seen, hash] : state.request_ids) {
    PutU64(body, static_cast<std::uint64_t>(seen));
    PutU64(body, hash);
  }
  const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  char header[128];
  std::snprintf(header, sizeof header, "%s %d %08lx %zu %zu\n", kMagic.data(), kStateFormatVersion,
                static_cast<unsigned long>(crc), json_size, state.request_ids.size());
  return header + body;
}

std::optional<MetricsState> DecodeState(std::string_view bytes, std::string& error) {
  const auto newline = bytes.find('\n');
  if (newline == std::string_view::npos || newline > 120) {
    error = "no header line";
    return std::nullopt;
  }
  const std::string header(bytes.substr(0, newline));
  char magic[16] = {};
  int version = 0;
  unsigned long crc = 0;
  std::size_t json_size = 0, ids = 0;
  if (std::sscanf(header.c_str(), "%15s %d %lx %zu %zu", magic, &version, &crc, &json_size, &ids) != 5 ||
      kMagic != magic) {
    error = "not a llm-cost-exporter state file";
    return std::nullopt;
  }
  if (version != kStateFormatVersion) {
    error = "format version " + std::to_string(version) + ", this exporter reads " + std::to_string(kStateFormatVersion);
    return std::nullopt;
  }
  const std::string_view body = bytes.substr(newline + 1);
  if (ids > body.size() / kIdBytes || body.size() != json_size + ids * kIdBytes) {
    error = "truncated: " + std::to_string(body.size()) + " bytes, header says " +
            std::to_string(json_size + ids * kIdBytes);
    return std::nullopt;
  }
  const auto actual = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  if (actual != crc) {
    error = "checksum mismatch";
    return std::nullopt;
  }
  try {
    MetricsState s = FromJson(json::parse(body.substr(0, json_size)));
    const auto* p = reinterpret_cast<const unsigned char*>(body.data() + json_size);
    s.request_ids.reserve(ids);
    for (std::size_t i = 0; i < ids; ++i, p += kIdBytes) {
      s.request_ids.emplace_back(static_cast<std::int64_t>(GetU64(p)), GetU64(p + 8));
    }
    return s;
  } catch (const std::exception& e) {
    error = std::string("malformed content: ") + e.what();
    return std::nullopt;
  }
}

StateFile::StateFile(std::string directory)
    : directory_(std::move(directory)), path_(directory_ + "/llm-cost-exporter.state") {}

StateFile::Loaded StateFile::Load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {"none", std::nullopt, ""};
  std::stringstream buf;
  buf << in.rdbuf();
  std::string error;
  auto state = DecodeState(buf.str(), error);
  if (state) return {"restored", std::move(state), ""};
  const std::string moved = SetAside("corrupt");
  return {"corrupt", std::nullopt, error + "; moved to " + moved};
}

std::string StateFile::SetAside(const std::string& why) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string target = path_ + "." + why + "-" + std::to_string(now);
  if (::rename(path_.c_str(), target.c_str()) != 0) return "";
  return target;
}

void StateFile::Save(const MetricsState& state) {
  ::mkdir(directory_.c_str(), 0700);  // exists already in the common case
  const std::string data = EncodeState(state);
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Fail("open", tmp);
  try {
    WriteAll(fd, data, tmp);
    if (::fsync(fd) != 0) Fail("fsync", tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) Fail("close", tmp);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) Fail("rename", tmp);
  // The rename is durable only once the directory entry is.
  const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace llmcost
