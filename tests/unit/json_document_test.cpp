#include "event/json_document.h"
#include "event/seeded_hash.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <random>

namespace llmcost {
namespace {

bool Accepts(std::string_view text) {
  JsonDocument doc;
  std::string error;
  return doc.Parse(text, error).has_value();
}

TEST(JsonDocument, ReadsValuesAndNesting) {
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(R"( {"a": 1, "b": [true, false, null, -2.5e3], "c": {"d": "x"}, "a": 7} )", error);
  ASSERT_TRUE(v) << error;
  EXPECT_TRUE(v->is_object());
  EXPECT_EQ(v->size(), 4u);
  EXPECT_EQ(v->Find("a")->as_unsigned(), 7u);  // a repeated key: the last one wins
  const auto b = v->Find("b")->Elements();
  ASSERT_EQ(b.size(), 4u);
  EXPECT_TRUE(b[0].as_bool());
  EXPECT_FALSE(b[1].as_bool());
  EXPECT_TRUE(b[2].is_null());
  EXPECT_DOUBLE_EQ(b[3].as_double(), -2500);
  EXPECT_FALSE(b[3].is_unsigned_integer());
  EXPECT_EQ(v->Find("c")->Find("d")->text(), "x");
  EXPECT_FALSE(v->Find("missing"));
  EXPECT_FALSE(b[0].Find("a"));  // not an object
}

TEST(JsonDocument, NumbersKeepTheirKind) {
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(R"([0, 18446744073709551615, 18446744073709551616, -1, -9223372036854775809, 1.0, 1e400])",
                           error);
  ASSERT_TRUE(v) << error;
  const auto n = v->Elements();
  EXPECT_TRUE(n[0].is_unsigned_integer());
  EXPECT_EQ(n[1].as_unsigned(), 18446744073709551615ULL);
  EXPECT_FALSE(n[2].is_unsigned_integer());  // beyond 64 bits: a double
  EXPECT_DOUBLE_EQ(n[2].as_double(), 18446744073709551616.0);
  EXPECT_TRUE(n[3].is_negative_integer());
  EXPECT_EQ(n[3].as_integer(), -1);
  EXPECT_FALSE(n[4].is_negative_integer());
  EXPECT_FALSE(n[5].is_unsigned_integer());  // 1.0 is written as a fraction
  EXPECT_TRUE(std::isinf(n[6].as_double()));
}

TEST(JsonDocument, IntegersAreConvertedWhileScanned) {
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(R"([-0, -9223372036854775808, 9007199254740993, 2300, -2300, 12.0e0, 0.5])", error);
  ASSERT_TRUE(v) << error;
  const auto n = v->Elements();
  EXPECT_FALSE(n[0].is_negative_integer());  // "-0" is zero
  EXPECT_FALSE(n[0].is_unsigned_integer());
  EXPECT_EQ(n[0].as_double(), 0.0);
  EXPECT_TRUE(n[1].is_negative_integer());
  EXPECT_EQ(n[1].as_integer(), INT64_MIN);
  // Past 2^53 a double cannot hold every integer: the same rounding as strtod.
  EXPECT_EQ(n[2].as_double(), std::strtod("9007199254740993", nullptr));
  EXPECT_EQ(n[2].as_unsigned(), 9007199254740993ULL);
  EXPECT_EQ(n[3].as_double(), 2300.0);
  EXPECT_EQ(n[4].as_double(), -2300.0);
  EXPECT_EQ(n[4].as_integer(), -2300);
  EXPECT_FALSE(n[5].is_unsigned_integer());
  EXPECT_EQ(n[5].as_double(), 12.0);
  EXPECT_EQ(n[6].as_double(), 0.5);
}

// Objects with many members are searched through a hash index: it must give what a
// linear search gives, for present, absent and repeated keys, including names that
// share a length and their first and last eight bytes.
TEST(JsonDocument, KeyIndexAgreesWithLinearSearch) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("cache_tokens_" + std::to_string(i % 10) + "_x_input_tokens");
  for (int i = 0; i < 10; ++i) keys.push_back(std::string(1 + i, 'k'));
  keys.push_back("");
  std::string text = "{";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    text += (i ? ",\"" : "\"") + keys[i] + "\":" + std::to_string(i);
  }
  text += "}";
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(text, error);
  ASSERT_TRUE(v) << error;
  const auto reference = nlohmann::json::parse(text);  // keeps the last of repeated keys
  for (const auto& key : keys) {
    const auto found = v->Find(key);
    ASSERT_TRUE(found) << key;
    EXPECT_EQ(found->as_unsigned(), reference[key].get<std::uint64_t>()) << key;
  }
  for (const char* absent : {"cache_tokens_0_x_input_tokenz", "kkkkkkkkkkk", "cache", "model"}) {
    EXPECT_FALSE(v->Find(absent)) << absent;
  }
  // A second document in the same JsonDocument gets its own index.
  const auto w = doc.Parse(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"a":8})", error);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(w->Find("a")->as_unsigned(), 8u);
  EXPECT_EQ(w->Find("g")->as_unsigned(), 7u);
  EXPECT_EQ(v->Find("k")->as_unsigned(), 40u);
}

