// The tensor table: one declarative list of every decoder weight with its GGUF name, HF name and
// expected shape. It drives loading, validation and the CLI's tensor dump (for_each_tensor).
// Shapes are outermost first, i.e. HF's [out, in]. Spec: MODEL.md 7.1 (HF) and 7.2 (GGUF).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace gemma12b {

struct LayerWeights {
  TensorView attn_norm;       // (d_model)            input_layernorm
  TensorView wq;              // (n_heads*hd, d_model)
  TensorView wk;              // (n_kv*hd, d_model)
  TensorView wv;              // (n_kv*hd, d_model)   sliding layers only (K==V on full layers)
  TensorView wo;              // (d_model, n_heads*hd)
  TensorView q_norm;          // (hd)
  TensorView k_norm;          // (hd)
  TensorView post_attn_norm;  // (d_model)
  TensorView ffn_norm;        // (d_model)            pre_feedforward_layernorm
  TensorView w_gate;          // (d_ff, d_model)
  TensorView w_up;            // (d_ff, d_model)
  TensorView w_down;          // (d_model, d_ff)
  TensorView post_ffn_norm;   // (d_model)
  TensorView layer_scalar;    // (1)
};

struct Weights {
  TensorView token_embd;   // (n_vocab, d_model), also the tied LM head
  TensorView output_norm;  // (d_model)
  TensorView rope_freqs;   // (n_rot_full/2) frequency divisors of the full layers
  std::vector<LayerWeights> layers;
};

struct TensorSpec {
  std::string gguf_name;
  std::string hf_name;
  std::vector<int64_t> shape;  // outermost first
  bool required;
  bool norm_like;              // f32 vectors (norms, scalars): never quantized
  TensorView* slot;            // where the loaded view goes
};

// Visits every tensor of the decoder for `c`, binding slots in `w` (w.layers is resized).
void for_each_tensor(const ModelConfig& c, Weights& w, const std::function<void(TensorSpec&)>& fn);

}  // namespace gemma12b
