#version 450
// dst[m, n0 + n] = x[m, :] . w[n0 + n, :] (+ bias[n0 + n]), f32 accumulation.
// One work group per weight row n (x, then y over 65535) and per tile of MT rows of x (z): the
// 64 threads split the row into 32-element chunks, dequantize each chunk once and use it for all
// MT rows; partial sums are reduced with subgroup adds (USE_SUBGROUPS, when the device supports
// subgroup arithmetic in compute shaders) or a shared-memory tree.
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { MatmulPush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) readonly buffer WU { uint ww[]; };
layout(binding = 1) readonly buffer WFl { float wf[]; };
layout(binding = 2) writeonly buffer DF { float df[]; };
layout(binding = 3) readonly buffer BF { float bf[]; };

#define WW ww
#define WF wf
#include "dequant.glsl"

const uint MT = 8u;
shared float red[MT][64];

void main() {
  const uint n = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (n >= pc.N) return;  // uniform per group
  const uint m0 = gl_WorkGroupID.z * MT;
  const uint mt = min(MT, pc.M - m0);
  const uint tid = gl_LocalInvocationID.x;
  const uint wrow = row_off(pc.w, n);
  uint xrow[MT];
  for (uint i = 0u; i < MT; ++i) xrow[i] = i < mt ? row_off(pc.x, m0 + i) >> 2 : 0u;
  float acc[MT];
  for (uint i = 0u; i < MT; ++i) acc[i] = 0.0;
  const uint nc = chunk_count(pc.K);
  float v[32];
  for (uint c = tid; c < nc; c += 64u) {
    const uint cnt = chunk_valid(pc.K, c);
    load_chunk(wrow, c, cnt, v);
    for (uint i = 0u; i < MT; ++i) {
      if (i >= mt) break;
      const uint xb = xrow[i] + c * 32u;
      float s = 0.0;
      for (uint j = 0u; j < cnt; ++j) s += xf[xb + j] * v[j];
      acc[i] += s;
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
