#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <utility>

#include "io/hf_config.h"

namespace gemma12b {

namespace {
double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

StatusOr<GenerateResult> generate(Decoder& decoder, KvCache& kv, Sampler& sampler,
                                  std::span<const int32_t> prompt, const GenerateParams& params,
                                  const TokenFn& on_token) {
  if (prompt.empty()) return InvalidArgument("generate: the prompt is empty");
  if (params.max_tokens < 0) return InvalidArgument("generate: max_tokens must be >= 0");
  GenerateResult r;
  r.prompt_rows = static_cast<int64_t>(prompt.size());
  DecodeOutput out;
  DecodeInput in;
  in.tokens = prompt;
  auto t0 = std::chrono::steady_clock::now();
  G12_RETURN_IF_ERROR(decoder.decode(kv, in, &out));
  r.prefill_ms = ms_since(t0);
  for (int32_t t : prompt) sampler.accept(t);
  G12_RETURN_IF_ERROR(generate_from_logits(decoder, kv, sampler, std::move(out.logits), params, on_token, &r));
  return r;
}

TokenStream::TokenStream(Decoder& decoder, KvCache& kv, Sampler& sampler, std::vector<float> logits,
                         GenerateParams params)
    : decoder_(decoder), kv_(kv), sampler_(sampler), params_(std::move(params)) {
  out_.logits = std::move(logits);
}

StatusOr<bool> TokenStream::next(int32_t* token) {
  if (ended_) return false;
  if (finishing_) {
    ended_ = true;
    return false;
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (decode_pending_) {
    decode_pending_ = false;
    DecodeInput in;
    in.tokens = std::span<const int32_t>(&tokens_.back(), 1);
    if (Status st = decoder_.decode(kv_, in, &out_); !st.ok()) {
      ended_ = true;
      return st;
    }
  }
  if (static_cast<int64_t>(tokens_.size()) >= params_.max_tokens) {  // max_tokens == 0
    reason_ = StopReason::kMaxTokens;
    ended_ = true;
    return false;
  }
  auto sampled = sampler_.sample(std::span<const float>(out_.logits));
  if (!sampled.ok()) {
    ended_ = true;
    return sampled.status();
  }
  const int32_t t = *sampled;
  sampler_.accept(t);
  tokens_.push_back(t);
  if (std::find(params_.stop_tokens.begin(), params_.stop_tokens.end(), t) != params_.stop_tokens.end()) {
    reason_ = StopReason::kStopToken;
    finishing_ = true;
  } else if (static_cast<int64_t>(tokens_.size()) >= params_.max_tokens) {
    reason_ = StopReason::kMaxTokens;
    finishing_ = true;
  } else if (kv_.n_past() >= kv_.n_ctx()) {
    reason_ = StopReason::kContextFull;
    finishing_ = true;
  } else {
    decode_pending_ = true;
  }
  decode_ms_ += ms_since(t0);
  *token = t;
  return true;
}

void TokenStream::cancel() {
  if (ended_) return;
  reason_ = StopReason::kCancelled;
  decode_pending_ = false;
  ended_ = true;
}

Status generate_from_logits(Decoder& decoder, KvCache& kv, Sampler& sampler, std::vector<float> logits,
                            const GenerateParams& params, const TokenFn& on_token, GenerateResult* result) {
  if (params.max_tokens < 0) return InvalidArgument("generate: max_tokens must be >= 0");
  TokenStream stream(decoder, kv, sampler, std::move(logits), params);
  Status st;
  int32_t token = 0;
  while (true) {
    StatusOr<bool> more = stream.next(&token);
    if (!more.ok()) {
      st = more.status();
      break;
    }
    if (!*more) break;
    if (on_token && !on_token(token)) stream.cancel();
  }
  result->tokens = stream.tokens();
  result->reason = stream.reason();
  result->decode_ms = stream.decode_ms();
  return st;
}

std::vector<int32_t> default_stop_tokens(const Model& model) {
  std::vector<int32_t> stops;
  if (model.config().eos_id >= 0) stops.push_back(model.config().eos_id);
  if (const GgufFile* g = model.gguf(); g != nullptr) {
    auto vocab = g->get_string_array("tokenizer.ggml.tokens");
    if (vocab.ok()) {
      for (const char* s : {"<eos>", "<turn|>", "<|tool_response>"}) {
        auto it = std::find(vocab->begin(), vocab->end(), s);
        if (it != vocab->end()) stops.push_back(static_cast<int32_t>(it - vocab->begin()));
      }
    }
  }
  std::sort(stops.begin(), stops.end());
  stops.erase(std::unique(stops.begin(), stops.end()), stops.end());
  return stops;
}

SamplingParams default_sampling(const Model& model) {
  SamplingParams p;  // the IT generation config values are the struct's defaults
  p.suppress_tokens = model.config().suppress_tokens;
  // HF checkpoints: generation_config.json overrides them when present.
  if (model.format() == "safetensors") {
    std::error_code ec;
    std::filesystem::path dir = model.path();
    if (!std::filesystem::is_directory(dir, ec)) dir = dir.parent_path();
    if (auto gc = JsonConfig::load((dir / "generation_config.json").string()); gc.ok()) {
      if (auto t = (*gc)->get_float("temperature"); t.ok()) p.temperature = static_cast<float>(*t);
      if (auto k = (*gc)->get_int("top_k"); k.ok()) p.top_k = static_cast<int32_t>(*k);
      if (auto tp = (*gc)->get_float("top_p"); tp.ok()) p.top_p = static_cast<float>(*tp);
      if (auto ds = (*gc)->get_bool("do_sample"); ds.ok() && !*ds) p.temperature = 0.0f;
      if (auto sup = (*gc)->get_int_array("suppress_tokens"); sup.ok()) {
        p.suppress_tokens.clear();
        for (int64_t t : *sup) {
          if (t >= 0 && t < model.config().n_vocab) p.suppress_tokens.push_back(static_cast<int32_t>(t));
        }
      }
    }
  }
  return p;
}

}  // namespace gemma12b
