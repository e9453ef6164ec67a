// Synthetic full-size Gemma 4 12B files for benchmarking: random weights with the real shapes
// (spec MODEL.md 1.1, 7.2, 7.3) and the metadata both our loader and llama.cpp's need.
//   write_synthetic_model:  text GGUF (`gemma4`), every matrix in one type, norms f32.
//   write_synthetic_mmproj: mmproj GGUF (`clip`, gemma4uv + gemma4ua), matrices f16 or f32.
// Weights are approximately Gaussian (std 0.02; norm weights ~1), generated per row from a
// seeded counter-based RNG, so the file is identical for any thread count. Data is streamed
// tensor by tensor; memory stays at a few tens of MB.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "util/status.h"

namespace gemma12b::bench {

struct SyntheticOptions {
  std::string path;
  DType type = DType::kQ4_0;        // 2-D weights (text: q4_0, q4_k, q8_0, f16; mmproj: f16, f32)
  DType embd_type = DType::kCount;  // token_embd (tied LM head); kCount = same as `type`
  // With type q4_k: llama.cpp's Q4_K_M mix instead of all q4_k (q6_k for the embedding / LM head
  // and for attn_v and ffn_down in the layers its use_more_bits rule picks; general.file_type 15).
  bool q4_k_m = false;
  uint64_t seed = 1;
  int threads = 0;                  // 0 = all cores
  float weight_std = 0.02f;
  bool progress = true;             // progress lines on stderr
};

// ggml's llama_ftype for a file whose matrices are all `t` (general.file_type).
uint32_t llama_ftype_of(DType t);

Status write_synthetic_model(const SyntheticOptions& o);
Status write_synthetic_mmproj(const SyntheticOptions& o);

}  // namespace gemma12b::bench
