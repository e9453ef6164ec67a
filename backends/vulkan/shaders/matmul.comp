#version 450
// dst[m, n0 + n] = x[m, :] . w[n0 + n, :] (+ bias[n0 + n]), f32 accumulation.
// One work group per weight row n (x, then y over 65535) and per tile of MT rows of x (z): the
// 64 threads split the row into 32-element chunks, dequantize each chunk once and use it for all
// MT rows; partial sums are reduced with subgroup adds (USE_SUBGROUPS, when the device supports
// subgroup arithmetic in compute shaders) or a shared-memory tree.
// USE_FP16 (f16 weights, devices with shaderFloat16 + storageBuffer16BitAccess, not exact mode):
// weights are read as float16_t and each group of 4 products is x·w in f16 arithmetic (x rounded
// to f16, 4 products and their sum in f16), the groups summed in f32. A group whose f16 result is
// not finite (an x beyond the f16 range, an overflowing product) is redone in f32, so the path
// never turns a finite result into inf. Error bound: see tests/backend/test_op_conformance.cpp.
#ifdef USE_FP16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#endif
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { MatmulPush pc; };

layout(binding = 0) readonly buffer XF { float xf[]; };
layout(binding = 1) readonly buffer WU { uint ww[]; };
layout(binding = 1) readonly buffer WFl { float wf[]; };
#ifdef USE_FP16
layout(binding = 1) readonly buffer WH { float16_t wh[]; };
#endif
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
#ifdef USE_FP16
  f16vec4 h[8];
  for (uint c = tid; c < nc; c += 64u) {
    const uint cnt = chunk_valid(pc.K, c);
    const uint i0 = (wrow >> 1) + c * 32u;
    for (uint g = 0u; g < 8u; ++g) {
      for (uint k = 0u; k < 4u; ++k) h[g][k] = 4u * g + k < cnt ? wh[i0 + 4u * g + k] : float16_t(0.0);
    }
    for (uint i = 0u; i < MT; ++i) {
      if (i >= mt) break;
      const uint xb = xrow[i] + c * 32u;
      float s = 0.0;
      for (uint g = 0u; g < 8u; ++g) {
        vec4 x4;
        for (uint k = 0u; k < 4u; ++k) x4[k] = 4u * g + k < cnt ? xf[xb + 4u * g + k] : 0.0;
        float part = float(dot(f16vec4(x4), h[g]));
        if (isinf(part) || isnan(part)) part = dot(x4, vec4(h[g]));
        s += part;
      }
      acc[i] += s;
    }
  }
#else
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
#endif
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
