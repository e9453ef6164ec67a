#include "model/weights.h"

#include "absl/strings/str_format.h"  // absl::StrFormat

namespace gemma12b {

void for_each_tensor(const ModelConfig& c, Weights& w, const std::function<void(TensorSpec&)>& fn) {
  const int64_t d = c.d_model;
  auto visit = [&](std::string gguf, std::string hf, std::vector<int64_t> shape, bool required,
                   bool norm_like, TensorView* slot) {
    TensorSpec s{std::move(gguf), std::move(hf), std::move(shape), required, norm_like, slot};
    fn(s);
  };
  const std::string hp = "model.language_model.";
  visit("token_embd.weight", hp + "embed_tokens.weight", {c.n_vocab, d}, true, false, &w.token_embd);
  visit("output_norm.weight", hp + "norm.weight", {d}, true, true, &w.output_norm);
  // rope_freqs exists only in GGUF; for HF files the loader synthesises it from the config.
  visit("rope_freqs.weight", "", {c.n_rot_full / 2}, false, true, &w.rope_freqs);
  w.layers.resize(c.n_layers);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    const int64_t hd = c.head_dim(l), nq = c.n_heads * hd, nkv = c.kv_heads(l) * hd;
    const std::string g = absl::StrFormat("blk.%d.", l);
    const std::string h = absl::StrFormat("%slayers.%d.", hp, l);
    visit(g + "attn_norm.weight", h + "input_layernorm.weight", {d}, true, true, &L.attn_norm);
    visit(g + "attn_q.weight", h + "self_attn.q_proj.weight", {nq, d}, true, false, &L.wq);
    visit(g + "attn_k.weight", h + "self_attn.k_proj.weight", {nkv, d}, true, false, &L.wk);
    if (c.has_v_proj(l)) {
      visit(g + "attn_v.weight", h + "self_attn.v_proj.weight", {nkv, d}, true, false, &L.wv);
    }
    visit(g + "attn_output.weight", h + "self_attn.o_proj.weight", {d, nq}, true, false, &L.wo);
    visit(g + "attn_q_norm.weight", h + "self_attn.q_norm.weight", {hd}, true, true, &L.q_norm);
    visit(g + "attn_k_norm.weight", h + "self_attn.k_norm.weight", {hd}, true, true, &L.k_norm);
    visit(g + "post_attention_norm.weight", h + "post_attention_layernorm.weight", {d}, true, true, &L.post_attn_norm);
    visit(g + "ffn_norm.weight", h + "pre_feedforward_layernorm.weight", {d}, true, true, &L.ffn_norm);
    visit(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", {c.d_ff, d}, true, false, &L.w_gate);
    visit(g + "ffn_up.weight", h + "mlp.up_proj.weight", {c.d_ff, d}, true, false, &L.w_up);
    visit(g + "ffn_down.weight", h + "mlp.down_proj.weight", {d, c.d_ff}, true, false, &L.w_down);
    visit(g + "post_ffw_norm.weight", h + "post_feedforward_layernorm.weight", {d}, true, true, &L.post_ffn_norm);
    visit(g + "layer_output_scale.weight", h + "layer_scalar", {1}, true, true, &L.layer_scalar);
  }
}

}  // namespace gemma12b
