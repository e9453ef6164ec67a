#version 450
// dst = softmax(x * scale) per row, one work group per row (max, then sum of exponentials).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(push_constant) uniform PushBlock { SoftmaxPush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) writeonly buffer DF { float df[]; };

shared float red[256];

void main() {
  const uint r = group_linear();
  if (r >= pc.rows) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint xi = row_off(pc.x, r) >> 2, di = row_off(pc.dst, r) >> 2;
  float mx = uintBitsToFloat(0xFF800000u);  // -inf
  for (uint i = tid; i < pc.D; i += 256u) mx = max(mx, xf[xi + i] * pc.scale);
  red[tid] = mx;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1) {
    if (tid < w) red[tid] = max(red[tid], red[tid + w]);
    barrier();
  }
  mx = red[0];
  barrier();
  float s = 0.0;
  for (uint i = tid; i < pc.D; i += 256u) s += exp(xf[xi + i] * pc.scale - mx);
  red[tid] = s;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1) {
    if (tid < w) red[tid] += red[tid + w];
    barrier();
  }
  const float inv = 1.0 / red[0];
  for (uint i = tid; i < pc.D; i += 256u) df[di + i] = exp(xf[xi + i] * pc.scale - mx) * inv;
}
