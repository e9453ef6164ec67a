#version 450
// dst[m, n0 + n] = Σ_c dx[m, c] · (weight block c of row n) · q[m, c] (+ bias), the integer part
// of each 32-element block computed by packed 4x8-bit dot products (SPV_KHR_integer_dot_product,
// emitted through GL_EXT_spirv_intrinsics since this glslang has no GLSL builtin for it).
// Activations come from quant_q8.comp; weights are q8_0, q4_0 or q4_k in their GGUF layout:
//   q8_0: d · Σ q_w q_x             q4_0: d · (Σ q_w q_x - 8 Σ q_x)   (q_w in 0..15)
//   q4_k: dl · Σ q_w q_x - ml · Σ q_x   (sub-block scale dl and min ml, q_w in 0..15)
//   q6_k: ds_lo · Σ_lo (q_w - 32) q_x + ds_hi · Σ_hi (q_w - 32) q_x   (a scale per 16 elements;
//         q_w - 32 as a signed byte: the 6-bit value with bit 5 flipped, sign-extended)
// Work split as matmul.comp: one work group per weight row, MT rows of x per group (z).
#extension GL_EXT_spirv_intrinsics : require
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { MatmulInt8Push pc; };

layout(binding = 0) readonly buffer XQ { uint xq[]; };
layout(binding = 1) readonly buffer WU { uint ww[]; };
layout(binding = 2) writeonly buffer DF { float df[]; };
layout(binding = 3) readonly buffer BF { float bf[]; };

spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot_packed(uint a, uint b, spirv_literal int packed_format);
int dot4x8(uint a, uint b) { return sdot_packed(a, b, 0); }

// The 32-bit word at byte offset `off` (2-byte aligned at least), little-endian.
uint load_word(uint off) {
  const uint sh = (off & 3u) * 8u;
  const uint lo = ww[off >> 2];
  return sh == 0u ? lo : (lo >> sh) | (ww[(off >> 2) + 1u] << (32u - sh));
}

// Weight block c of the row at byte `row`: eight words of signed bytes and the factors that turn
// the integer sums into the block's dot product (before dx):
//   mul_lo · Σ_{words 0-3} + mul_hi · Σ_{words 4-7} - sub · Σ q_x.
void load_block(uint row, uint c, out uint wq[8], out float mul_lo, out float mul_hi, out float sub) {
  float mul;
#if WTYPE == G12_Q8_0
  const uint b = row + c * 34u;
  mul = half_to_float(LOAD_U16(ww, b));
  sub = 0.0;
  for (uint w = 0u; w < 8u; ++w) wq[w] = load_word(b + 2u + 4u * w);
#elif WTYPE == G12_Q4_0
  const uint b = row + c * 18u;
  mul = half_to_float(LOAD_U16(ww, b));
  sub = 8.0 * mul;
  for (uint w = 0u; w < 4u; ++w) {
    const uint q = load_word(b + 2u + 4u * w);
    wq[w] = q & 0x0F0F0F0Fu;             // elements 4w .. 4w+3 (low nibbles)
    wq[w + 4u] = (q >> 4) & 0x0F0F0F0Fu;  // elements 16+4w .. (high nibbles)
  }
#elif WTYPE == G12_Q4_K
  const uint b = row + (c >> 3) * 144u;
  const uint sub_ = c & 7u;
  const float d = half_to_float(LOAD_U16(ww, b));
  const float dmin = half_to_float(LOAD_U16(ww, b + 2u));
  uint sc, mn;
  if (sub_ < 4u) {
    sc = LOAD_U8(ww, b + 4u + sub_) & 63u;
    mn = LOAD_U8(ww, b + 8u + sub_) & 63u;
  } else {
    sc = (LOAD_U8(ww, b + 8u + sub_) & 15u) | ((LOAD_U8(ww, b + sub_) >> 6) << 4);
    mn = (LOAD_U8(ww, b + 8u + sub_) >> 4) | ((LOAD_U8(ww, b + 4u + sub_) >> 6) << 4);
  }
  precise float dl = d * float(sc);
  precise float ml = dmin * float(mn);
  mul = dl;
  sub = ml;
  const uint qs = b + 16u + (sub_ >> 1) * 32u;
  const uint shift = (sub_ & 1u) * 4u;
  for (uint w = 0u; w < 8u; ++w) wq[w] = (load_word(qs + 4u * w) >> shift) & 0x0F0F0F0Fu;
#elif WTYPE == G12_Q6_K
  const uint b = row + (c >> 3) * 210u;
  const uint sub_ = c & 7u;
  const uint half_ = sub_ >> 2, quarter = sub_ & 3u;
  const uint ql = b + half_ * 64u + (quarter & 1u) * 32u;
  const uint qh = b + 128u + half_ * 32u;
  const uint scb = b + 192u + half_ * 8u + quarter * 2u;
  const float d = half_to_float(LOAD_U16(ww, b + 208u));
  const uint lshift = (quarter >> 1) * 4u, hshift = quarter * 2u;
  for (uint w = 0u; w < 8u; ++w) {
    const uint q = ((load_word(ql + 4u * w) >> lshift) & 0x0F0F0F0Fu) |
                   (((load_word(qh + 4u * w) >> hshift) & 0x03030303u) << 4);
    const uint t = q ^ 0x20202020u;                  // q - 32 in 6-bit two's complement
    wq[w] = t | ((t & 0x20202020u) * 6u);            // sign-extended to 8 bits (bits 6, 7)
  }
  precise float ds_lo = d * float(sext8(LOAD_U8(ww, scb)));
  precise float ds_hi = d * float(sext8(LOAD_U8(ww, scb + 1u)));
  mul_lo = ds_lo;
  mul_hi = ds_hi;
  sub = 0.0;
  return;
#else
#error matmul_int8 takes q8_0, q4_0, q4_k or q6_k
#endif
  mul_lo = mul;
  mul_hi = mul;
}

