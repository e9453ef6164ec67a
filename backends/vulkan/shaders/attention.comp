#version 450
// Attention for one query row (t, h) per work group, keys in blocks of 128 with an online softmax:
//   key s visible iff kpos[s] >= 0 and (kpos[s] <= qpos[t] or same bidirectional block)
//                     and (window <= 0 or qpos[t] - kpos[s] < window)
//   dst[t, h] = sum_s softmax_s(q . k[s, h / G] * scale) v[s, h / G]   (zeros if nothing visible)
// Each thread scores one key of a block; then each thread accumulates up to 8 output dims
// (Dv <= 1024). K and V may be f32, f16 or q8_0, independently.
#include "common.glsl"

layout(local_size_x = 128) in;
layout(push_constant) uniform PushBlock { AttnPush pc; };

layout(binding = 0) readonly buffer QF { float qf[]; };
layout(binding = 1) readonly buffer KU { uint kw[]; };
layout(binding = 1) readonly buffer KF { float kf[]; };
layout(binding = 2) readonly buffer VU { uint vw[]; };
layout(binding = 2) readonly buffer VF { float vf[]; };
layout(binding = 3) writeonly buffer DF { float df[]; };
layout(binding = 4) readonly buffer QP { int qpos[]; };
layout(binding = 5) readonly buffer KP { int kpos[]; };
layout(binding = 6) readonly buffer QB { int qblock[]; };
layout(binding = 7) readonly buffer KB { int kblock[]; };

const uint WG = 128u;
shared float qs[1024];
shared float p_[WG];
shared float red[WG];

float k_at(uint type, uint row, uint i) {
  if (type == G12_F32) return kf[(row >> 2) + i];
  if (type == G12_F16) return half_to_float(LOAD_U16(kw, row + 2u * i));
  const uint b = row + (i >> 5) * 34u;
  return float(sext8(LOAD_U8(kw, b + 2u + (i & 31u)))) * half_to_float(LOAD_U16(kw, b));
}

float v_at(uint type, uint row, uint i) {
  if (type == G12_F32) return vf[(row >> 2) + i];
  if (type == G12_F16) return half_to_float(LOAD_U16(vw, row + 2u * i));
  const uint b = row + (i >> 5) * 34u;
  return float(sext8(LOAD_U8(vw, b + 2u + (i & 31u)))) * half_to_float(LOAD_U16(vw, b));
}

float block_reduce(float v, bool take_max) {
  const uint tid = gl_LocalInvocationID.x;
  red[tid] = v;
  barrier();
  for (uint w = WG / 2u; w > 0u; w >>= 1) {
    if (tid < w) red[tid] = take_max ? max(red[tid], red[tid + w]) : red[tid] + red[tid + w];
    barrier();
  }
  const float r = red[0];
  barrier();
  return r;
}

void main() {
  const uint r = group_linear();
  if (r >= pc.T * pc.Hq) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint t = r / pc.Hq, h = r % pc.Hq;
  const uint hk = h / (pc.Hq / pc.Hkv);
  const uint ktype = pc.kv_types & 255u, vtype = pc.kv_types >> 8;
  const uint qi = row_off(pc.q, r) >> 2;
  for (uint i = tid; i < pc.D; i += WG) qs[i] = qf[qi + i];
  const int qp = qpos[(pc.qpos_base >> 2) + t];
  const int qb = pc.has_block != 0u ? qblock[(pc.qblock_base >> 2) + t] : -1;
  const float NEG_INF = uintBitsToFloat(0xFF800000u);
  float m = NEG_INF, l = 0.0;
  float acc[8];
  for (uint j = 0u; j < 8u; ++j) acc[j] = 0.0;
  barrier();
  for (uint s0 = 0u; s0 < pc.S; s0 += WG) {
    const uint s = s0 + tid;
    float score = NEG_INF;
    if (s < pc.S) {
      const int kp = kpos[(pc.kpos_base >> 2) + s];
      const bool in_block = qb >= 0 && pc.has_block != 0u && qb == kblock[(pc.kblock_base >> 2) + s];
      const bool visible = kp >= 0 && (kp <= qp || in_block) && (pc.window <= 0 || qp - kp < pc.window);
      if (visible) {
        const uint kr = row_off(pc.k, s * pc.Hkv + hk);
        float dot = 0.0;
        for (uint i = 0u; i < pc.D; ++i) dot += qs[i] * k_at(ktype, kr, i);
        score = dot * pc.scale;
      }
    }
    const float bm = block_reduce(score, true);
    const float nm = max(m, bm);
    if (nm == NEG_INF) continue;  // nothing visible yet (uniform across the group)
    const float p = score == NEG_INF ? 0.0 : exp(score - nm);
    p_[tid] = p;
    const float alpha = m == NEG_INF ? 0.0 : exp(m - nm);
    l = l * alpha + block_reduce(p, false);  // the reduction's barriers also publish p_
    m = nm;
    const uint ns = min(WG, pc.S - s0);
    for (uint j = 0u; j < 8u; ++j) {
      const uint d = tid + j * WG;
      if (d >= pc.Dv) break;
      float a = acc[j] * alpha;
      for (uint ss = 0u; ss < ns; ++ss) {
        const float w = p_[ss];
        if (w != 0.0) a += w * v_at(vtype, row_off(pc.v, (s0 + ss) * pc.Hkv + hk), d);
      }
      acc[j] = a;
    }
    barrier();  // p_ is rewritten by the next block
  }
  const uint di = row_off(pc.dst, r) >> 2;
  for (uint j = 0u; j < 8u; ++j) {
    const uint d = tid + j * WG;
    if (d >= pc.Dv) break;
    df[di + d] = l > 0.0 ? acc[j] / l : 0.0;
  }
}
