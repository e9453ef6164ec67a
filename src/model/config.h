// ModelConfig: the whole description of a Gemma 4 decoder as data. The canonical 12B values live
// in config_gemma4_12b(); files are read into the same struct (GGUF `gemma4.*` metadata or HF
// config.json), so the tiny golden models and the 12B load through one code path.
// Spec: ../shared/spec/MODEL.md sections 1.1, 1.3, 1.4, 7.2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace gemma12b {

class GgufFile;
class JsonConfig;

enum class LayerType : int32_t { kSliding = 0, kFull = 1 };

struct ModelConfig {
  std::string architecture = "gemma4";
  int64_t n_vocab = 262144;
  int64_t d_model = 3840;      // hidden size
  int64_t n_layers = 48;
  int64_t d_ff = 15360;        // GeGLU intermediate size
  int64_t n_heads = 16;        // query heads, every layer
  std::vector<LayerType> layer_types;  // [n_layers]
  std::vector<int64_t> n_kv_heads;     // [n_layers]: 8 sliding, 1 full on the 12B
  int64_t head_dim_sliding = 256;
  int64_t head_dim_full = 512;
  bool k_eq_v_full = true;             // full layers have no v_proj: V comes from raw K
  int64_t sliding_window = 1024;
  float rope_theta_sliding = 10000.0f;
  float rope_theta_full = 1000000.0f;
  int32_t n_rot_sliding = 256;         // rotated dims; inv_freq denominator (llama.cpp n_rot)
  int32_t n_rot_full = 512;
  float partial_rotary_factor_full = 0.25f;  // fraction of frequency pairs that rotate (proportional)
  float rms_eps = 1e-6f;
  float final_softcap = 30.0f;
  int64_t max_context = 262144;
  // Token ids (from the file's tokenizer metadata or config.json; -1 when absent).
  int32_t bos_id = 2, eos_id = 1, pad_id = 0;
  std::vector<int32_t> suppress_tokens;  // logits forced to -inf at sampling

  bool is_full(int64_t layer) const { return layer_types[layer] == LayerType::kFull; }
  int64_t head_dim(int64_t layer) const { return is_full(layer) ? head_dim_full : head_dim_sliding; }
  int64_t kv_heads(int64_t layer) const { return n_kv_heads[layer]; }
  bool has_v_proj(int64_t layer) const { return !(is_full(layer) && k_eq_v_full); }
  // Embedding scale for text rows: f32 sqrt(d_model) (spec section 10).
  float embed_scale() const;
  // Per-dim frequency divisors for full layers ([n_rot_full/2]: 1 for rotating pairs, 1e30 for
  // the rest), the llama.cpp `rope_freqs` encoding of the proportional RoPE.
  std::vector<float> full_rope_freq_factors() const;
};

// Canonical Gemma 4 12B (spec 1.1): pattern [S,S,S,S,S,F] x 8.
ModelConfig config_gemma4_12b();

// Reads `gemma4.*` metadata; errors name the missing or inconsistent key.
StatusOr<ModelConfig> config_from_gguf(const GgufFile& file);
// Reads an HF gemma4_unified config.json (top-level or text_config).
StatusOr<ModelConfig> config_from_hf(const JsonConfig& json);
// Checks internal consistency (sizes positive, per-layer arrays sized, head dims even, ...).
Status validate_config(const ModelConfig& c);

// One-line and multi-line human summaries (for the CLI's `info`).
std::string config_summary(const ModelConfig& c);

}  // namespace gemma12b
