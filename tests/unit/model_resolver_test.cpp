#include "pricing/model_resolver.h"

#include <gtest/gtest.h>

#include "pricing/price_table.h"

namespace llmcost {
namespace {

std::shared_ptr<const PriceTable> Shipped() {
  return PriceTable::LoadFile(std::string(LLM_COST_SOURCE_DIR) + "/exporter/pricing/prices.yml");
}

struct Case {
  const char* id;
  const char* canonical;
};
// Names each ctest case by its id, not by the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.id; }

class ShippedIds : public testing::TestWithParam<Case> {};

TEST_P(ShippedIds, ResolveToCanonicalModel) {
  static const auto table = Shipped();
  EXPECT_EQ(table->ResolveModel(GetParam().id), GetParam().canonical) << GetParam().id;
  EXPECT_NE(table->Find("anthropic", GetParam().canonical), nullptr) << GetParam().canonical << " has no price";
}

// Every id form listed in shared/design/pricing-facts.md.
INSTANTIATE_TEST_SUITE_P(
    PricingFacts, ShippedIds,
    testing::Values(
        Case{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"}, Case{"claude-haiku-4-5-20251001", "claude-haiku-4-5"},
        Case{"claude-opus-4-5-20251101", "claude-opus-4-5"}, Case{"claude-opus-4-1-20250805", "claude-opus-4-1"},
        Case{"claude-opus-4-20250514", "claude-opus-4"}, Case{"claude-sonnet-4-20250514", "claude-sonnet-4"},
        Case{"claude-3-7-sonnet-20250219", "claude-3-7-sonnet"}, Case{"claude-3-5-haiku-20241022", "claude-3-5-haiku"},
        Case{"claude-3-haiku-20240307", "claude-3-haiku"}, Case{"claude-opus-4-0", "claude-opus-4"},
        Case{"claude-sonnet-4-0", "claude-sonnet-4"}, Case{"claude-4-opus-20250514", "claude-opus-4"},
        Case{"claude-4-sonnet-20250514", "claude-sonnet-4"}, Case{"claude-3-7-sonnet-latest", "claude-3-7-sonnet"},
        Case{"claude-3-5-haiku-latest", "claude-3-5-haiku"}, Case{"claude-opus-4-6", "claude-opus-4-6"},
        Case{"claude-sonnet-4-6", "claude-sonnet-4-6"}, Case{"claude-opus-4-7", "claude-opus-4-7"},
        // Bedrock, with and without cross-region prefixes.
        Case{"anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"},
        Case{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"},
        Case{"global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"},
        Case{"eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"},
        Case{"jp.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"},
        Case{"apac.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"},
        Case{"anthropic.claude-opus-4-6-v1", "claude-opus-4-6"}, Case{"anthropic.claude-opus-4-7", "claude-opus-4-7"},
        // Vertex.
        Case{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5"}, Case{"claude-opus-4-1@20250805", "claude-opus-4-1"},
        Case{"claude-opus-4-6", "claude-opus-4-6"},
        // Client conventions and case.
        Case{"claude-sonnet-4-5[1m]", "claude-sonnet-4-5"}, Case{"Claude-Sonnet-4-5-20250929", "claude-sonnet-4-5"}));

TEST(ModelResolver, UnknownModelsKeepTheirNormalisedName) {
  const ModelResolver r;
  EXPECT_EQ(r.Resolve("anthropic.claude-3-5-sonnet-20241022-v2:0"), "claude-3-5-sonnet");
  EXPECT_EQ(r.Resolve("gpt-4o"), "gpt-4o");
  EXPECT_EQ(r.Resolve("  "), "");
  // A date-like tail that is not a date (does not start with 2) stays.
  EXPECT_EQ(r.Resolve("model-12345678"), "model-12345678");
}

TEST(ModelResolver, NeverMapsOneModelOntoAnother) {
  static const auto table = Shipped();
  // Near names must not collapse into a priced model.
  EXPECT_EQ(table->Find("anthropic", table->ResolveModel("claude-sonnet-4-5-x")), nullptr);
  EXPECT_EQ(table->Find("anthropic", table->ResolveModel("claude-opus")), nullptr);
  EXPECT_EQ(table->Find("anthropic", table->ResolveModel("claude-3-opus-2024022")), nullptr);
  EXPECT_EQ(table->Find("anthropic", table->ResolveModel("claude-mythos-5-2")), nullptr);  // no published price
  EXPECT_EQ(table->Find("anthropic", table->ResolveModel("us.anthropic.claude-opus-5-6-v1:0")), nullptr);
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// Resolve() is memoised per thread: a memo must never answer for another resolver
// (another price table after a reload), even when both are used in turn.
TEST(ModelResolver, MemoIsPerResolver) {
  const ModelResolver plain;
  const ModelResolver aliased(std::unordered_map<std::string, std::string>{{"claude-x", "claude-y"}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(plain.Resolve("Claude-X-20250101"), "claude-x");
    EXPECT_EQ(aliased.Resolve("Claude-X-20250101"), "claude-y");
  }
  const ModelResolver copy = aliased;  // a copy has the same aliases: same answers
  EXPECT_EQ(copy.Resolve("claude-x"), "claude-y");
  for (int i = 0; i < 3000; ++i) {  // past the memo's bound: still right
    EXPECT_EQ(plain.Resolve("m-" + std::to_string(i) + "-latest"), "m-" + std::to_string(i));
  }
  EXPECT_EQ(plain.Resolve("Claude-X-20250101"), "claude-x");
}

}  // namespace
}  // namespace llmcost
