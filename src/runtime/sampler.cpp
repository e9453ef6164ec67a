#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace gemma12b {

StatusOr<std::unique_ptr<Sampler>> Sampler::create(const SamplingParams& p, int64_t n_vocab) {
  if (n_vocab <= 0) return InvalidArgument("sampler: vocabulary size must be positive");
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) return InvalidArgument("sampler: temperature %f must be >= 0", p.temperature);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return InvalidArgument("sampler: top_p %f must be in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return InvalidArgument("sampler: min_p %f must be in [0, 1]", p.min_p);
  if (!(p.repetition_penalty > 0.0f)) return InvalidArgument("sampler: repetition_penalty must be > 0");
  for (const auto& [tok, bias] : p.logit_bias) {
    if (tok < 0 || tok >= n_vocab) return InvalidArgument("sampler: logit_bias token %d outside the vocabulary", tok);
  }
  for (int32_t tok : p.suppress_tokens) {
    if (tok < 0 || tok >= n_vocab) return InvalidArgument("sampler: suppressed token %d outside the vocabulary", tok);
  }
  return std::unique_ptr<Sampler>(new Sampler(p, n_vocab));
}

void Sampler::accept(int32_t token) { history_.push_back(token); }

void Sampler::reset() {
  history_.clear();
  rng_.seed(params_.seed);
}

StatusOr<int32_t> Sampler::sample(std::span<const float> logits) {
  if (static_cast<int64_t>(logits.size()) != n_vocab_) {
    return InvalidArgument("sampler: got %d logits for a vocabulary of %d", logits.size(), n_vocab_);
  }
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  work_.assign(logits.begin(), logits.end());
  for (const auto& [tok, bias] : params_.logit_bias) work_[tok] += bias;
  for (int32_t tok : params_.suppress_tokens) work_[tok] = kNegInf;

  // Penalties over the last penalty_last_n accepted tokens.
  const size_t n_hist = params_.penalty_last_n <= 0 ? history_.size()
                                                    : std::min<size_t>(history_.size(), params_.penalty_last_n);
  if (n_hist > 0 && (params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                     params_.frequency_penalty != 0.0f)) {
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history_.size() - n_hist; i < history_.size(); ++i) ++counts[history_[i]];
    for (const auto& [tok, count] : counts) {
      if (tok < 0 || tok >= n_vocab_) continue;
      float& l = work_[tok];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      l -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
    }
  }

  probs_.clear();
  if (params_.temperature == 0.0f) {
    const auto it = std::max_element(work_.begin(), work_.end());  // first maximum on ties
    if (*it == kNegInf) return absl::FailedPreconditionError("sampler: every token is banned");
    const int32_t tok = static_cast<int32_t>(it - work_.begin());
    probs_.emplace_back(tok, 1.0f);
    return tok;
  }

  // Candidates sorted by logit (top-k bounds the sort).
  std::vector<std::pair<int32_t, float>>& cand = probs_;
  cand.reserve(n_vocab_);
  for (int64_t i = 0; i < n_vocab_; ++i) {
    if (work_[i] != kNegInf && !std::isnan(work_[i])) cand.emplace_back(static_cast<int32_t>(i), work_[i] / params_.temperature);
  }
  if (cand.empty()) return absl::FailedPreconditionError("sampler: every token is banned");
  auto by_logit = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
  size_t k = cand.size();
  if (params_.top_k > 0) k = std::min<size_t>(k, params_.top_k);
  std::partial_sort(cand.begin(), cand.begin() + k, cand.end(), by_logit);
  cand.resize(k);
  // Softmax over the kept candidates.
  const float mx = cand.front().second;
  double sum = 0.0;
  for (auto& c : cand) sum += c.second = std::exp(c.second - mx);
  for (auto& c : cand) c.second = static_cast<float>(c.second / sum);
  // top-p: smallest prefix with mass >= top_p.
  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = cand.size();
    for (size_t i = 0; i < cand.size(); ++i) {
      cum += cand[i].second;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand.resize(keep);
  }
  // min-p: drop tokens below min_p times the top probability.
  if (params_.min_p > 0.0f) {
    const float cut = params_.min_p * cand.front().second;
    cand.erase(std::remove_if(cand.begin() + 1, cand.end(), [cut](const auto& c) { return c.second < cut; }), cand.end());
  }
  double total = 0.0;
  for (const auto& c : cand) total += c.second;
  for (auto& c : cand) c.second = static_cast<float>(c.second / total);
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  double acc = 0.0;
  for (const auto& c : cand) {
    acc += c.second;
    if (u < acc) return c.first;
  }
  return cand.back().first;
}

}  // namespace gemma12b
