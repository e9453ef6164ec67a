#version 450
// get_rows and dequantize: dst[t, :] = table[id(t), :] (* scale), id(t) = ids[t] (get_rows) or t
// (dequantize). One work group per output row; a dispatch covers the table rows
// [row_lo, row_hi) (tables larger than a storage-buffer binding are walked in windows), and the
// first window flags out-of-range ids in the error word (read back at synchronize).
#include "common.glsl"

layout(local_size_x = 64) in;
layout(push_constant) uniform PushBlock { RowsPush pc; };

layout(binding = 0) readonly buffer TU { uint tw[]; };
layout(binding = 0) readonly buffer TF { float tf[]; };
layout(binding = 1) readonly buffer IDS { int ids[]; };
layout(binding = 2) writeonly buffer DF { float df[]; };
layout(binding = 3) buffer ERR { uint err[]; };

#define WW tw
#define WF tf
#include "dequant.glsl"

void main() {
  const uint t = group_linear();
  if (t >= pc.T) return;
  int id = int(t);
  if (pc.ids_base != 0xFFFFFFFFu) id = ids[(pc.ids_base >> 2) + t];
  if (id < 0 || uint(id) >= pc.V) {
    if (pc.check != 0u && gl_LocalInvocationID.x == 0u) atomicOr(err[0], 1u);
    return;
  }
  if (uint(id) < pc.row_lo || uint(id) >= pc.row_hi) return;
  const uint src = row_off(pc.table, uint(id) - pc.row_lo);
  const uint dst = row_off(pc.dst, t) >> 2;
  const uint nc = chunk_count(pc.D);
  float v[32];
  for (uint c = gl_LocalInvocationID.x; c < nc; c += 64u) {
    const uint cnt = chunk_valid(pc.D, c);
    load_chunk(src, c, cnt, v);
    for (uint j = 0u; j < cnt; ++j) {
      precise float y = pc.use_scale != 0u ? v[j] * pc.scale : v[j];
      df[dst + c * 32u + j] = y;
    }
  }
}
