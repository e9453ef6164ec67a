// Token sampling over one row of logits: logit bias and suppressed tokens, repetition / presence /
// frequency penalties over the recent history, then greedy (temperature 0) or temperature ->
// top-k -> top-p -> min-p -> a seeded draw. Defaults are the Gemma 4 IT generation config
// (temperature 1.0, top_k 64, top_p 0.95).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "util/status.h"

namespace gemma12b {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int32_t top_k = 64;        // <= 0: off
  float top_p = 0.95f;       // 1: off
  float min_p = 0.0f;        // 0: off
  float repetition_penalty = 1.0f;  // 1: off (CTRL-style: divide positive logits, multiply negative)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t penalty_last_n = 64;      // history window for penalties (<= 0: whole history)
  uint64_t seed = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logit (-inf bans)
  std::vector<int32_t> suppress_tokens;                // forced to -inf

  static SamplingParams greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
  }
};

class Sampler {
 public:
  static StatusOr<std::unique_ptr<Sampler>> create(const SamplingParams& params, int64_t n_vocab);

  // Picks a token from one row of logits (does not record it; call accept).
  StatusOr<int32_t> sample(std::span<const float> logits);
  // Adds a token to the penalty history.
  void accept(int32_t token);
  void reset();
  const SamplingParams& params() const { return params_; }
  // The distribution the last sample() drew from: (token, probability) pairs, highest first.
  const std::vector<std::pair<int32_t, float>>& probabilities() const { return probs_; }

 private:
  Sampler(const SamplingParams& p, int64_t n_vocab) : params_(p), n_vocab_(n_vocab), rng_(p.seed) {}
  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
  std::vector<float> work_;
  std::vector<std::pair<int32_t, float>> probs_;
};

}  // namespace gemma12b
