#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

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

Status generate_from_logits(Decoder& decoder, KvCache& kv, Sampler& sampler, std::vector<float> logits,
                            const GenerateParams& params, const TokenFn& on_token, GenerateResult* result) {
  if (params.max_tokens < 0) return InvalidArgument("generate: max_tokens must be >= 0");
  GenerateResult& r = *result;
  DecodeOutput out;
  out.logits = std::move(logits);
  DecodeInput in;
  const int64_t V = static_cast<int64_t>(out.logits.size());
  auto t1 = std::chrono::steady_clock::now();
  int32_t token = 0;
  while (true) {
    if (static_cast<int64_t>(r.tokens.size()) >= params.max_tokens) {
      r.reason = StopReason::kMaxTokens;
      break;
    }
    G12_ASSIGN_OR_RETURN(token, sampler.sample(std::span<const float>(out.logits.data(), V)));
    sampler.accept(token);
    r.tokens.push_back(token);
    if (on_token && !on_token(token)) {
      r.reason = StopReason::kCancelled;
      break;
    }
    if (std::find(params.stop_tokens.begin(), params.stop_tokens.end(), token) != params.stop_tokens.end()) {
      r.reason = StopReason::kStopToken;
      break;
    }
    if (static_cast<int64_t>(r.tokens.size()) >= params.max_tokens) {
      r.reason = StopReason::kMaxTokens;
      break;
    }
    if (kv.n_past() >= kv.n_ctx()) {
      r.reason = StopReason::kContextFull;
      break;
    }
    in.tokens = std::span<const int32_t>(&token, 1);
    G12_RETURN_IF_ERROR(decoder.decode(kv, in, &out));
  }
  r.decode_ms = ms_since(t1);
  return OkStatus();
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