TEST(JsonDocument, DecodesEscapes) {
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(R"(["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "caf\u00e9 \u0041"])", error);
  ASSERT_TRUE(v) << error;
  const auto s = v->Elements();
  EXPECT_EQ(s[0].text(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(s[1].text(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(s[2].text(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(s[3].text(), "caf\xc3\xa9 A");
}

TEST(JsonDocument, RefusesWhatIsNotJson) {
  for (const char* bad : {"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "-", "1.", ".5",
                          "1e", "+1", "NaN", "Infinity", "-Infinity", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"",
                          "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "{} {}", "[] x",
                          "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "'a'"}) {
    EXPECT_FALSE(Accepts(bad)) << bad;
  }
  EXPECT_TRUE(Accepts(std::string(64, '[') + std::string(64, ']')));
  EXPECT_FALSE(Accepts(std::string(66, '[') + std::string(66, ']')));  // depth limit
}

TEST(JsonDocument, HoldsSeveralRootsAndSurvivesAFailedParse) {
  JsonDocument doc;
  std::string error;
  const auto a = doc.Parse(R"({"m":"a"})", error);
  EXPECT_FALSE(doc.Parse(R"({"m":"b")", error));
  EXPECT_NE(error.find("at byte"), std::string::npos);
  const auto c = doc.Parse(R"({"m":"c\n"})", error);
  ASSERT_TRUE(a && c);
  EXPECT_EQ(a->Find("m")->text(), "a");
  EXPECT_EQ(c->Find("m")->text(), "c\n");
}

// Differential: on many mutations of a real event, this reader and nlohmann's
// must agree on what is valid JSON, and on the values when both accept.
TEST(JsonDocument, AgreesWithNlohmannOnMutatedEvents) {
  const std::string seed =
      R"({"model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":1247,"output_tokens":612,)"
      R"("cache_read_input_tokens":28430,"cache_creation":{"ephemeral_5m_input_tokens":0}},"latency_ms":2300.5,)"
      R"("status":200,"error_type":null,"batch":false,"labels":{"feature":"ch\u00e9t","tenant":"a\"c"},"x":[1,-2,3e2]})";
  const std::string alphabet = "{}[]\",:0123456789-+.eE \\u/tfnrabx\n\t\xc3\xa9\xff";
  std::mt19937 rng(12345);
  int disagreements = 0, checked = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seed;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const std::size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0: s.erase(pos, 1); break;
        case 1: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        default: s[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    JsonDocument doc;
    std::string error;
    const auto ours = doc.Parse(s, error);
    const auto theirs = nlohmann::json::parse(s, nullptr, false);
    // nlohmann turns a float literal beyond double's range into a parse error;
    // this reader keeps it as a number that the event parser refuses as not finite.
    const bool their_ok = !theirs.is_discarded();
    if (ours.has_value() != their_ok) {
      if (ours && !their_ok && s.find('e') != std::string::npos) continue;
      ++disagreements;
      ADD_FAILURE() << "disagree on: " << s << " (ours: " << (ours ? "ok" : error) << ")";
      if (disagreements > 5) break;
      continue;
    }
    if (ours && ours->is_object()) {
      ++checked;
      for (const char* key : {"model", "status", "usage", "latency_ms", "labels", "batch", "error_type", "x"}) {
        const auto o = ours->Find(key);
        const bool t = theirs.contains(key);
        EXPECT_EQ(o.has_value(), t) << s;
        if (!o || !t) continue;
        const auto& their = theirs[key];
        if (o->is_string() && their.is_string()) EXPECT_EQ(o->text(), their.get<std::string>()) << s;
        if (o->is_unsigned_integer()) {
          EXPECT_TRUE(their.is_number_unsigned()) << s;
          if (their.is_number_unsigned()) EXPECT_EQ(o->as_unsigned(), their.get<std::uint64_t>()) << s;
        }
        if (o->is_number() && their.is_number()) EXPECT_EQ(o->as_double(), their.get<double>()) << s;
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace llmcost

namespace llmcost {
namespace {

// One object of `n` members whose names all have `width` bytes; `name(i)` gives them.
template <typename Name>
std::string ObjectOf(int n, Name name) {
  std::string text = "{";
  for (int i = 0; i < n; ++i) text += (i ? ",\"" : "\"") + name(i) + "\":0";
  return text + "}";
}

// Key-index probes for parsing `text` and searching it the way the event parser does
// (absent and present names).
std::uint64_t ProbesFor(const std::string& text, const std::vector<std::string>& search) {
  JsonDocument doc;
  std::string error;
  const auto v = doc.Parse(text, error);
  EXPECT_TRUE(v) << error;
  if (!v) return 0;
  for (const auto& key : search) v->Find(key);
  return doc.key_probes();
}

// Hash flooding (docs/reliability.md): names that share their length and first and
// last eight bytes (all the old index hashed) and differ only in the middle must
// cost no more probes than ordinary names of the same size. Before the seeded
// whole-key hash, 5,000 such names took ~12.5 million probes (all on one chain).
TEST(JsonDocument, CollidingNamesCostNoMoreThanOrdinaryOnes) {
  constexpr int kMembers = 5000;
  auto middle = [](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08d", i);
    return std::string(buf);
  };
  const std::string colliding =
      ObjectOf(kMembers, [&](int i) { return "model_name" + middle(i) + "_input_tokens"; });
  std::mt19937 rng(7);
  const std::string ordinary = ObjectOf(kMembers, [&](int) {
    std::string s(31, 'a');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  });
  ASSERT_EQ(colliding.size(), ordinary.size());
  const std::vector<std::string> search = {"model", "usage", "model_name00000007_input_tokens",
                                           "model_name99999999_input_tokens", "labels"};
  const std::uint64_t flood = ProbesFor(colliding, search);
  const std::uint64_t normal = ProbesFor(ordinary, search);
  // An index at most half full averages under 2.5 probes per insert (linear probing).
  EXPECT_LT(normal, 4u * kMembers);
  EXPECT_LE(flood, 2 * normal) << "colliding names: " << flood << " probes, ordinary: " << normal;
}

// The index's hash is SipHash (seeded per process): the reference vector of
// SipHash-2-4 (key 00..0f, message 00..0e) pins the implementation.
TEST(SeededHash, MatchesTheSipHashReferenceVector) {
  SipKey key;
  std::string message;
  unsigned char k[16];
  for (int i = 0; i < 16; ++i) k[i] = static_cast<unsigned char>(i);
  std::memcpy(&key.k0, k, 8);
  std::memcpy(&key.k1, k + 8, 8);
  EXPECT_EQ((SipHash<2, 4>(key, message)), 0x726fdb47dd0e0e31ULL);
  for (int i = 0; i < 15; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ((SipHash<2, 4>(key, message)), 0xa129ca6149be45e5ULL);
  // The process key is random: two processes differ; within one it is fixed.
  EXPECT_EQ(SeededHash("model"), SeededHash("model"));
  EXPECT_FALSE(ProcessHashKey().k0 == 0 && ProcessHashKey().k1 == 0);
}

}  // namespace
}  // namespace llmcost
