// Reads 32 consecutive weights (one "chunk") of a row in any weight dtype, as f32 values equal to
// core/quant.cpp's dequantization bit for bit (`precise` keeps the compiler from fusing the
// multiply-subtract of q4_K into an FMA, which would round differently).
// The includer defines WTYPE (push.h dtype code), WW (the binding's uint array) and WF (the same
// binding as a float array).

// Chunk c of the row at byte offset `row`; n = valid elements (< 32 only for the float types at
// the end of a row whose length is not a multiple of 32).
void load_chunk(uint row, uint c, uint n, out float v[32]) {
#if WTYPE == G12_F32
  const uint i0 = (row >> 2) + c * 32u;
  for (uint j = 0u; j < 32u; ++j) v[j] = j < n ? WF[i0 + j] : 0.0;
#elif WTYPE == G12_F16
  for (uint j = 0u; j < 32u; ++j) v[j] = j < n ? half_to_float(LOAD_U16(WW, row + 2u * (c * 32u + j))) : 0.0;
#elif WTYPE == G12_BF16
  for (uint j = 0u; j < 32u; ++j) v[j] = j < n ? bf16_to_float(LOAD_U16(WW, row + 2u * (c * 32u + j))) : 0.0;
#elif WTYPE == G12_Q8_0
  const uint b = row + c * 34u;
  const float d = half_to_float(LOAD_U16(WW, b));
  for (uint j = 0u; j < 32u; ++j) {
    precise float y = float(sext8(LOAD_U8(WW, b + 2u + j))) * d;
    v[j] = y;
  }
#elif WTYPE == G12_Q4_0
  const uint b = row + c * 18u;
  const float d = half_to_float(LOAD_U16(WW, b));
  for (uint j = 0u; j < 16u; ++j) {
    const uint q = LOAD_U8(WW, b + 2u + j);
    precise float lo = float(int(q & 15u) - 8) * d;
    precise float hi = float(int(q >> 4) - 8) * d;
    v[j] = lo;
    v[j + 16u] = hi;
  }
#elif WTYPE == G12_Q4_K
  const uint b = row + (c >> 3) * 144u;
  const uint sub = c & 7u;
  const float d = half_to_float(LOAD_U16(WW, b));
  const float dmin = half_to_float(LOAD_U16(WW, b + 2u));
  // 6-bit scale and min of sub-block `sub` (ggml get_scale_min_k4); scales at b + 4.
  uint sc, mn;
  if (sub < 4u) {
    sc = LOAD_U8(WW, b + 4u + sub) & 63u;
    mn = LOAD_U8(WW, b + 8u + sub) & 63u;
  } else {
    sc = (LOAD_U8(WW, b + 8u + sub) & 15u) | ((LOAD_U8(WW, b + sub) >> 6) << 4);
    mn = (LOAD_U8(WW, b + 8u + sub) >> 4) | ((LOAD_U8(WW, b + 4u + sub) >> 6) << 4);
  }
  precise float dl = d * float(sc);
  precise float ml = dmin * float(mn);
  const uint qs = b + 16u + (sub >> 1) * 32u;
  const uint shift = (sub & 1u) * 4u;
  for (uint j = 0u; j < 32u; ++j) {
    precise float y = dl * float((LOAD_U8(WW, qs + j) >> shift) & 15u) - ml;
    v[j] = y;
  }
#elif WTYPE == G12_Q6_K
  const uint b = row + (c >> 3) * 210u;
  const uint sub = c & 7u;
  const uint half_ = sub >> 2, quarter = sub & 3u;
  const uint ql = b + half_ * 64u + (quarter & 1u) * 32u;
  const uint qh = b + 128u + half_ * 32u;
  const uint scb = b + 192u + half_ * 8u + quarter * 2u;
  const float d = half_to_float(LOAD_U16(WW, b + 208u));
  const uint lshift = (quarter >> 1) * 4u, hshift = quarter * 2u;
  for (uint j = 0u; j < 32u; ++j) {
    const uint q = ((LOAD_U8(WW, ql + j) >> lshift) & 15u) | (((LOAD_U8(WW, qh + j) >> hshift) & 3u) << 4);
    const float s = float(sext8(LOAD_U8(WW, scb + (j >> 4))));
    precise float ds = d * s;
    precise float y = ds * float(int(q) - 32);
    v[j] = y;
  }
#else
#error unknown WTYPE
#endif
}

// Row length in chunks, and bytes of a row of K elements.
uint chunk_count(uint K) { return (K + 31u) / 32u; }
uint chunk_valid(uint K, uint c) { return min(32u, K - c * 32u); }
