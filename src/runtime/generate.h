// The generation loop: prefill a prompt, then sample, stream and feed back one token at a time
// until a stop token, the token limit, a full context or the caller cancels.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "runtime/sampler.h"

namespace gemma12b {

struct GenerateParams {
  int64_t max_tokens = 256;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
};

enum class StopReason { kStopToken, kMaxTokens, kContextFull, kCancelled };

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated tokens (the stop token included)
  StopReason reason = StopReason::kMaxTokens;
  int64_t prompt_rows = 0;
  double prefill_ms = 0.0, decode_ms = 0.0;
};

// Called for every generated token; return false to cancel.
using TokenFn = std::function<bool(int32_t token)>;

// Step-wise generation from `logits` (one row: the prediction after what `kv` holds), the one
// loop every generate path runs on: next() samples a token and reports it; the token is decoded
// into `kv` at the start of the following next(), so the last token emitted (a stop token, the
// token limit, a full context, or whatever came before cancel()) is never decoded. Each next()
// that samples is timed into decode_ms(). `decoder`, `kv` and `sampler` must outlive the stream.
class TokenStream {
 public:
  TokenStream(Decoder& decoder, KvCache& kv, Sampler& sampler, std::vector<float> logits, GenerateParams params);

  // true: *token is the next token (also in tokens()); false: generation has ended (reason()).
  // An error (a failed decode) also ends it.
  StatusOr<bool> next(int32_t* token);
  // Ends generation now with reason kCancelled, unless next() already reported the end.
  void cancel();

  bool ended() const { return ended_; }
  StopReason reason() const { return reason_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  double decode_ms() const { return decode_ms_; }

 private:
  Decoder& decoder_;
  KvCache& kv_;
  Sampler& sampler_;
  GenerateParams params_;
  DecodeOutput out_;
  std::vector<int32_t> tokens_;
  StopReason reason_ = StopReason::kMaxTokens;
  bool decode_pending_ = false;  // tokens_.back() still has to go into kv_
  bool finishing_ = false;       // reason_ is set; the next next() reports the end
  bool ended_ = false;
  double decode_ms_ = 0.0;
};

// Runs `prompt` (appended to whatever `kv` already holds) and generates.
StatusOr<GenerateResult> generate(Decoder& decoder, KvCache& kv, Sampler& sampler,
                                  std::span<const int32_t> prompt, const GenerateParams& params,
                                  const TokenFn& on_token = {});

// Generates from `logits` (one row: the prediction after what `kv` holds) through a TokenStream,
// calling on_token for every token; `result->tokens`/`reason`/`decode_ms` are filled in (the
// tokens so far also on error).
Status generate_from_logits(Decoder& decoder, KvCache& kv, Sampler& sampler, std::vector<float> logits,
                            const GenerateParams& params, const TokenFn& on_token, GenerateResult* result);

// The stop tokens a Gemma 4 file declares: its EOS id plus `<eos>`, `<turn|>` and
// `<|tool_response>` looked up by string in the GGUF vocabulary (ids are never hard-coded).
std::vector<int32_t> default_stop_tokens(const Model& model);

// Sampling defaults for the file: the IT generation config (temperature 1.0, top_k 64,
// top_p 0.95) and the file's suppressed tokens.
SamplingParams default_sampling(const Model& model);

}  // namespace gemma12b
