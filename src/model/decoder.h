// The Gemma 4 text decoder forward pass (spec MODEL.md 1.2-1.5). One Decoder per sequence: it owns
// the sequence's scratch memory and uses a KvCache it is given. Batched prefill and single-token
// decode are the same code path (a ubatch of T rows; T = 1 for decode).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/backend.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace gemma12b {

// Rows appended to the sequence at positions n_past, n_past + 1, ...
struct DecodeInput {
  std::span<const int32_t> tokens;  // text tokens (scaled by sqrt(d_model) after lookup), or
  std::span<const float> embeddings;  // [n, d_model] multimodal rows, inserted unscaled
  // true: the rows form one bidirectional block (an image or video frame): on sliding layers
  // they see each other regardless of order. The whole block is processed in one ubatch.
  bool bidirectional = false;
  // Which rows get logits: all of them, or only the last.
  bool all_logits = false;
  // Also return the final-normed hidden state of the same rows (MTP drafter input).
  bool want_hidden = false;
};

struct DecodeOutput {
  int64_t n_rows = 0;          // rows with outputs
  std::vector<float> logits;   // [n_rows, n_vocab], soft-capped
  std::vector<float> hidden;   // [n_rows, d_model] when requested
};

class Decoder {
 public:
  static StatusOr<std::unique_ptr<Decoder>> create(const Model& model, int64_t max_ubatch = 512);
  ~Decoder();

  // Runs the rows of `in` through the model, appending them to `kv`. On error the cache is
  // rolled back to its previous length.
  Status decode(KvCache& kv, const DecodeInput& in, DecodeOutput* out);

  int64_t max_ubatch() const { return max_ubatch_; }

 private:
  Decoder(const Model& model, int64_t max_ubatch) : model_(model), max_ubatch_(max_ubatch) {}
  Status ensure_scratch(int64_t rows);
  Status forward_ubatch(KvCache& kv, const DecodeInput& in, int64_t begin, int64_t n,
                        int32_t block, DecodeOutput* out);

  const Model& model_;
  int64_t max_ubatch_;
  int64_t scratch_rows_ = 0;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Buffer> scratch_;
  // Views into scratch_, sized for scratch_rows_ rows.
  TensorView x_, h_, q_, k_, v_, attn_, o_, gate_, up_, logits_, ids_, pos_, blocks_;
  std::vector<int32_t> pos_host_, blocks_host_;  // host copies of pos_/blocks_, reused
};

}  // namespace gemma12b
