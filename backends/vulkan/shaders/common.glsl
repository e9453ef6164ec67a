// Helpers shared by every shader: row addressing, exact f16/bf16 conversions done with integer
// operations (identical on every device, denormals included), byte access into uint buffers.
#extension GL_GOOGLE_include_directive : require
#include "push.h"

// Work-group index when a dispatch is spread over x and y (x is capped at 65535 groups).
uint group_linear() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

// Byte offset of flattened row r of a tensor (push.h Rows).
uint row_off(Rows t, uint r) { return t.base + (r / t.d1) * t.s0 + (r % t.d1) * t.s1; }

// IEEE half -> float, exact.
float half_to_float(uint h) {
  const uint s = (h & 0x8000u) << 16;
  const uint e = (h >> 10) & 0x1Fu;
  const uint m = h & 0x3FFu;
  if (e == 0u) {
    const float v = float(m) * 5.9604644775390625e-8;  // m * 2^-24 (zero when m == 0)
    return s != 0u ? -v : v;
  }
  if (e == 31u) return uintBitsToFloat(s | 0x7F800000u | (m << 13));
  return uintBitsToFloat(s | ((e + 112u) << 23) | (m << 13));
}

// float -> IEEE half, round to nearest even (same as core/dtype.cpp f32_to_f16).
uint float_to_half(float f) {
  const uint x = floatBitsToUint(f);
  const uint sign = (x >> 16) & 0x8000u;
  const uint a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;
  if (a >= 0x477FF000u) return sign | 0x7C00u;
  if (a < 0x38800000u) {
    if (a < 0x33000000u) return sign;
    const uint e = a >> 23;
    const uint m = (a & 0x7FFFFFu) | 0x800000u;
    const uint s = 126u - e;
    uint r = m >> s;
    const uint rem = m & ((1u << s) - 1u);
    const uint half_ = 1u << (s - 1u);
    if (rem > half_ || (rem == half_ && (r & 1u) != 0u)) r += 1u;
    return sign | r;
  }
  uint r = a - 0x38000000u;
  const uint rem = r & 0x1FFFu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) != 0u)) r += 1u;
  return sign | r;
}

float bf16_to_float(uint b) { return uintBitsToFloat(b << 16); }

uint float_to_bf16(float f) {
  uint u = floatBitsToUint(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return ((u >> 16) | 0x40u) & 0xFFFFu;
  u += 0x7FFFu + ((u >> 16) & 1u);
  return u >> 16;
}

// Byte and half-word reads from a uint array (any binding), little-endian.
#define LOAD_U8(arr, off) ((arr[(off) >> 2] >> (((off) & 3u) * 8u)) & 0xFFu)
#define LOAD_U16(arr, off) ((arr[(off) >> 2] >> (((off) & 2u) * 8u)) & 0xFFFFu)
// Sign-extends a byte.
int sext8(uint b) { return int(b << 24) >> 24; }

// tanh from exp, finite for every input (exp(-2|x|) never overflows).
float tanh_safe(float x) {
  const float t = exp(-2.0 * abs(x));
  const float r = (1.0 - t) / (1.0 + t);
  return x < 0.0 ? -r : r;
}

// ---- error-free transformations (only correctly rounded + - * are assumed; `precise` forbids the
// FMA contraction that would break them) ----

// a = hi + lo exactly, hi with at most 12 significant bits (Veltkamp split).
void split(float a, out float hi, out float lo) {
  precise float c = 4097.0 * a;
  precise float h = c - (c - a);
  hi = h;
  precise float l = a - h;
  lo = l;
}

// p + e == a * b exactly (Dekker), without relying on a fused multiply-add.
void two_prod(float a, float b, out float p, out float e) {
  precise float pp = a * b;
  float ah, al, bh, bl;
  split(a, ah, al);
  split(b, bh, bl);
  precise float ee = ((ah * bh - pp) + ah * bl + al * bh) + al * bl;
  p = pp;
  e = ee;
}

// a / b correctly rounded (Vulkan's division is only good to 2.5 ulp): the quotient's neighbours
// are tried and the one with the smallest exact residual a - q*b wins. Finite a, b with
// |a|, |b| < 2^100 and no quotient exactly halfway between two floats (true for the callers).
float div_rn(float a, float b) {
  const float q0 = a / b;
  float best = q0, best_r = 3.0e38;
  for (int k = -2; k <= 2; ++k) {
    const float q = uintBitsToFloat(uint(int(floatBitsToUint(q0)) + k));
    if (isinf(q) || isnan(q) || sign(q) != sign(q0)) continue;
    float p, e;
    two_prod(q, b, p, e);
    precise float r = (a - p) - e;
    if (abs(r) < best_r) {
      best_r = abs(r);
      best = q;
    }
  }
  return best;
}
