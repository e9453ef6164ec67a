#version 450
// Same-dtype row copy (f32 -> f32, i32 -> i32): one invocation per 16-bit half-word of a row
// (every row of every dtype is a whole number of half-words), written with atomic and/or.
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { CopyPush pc; };

layout(binding = 0) readonly buffer SU { uint sw[]; };
layout(binding = 1) buffer DU { uint dw[]; };

void main() {
  const uint idx = group_linear() * 64u + gl_LocalInvocationID.x;
  if (idx >= pc.rows * pc.units) return;
  const uint r = idx / pc.units, u = idx % pc.units;
  const uint v = LOAD_U16(sw, row_off(pc.src, r) + 2u * u);
  const uint off = row_off(pc.dst, r) + 2u * u;
  const uint sh = (off & 2u) * 8u;
  atomicAnd(dw[off >> 2], ~(0xFFFFu << sh));
  atomicOr(dw[off >> 2], v << sh);
}
