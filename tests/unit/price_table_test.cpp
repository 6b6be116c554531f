#include "pricing/price_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "pricing/price_book.h"

namespace llmcost {
namespace {

const char* kMinimal = R"(
as_of: "2026-01-02"
source: test
models:
  - model: m-one
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1.25", cache_write_1h: "2", cache_read: "0.1", output: "5"}
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

void ExpectError(const std::string& yaml, const std::string& needle) {
  try {
    PriceTable::Parse(yaml, "prices.yml");
    ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
  } catch (const PriceTableError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PriceTable, LoadsAndReportsAsOf) {
  const auto t = PriceTable::Parse(kMinimal);
  EXPECT_EQ(t->size(), 1u);
  EXPECT_EQ(t->as_of(), "2026-01-02");
  EXPECT_EQ(t->as_of_unix_seconds(), 1767312000);  // 2026-01-02T00:00:00Z
  ASSERT_NE(t->Find("anthropic", "m-one"), nullptr);
  EXPECT_EQ(t->Find("anthropic", "m-one")->Latest().rates[TokenType::kCacheRead], 100'000);
  EXPECT_EQ(t->batch_factor(), 500'000);
}

TEST(PriceTable, RejectsBadFilesWithTheFieldAtFault) {
  ExpectError("[1, 2", "yaml");
  ExpectError(Replace(kMinimal, "output: \"5\"", "output: \"-5\""), "usd_per_mtok.output");
  ExpectError(Replace(kMinimal, "output: \"5\"", "ouput: \"5\""), "unknown key 'ouput'");
  ExpectError(Replace(kMinimal, "cache_read: \"0.1\", ", ""), "cache_read");
  ExpectError(Replace(kMinimal, "as_of: \"2026-01-02\"\nsource", "as_of: \"yesterday\"\nsource"), "YYYY-MM-DD");
  ExpectError(Replace(kMinimal, "model: m-one", "model: m-one-20250101"), "canonical");
  ExpectError(std::string(kMinimal) + "aliases: {m-two: m-nothing}\n", "has no price");
  ExpectError(std::string(kMinimal) + R"(  - model: m-one
    as_of: "2026-01-02"
    source: test
    usd_per_mtok: {input: "1", cache_write_5m: "1", cache_write_1h: "1", cache_read: "1", output: "1"}
)",
              "duplicate");
  ExpectError("as_of: \"2026-01-02\"\nsource: x\nmodels: []\n", "non-empty");
  // 100,000,000,110 USD per 1000 searches is 1e17 micro-USD: x1000 would overflow.
  ExpectError(std::string(kMinimal) + "web_search_usd_per_1000: \"100000000110\"\n", "web_search_usd_per_1000");
  EXPECT_THROW(PriceTable::LoadFile("/nonexistent/prices.yml"), PriceTableError);
  // Dated changes: in order, each naming a date and a source, each changing something.
  const std::string change = "    changes:\n      - from: \"2026-10-07\"\n        source: s\n        fast_factor: \"2\"\n";
  ExpectError(std::string(kMinimal) + change + "      - from: \"2026-10-01\"\n        source: s\n        fast_factor: none\n",
              "models[0] (m-one).changes[1].from: '2026-10-01' is not after");
  ExpectError(std::string(kMinimal) + "    changes:\n      - from: \"2026-10-07\"\n        source: s\n",
              "changes[0]: a change must set at least one rate or factor");
  ExpectError(std::string(kMinimal) + "    changes:\n      - from: \"next week\"\n        source: s\n        fast_factor: \"2\"\n",
              "changes[0].from");
  ExpectError(std::string(kMinimal) +
                  "    prompt_tiers:\n      - above_prompt_tokens: 200\n        usd_per_mtok: {input: \"1\", "
                  "cache_write_5m: \"1\", cache_write_1h: \"1\", cache_read: \"1\", output: \"1\"}\n"
                  "      - above_prompt_tokens: 100\n        usd_per_mtok: {input: \"1\", cache_write_5m: \"1\", "
                  "cache_write_1h: \"1\", cache_read: \"1\", output: \"1\"}\n",
              "prompt_tiers[1].above_prompt_tokens: tiers must be in ascending order");
}

TEST(PriceTable, DatedChangesApplyFromTheirDateAndInheritTheRest) {
  const auto t = PriceTable::Parse(std::string(kMinimal) +
                                   "    fast_factor: \"2\"\n    changes:\n      - from: \"2026-10-07\"\n"
                                   "        source: cut\n        usd_per_mtok: {input: \"1\", cache_write_5m: "
                                   "\"1.25\", cache_write_1h: \"2\", cache_read: \"0.05\", output: \"5\"}\n"
                                   "      - from: \"2026-11-30\"\n        source: gone\n        fast_factor: none\n");
  const ModelPrice* m = t->Find("anthropic", "m-one");
  ASSERT_NE(m, nullptr);
  const std::int64_t oct7 = 1791331200;  // 2026-10-07T00:00:00Z
  EXPECT_EQ(m->At(oct7 - 1).rates[TokenType::kCacheRead], 100'000);
  EXPECT_EQ(m->At(oct7).rates[TokenType::kCacheRead], 50'000);
  EXPECT_EQ(m->At(oct7).fast_factor, 2'000'000);  // inherited
  EXPECT_FALSE(m->At(oct7 + 54 * 86400).fast_factor);  // removed 2026-11-30
  EXPECT_EQ(m->At(oct7 + 54 * 86400).rates[TokenType::kCacheRead], 50'000);
  EXPECT_EQ(t->rate_changes(), 2u);
}

TEST(PriceTable, EmbeddedTableIsTheShippedFile) {
  const auto embedded = PriceTable::Embedded();
  const auto file = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  EXPECT_EQ(embedded->origin(), "embedded");
  EXPECT_EQ(embedded->size(), file->size());
  EXPECT_EQ(embedded->as_of(), file->as_of());
  std::ifstream in(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(PriceTable::EmbeddedText(), text) << "the build embeds the file byte for byte";
}

TEST(PriceTable, ShippedFileLoadsWithEveryEntryDatedAndSourced) {
  const auto t = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  EXPECT_GE(t->size(), 17u);
  EXPECT_EQ(t->web_search_per_request(), 10'000'000'000);  // $0.01 in pUSD
  for (const char* m : {"claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5",
                        "claude-opus-5-5", "claude-sonnet-5", "claude-sonnet-5-5"}) {
    const ModelPrice* p = t->Find("anthropic", m);
    ASSERT_NE(p, nullptr) << m;
    EXPECT_EQ(p->Latest().us_inference_factor, 1'100'000) << m;
    EXPECT_FALSE(p->source.empty());
    EXPECT_FALSE(p->as_of.empty());
  }
  EXPECT_FALSE(t->Find("anthropic", "claude-sonnet-4-5")->Latest().us_inference_factor);
  EXPECT_FALSE(t->Find("anthropic", "claude-opus-4-6")->Latest().fast_factor);  // fast no longer exists
  EXPECT_EQ(t->Find("anthropic", "claude-opus-5-5")->Latest().fast_factor, 2'000'000);
  EXPECT_EQ(t->Find("anthropic", "claude-sonnet-4-5")->Latest().prompt_tiers.size(), 1u);
  EXPECT_EQ(t->Find("anthropic", "claude-sonnet-4")->Latest().prompt_tiers.size(), 1u);
  EXPECT_TRUE(t->Find("anthropic", "claude-sonnet-4-6")->Latest().prompt_tiers.empty());
  EXPECT_EQ(t->Find("anthropic", "claude-haiku-5-5")->Latest().prompt_tiers.at(0).above_prompt_tokens, 100'000u);
  for (const char* m : {"claude-opus-4-1", "claude-opus-4", "claude-3-opus", "claude-sonnet-4-5"}) {
    EXPECT_FALSE(t->Find("anthropic", m)->retired.empty()) << m << " is retired on the first-party API";
  }
  EXPECT_EQ(t->Find("anthropic", "claude-mythos-5-2"), nullptr) << "no published price: must stay unpriced";
}

// LookupModel is a per-thread memo of ResolveModel, ModelResolver::Shape and Find:
// whatever it remembers, it answers what they answer.
TEST(PriceTable, LookupModelAnswersAsResolveShapeAndFind) {
  const auto t = PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
  const char* ids[] = {"claude-sonnet-4-5-20250929", "Claude-Sonnet-4-5-20250929", "CLAUDE-SONNET-4-5-20250929",
                       "claude-sonnet-4-5-x", "Claude-Sonnet-4-5-X", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                       "US.Anthropic.Claude-Sonnet-4-5-20250929-V1:0", "global.anthropic.claude-haiku-4-5-20251001-v1:0",
                       "claude-opus-4-1@20250805", "claude-opus-4-0", "gpt-4o", "", "  "};
  for (int round = 0; round < 2; ++round) {  // the second round is answered from the memo
    for (const char* id : ids) {
      for (const char* provider : {"anthropic", "openai"}) {
        const ModelLookup& l = t->LookupModel(provider, id);
        EXPECT_EQ(l.model, t->ResolveModel(id)) << id;
        EXPECT_EQ(l.price, t->Find(provider, t->ResolveModel(id))) << provider << " " << id;
        const IdShape shape = ModelResolver::Shape(id);
        EXPECT_EQ(l.shape.platform, shape.platform) << id;
        EXPECT_EQ(l.shape.endpoint, shape.endpoint) << id;
      }
    }
  }
  // Case variants resolve as the lower-case id does, and near names stay unknown.
  EXPECT_EQ(t->LookupModel("anthropic", "CLAUDE-SONNET-4-5-20250929").price, t->Find("anthropic", "claude-sonnet-4-5"));
  EXPECT_NE(t->LookupModel("anthropic", "CLAUDE-SONNET-4-5-20250929").price, nullptr);
  EXPECT_EQ(t->LookupModel("anthropic", "Claude-Sonnet-4-5-X").price, nullptr);
  // The provider is part of what is remembered.
  EXPECT_EQ(t->LookupModel("openai", "claude-sonnet-4-5-20250929").price, nullptr);
}

// A reload builds another table: nothing remembered for the old one is used for it,
// and a copy is another table too (its entries are its own).
TEST(PriceTable, LookupModelForgetsWhatItRememberedForAnotherTable) {
  const auto one = PriceTable::Parse(kMinimal);
  const auto two = PriceTable::Parse(Replace(kMinimal, "input: \"1\"", "input: \"3\""));
  const PicoUsd one_rate = 1'000'000;    // $1 per MTok in pUSD per token
  const PicoUsd two_rate = 3'000'000;    // $3 per MTok
  for (int i = 0; i < 3; ++i) {
    const ModelLookup& a = one->LookupModel("anthropic", "M-One");
    ASSERT_NE(a.price, nullptr);
    EXPECT_EQ(a.price, one->Find("anthropic", "m-one"));
    EXPECT_EQ(a.price->Latest().rates[TokenType::kInput], one_rate);
    const ModelLookup& b = two->LookupModel("anthropic", "M-One");
    ASSERT_NE(b.price, nullptr);
    EXPECT_EQ(b.price, two->Find("anthropic", "m-one"));
    EXPECT_EQ(b.price->Latest().rates[TokenType::kInput], two_rate);
  }
  const PriceTable copy = *one;
  EXPECT_EQ(copy.LookupModel("anthropic", "m-one").price, copy.Find("anthropic", "m-one"));
  EXPECT_NE(copy.LookupModel("anthropic", "m-one").price, one->Find("anthropic", "m-one"));

  // Through a PriceBook reload, as SIGHUP and POST /-/reload do.
  const std::string path = testing::TempDir() + "/lookup_reload_prices.yml";
  std::ofstream(path) << kMinimal;
  PriceBook book(PriceTable::LoadFile(path));
  EXPECT_EQ(book.Current()->LookupModel("anthropic", "m-one").price->Latest().rates[TokenType::kInput], one_rate);
  std::ofstream(path) << Replace(kMinimal, "input: \"1\"", "input: \"3\"");
  ASSERT_EQ(book.Reload(path), nullptr);
  EXPECT_EQ(book.Current()->LookupModel("anthropic", "m-one").price->Latest().rates[TokenType::kInput], two_rate);
}

TEST(PriceTable, LookupModelMemoIsBounded) {
  const auto t = PriceTable::Parse(kMinimal);
  for (std::size_t i = 0; i < 3 * PriceTable::kMaxLookupsMemoized; ++i) {
    const std::string id = "client-model-" + std::to_string(i);
    const ModelLookup& l = t->LookupModel("anthropic", id);
    EXPECT_EQ(l.model, id);
    EXPECT_EQ(l.price, nullptr);
    EXPECT_LE(PriceTable::LookupsMemoized(), PriceTable::kMaxLookupsMemoized);
  }
  // Still answers right once the memo has been emptied.
  EXPECT_EQ(t->LookupModel("anthropic", "m-one").price, t->Find("anthropic", "m-one"));
  EXPECT_NE(t->LookupModel("anthropic", "m-one").price, nullptr);
}

// A JSON model id may be megabytes long: such an id is answered but not remembered,
// so the memo's bytes are bounded too.
TEST(PriceTable, LookupModelDoesNotRememberLongIds) {
  const auto t = PriceTable::Parse(kMinimal);
  EXPECT_NE(t->LookupModel("anthropic", "M-One").price, nullptr);
  const std::size_t before = PriceTable::LookupsMemoized();
  const std::string long_id(1 << 20, 'x');
  for (int i = 0; i < 2; ++i) {
    const ModelLookup& l = t->LookupModel("anthropic", long_id);
    EXPECT_EQ(l.model, t->ResolveModel(long_id));
    EXPECT_EQ(l.price, nullptr);
  }
  EXPECT_EQ(PriceTable::LookupsMemoized(), before);
  // The memo still answers for short ids after a long one.
  EXPECT_EQ(t->LookupModel("anthropic", "m-one").price, t->Find("anthropic", "m-one"));
}

}  // namespace
}  // namespace llmcost
