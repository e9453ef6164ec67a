#version 450
// f32 rows -> f16 / bf16 / q8_0 / q4_0 rows (DTYPE), bit-identical to core/quant.cpp: one
// invocation per output element (f16, bf16) or block (q8_0, q4_0). Outputs are written as 16-bit
// half-words with atomic and/or, since a destination row need not start on a 4-byte boundary and
// two rows (or work groups) may share a word.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { CopyPush pc; };

layout(binding = 0) readonly buffer SF { float sf[]; };
layout(binding = 1) buffer DU { uint dw[]; };

void store16(uint off, uint v) {
  const uint sh = (off & 2u) * 8u;
  atomicAnd(dw[off >> 2], ~(0xFFFFu << sh));
  atomicOr(dw[off >> 2], (v & 0xFFFFu) << sh);
}

// Round half away from zero (C's round), exact for every float.
float round_away(float v) {
  const float t = trunc(v);
  return abs(v - t) >= 0.5 ? t + sign(v) : t;
}

void main() {
  const uint idx = group_linear() * 64u + gl_LocalInvocationID.x;
  if (idx >= pc.rows * pc.units) return;
  const uint r = idx / pc.units, u = idx % pc.units;
  const uint src = row_off(pc.src, r) >> 2, dst = row_off(pc.dst, r);
#if DTYPE == G12_F16
  store16(dst + 2u * u, float_to_half(sf[src + u]));
#elif DTYPE == G12_BF16
  store16(dst + 2u * u, float_to_bf16(sf[src + u]));
#elif DTYPE == G12_Q8_0
  const uint x0 = src + 32u * u, b = dst + 34u * u;
  float amax = 0.0;
  for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(sf[x0 + j]));
  const float d = amax / 127.0;
  const float id = d != 0.0 ? 1.0 / d : 0.0;
  store16(b, float_to_half(d));
  for (uint j = 0u; j < 32u; j += 2u) {
    precise float y0 = sf[x0 + j] * id;
    precise float y1 = sf[x0 + j + 1u] * id;
    const uint q0 = uint(int(round_away(y0))) & 0xFFu, q1 = uint(int(round_away(y1))) & 0xFFu;
    store16(b + 2u + j, q0 | (q1 << 8));
  }
#elif DTYPE == G12_Q4_0
  const uint x0 = src + 32u * u, b = dst + 18u * u;
  float amax = 0.0, vmax = 0.0;
  for (uint j = 0u; j < 32u; ++j) {
    const float v = sf[x0 + j];
    if (amax < abs(v)) {
      amax = abs(v);
      vmax = v;
    }
  }
  const float d = vmax / -8.0;
  const float id = d != 0.0 ? 1.0 / d : 0.0;
  store16(b, float_to_half(d));
  uint qb[16];
  for (uint j = 0u; j < 16u; ++j) {
    precise float y0 = sf[x0 + j] * id + 8.5;
    precise float y1 = sf[x0 + j + 16u] * id + 8.5;
    // C: (int8_t)(float) truncates toward zero; values lie in [0, 17) here
    const uint lo = min(15u, uint(int(trunc(y0)))), hi = min(15u, uint(int(trunc(y1))));
    qb[j] = lo | (hi << 4);
  }
  for (uint j = 0u; j < 16u; j += 2u) store16(b + 2u + j, qb[j] | (qb[j + 1u] << 8));
#else
#error unknown DTYPE
#endif
}
