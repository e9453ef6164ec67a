// The closed op set, sized to Gemma 4. Every backend implements these with the semantics written
// here; backends/reference is the executable definition and the oracle in tests.
//
// Conventions: activations are f32 unless stated; shapes are outermost first; "rows" means every
// index of the leading dims (the innermost dim is contiguous); dst may alias src[0] exactly
// (in-place) for the element-wise and row-wise ops (rmsnorm, layernorm, rope, add, mul, scale,
// softcap, softmax, geglu).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace gemma12b {

enum class OpKind : int32_t {
  // dst[M,N] = src0[M,K] · src1[N,K]ᵀ (+ src2[N] bias if given).
  // src1 (weights) in any dtype but i32; src0, src2, dst f32. M is the row count of src0.
  kMatmul = 0,
  // dst[T,D] f32 = src0[V,D][src1[t]] · params.scale; src0 any dtype, src1 i32 [T] with ids in
  // [0, V) (out-of-range ids are an error).
  kGetRows,
  // dst = src0 · rsqrt(mean(src0²) + eps) (· src1[D] if given), per row of length D.
  kRmsNorm,
  // dst = (src0 − mean) · rsqrt(var + eps) · src1[D] + src2[D], per row (biased variance).
  kLayerNorm,
  // NeoX-pairing rotary embedding on src0 [T,H,D]: dims i and i + n_rot/2 (i < n_rot/2) rotate
  // by angle pos[t] · θ^(−2i/n_rot) / ff[i] with pos = src1 i32 [T], optional frequency factors
  // src2 f32 [n_rot/2]; dims ≥ n_rot pass through. params.theta, params.n_rot (0 means D).
  kRope,
  // Attention with separate K and V, GQA/MQA and a position-based mask.
  // src0 q [T,Hq,D] f32, src1 k [S,Hkv,D], src2 v [S,Hkv,Dv] (k, v in f32, f16 or q8_0),
  // src3 qpos i32 [T], src4 kpos i32 [S] (−1 marks an empty slot), optional src5 qblock i32 [T]
  // and src6 kblock i32 [S] (−1 = not in a bidirectional block). Query head h reads KV head
  // h / (Hq / Hkv). Key s is visible to query t iff kpos[s] ≥ 0 and
  //   (kpos[s] ≤ qpos[t] or (qblock[t] ≥ 0 and qblock[t] == kblock[s]))
  //   and (window ≤ 0 or qpos[t] − kpos[s] < window).
  // dst [T,Hq,Dv] = softmax_s(q·k · params.scale over visible s) · v, accumulated in f32.
  // A query with no visible key gets zeros.
  kAttention,
  // dst = gelu_tanh(src0) ⊙ src1, gelu_tanh(z) = 0.5 z (1 + tanh(√(2/π)(z + 0.044715 z³))).
  kGeglu,
  // dst = src0 + src1; src1 has src0's shape, or [D] (added to every row), or [1].
  kAdd,
  // dst = src0 ⊙ src1; broadcasting as kAdd.
  kMul,
  // dst = src0 · params.scale.
  kScale,
  // dst = cap · tanh(src0 / cap), cap = params.cap > 0.
  kSoftcap,
  // dst = softmax(src0 · params.scale) per row.
  kSoftmax,
  // dst = src0 converted to dst.dtype, row by row (same row count and row length). One of the
  // two is f32; the other f32, f16, bf16, q8_0 or q4_0. Used to write the KV cache.
  kCopy,
  // dst f32 = src0 dequantized (any dtype but i32), row by row.
  kDequantize,
  kCount
};

std::string_view op_name(OpKind kind);

constexpr int kMaxOpSrc = 7;

struct OpParams {
  float eps = 1e-6f;
  float scale = 1.0f;
  float theta = 10000.0f;
  float cap = 0.0f;
  int32_t n_rot = 0;
  int32_t window = 0;
};

struct Op {
  OpKind kind = OpKind::kCount;
  TensorView dst;
  std::array<TensorView, kMaxOpSrc> src{};  // an unused or absent optional input is !valid()
  OpParams params;
};


}  // namespace gemma12b
