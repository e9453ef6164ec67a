// Golden text cases (shared/golden/text): the decoder's logits at every prompt position and along
// the greedy continuation, against llama.cpp's exact-math reference (README of the golden data).
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "core/backend.h"
#include "model/decoder.h"
#include "model/golden_case.h"
#include "model/kv_cache.h"
#include "model/model.h"

using namespace gemma12b;
using namespace gemma12b::test;

namespace {

struct Run {
  std::vector<float> prompt_logits;  // [n_prompt, vocab]
  std::vector<float> greedy_logits;  // [n_greedy - 1, vocab]
  std::vector<int32_t> greedy_argmax;
};

std::unique_ptr<Device> device(const std::string& name) {
  DeviceOptions o;
  o.n_threads = 2;
  auto d = create_device(name, o);
  REQUIRE_MESSAGE(d.ok(), d.status().ToString());
  return std::move(*d);
}

// Prefills the prompt (in ubatches of `ubatch` rows) and then feeds the golden greedy tokens one
// at a time, collecting logits.
Run run_case(const Model& model, const GoldenCase& gc, int64_t ubatch, DType kv_type = DType::kF32) {
  const ModelConfig& c = model.config();
  KvCacheOptions ko;
  ko.n_ctx = 256;
  ko.max_ubatch = ubatch;
  ko.dtype = kv_type;
  auto kv = KvCache::create(c, model.device(), ko);
  REQUIRE_MESSAGE(kv.ok(), kv.status().ToString());
  auto dec = Decoder::create(model, ubatch);
  REQUIRE_MESSAGE(dec.ok(), dec.status().ToString());
  Run r;
  const std::vector<int32_t> prompt = gc.prompt_tokens();
  DecodeInput in;
  in.tokens = prompt;
  in.all_logits = true;
  DecodeOutput out;
  Status s = (*dec)->decode(**kv, in, &out);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  REQUIRE(out.n_rows == static_cast<int64_t>(prompt.size()));
  r.prompt_logits = out.logits;
  r.greedy_argmax.push_back(argmax(&out.logits[(prompt.size() - 1) * c.n_vocab], c.n_vocab));
  for (size_t k = 0; k + 1 < gc.greedy_tokens.size(); ++k) {
    DecodeInput step;
    step.tokens = std::span<const int32_t>(&gc.greedy_tokens[k], 1);
    s = (*dec)->decode(**kv, step, &out);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    REQUIRE(out.n_rows == 1);
    r.greedy_logits.insert(r.greedy_logits.end(), out.logits.begin(), out.logits.end());
    r.greedy_argmax.push_back(argmax(out.logits.data(), c.n_vocab));
  }
  return r;
}

void check_f32_case(const std::string& manifest, const std::string& backend, int64_t ubatch) {
  const GoldenCase gc = load_case(manifest);
  auto dev = device(backend);
  auto model = Model::load(gc.model, *dev);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  const Run r = run_case(**model, gc, ubatch);
  const NpyArray want = load_npy_or_fail(gc.logits);
  REQUIRE(want.data.size() == r.prompt_logits.size());
  const float d_prompt = max_abs_diff(want.data.data(), r.prompt_logits.data(), want.data.size());
  const NpyArray want_g = load_npy_or_fail(gc.greedy_logits);
  REQUIRE(want_g.data.size() == r.greedy_logits.size());
  const float d_greedy = max_abs_diff(want_g.data.data(), r.greedy_logits.data(), want_g.data.size());
  MESSAGE(manifest << " on " << backend << " (ubatch " << ubatch << "): max |diff| prompt " << d_prompt
                   << ", greedy " << d_greedy);
  CHECK(d_prompt <= 1e-3f);
  CHECK(d_greedy <= 1e-3f);
  CHECK(r.greedy_argmax == gc.greedy_tokens);
}

}  // namespace

TEST_CASE("golden text: f32 8 tokens, reference backend") { check_f32_case("text/text-f32-8.json", "reference", 512); }
TEST_CASE("golden text: f32 8 tokens, cpu backend") { check_f32_case("text/text-f32-8.json", "cpu", 512); }
TEST_CASE("golden text: f32 60 tokens, cpu backend") { check_f32_case("text/text-f32-60.json", "cpu", 512); }
TEST_CASE("golden text: f32 60 tokens, cpu backend, ubatch 7 (sliding ring wraps)") {
  check_f32_case("text/text-f32-60.json", "cpu", 7);
}
TEST_CASE("golden text: f32 60 tokens, reference backend, ubatch 5") {
  check_f32_case("text/text-f32-60.json", "reference", 5);
}
