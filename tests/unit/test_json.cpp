// JsonConfig: dotted-path getters on literal JSON (malformed input, wrong types, missing keys)
// and on the golden hf-tiny-gemma4/config.json.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "io/hf_config.h"

namespace gemma12b {
namespace {

bool contains(const Status& s, const std::string& needle) {
  return std::string(s.message()).find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("json: dotted paths and typed getters") {
  auto r = JsonConfig::parse(R"({
    "a": 1, "neg": -5, "f": 2.5, "fi": 6.0, "big": 18446744073709551615, "b": true, "s": "hi",
    "n": null, "ints": [1, 2, 3], "mixed": [1, "x"], "strs": ["p", "q"], "fl": [1.0, 2.0],
    "text_config": {"rope_parameters": {"full_attention": {"rope_theta": 1000000.0,
                                                          "rope_type": "proportional"}},
                    "layers": [{"k": 7}]}
  })");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const JsonConfig& j = **r;
  CHECK(*j.get_int("a") == 1);
  CHECK(*j.get_int("neg") == -5);
  CHECK(*j.get_int("fi") == 6);
  CHECK(*j.get_float("a") == 1.0);
  CHECK(*j.get_float("f") == 2.5);
  CHECK(*j.get_float("text_config.rope_parameters.full_attention.rope_theta") == 1e6);
  CHECK(*j.get_string("text_config.rope_parameters.full_attention.rope_type") == "proportional");
  CHECK(*j.get_int("text_config.layers.0.k") == 7);
  CHECK(*j.get_bool("b"));
  CHECK(*j.get_string("s") == "hi");
  CHECK(*j.get_int_array("ints") == std::vector<int64_t>{1, 2, 3});
  CHECK(*j.get_int_array("a") == std::vector<int64_t>{1});
  CHECK(*j.get_int_array("fl") == std::vector<int64_t>{1, 2});
  CHECK(*j.get_string_array("strs") == std::vector<std::string>{"p", "q"});

  CHECK(j.has("a"));
  CHECK(j.has("text_config.rope_parameters"));
  CHECK_FALSE(j.has("n"));  // null counts as absent
  CHECK_FALSE(j.has("zzz"));
  CHECK_FALSE(j.has("a.b"));
  CHECK_FALSE(j.has(""));
  CHECK_FALSE(j.has("text_config..x"));

  // Wrong types: InvalidArgument naming the path.
  for (auto s : {j.get_int("f").status(), j.get_int("s").status(), j.get_int("b").status(),
                 j.get_int("big").status(), j.get_float("s").status(), j.get_bool("a").status(),
                 j.get_string("a").status(), j.get_int_array("mixed").status(),
                 j.get_int_array("strs").status(), j.get_string_array("ints").status(),
                 j.get_string_array("s").status(), j.get_int("text_config").status()}) {
    CHECK_MESSAGE(absl::IsInvalidArgument(s), s.ToString());
  }
  Status s = j.get_int("text_config.rope_parameters.full_attention.rope_type").status();
  CHECK(contains(s, "text_config.rope_parameters.full_attention.rope_type"));
  // Missing: NotFound naming the path.
  s = j.get_int("text_config.rope_parameters.sliding_attention.rope_theta").status();
  CHECK(absl::IsNotFound(s));
  CHECK(contains(s, "text_config.rope_parameters.sliding_attention.rope_theta"));
  CHECK(absl::IsNotFound(j.get_float("n").status()));
  CHECK(absl::IsNotFound(j.get_int("a.b").status()));
  CHECK(absl::IsNotFound(j.get_int("text_config.layers.3.k").status()));
  CHECK(absl::IsNotFound(j.get_string_array("nope").status()));
}

TEST_CASE("json: malformed documents") {
  for (const char* text : {"", "{", "{\"a\":}", "{\"a\":1,}", "[1,2", "nul", "{\"a\" 1}",
                           "{\"a\":1} trailing", "\"\xff\"", "{\"a\":01}"}) {
    auto r = JsonConfig::parse(text);
    CHECK_MESSAGE(absl::IsInvalidArgument(r.status()), text);
  }
  // Deep nesting neither crashes nor throws.
  std::string deep(100000, '[');
  auto r = JsonConfig::parse(deep);
  CHECK_FALSE(r.ok());
  deep += std::string(100000, ']');
  r = JsonConfig::parse(deep);
  CHECK(r.ok());
  // A non-object root parses; paths just do not resolve.
  r = JsonConfig::parse("[1, 2]");
  REQUIRE(r.ok());
  CHECK(*(*r)->get_int("1") == 2);
  CHECK(absl::IsNotFound((*r)->get_int("a").status()));
}

TEST_CASE("json: golden hf-tiny-gemma4 config.json") {
  const std::string path = std::string(GEMMA12B_GOLDEN_DIR) + "/hf-tiny-gemma4/config.json";
  auto r = JsonConfig::load(path);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const JsonConfig& j = **r;
  CHECK(*j.get_int("text_config.num_hidden_layers") == 6);
  CHECK(*j.get_int("text_config.hidden_size") == 256);
  auto types = j.get_string_array("text_config.layer_types");
  REQUIRE(types.ok());
  REQUIRE(types->size() == 6);
  CHECK(types->front() == "sliding_attention");
  CHECK(types->back() == "full_attention");
  CHECK(*j.get_float("text_config.rope_parameters.full_attention.rope_theta") == 1e6);
  CHECK(*j.get_float("text_config.rms_norm_eps") == doctest::Approx(1e-6));
  CHECK(*j.get_bool("text_config.attention_k_eq_v"));
  CHECK(*j.get_string_array("architectures") == std::vector<std::string>{"Gemma4UnifiedForConditionalGeneration"});

  auto missing = JsonConfig::load(std::string(GEMMA12B_GOLDEN_DIR) + "/hf-tiny-gemma4/nope.json");
  CHECK(absl::IsNotFound(missing.status()));
  CHECK(contains(missing.status(), "nope.json"));
  auto bad = JsonConfig::load(std::string(GEMMA12B_GOLDEN_DIR) + "/text/tiny-gemma4-q4_0.gguf");
  CHECK(absl::IsInvalidArgument(bad.status()));
  CHECK(contains(bad.status(), "tiny-gemma4-q4_0.gguf"));
  auto text = read_text_file(path);
  REQUIRE(text.ok());
  CHECK(text->size() == 1650);
}

}  // namespace gemma12b