const uint MT = 8u;
shared float red[MT][64];

void main() {
  const uint n = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (n >= pc.N) return;  // uniform per group
  const uint m0 = gl_WorkGroupID.z * MT;
  const uint mt = min(MT, pc.M - m0);
  const uint tid = gl_LocalInvocationID.x;
  const uint wrow = row_off(pc.w, n);
  const uint nb = pc.K / 32u;
  float acc[MT];
  for (uint i = 0u; i < MT; ++i) acc[i] = 0.0;
  for (uint c = tid; c < nb; c += 64u) {
    uint wq[8];
    float mul_lo, mul_hi, sub;
    load_block(wrow, c, wq, mul_lo, mul_hi, sub);
    for (uint i = 0u; i < MT; ++i) {
      if (i >= mt) break;
      const uint blk = (m0 + i) * nb + c;
      const uint q0 = pc.q_base + blk * 8u;
      int lo = 0, hi = 0;
      for (uint w = 0u; w < 4u; ++w) lo += dot4x8(wq[w], xq[q0 + w]);
      for (uint w = 4u; w < 8u; ++w) hi += dot4x8(wq[w], xq[q0 + w]);
      const float dx = uintBitsToFloat(xq[pc.d_base + blk]);
      const int xsum = int(xq[pc.s_base + blk]);
      float r;
      if (mul_lo == mul_hi) {
        r = mul_lo * float(lo + hi) - sub * float(xsum);
      } else {
        r = mul_lo * float(lo) + mul_hi * float(hi) - sub * float(xsum);
      }
      acc[i] += dx * r;
    }
  }
#ifdef USE_SUBGROUPS
  for (uint i = 0u; i < MT; ++i) {
    const float sg = subgroupAdd(acc[i]);
    if (gl_SubgroupInvocationID == 0u) red[i][gl_SubgroupID] = sg;
  }
  barrier();
  if (tid < mt) {
    float r = 0.0;
    for (uint g = 0u; g < gl_NumSubgroups; ++g) r += red[tid][g];
#else
  for (uint i = 0u; i < MT; ++i) red[i][tid] = acc[i];
  barrier();
  for (uint w = 32u; w > 0u; w >>= 1) {
    if (tid < w) {
      for (uint i = 0u; i < MT; ++i) red[i][tid] += red[i][tid + w];
    }
    barrier();
  }
  if (tid < mt) {
    float r = red[tid][0];
#endif
    const uint col = pc.n0 + n;
    if (pc.has_bias != 0u) r += bf[(pc.bias_base >> 2) + col];
    df[(row_off(pc.dst, m0 + tid) >> 2) + col] = r;
  }
}
