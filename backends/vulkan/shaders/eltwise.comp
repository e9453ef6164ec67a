#version 450
// Element-wise ops, one invocation per element of dst:
//   add: a + b   mul: a * b   geglu: gelu_tanh(a) * b   scale: a * param   softcap: param*tanh(a/param)
// b is a tensor with a's rows (bmode 0), one row [D] (1) or one value (2).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(push_constant) uniform PushBlock { EltPush pc; };

layout(binding = 0) readonly buffer AF { float af[]; };
layout(binding = 1) readonly buffer BF { float bf[]; };
layout(binding = 2) writeonly buffer DF { float df[]; };

void main() {
  const uint idx = group_linear() * 256u + gl_LocalInvocationID.x;
  if (idx >= pc.rows * pc.D) return;
  const uint r = idx / pc.D, i = idx % pc.D;
  const float a = af[(row_off(pc.a, r) >> 2) + i];
  float b = 0.0;
  if (pc.op <= G12_ELT_GEGLU) {
    if (pc.bmode == 0u) b = bf[(row_off(pc.b, r) >> 2) + i];
    else if (pc.bmode == 1u) b = bf[(pc.b.base >> 2) + i];
    else b = bf[pc.b.base >> 2];
  }
  precise float y;
  if (pc.op == G12_ELT_ADD) {
    y = a + b;
  } else if (pc.op == G12_ELT_MUL) {
    y = a * b;
  } else if (pc.op == G12_ELT_GEGLU) {
    const float z = a;
    const float g = 0.5 * z * (1.0 + tanh_safe(0.7978845608028654 * (z + 0.044715 * z * z * z)));
    y = g * b;
  } else if (pc.op == G12_ELT_SCALE) {
    y = a * pc.param;
  } else {
    y = pc.param * tanh_safe(a / pc.param);
  }
  df[(row_off(pc.dst, r) >> 2) + i] = y;
}
