// Sampler: each stage against hand-computed expectations, plus a statistical check that
// temperature sampling draws from softmax(logits / T).
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "runtime/sampler.h"

using namespace gemma12b;

namespace {

std::unique_ptr<Sampler> make(const SamplingParams& p, int64_t n_vocab) {
  auto s = Sampler::create(p, n_vocab);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

std::map<int32_t, int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> h;
  for (int i = 0; i < n; ++i) {
    auto t = s.sample(logits);
    REQUIRE(t.ok());
    ++h[*t];
  }
  return h;
}

}  // namespace

TEST_CASE("sampler: greedy picks the first maximum; bias and suppression apply first") {
  const std::vector<float> logits = {0.5f, 3.0f, 3.0f, -1.0f, 2.9f};
  auto s = make(SamplingParams::greedy(), 5);
  CHECK(*s->sample(logits) == 1);
  SamplingParams p = SamplingParams::greedy();
  p.suppress_tokens = {1, 2};
  CHECK(*make(p, 5)->sample(logits) == 4);
  p.logit_bias = {{3, 10.0f}};
  CHECK(*make(p, 5)->sample(logits) == 3);
  p.suppress_tokens = {0, 1, 2, 3, 4};
  CHECK(make(p, 5)->sample(logits).status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("sampler: invalid parameters and logits are errors") {
  SamplingParams p;
  p.top_p = 0.0f;
  CHECK(!Sampler::create(p, 10).ok());
  p = SamplingParams();
  p.temperature = -1.0f;
  CHECK(!Sampler::create(p, 10).ok());
  p = SamplingParams();
  p.suppress_tokens = {10};
  CHECK(!Sampler::create(p, 10).ok());
  p = SamplingParams();
  p.logit_bias = {{-1, 1.0f}};
  CHECK(!Sampler::create(p, 10).ok());
  CHECK(!Sampler::create(SamplingParams(), 0).ok());
  auto s = make(SamplingParams(), 10);
  const std::vector<float> wrong(9, 0.0f);
  CHECK(s->sample(wrong).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("sampler: temperature sampling follows softmax(logits / T)") {
  const std::vector<float> logits = {1.0f, 2.0f, 0.0f, 1.5f};
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 42;
  auto s = make(p, 4);
  const int n = 40000;
  auto h = histogram(*s, logits, n);
  double z = 0.0;
  for (float l : logits) z += std::exp(l / 0.7);
  for (int i = 0; i < 4; ++i) {
    const double want = std::exp(logits[i] / 0.7) / z;
    const double got = static_cast<double>(h[i]) / n;
    // 5 standard deviations of a binomial proportion.
    CHECK(std::fabs(got - want) <= 5.0 * std::sqrt(want * (1 - want) / n));
  }
}

TEST_CASE("sampler: the same seed gives the same sequence; reset restarts it") {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(i * 0.7f) * 2.0f;
  SamplingParams p;
  p.seed = 7;
  auto a = make(p, 50), b = make(p, 50);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 100; ++i) {
    sa.push_back(*a->sample(logits));
    sb.push_back(*b->sample(logits));
  }
  CHECK(sa == sb);
  a->reset();
  std::vector<int32_t> again;
  for (int i = 0; i < 100; ++i) again.push_back(*a->sample(logits));
  CHECK(again == sa);
  p.seed = 8;
  auto c = make(p, 50);
  std::vector<int32_t> sc;
  for (int i = 0; i < 100; ++i) sc.push_back(*c->sample(logits));
  CHECK(sc != sa);
}

TEST_CASE("sampler: top-k, top-p and min-p keep exactly the expected candidates") {
  // Probabilities at T = 1: softmax of ln(p) gives p back.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.07f), std::log(0.03f)};
  SamplingParams p;
  p.top_p = 1.0f;
  p.top_k = 2;
  auto h = histogram(*make(p, 5), logits, 2000);
  CHECK(h.size() == 2);
  CHECK(h.count(0) == 1);
  CHECK(h.count(1) == 1);
  p.top_k = 0;
  p.top_p = 0.8f;  // 0.5 + 0.25 = 0.75 < 0.8, + 0.15 = 0.9 >= 0.8: three tokens
  h = histogram(*make(p, 5), logits, 4000);
  CHECK(h.size() == 3);
  CHECK(h.count(3) == 0);
  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keep p >= 0.1: tokens 0, 1, 2
  h = histogram(*make(p, 5), logits, 4000);
  CHECK(h.size() == 3);
  CHECK(h.count(4) == 0);
  p.min_p = 0.0f;
  p.top_k = 1;  // top-k 1 is greedy
  h = histogram(*make(p, 5), logits, 100);
  CHECK(h.size() == 1);
  CHECK(h.begin()->first == 0);
}

TEST_CASE("sampler: repetition, presence and frequency penalties use the recent history") {
  const std::vector<float> logits = {2.0f, 1.9f, -1.0f};
  SamplingParams p = SamplingParams::greedy();
  p.repetition_penalty = 1.5f;  // 2.0 / 1.5 = 1.33 < 1.9
  auto s = make(p, 3);
  CHECK(*s->sample(logits) == 0);
  s->accept(0);
  CHECK(*s->sample(logits) == 1);
  p = SamplingParams::greedy();
  p.frequency_penalty = 0.06f;  // two occurrences: 2.0 - 0.12 = 1.88 < 1.9
  s = make(p, 3);
  s->accept(0);
  CHECK(*s->sample(logits) == 0);
  s->accept(0);
  CHECK(*s->sample(logits) == 1);
  p = SamplingParams::greedy();
  p.presence_penalty = 0.2f;
  p.penalty_last_n = 1;  // only the last token counts
  s = make(p, 3);
  s->accept(0);
  CHECK(*s->sample(logits) == 1);
  s->accept(2);
  CHECK(*s->sample(logits) == 0);
}
