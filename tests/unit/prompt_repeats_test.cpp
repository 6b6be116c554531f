#include "record/prompt_repeats.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "config/exporter_config.h"
#include "pricing/price_table.h"
#include "pricing/pricer.h"

namespace llmcost {
namespace {

// claude-sonnet-4 at $3 input per million tokens: 2000 input tokens = 2000 x 3e6 pico.
constexpr PicoUsd kPerRequest = PicoUsd{2000} * 3'000'000;

struct World {
  explicit World(ExporterConfig c = {}) : config(std::move(c)), prompts(registry, config, [this] { return now_ms; }) {}
  ExporterConfig config;
  prometheus::Registry registry;
  std::int64_t now_ms = 5'000'000;
  PromptRepeats prompts;
  std::shared_ptr<const PriceTable> table = PriceTable::Embedded();

  void Send(const std::string& hash, const std::string& feature = "chat") {
    UsageEvent e;
    e.model_id = "claude-sonnet-4";
    e.tokens[TokenType::kInput] = 2000;
    e.labels = {{"feature", feature}};
    e.prompt_hash = hash;
    prompts.Record(e, PriceRequest(e, *table, 1'790'000'000));
  }
  double Value(const std::string& name, const std::string& feature) {
    for (const auto& family : registry.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        if (m.label.empty() || m.label[0].value != feature) continue;
        return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
    return -1;
  }
  double Repeats(const std::string& feature = "chat") { return Value("llm_repeated_prompt_requests_total", feature); }
};

TEST(PromptRepeats, TheSixthIdenticalPromptWithinTheWindowIsTheFirstRepeat) {
  World w;
  w.Send("h1");
  w.prompts.Refresh();  // the feature's series shown at zero
  for (int i = 2; i <= 5; ++i) {
    w.now_ms += 2000;
    w.Send("h1");
  }
  EXPECT_EQ(w.Repeats(), 0);
  w.now_ms += 2000;
  w.Send("h1");  // the 6th within 10 s
  EXPECT_EQ(w.Repeats(), 1);
  for (int i = 0; i < 4; ++i) w.Send("h1");  // 10 in all
  EXPECT_EQ(w.Repeats(), 5);
  EXPECT_DOUBLE_EQ(w.Value("llm_repeated_prompt_cost_usd_total", "chat"), 5 * kPerRequest / 1e12);
  w.Send("other");  // another hash is not a repeat
  EXPECT_EQ(w.Repeats(), 5);
  w.prompts.Refresh();
  EXPECT_EQ(w.Value("llm_prompt_max_repeats", "chat"), 10);
}

TEST(PromptRepeats, TheWindowSlidesAtItsEdge) {
  World w;
  w.Send("h");
  w.prompts.Refresh();
  for (int i = 1; i < 5; ++i) w.Send("h");  // 5 at t0
  // 60 s later the five are out of the window (a time exactly window old is out).
  w.now_ms += 60'000;
  w.Send("h");
  EXPECT_EQ(w.Repeats(), 0);
  // 59.999 s after the 6th... the 6th and four more are in: 5 in window -> repeat.
  for (int i = 0; i < 4; ++i) w.Send("h");
  w.now_ms += 59'999;
  w.Send("h");
  EXPECT_EQ(w.Repeats(), 1);
  w.now_ms += 1;  // now the first five of the second burst are exactly 60 s old: out
  w.Send("h");
  EXPECT_EQ(w.Repeats(), 1);
  w.prompts.Refresh();
  EXPECT_EQ(w.Value("llm_prompt_max_repeats", "chat"), 2);
}

TEST(PromptRepeats, HashesArePerFeatureAndBounded) {
  ExporterConfig c;
  c.prompts.max_hashes = 3;
  World w(c);
  w.Send("h", "a");
  w.Send("h", "b");
  w.prompts.Refresh();
  for (int i = 0; i < 5; ++i) w.Send("h", "a");
  EXPECT_EQ(w.Repeats("a"), 1);  // 6 in a
  EXPECT_EQ(w.Repeats("b"), 0);  // 1 in b
  w.Send("x", "a");
  w.Send("y", "a");  // table full (h/a, h/b, x/a): not tracked, counted
  EXPECT_EQ(w.prompts.hashes(), 3u);
  for (const auto& family : w.registry.Collect()) {
    if (family.name == "llm_prompt_hashes_dropped_total") EXPECT_EQ(family.metric.at(0).counter.value, 1);
  }
  w.now_ms += 61'000;
  w.Send("y", "a");  // expired hashes are swept to make room
  EXPECT_EQ(w.prompts.hashes(), 1u);
}

TEST(PromptRepeats, ANewFeaturesRepeatsWaitForOneScrapeAtZero) {
  World w;
  for (int i = 0; i < 7; ++i) w.Send("h", "fresh");
  EXPECT_EQ(w.Repeats("fresh"), 0);
  w.prompts.Refresh();
  EXPECT_EQ(w.Repeats("fresh"), 0);
  w.prompts.Refresh();
  EXPECT_EQ(w.Repeats("fresh"), 2);
  EXPECT_DOUBLE_EQ(w.Value("llm_repeated_prompt_cost_usd_total", "fresh"), 2 * kPerRequest / 1e12);
}

TEST(PromptRepeats, ConfigSection) {
  const auto c = ExporterConfig::Parse("prompts: {window_seconds: 30, max_repeats: 3, max_hashes: 10}\n");
  EXPECT_EQ(c.prompts.window_seconds, 30);
  EXPECT_EQ(c.prompts.max_repeats, 3u);
  EXPECT_EQ(c.prompts.max_hashes, 10u);
  EXPECT_THROW(ExporterConfig::Parse("prompts: {max_repeats: 0}\n"), ConfigError);
}

}  // namespace
}  // namespace llmcost
