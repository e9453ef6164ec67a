// The generation loop's stop conditions on the tiny model (whose greedy continuation of the
// golden prompt is 247 repeated).
#include <doctest/doctest.h>

#include <algorithm>

#include "core/backend.h"
#include "runtime/generate.h"
#include "support/npy.h"

using namespace gemma12b;
using gemma12b::test::golden_path;

namespace {

struct Fixture {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Model> model;
  Fixture() {
    auto d = create_device("cpu", DeviceOptions{2});
    REQUIRE(d.ok());
    dev = std::move(*d);
    auto m = Model::load(golden_path("text/tiny-gemma4.gguf"), *dev);
    REQUIRE(m.ok());
    model = std::move(*m);
  }
  GenerateResult run(const GenerateParams& gp, int64_t n_ctx = 64, const TokenFn& fn = {}) {
    KvCacheOptions ko;
    ko.n_ctx = n_ctx;
    auto kv = KvCache::create(model->config(), *dev, ko);
    auto dec = Decoder::create(*model);
    auto sampler = Sampler::create(SamplingParams::greedy(), model->config().n_vocab);
    REQUIRE((kv.ok() && dec.ok() && sampler.ok()));
    auto r = generate(**dec, **kv, **sampler, prompt, gp, fn);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return *r;
  }
  const std::vector<int32_t> prompt = {2, 126, 308, 283, 71, 194, 314, 247};
};

}  // namespace

TEST_CASE("generate: token limit, stop token, cancellation and full context") {
  Fixture f;
  GenerateParams gp;
  gp.max_tokens = 5;
  GenerateResult r = f.run(gp);
  CHECK(r.reason == StopReason::kMaxTokens);
  CHECK(r.tokens == std::vector<int32_t>(5, 247));

  gp.max_tokens = 50;
  gp.stop_tokens = {247};
  r = f.run(gp);
  CHECK(r.reason == StopReason::kStopToken);
  CHECK(r.tokens == std::vector<int32_t>{247});

  gp.stop_tokens.clear();
  int seen = 0;
  r = f.run(gp, 64, [&](int32_t) { return ++seen < 3; });
  CHECK(r.reason == StopReason::kCancelled);
  CHECK(r.tokens.size() == 3);

  r = f.run(gp, 12);  // 8 prompt positions + 4
  CHECK(r.reason == StopReason::kContextFull);
  CHECK(r.tokens.size() == 5);  // the last token is sampled from position 11's logits

  gp.max_tokens = 0;
  r = f.run(gp);
  CHECK(r.tokens.empty());
}

TEST_CASE("generate: stop tokens and sampling defaults come from the file") {
  Fixture f;
  const std::vector<int32_t> stops = default_stop_tokens(*f.model);
  // <eos> = 1 and <turn|> = 262 in the tiny vocabulary (golden README); <|tool_response> is one
  // of the tool tokens 271-279.
  CHECK(std::count(stops.begin(), stops.end(), 1) == 1);
  CHECK(std::count(stops.begin(), stops.end(), 262) == 1);
  CHECK(stops.size() == 3);
  CHECK(std::all_of(stops.begin(), stops.end(), [](int32_t t) { return t == 1 || t == 262 || (t >= 271 && t <= 279); }));
  const SamplingParams p = default_sampling(*f.model);
  CHECK(p.temperature == 1.0f);
  CHECK(p.top_k == 64);
  CHECK(p.top_p == doctest::Approx(0.95f));
}

TEST_CASE("generate: an empty prompt is an error") {
  Fixture f;
  KvCacheOptions ko;
  auto kv = KvCache::create(f.model->config(), *f.dev, ko);
  auto dec = Decoder::create(*f.model);
  auto sampler = Sampler::create(SamplingParams::greedy(), f.model->config().n_vocab);
  REQUIRE((kv.ok() && dec.ok() && sampler.ok()));
  CHECK(generate(**dec, **kv, **sampler, {}, GenerateParams{}).status().code() == absl::StatusCode::kInvalidArgument);
}
