#version 450
// Activations to int8 blocks for the integer-dot matmuls, rounded exactly as the CPU backend's
// cpu::quantize_block32 (so both backends' fast paths compute the same thing):
//   d = amax / 127 (correctly rounded), q = round-half-even(x * (1 / d)) (both correctly rounded).
// One invocation per 32-element block; layout in push.h QuantPush.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { QuantPush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) writeonly buffer QW { uint qw[]; };

void main() {
  const uint nb = pc.K / 32u;
  const uint i = group_linear() * 64u + gl_LocalInvocationID.x;  // block index over all rows
  if (i >= pc.rows * nb) return;
  const uint r = i / nb, b = i % nb;
  const uint xb = (row_off(pc.x, r) >> 2) + b * 32u;
  float amax = 0.0;
  for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(xf[xb + j]));
  const float d = amax > 0.0 ? div_rn(amax, 127.0) : 0.0;
  const float id = d > 0.0 ? div_rn(1.0, d) : 0.0;
  int sum = 0;
  for (uint w = 0u; w < 8u; ++w) {
    uint word = 0u;
    for (uint k = 0u; k < 4u; ++k) {
      precise float v = xf[xb + w * 4u + k] * id;
      const int q = int(roundEven(v));
      sum += q;
      word |= (uint(q) & 0xFFu) << (8u * k);
    }
    qw[pc.q_base + i * 8u + w] = word;
  }
  qw[pc.d_base + i] = floatBitsToUint(d);
  qw[pc.s_base + i] = uint(sum);
}
