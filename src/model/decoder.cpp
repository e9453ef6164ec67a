#include "model/decoder.h"

#include <algorithm>

#include "core/ops.h"

namespace gemma12b {

namespace {
constexpr int64_t kLogitRows = 16;  // logits are computed this many rows at a time
}

Decoder::~Decoder() = default;

StatusOr<std::unique_ptr<Decoder>> Decoder::create(const Model& model, int64_t max_ubatch) {
  if (max_ubatch <= 0 || max_ubatch > 65536) return InvalidArgument("max_ubatch %d outside [1, 65536]", max_ubatch);
  std::unique_ptr<Decoder> d(new Decoder(model, max_ubatch));
  G12_ASSIGN_OR_RETURN(d->stream_, model.device().create_stream());
  G12_RETURN_IF_ERROR(d->ensure_scratch(std::min<int64_t>(max_ubatch, 64)));
  return d;
}

Status Decoder::ensure_scratch(int64_t rows) {
  if (rows <= scratch_rows_) return OkStatus();
  const ModelConfig& c = model_.config();
  const int64_t hd = std::max(c.head_dim_sliding, c.head_dim_full);
  int64_t max_kv = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) max_kv = std::max(max_kv, c.kv_heads(l));
  const int64_t T = rows, d = c.d_model;
  struct Part {
    TensorView* view;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Part> parts = {
      {&x_, DType::kF32, {T, d}},          {&h_, DType::kF32, {T, d}},
      {&q_, DType::kF32, {T, c.n_heads * hd}}, {&k_, DType::kF32, {T, max_kv * hd}},
      {&v_, DType::kF32, {T, max_kv * hd}}, {&attn_, DType::kF32, {T, c.n_heads * hd}},
      {&o_, DType::kF32, {T, d}},          {&gate_, DType::kF32, {T, c.d_ff}},
      {&up_, DType::kF32, {T, c.d_ff}},    {&logits_, DType::kF32, {std::min(T, kLogitRows), c.n_vocab}},
      {&ids_, DType::kI32, {T}},           {&pos_, DType::kI32, {T}},
      {&blocks_, DType::kI32, {T}},
  };
  size_t total = 0;
  std::vector<size_t> offsets;
  for (const Part& p : parts) {
    offsets.push_back(total);
    size_t bytes = row_size(p.dtype, p.shape.back());
    for (size_t i = 0; i + 1 < p.shape.size(); ++i) bytes *= p.shape[i];
    total += (bytes + 63) / 64 * 64;
  }
  G12_ASSIGN_OR_RETURN(scratch_, model_.device().create_buffer(total));
  for (size_t i = 0; i < parts.size(); ++i) {
    *parts[i].view = TensorView::contiguous(scratch_.get(), offsets[i], parts[i].dtype,
                                            static_cast<int>(parts[i].shape.size()), parts[i].shape.data());
  }
  scratch_rows_ = rows;
  return OkStatus();
}

Status Decoder::decode(KvCache& kv, const DecodeInput& in, DecodeOutput* out) {
  const ModelConfig& c = model_.config();
  const bool text = !in.tokens.empty();
  if (text == !in.embeddings.empty()) return InvalidArgument("decode: give either tokens or embeddings");
  int64_t n = static_cast<int64_t>(in.tokens.size());
  if (!text) {
    if (in.embeddings.size() % c.d_model != 0) {
      return InvalidArgument("decode: %d embedding values are not a multiple of d_model %d", in.embeddings.size(), c.d_model);
    }
    n = static_cast<int64_t>(in.embeddings.size()) / c.d_model;
  }
  for (int64_t i = 0; text && i < n; ++i) {
    if (in.tokens[i] < 0 || in.tokens[i] >= c.n_vocab) {
      return InvalidArgument("decode: token id %d at index %d is outside the vocabulary [0, %d)", in.tokens[i], i, c.n_vocab);
    }
  }
  if (kv.n_past() + n > kv.n_ctx()) {
    return absl::OutOfRangeError(absl::StrFormat("decode: %d rows after %d would exceed the context of %d positions",
                                                 n, kv.n_past(), kv.n_ctx()));
  }
  if (in.bidirectional && n > std::min(max_ubatch_, kv.options().max_ubatch)) {
    return InvalidArgument("decode: a bidirectional block of %d rows does not fit one ubatch of %d; raise max_ubatch",
                           n, std::min(max_ubatch_, kv.options().max_ubatch));
  }
  out->n_rows = 0;
  out->logits.clear();
  out->hidden.clear();
  const int64_t start = kv.n_past();
  const int32_t block = in.bidirectional ? kv.new_block_id() : -1;
  const int64_t ub = std::min(max_ubatch_, kv.options().max_ubatch);
  for (int64_t b = 0; b < n; b += ub) {
    Status s = forward_ubatch(kv, in, b, std::min(ub, n - b), block, out);
    if (!s.ok()) {
      kv.truncate(start).IgnoreError();
      return s;
    }
  }
  return OkStatus();
}

Status Decoder::forward_ubatch(KvCache& kv, const DecodeInput& in, int64_t begin, int64_t T,
                               int32_t block, DecodeOutput* out) {
  const ModelConfig& c = model_.config();
  const Weights& w = model_.weights();
  Stream& s = *stream_;
  G12_RETURN_IF_ERROR(ensure_scratch(T));
  const int64_t d = c.d_model, H = c.n_heads, pos0 = kv.n_past();

  // Positions and block ids of the rows.
  std::vector<int32_t>& pos = pos_host_;
  std::vector<int32_t>& blocks = blocks_host_;
  pos.resize(T);
  blocks.assign(T, block);
  for (int64_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(pos0 + i);
  TensorView posv = pos_.slice(0, 0, T), blockv = blocks_.slice(0, 0, T);
  G12_RETURN_IF_ERROR(posv.buffer->upload(posv.offset, pos.data(), T * sizeof(int32_t)));
  G12_RETURN_IF_ERROR(blockv.buffer->upload(blockv.offset, blocks.data(), T * sizeof(int32_t)));

  // x [T, d]: text rows E[token] * sqrt(d); multimodal rows as given.
  TensorView x = x_.slice(0, 0, T);
  if (!in.tokens.empty()) {
    TensorView ids = ids_.slice(0, 0, T);
    G12_RETURN_IF_ERROR(ids.buffer->upload(ids.offset, in.tokens.data() + begin, T * sizeof(int32_t)));
    G12_RETURN_IF_ERROR(ops::get_rows(s, x, w.token_embd, ids, c.embed_scale()));
  } else {
    G12_RETURN_IF_ERROR(x.buffer->upload(x.offset, in.embeddings.data() + begin * d, T * d * sizeof(float)));
  }
  G12_RETURN_IF_ERROR(kv.commit(pos0, T, blocks));

  TensorView h = h_.slice(0, 0, T), o = o_.slice(0, 0, T);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    const bool full = c.is_full(l);
    const int64_t hd = c.head_dim(l), Hkv = c.kv_heads(l);

    // ---- attention block ----
    // h = RMSNorm(x; input_layernorm)
    G12_RETURN_IF_ERROR(ops::rms_norm(s, h, x, L.attn_norm, c.rms_eps));
    // q [T, H, hd] = RoPE(RMSNorm_head(h Wqᵀ; q_norm))
    TensorView q = TensorView::contiguous(q_.buffer, q_.offset, DType::kF32, {T, H, hd});
    TensorView k = TensorView::contiguous(k_.buffer, k_.offset, DType::kF32, {T, Hkv, hd});
    TensorView v = TensorView::contiguous(v_.buffer, v_.offset, DType::kF32, {T, Hkv, hd});
    G12_RETURN_IF_ERROR(ops::matmul(s, q.reshape({T, H * hd}), h, L.wq));
    G12_RETURN_IF_ERROR(ops::rms_norm(s, q, q, L.q_norm, c.rms_eps));
    // k_raw [T, Hkv, hd] = h Wkᵀ; v_raw = h Wvᵀ on sliding layers, k_raw on full layers (K==V)
    G12_RETURN_IF_ERROR(ops::matmul(s, k.reshape({T, Hkv * hd}), h, L.wk));
    if (c.has_v_proj(l)) {
      G12_RETURN_IF_ERROR(ops::matmul(s, v.reshape({T, Hkv * hd}), h, L.wv));
      G12_RETURN_IF_ERROR(ops::rms_norm(s, v, v, TensorView{}, c.rms_eps));  // scale-free v_norm
    } else {
      G12_RETURN_IF_ERROR(ops::rms_norm(s, v, k, TensorView{}, c.rms_eps));  // from raw K
    }
    G12_RETURN_IF_ERROR(ops::rms_norm(s, k, k, L.k_norm, c.rms_eps));
    const float theta = full ? c.rope_theta_full : c.rope_theta_sliding;
    const int32_t n_rot = full ? c.n_rot_full : c.n_rot_sliding;
    const TensorView ff = full ? w.rope_freqs : TensorView{};
    G12_RETURN_IF_ERROR(ops::rope(s, q, q, posv, ff, theta, n_rot));
    G12_RETURN_IF_ERROR(ops::rope(s, k, k, posv, ff, theta, n_rot));

    // Append K and V to the cache (the ring wraps at most once per ubatch).
    const TensorView kc = kv.k(l), vc = kv.v(l);
    for (int64_t i = 0; i < T;) {
      const int64_t slot = kv.slot_of(l, pos0 + i);
      const int64_t run = std::min(T - i, kv.n_slots(l) - slot);
      G12_RETURN_IF_ERROR(ops::copy(s, kc.slice(0, slot, run), k.slice(0, i, run)));
      G12_RETURN_IF_ERROR(ops::copy(s, vc.slice(0, slot, run), v.slice(0, i, run)));
      i += run;
    }

    // attn [T, H, hd]: scale 1.0; sliding layers: window + bidirectional block; full: causal.
    const int64_t used = kv.used_slots(l);
    ops::AttentionArgs a;
    a.q = q;
    a.k = kc.slice(0, 0, used);
    a.v = vc.slice(0, 0, used);
    a.qpos = posv;
    a.kpos = kv.kpos(l).slice(0, 0, used);
    if (!full && block >= 0) {
      a.qblock = blockv;
      a.kblock = kv.kblock(l).slice(0, 0, used);
    }
    a.scale = 1.0f;
    a.window = full ? 0 : static_cast<int32_t>(c.sliding_window);
    TensorView attn = TensorView::contiguous(attn_.buffer, attn_.offset, DType::kF32, {T, H, hd});
    G12_RETURN_IF_ERROR(ops::attention(s, attn, a));
    // x = x + RMSNorm(attn Woᵀ; post_attention_layernorm)
    G12_RETURN_IF_ERROR(ops::matmul(s, o, attn.reshape({T, H * hd}), L.wo));
    G12_RETURN_IF_ERROR(ops::rms_norm(s, o, o, L.post_attn_norm, c.rms_eps));
    G12_RETURN_IF_ERROR(ops::add(s, x, x, o));

    // ---- feed-forward block ----
    // x = x + RMSNorm(W_down(gelu_tanh(W_gate h) ⊙ W_up h); post_feedforward_layernorm)
    TensorView gate = gate_.slice(0, 0, T), up = up_.slice(0, 0, T);
    G12_RETURN_IF_ERROR(ops::rms_norm(s, h, x, L.ffn_norm, c.rms_eps));
    G12_RETURN_IF_ERROR(ops::matmul(s, gate, h, L.w_gate));
    G12_RETURN_IF_ERROR(ops::matmul(s, up, h, L.w_up));
    G12_RETURN_IF_ERROR(ops::geglu(s, gate, gate, up));
    G12_RETURN_IF_ERROR(ops::matmul(s, o, gate, L.w_down));
    G12_RETURN_IF_ERROR(ops::rms_norm(s, o, o, L.post_ffn_norm, c.rms_eps));
    G12_RETURN_IF_ERROR(ops::add(s, x, x, o));
    // x = x · layer_scalar (the whole residual stream)
    G12_RETURN_IF_ERROR(ops::mul(s, x, x, L.layer_scalar));
  }

  // ---- head: final norm, tied LM head, soft-cap ----
  const bool last_ubatch = begin + T == static_cast<int64_t>(in.tokens.empty() ? in.embeddings.size() / d : in.tokens.size());
  const int64_t first = in.all_logits ? 0 : (last_ubatch ? T - 1 : T);
  for (int64_t r0 = first; r0 < T; r0 += kLogitRows) {
    const int64_t n = std::min(kLogitRows, T - r0);
    TensorView y = h.slice(0, r0, n);
    G12_RETURN_IF_ERROR(ops::rms_norm(s, y, x.slice(0, r0, n), w.output_norm, c.rms_eps));
    TensorView logits = logits_.slice(0, 0, n);
    G12_RETURN_IF_ERROR(ops::matmul(s, logits, y, w.token_embd));
    if (c.final_softcap > 0.0f) G12_RETURN_IF_ERROR(ops::softcap(s, logits, logits, c.final_softcap));
    G12_RETURN_IF_ERROR(s.synchronize());
    const size_t old = out->logits.size();
    out->logits.resize(old + n * c.n_vocab);
    G12_RETURN_IF_ERROR(logits.buffer->download(logits.offset, out->logits.data() + old, n * c.n_vocab * sizeof(float)));
    if (in.want_hidden) {
      const size_t oh = out->hidden.size();
      out->hidden.resize(oh + n * d);
      G12_RETURN_IF_ERROR(y.buffer->download(y.offset, out->hidden.data() + oh, n * d * sizeof(float)));
    }
    out->n_rows += n;
  }
  return s.synchronize();
}

}  // namespace gemma12b
