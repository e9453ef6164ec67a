#version 450
// RMSNorm and LayerNorm, one work group per row:
//   rms:   dst = x * 1/sqrt(mean(x^2) + eps) (* w)
//   layer: dst = (x - mean) * 1/sqrt(var + eps) * w + b   (biased variance, two passes)
#include "common.glsl"

layout(local_size_x = 256) in;
layout(push_constant) uniform PushBlock { NormPush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) writeonly buffer DF { float df[]; };
layout(binding = 2) readonly buffer WF { float wf[]; };
layout(binding = 3) readonly buffer BF { float bf[]; };

shared float red[256];

float reduce_sum(float v) {
  const uint tid = gl_LocalInvocationID.x;
  red[tid] = v;
  barrier();
  for (uint w = 128u; w > 0u; w >>= 1) {
    if (tid < w) red[tid] += red[tid + w];
    barrier();
  }
  const float r = red[0];
  barrier();
  return r;
}

void main() {
  const uint r = group_linear();
  if (r >= pc.rows) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint xi = row_off(pc.x, r) >> 2, di = row_off(pc.dst, r) >> 2;
  float mean = 0.0;
  if (pc.layer != 0u) {
    float s = 0.0;
    for (uint i = tid; i < pc.D; i += 256u) s += xf[xi + i];
    mean = reduce_sum(s) / float(pc.D);
  }
  float ss = 0.0;
  for (uint i = tid; i < pc.D; i += 256u) {
    const float c = xf[xi + i] - mean;
    ss += c * c;
  }
  const float inv = 1.0 / sqrt(reduce_sum(ss) / float(pc.D) + pc.eps);
  for (uint i = tid; i < pc.D; i += 256u) {
    float y = (xf[xi + i] - mean) * inv;
    if (pc.has_w != 0u) y *= wf[(pc.w_base >> 2) + i];
    if (pc.has_b != 0u) y += bf[(pc.b_base >> 2) + i];
    df[di + i] = y;
  }
}
