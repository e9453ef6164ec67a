// Push-constant structs shared by the C++ recorder (vk_ops.cpp) and the GLSL shaders. Written in
// the common subset of C++ and GLSL: 32-bit scalars only, so GLSL's std430 push-constant layout
// and C++'s struct layout agree member for member (checked by static_asserts in vk_ops.cpp).
// Every op fits Vulkan's guaranteed minimum of 128 bytes of push constants.
#ifdef __cplusplus
#pragma once
#include <cstdint>
namespace gemma12b::vk {
using uint = uint32_t;
#endif

// Row addressing of a tensor bound to one binding: byte offset of flattened row r is
//   base + (r / d1) * s0 + (r % d1) * s1
// which covers contiguous tensors and strided views of rank <= 3 (rank 4 when mergeable).
struct Rows {
  uint base;
  uint d1;
  uint s0;
  uint s1;
};

// Weight dtype codes (match core/dtype.h's DType numbering).
#define G12_F32 0
#define G12_F16 1
#define G12_BF16 2
#define G12_Q8_0 3
#define G12_Q4_0 4
#define G12_Q4_K 5
#define G12_Q6_K 6
#define G12_I32 7

// matmul.comp: dst[m, n0 + n] = x[m, :] . w[n, :] (+ bias[n0 + n]); bindings x, w, dst, bias.
struct MatmulPush {
  Rows x;
  Rows w;
  Rows dst;
  uint M;
  uint N;         // weight rows in this dispatch
  uint K;
  uint n0;        // first output column of this dispatch (the weight window starts at row n0)
  uint has_bias;
  uint bias_base; // byte offset of bias[0] in its binding
};

// quant_q8.comp: f32 activation rows -> int8 blocks of 32 (cpu::quantize_block32's rounding:
// d = amax / 127, q = round-to-even(x / d)) in a scratch buffer bound as uints: packed q bytes at
// word q_base + (row * K/32 + block) * 8, d (float bits) at d_base + row * K/32 + block, and the
// block's sum of q (int) at s_base + row * K/32 + block.
struct QuantPush {
  Rows x;
  uint rows;
  uint K;  // a multiple of 32
  uint q_base;
  uint d_base;
  uint s_base;
};

// matmul_int8.comp: dst[m, n0 + n] = Σ_blocks dx·(integer dot of the q8 activations with the
// weight block) (+ bias) for q8_0 / q4_0 / q4_k / q6_k weights; bindings xq scratch (QuantPush
// layout), w, dst, bias.
struct MatmulInt8Push {
  Rows w;
  Rows dst;
  uint M;
  uint N;
  uint K;
  uint n0;
  uint has_bias;
  uint bias_base;
  uint q_base;
  uint d_base;
  uint s_base;
};

// rows.comp: get_rows and dequantize. dst[t, :] = table[id(t), :] * scale, id(t) = ids[t] or t.
// bindings table, ids, dst, error flags.
struct RowsPush {
  Rows table;
  Rows dst;
  uint T;
  uint D;
  uint ids_base;  // 0xFFFFFFFF: identity ids (dequantize)
  uint row_lo;    // this dispatch's window of table rows [row_lo, row_hi)
  uint row_hi;
  uint V;         // table rows in all (range check)
  uint check;     // 1: flag out-of-range ids
  uint use_scale;
  float scale;
};

// norm.comp: RMSNorm / LayerNorm per row; bindings x, dst, weight, bias.
struct NormPush {
  Rows x;
  Rows dst;
  uint rows;
  uint D;
  uint w_base;
  uint b_base;
  uint has_w;
  uint has_b;
  uint layer;
  float eps;
};

// rope.comp: NeoX rotary embedding of x [T, H, D]; bindings x, dst, positions, freq factors,
// and a table of inverse frequencies theta^(-2i/n_rot) as (hi, lo) float pairs (host double).
struct RopePush {
  Rows x;
  Rows dst;
  uint T;
  uint H;
  uint D;
  uint n_rot;
  uint pos_base;
  uint ff_base;
  uint has_ff;  // the inverse-frequency table starts at byte 0 of its binding
};

// attention.comp: bindings q, k, v, dst, qpos, kpos, qblock, kblock.
struct AttnPush {
  Rows q;
  Rows k;
  Rows v;
  Rows dst;
  uint T;
  uint S;
  uint Hq;
  uint Hkv;
  uint D;
  uint Dv;
  uint kv_types;  // k dtype | v dtype << 8
  uint qpos_base;
  uint kpos_base;
  uint qblock_base;
  uint kblock_base;
  uint has_block;
  int window;
  float scale;
};

// eltwise.comp: add, mul, geglu, scale, softcap; bindings a, b, dst.
#define G12_ELT_ADD 0
#define G12_ELT_MUL 1
#define G12_ELT_GEGLU 2
#define G12_ELT_SCALE 3
#define G12_ELT_SOFTCAP 4
struct EltPush {
  Rows a;
  Rows b;
  Rows dst;
  uint rows;
  uint D;
  uint op;
  uint bmode;  // 0: b has a's rows; 1: b is one row [D]; 2: b is one value
  float param;
};

// softmax.comp: dst = softmax(x * scale) per row; bindings x, dst.
struct SoftmaxPush {
  Rows x;
  Rows dst;
  uint rows;
  uint D;
  float scale;
};

// copy_to.comp (f32 -> f16/bf16/q8_0/q4_0, one invocation per element or block) and
// copy_bytes.comp (same-dtype copy, one invocation per 16-bit half-word); bindings src, dst.
struct CopyPush {
  Rows src;
  Rows dst;
  uint rows;
  uint units;  // elements, blocks or half-words per row
};

#ifdef __cplusplus
}  // namespace gemma12b::vk
#endif
