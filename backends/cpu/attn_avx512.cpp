// The AVX-512 attention kernels of qdot.h: the head-major pieces (attn_dot, attn_axpy, exp_sum)
// for head groups too small to fill a vector, and the lane-major ones (16 query rows per vector)
// that the full layers' 16-head groups, verify steps and prefill use. Compiled with the AVX-512
// flags of qdot_avx512.cpp and only reached through its table.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/qdot.h"
#include "cpu/simd_avx512.h"

namespace gemma12b::cpu {
namespace {

// ---- head-major: G query heads x a block of keys, vectors along the head dim ----
inline __m512 load_kv(const void* p, bool f16, int64_t i, __mmask16 m) {
  if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + i));
  return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + i);
}

// Elements [i0, i0 + 16) (lanes m) of a K/V row of type VT as f32. q8_0: the block's scale times
// its int8s (the product dequantize_row forms); a range that crosses into the next block takes
// its lanes from there and their scale with them.
template <KvRow VT>
inline __m512 load_v(const void* p, int64_t i0, __mmask16 m) {
  if constexpr (VT != KvRow::kQ8_0) {
    return load_kv(p, VT == KvRow::kF16, i0, m);
  } else {
    const BlockQ8_0* blk = &q8_0_block(p, i0 / kQK8_0);
    const int64_t n0 = kQK8_0 - i0 % kQK8_0;  // lanes left in this block
    __m512 d = _mm512_set1_ps(_cvtsh_ss(blk->d));
    __m128i q = _mm_maskz_loadu_epi8(m, blk->qs + i0 % kQK8_0);
    if (n0 < 16) {
      const __mmask16 m1 = m & static_cast<__mmask16>(0xFFFFu << n0);
      if (m1 != 0) {
        // Lane l ≥ n0 is element l − n0 of the next block.
        q = _mm_mask_loadu_epi8(_mm_maskz_mov_epi8(static_cast<__mmask16>(~m1), q), m1, blk[1].qs - n0);
        d = _mm512_mask_blend_ps(m1, d, _mm512_set1_ps(_cvtsh_ss(blk[1].d)));
      }
    }
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
  }
}

// Scores of GT heads x JT keys, accumulated in GT·JT registers over D: each key chunk is loaded
// (and converted from f16) once per GT heads, each query chunk once per JT keys. (The tile loops
// are unrolled explicitly: left to GCC, the accumulators lived on the stack, and a sliding
// layer's decode step took 0.31 ms instead of 0.17 with its K/V in cache.)
template <int GT, int JT, KvRow VT>
void attn_dot_tile(const float* q, int64_t D, const void* const* k, float* s, int lds, RowPrefetcher& pf) {
  __m512 acc[GT][JT];
  zero_tile(acc);
  for (int64_t i = 0; i < D; i += 16) {
    const __mmask16 m = head_mask(D, i);
    __m512 kv[JT];
    #pragma GCC unroll 8
    for (int j = 0; j < JT; ++j) kv[j] = load_v<VT>(k[j], i, m);
    pf.step();
    #pragma GCC unroll 8
    for (int g = 0; g < GT; ++g) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + g * D + i);
      #pragma GCC unroll 8
      for (int j = 0; j < JT; ++j) acc[g][j] = _mm512_fmadd_ps(qv, kv[j], acc[g][j]);
    }
  }
  #pragma GCC unroll 8
  for (int g = 0; g < GT; ++g) {
    #pragma GCC unroll 8
    for (int j = 0; j < JT; ++j) s[g * lds + j] = hsum512(acc[g][j]);
  }
}

template <int GT, int JT, KvRow VT>
void attn_dot_heads(const float* q, int64_t D, const void* const* k, int n, float* s, int lds, RowPrefetcher& pf) {
  int j = 0;
  for (; j + JT <= n; j += JT) attn_dot_tile<GT, JT, VT>(q, D, k + j, s + j, lds, pf);
  for (; j < n; ++j) attn_dot_tile<GT, 1, VT>(q, D, k + j, s + j, lds, pf);
}

// Keys per score tile of GT heads (GT·JT accumulators).
constexpr int dot_keys(int GT) { return GT >= 4 ? 4 : 8; }

template <KvRow VT>
void attn_dot_rows(const float* q, int G, int64_t D, const void* const* k, int n, float* s, int lds,
                   const AttnPrefetch& prefetch) {
  // pf.step() runs once per 16 dims of a tile; the first head group's tile count sets the pace.
  const int jt = dot_keys(G >= 4 ? 4 : G >= 2 ? 2 : 1);
  RowPrefetcher pf(prefetch, (n + jt - 1) / jt * ((D + 15) / 16));
  int g = 0;
  for (; g + 4 <= G; g += 4) attn_dot_heads<4, dot_keys(4), VT>(q + g * D, D, k, n, s + g * lds, lds, pf);
  for (; g + 2 <= G; g += 2) attn_dot_heads<2, dot_keys(2), VT>(q + g * D, D, k, n, s + g * lds, lds, pf);
  for (; g < G; ++g) attn_dot_heads<1, dot_keys(1), VT>(q + g * D, D, k, n, s + g * lds, lds, pf);
  pf.finish();
}

void attn_dot(const float* q, int G, int64_t D, const void* const* k, int n, KvRow kt, float* s, int lds,
              const AttnPrefetch& prefetch) {
  switch (kt) {
    case KvRow::kF32: return attn_dot_rows<KvRow::kF32>(q, G, D, k, n, s, lds, prefetch);
    case KvRow::kF16: return attn_dot_rows<KvRow::kF16>(q, G, D, k, n, s, lds, prefetch);
    case KvRow::kQ8_0: return attn_dot_rows<KvRow::kQ8_0>(q, G, D, k, n, s, lds, prefetch);
  }
}

// acc[g][i0 .. i0 + 16·CT) += Σ_j p[g][j] · v[j][..] for GT heads: the GT x CT accumulator tile
// stays in registers for the whole block of keys and is stored once.
template <int GT, int CT, KvRow VT>
void attn_axpy_tile(float* acc, int64_t D, int64_t i0, const float* p, int ldp, const void* const* v, int n,
                    RowPrefetcher& pf) {
  __m512 a[GT][CT];
  __mmask16 m[CT];
  #pragma GCC unroll 8
  for (int c = 0; c < CT; ++c) m[c] = head_mask(D, i0 + 16 * c);
  #pragma GCC unroll 8
  for (int g = 0; g < GT; ++g) {
    #pragma GCC unroll 8
    for (int c = 0; c < CT; ++c) a[g][c] = _mm512_maskz_loadu_ps(m[c], acc + g * D + i0 + 16 * c);
  }
  for (int j = 0; j < n; ++j) {
    __m512 vv[CT];
    #pragma GCC unroll 8
    for (int c = 0; c < CT; ++c) vv[c] = load_v<VT>(v[j], i0 + 16 * c, m[c]);
    pf.step();
    #pragma GCC unroll 8
    for (int g = 0; g < GT; ++g) {
      const __m512 pg = _mm512_set1_ps(p[g * ldp + j]);
      #pragma GCC unroll 8
      for (int c = 0; c < CT; ++c) a[g][c] = _mm512_fmadd_ps(pg, vv[c], a[g][c]);
    }
  }
  #pragma GCC unroll 8
  for (int g = 0; g < GT; ++g) {
    #pragma GCC unroll 8
    for (int c = 0; c < CT; ++c) _mm512_mask_storeu_ps(acc + g * D + i0 + 16 * c, m[c], a[g][c]);
  }
}

// Value chunks of 16 dims per accumulator tile of GT heads: 16 (8 for one head) accumulators.
constexpr int axpy_chunks(int GT) { return GT >= 8 ? 2 : 8; }

template <int GT, KvRow VT>
void attn_axpy_heads(float* acc, int64_t D, const float* p, int ldp, const void* const* v, int n, RowPrefetcher& pf) {
  constexpr int CT = axpy_chunks(GT);
  int64_t i = 0;
  for (; i + 16 * CT <= D; i += 16 * CT) attn_axpy_tile<GT, CT, VT>(acc, D, i, p, ldp, v, n, pf);
  for (; i < D; i += 16) attn_axpy_tile<GT, 1, VT>(acc, D, i, p, ldp, v, n, pf);
}

template <KvRow VT>
void attn_axpy_rows(float* acc, int G, int64_t D, const float* p, int ldp, const void* const* v, int n,
                    const AttnPrefetch& prefetch) {
  // pf.step() runs once per key of a tile; the first head group's tile count sets the pace.
  const int64_t dims = 16 * axpy_chunks(G >= 8 ? 8 : G >= 2 ? 2 : 1);
  RowPrefetcher pf(prefetch, (D + dims - 1) / dims * n);
  int g = 0;
  for (; g + 8 <= G; g += 8) attn_axpy_heads<8, VT>(acc + g * D, D, p + g * ldp, ldp, v, n, pf);
  for (; g + 2 <= G; g += 2) attn_axpy_heads<2, VT>(acc + g * D, D, p + g * ldp, ldp, v, n, pf);
  for (; g < G; ++g) attn_axpy_heads<1, VT>(acc + g * D, D, p + g * ldp, ldp, v, n, pf);
  pf.finish();
}

void attn_axpy(float* acc, int G, int64_t D, const float* p, int ldp, const void* const* v, int n, KvRow vt,
               const AttnPrefetch& prefetch) {
  switch (vt) {
    case KvRow::kF32: return attn_axpy_rows<KvRow::kF32>(acc, G, D, p, ldp, v, n, prefetch);
    case KvRow::kF16: return attn_axpy_rows<KvRow::kF16>(acc, G, D, p, ldp, v, n, prefetch);
    case KvRow::kQ8_0: return attn_axpy_rows<KvRow::kQ8_0>(acc, G, D, p, ldp, v, n, prefetch);
  }
}

float exp_sum(float* x, int64_t n, float m) {
  __m512 sum = _mm512_setzero_ps();
  const __m512 mv = _mm512_set1_ps(m), ninf = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __mmask16 live = _mm512_mask_cmp_ps_mask(k, v, ninf, _CMP_NEQ_OQ);
    const __m512 e = _mm512_maskz_mov_ps(live, exp512(_mm512_sub_ps(v, mv)));
    _mm512_mask_storeu_ps(x + i, k, e);
    sum = _mm512_add_ps(sum, e);
  }
  return hsum512(sum);
}


// ---- lane-major: 16 query rows per vector, keys and values broadcast (qdot.h) ----
// f16 rows are converted 16 elements at a time into a small staging array that stays in L1 (a
// separate conversion pass into a block-sized f32 buffer measured slower: its stores miss L1).

// Scores of JT keys x RT vectors of 16 query rows, in JT·RT registers over the D dims: per 16
// dims the JT keys' elements are staged as f32, then each query vector is loaded once per JT
// keys and each staged element broadcast once per RT vectors.
template <int JT, int RT, KvRow VT>
inline void dot_lanes_tile(const float* qt, int R, int64_t D, const void* const* k, float* s, RowPrefetcher& pf) {
  __m512 acc[JT][RT];
  alignas(64) float st[2][JT][16];
  float(*cur)[16] = st[0];
  zero_tile(acc);
  auto step = [&](const float* q0, int ii) {
    __m512 q[RT];
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) q[rt] = _mm512_loadu_ps(q0 + 16 * rt);
#pragma GCC unroll 16
    for (int jt = 0; jt < JT; ++jt) {
      const __m512 b = _mm512_set1_ps(cur[jt][ii]);
#pragma GCC unroll 4
      for (int rt = 0; rt < RT; ++rt) acc[jt][rt] = _mm512_fmadd_ps(b, q[rt], acc[jt][rt]);
    }
  };
  // Double-buffered: the next 16 dims are staged before this block's FMAs run, so the broadcast
  // loads read stores that have long reached L1 (reading a 64-byte store back right away stalls
  // on store forwarding).
  auto stage = [&](int64_t i0) {
    float(*dst)[16] = st[(i0 / 16) & 1];
    const __mmask16 m = head_mask(D, i0);
#pragma GCC unroll 16
    for (int jt = 0; jt < JT; ++jt) _mm512_store_ps(dst[jt], load_v<VT>(k[jt], i0, m));
    pf.step();
  };
  stage(0);
  for (int64_t i0 = 0; i0 < D; i0 += 16) {
    if (i0 + 16 < D) stage(i0 + 16);
    cur = st[(i0 / 16) & 1];
    const float* q0 = qt + i0 * R;
    if (D - i0 >= 16) {
#pragma GCC unroll 16
      for (int ii = 0; ii < 16; ++ii) step(q0 + ii * R, ii);
    } else {
      for (int ii = 0; ii < D - i0; ++ii) step(q0 + ii * R, ii);
    }
  }
#pragma GCC unroll 16
  for (int jt = 0; jt < JT; ++jt) {
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) _mm512_storeu_ps(s + jt * R + 16 * rt, acc[jt][rt]);
  }
}

template <int JT, int RT, KvRow VT>
void dot_lanes_keys(const float* qt, int R, int64_t D, const void* const* k, int n, float* s, RowPrefetcher& pf) {
  int j = 0;
  for (; j + JT <= n; j += JT) dot_lanes_tile<JT, RT, VT>(qt, R, D, k + j, s + j * R, pf);
  for (; j + 4 <= n; j += 4) dot_lanes_tile<4, RT, VT>(qt, R, D, k + j, s + j * R, pf);
  for (; j < n; ++j) dot_lanes_tile<1, RT, VT>(qt, R, D, k + j, s + j * R, pf);
}

// Keys per score tile (dims per accumulator tile) of a group of R = 64, 32 or 16 query rows:
// tile x R/16 registers.
constexpr int lane_tile(int R) { return R >= 64 ? 6 : R >= 32 ? 8 : 16; }

template <KvRow VT>
void dot_lanes_rows(const float* qt, int R, int64_t D, const void* const* k, int n, float* s,
                    const AttnPrefetch& prefetch) {
  // pf.step() runs once per 16 dims of a tile; the first row group's tile count sets the pace.
  const int jt = lane_tile(R);
  RowPrefetcher pf(prefetch, (n + jt - 1) / jt * ((D + 15) / 16));
  int r = 0;
  for (; r + 64 <= R; r += 64) dot_lanes_keys<lane_tile(64), 4, VT>(qt + r, R, D, k, n, s + r, pf);
  for (; r + 32 <= R; r += 32) dot_lanes_keys<lane_tile(32), 2, VT>(qt + r, R, D, k, n, s + r, pf);
  for (; r < R; r += 16) dot_lanes_keys<lane_tile(16), 1, VT>(qt + r, R, D, k, n, s + r, pf);
  pf.finish();
}

void attn_dot_lanes(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, int n, float* s,
                    const AttnPrefetch& prefetch) {
  switch (kt) {
    case KvRow::kF32: return dot_lanes_rows<KvRow::kF32>(qt, R, D, k, n, s, prefetch);
    case KvRow::kF16: return dot_lanes_rows<KvRow::kF16>(qt, R, D, k, n, s, prefetch);
    case KvRow::kQ8_0: return dot_lanes_rows<KvRow::kQ8_0>(qt, R, D, k, n, s, prefetch);
  }
}

void attn_softmax_lanes(float* s, int n, int R, float* m, float* l, float* f) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  for (int r = 0; r < R; r += 16) {
    const __m512 m_old = _mm512_loadu_ps(m + r);
    __m512 mx = m_old;
    for (int j = 0; j < n; ++j) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j * R + r));
    // μ = m' where finite (0 where every score so far is −inf), f = exp(m − μ) where m is finite.
    const __m512 mu = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
    const __mmask16 m_live = _mm512_cmp_ps_mask(m_old, ninf, _CMP_NEQ_OQ);
    const __m512 fv = _mm512_maskz_mov_ps(m_live, exp512(_mm512_sub_ps(m_old, mu)));
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < n; ++j) {
      const __m512 x = _mm512_loadu_ps(s + j * R + r);
      const __mmask16 live = _mm512_cmp_ps_mask(x, ninf, _CMP_NEQ_OQ);
      const __m512 e = _mm512_maskz_mov_ps(live, exp512(_mm512_sub_ps(x, mu)));
      _mm512_storeu_ps(s + j * R + r, e);
      sum = _mm512_add_ps(sum, e);
    }
    _mm512_storeu_ps(l + r, _mm512_fmadd_ps(_mm512_loadu_ps(l + r), fv, sum));
    _mm512_storeu_ps(m + r, mx);
    _mm512_storeu_ps(f + r, fv);
  }
}

// IT accumulator dims x RT vectors of 16 query rows, in registers across the n keys: rescaled by
// f when loaded; per key the IT value elements are staged as f32, the weight vectors loaded once
// per IT dims and each staged element broadcast once per RT vectors.
template <int IT, int RT, KvRow VT>
inline void axpy_lanes_tile(float* acc, int R, int64_t i0, const float* f, const float* p, const void* const* v, int n,
                            RowPrefetcher& pf) {
  __m512 a[IT][RT];
  alignas(64) float st[8][16];
  const __mmask16 m = static_cast<__mmask16>(IT >= 16 ? 0xFFFF : (1u << IT) - 1);
  load_rescaled(a, acc, R, f);
  // Value rows staged kAhead keys before use, in a ring of 2·kAhead rows (see dot_lanes_tile).
  constexpr int kAhead = 4;
  for (int j = 0; j < std::min(n, kAhead); ++j) _mm512_store_ps(st[j], load_v<VT>(v[j], i0, m));
  for (int j = 0; j < n; ++j) {
    if (j + kAhead < n) _mm512_store_ps(st[(j + kAhead) % (2 * kAhead)], load_v<VT>(v[j + kAhead], i0, m));
    const float* cur = st[j % (2 * kAhead)];
    pf.step();
    __m512 pv[RT];
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) pv[rt] = _mm512_loadu_ps(p + j * R + 16 * rt);
#pragma GCC unroll 16
    for (int it = 0; it < IT; ++it) {
      const __m512 b = _mm512_set1_ps(cur[it]);
#pragma GCC unroll 4
      for (int rt = 0; rt < RT; ++rt) a[it][rt] = _mm512_fmadd_ps(b, pv[rt], a[it][rt]);
    }
  }
  store_tile(a, acc, R);
}

template <int IT, int RT, KvRow VT>
void axpy_lanes_dims(float* acc, int R, int64_t D, const float* f, const float* p, const void* const* v, int n,
                     RowPrefetcher& pf) {
  int64_t i = 0;
  for (; i + IT <= D; i += IT) axpy_lanes_tile<IT, RT, VT>(acc + i * R, R, i, f, p, v, n, pf);
  for (; i + 4 <= D; i += 4) axpy_lanes_tile<4, RT, VT>(acc + i * R, R, i, f, p, v, n, pf);
  for (; i < D; ++i) axpy_lanes_tile<1, RT, VT>(acc + i * R, R, i, f, p, v, n, pf);
}

template <KvRow VT>
void axpy_lanes_rows(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v, int n,
                     const AttnPrefetch& prefetch) {
  // pf.step() runs once per key of a tile; the first row group's tile count sets the pace.
  const int it = lane_tile(R);
  RowPrefetcher pf(prefetch, (D + it - 1) / it * n);
  int r = 0;
  for (; r + 64 <= R; r += 64) axpy_lanes_dims<lane_tile(64), 4, VT>(acc + r, R, D, f + r, s + r, v, n, pf);
  for (; r + 32 <= R; r += 32) axpy_lanes_dims<lane_tile(32), 2, VT>(acc + r, R, D, f + r, s + r, v, n, pf);
  for (; r < R; r += 16) axpy_lanes_dims<lane_tile(16), 1, VT>(acc + r, R, D, f + r, s + r, v, n, pf);
  pf.finish();
}

void attn_axpy_lanes(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v, KvRow vt,
                     int n, const AttnPrefetch& prefetch) {
  switch (vt) {
    case KvRow::kF32: return axpy_lanes_rows<KvRow::kF32>(acc, R, D, f, s, v, n, prefetch);
    case KvRow::kF16: return axpy_lanes_rows<KvRow::kF16>(acc, R, D, f, s, v, n, prefetch);
    case KvRow::kQ8_0: return axpy_lanes_rows<KvRow::kQ8_0>(acc, R, D, f, s, v, n, prefetch);
  }
}

// ---- lane-major scores over q8_0 keys in int8 (qdot.h's attn_dot_lanes_q8) ----
// Per 32-block of JT keys: each of the block's 8 groups of 4 bytes is broadcast straight from the
// key row and made unsigned (k + 128: one vpxord with a broadcast memory operand) for a vpdpbusd
// against RT vectors of 16 query rows' 4 signed bytes, the integer sums starting from the rows'
// −128·Σq so that they end as Σ q·k exactly; then one conversion and one fma per block (scales
// d·dk). 4 vpdpbusd do the work of 16 f32 FMAs. (The xored bytes used to be staged through a
// 32-byte store and broadcast back from it: three instructions more per key and block, the same
// time within noise: 4.73 vs 4.71 ms, medians of 8 interleaved runs, decode at 32K keys.)
template <int JT, int RT>
inline void dot_lanes_q8_tile(const QLanes8& q, int R, int64_t nb, const void* const* k, float* s, RowPrefetcher& pf) {
  __m512 acc[JT][RT];
  zero_tile(acc);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* kq[JT];
    float dk[JT];
#pragma GCC unroll 8
    for (int jt = 0; jt < JT; ++jt) {
      const BlockQ8_0& blk = q8_0_block(k[jt], b);
      kq[jt] = blk.qs;
      dk[jt] = _cvtsh_ss(blk.d);
    }
    pf.step();
    __m512i is[JT][RT];
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) {
      const __m512i c = _mm512_loadu_si512(q.c + b * R + 16 * rt);
#pragma GCC unroll 8
      for (int jt = 0; jt < JT; ++jt) is[jt][rt] = c;
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      __m512i qv[RT];
#pragma GCC unroll 4
      for (int rt = 0; rt < RT; ++rt) qv[rt] = _mm512_loadu_si512(q.q + ((b * 8 + g) * R + 16 * rt) * 4);
#pragma GCC unroll 8
      for (int jt = 0; jt < JT; ++jt) {
        int32_t word;
        std::memcpy(&word, kq[jt] + 4 * g, 4);
        const __m512i kb = _mm512_xor_si512(_mm512_set1_epi32(word), flip);
#pragma GCC unroll 4
        for (int rt = 0; rt < RT; ++rt) is[jt][rt] = _mm512_dpbusd_epi32(is[jt][rt], kb, qv[rt]);
      }
    }
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) {
      const __m512 d = _mm512_loadu_ps(q.d + b * R + 16 * rt);
#pragma GCC unroll 8
      for (int jt = 0; jt < JT; ++jt) {
        acc[jt][rt] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[jt][rt]), _mm512_mul_ps(d, _mm512_set1_ps(dk[jt])),
                                      acc[jt][rt]);
      }
    }
  }
#pragma GCC unroll 8
  for (int jt = 0; jt < JT; ++jt) {
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) _mm512_storeu_ps(s + jt * R + 16 * rt, acc[jt][rt]);
  }
}

template <int JT, int RT>
void dot_lanes_q8_keys(const QLanes8& q, int R, int64_t nb, const void* const* k, int n, float* s, RowPrefetcher& pf) {
  int j = 0;
  for (; j + JT <= n; j += JT) dot_lanes_q8_tile<JT, RT>(q, R, nb, k + j, s + j * R, pf);
  for (; j < n; ++j) dot_lanes_q8_tile<1, RT>(q, R, nb, k + j, s + j * R, pf);
}

// Keys per tile for RT vectors of query rows: 2·JT·RT accumulators (integer and f32) + RT.
constexpr int q8_keys(int RT) { return RT >= 4 ? 2 : RT >= 2 ? 4 : 8; }

void attn_dot_lanes_q8(const QLanes8& q, int R, int64_t D, const void* const* k, int n, float* s,
                       const AttnPrefetch& prefetch) {
  const int64_t nb = D / 32;
  // pf.step() runs once per block of a tile; the first row group's tile count sets the pace.
  const int jt = q8_keys(R >= 64 ? 4 : R >= 32 ? 2 : 1);
  RowPrefetcher pf(prefetch, (n + jt - 1) / jt * nb);
  // Row groups of 64, 32 and 16 lanes; each has its own QLanes8 view offset by r lanes.
  auto at = [&](int r) { return QLanes8{q.q + 4 * r, q.d + r, q.c + r}; };
  int r = 0;
  for (; r + 64 <= R; r += 64) dot_lanes_q8_keys<q8_keys(4), 4>(at(r), R, nb, k, n, s + r, pf);
  for (; r + 32 <= R; r += 32) dot_lanes_q8_keys<q8_keys(2), 2>(at(r), R, nb, k, n, s + r, pf);
  for (; r < R; r += 16) dot_lanes_q8_keys<q8_keys(1), 1>(at(r), R, nb, k, n, s + r, pf);
  pf.finish();
}

// ---- head-major scores over q8_0 keys in int8 (qdot.h's attn_dot_q8) ----
// Two blocks per vector: a key's 2 x 32 bytes, made unsigned (k + 128), against a head's 64
// signed query bytes in one vpdpbusd, each block's 8 dword sums starting from [−128·Σq, 0, .., 0]
// so that together they end as its Σ q·k exactly; then one conversion and one fma with the
// lanes' scales d·dk (8 lanes per block). A key's 16 lanes are summed once, at its end. Per key
// and 64 dims: 3 instructions for the bytes, 4 for the scales, 4 per head (against 4 x (7 + G)
// for f32 queries over dequantized 16-element chunks).

// Lanes [0, 8) x[0], lanes [8, 16) x[1] (0 unless two).
inline __m512 block_pair_ps(const float* x, bool two) {
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(idx, _mm512_maskz_loadu_ps(two ? 3 : 1, x));
}

// Lane 0 c[0], lane 8 c[1] (0 unless two), the other lanes 0.
inline __m512i block_pair_offsets(const int32_t* c, bool two) {
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_maskz_permutexvar_epi32(0x0101, idx, _mm512_maskz_loadu_epi32(two ? 3 : 1, c));
}

// Scores of GT heads x JT keys, in GT·JT registers over the blocks (pairs of them).
template <int GT, int JT>
void dot_q8_tile(const QHeads8& q, int64_t D, const void* const* k, float* s, int lds, RowPrefetcher& pf) {
  const int64_t nb = D / kQK8_0;
  __m512 acc[GT][JT];
  zero_tile(acc);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; b += 2) {
    const bool two = b + 1 < nb;  // else block b alone, in the low half (the query's high half is zero)
    __m512i qv[GT], cv[GT];
    __m512 dq[GT];
    #pragma GCC unroll 4
    for (int g = 0; g < GT; ++g) {
      qv[g] = _mm512_maskz_loadu_epi8(two ? ~__mmask64{0} : __mmask64{0xFFFFFFFF}, q.q + g * D + kQK8_0 * b);
      cv[g] = block_pair_offsets(q.c + g * nb + b, two);
      dq[g] = block_pair_ps(q.d + g * nb + b, two);
    }
    pf.step();
    #pragma GCC unroll 8
    for (int j = 0; j < JT; ++j) {
      const BlockQ8_0* blk = &q8_0_block(k[j], b);
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].qs));
      const __m256i hi = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].qs)) : _mm256_setzero_si256();
      const __m512i kv = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
      const __m128i d0 = _mm_set1_epi16(static_cast<int16_t>(blk[0].d));
      const __m128i d1 = two ? _mm_set1_epi16(static_cast<int16_t>(blk[1].d)) : _mm_setzero_si128();
      const __m512 dk = _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(d0), d1, 1));
      #pragma GCC unroll 4
      for (int g = 0; g < GT; ++g) {
        const __m512 sum = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(cv[g], kv, qv[g]));
        acc[g][j] = _mm512_fmadd_ps(sum, _mm512_mul_ps(dq[g], dk), acc[g][j]);
      }
    }
  }
  #pragma GCC unroll 4
  for (int g = 0; g < GT; ++g) {
    #pragma GCC unroll 8
    for (int j = 0; j < JT; ++j) s[g * lds + j] = hsum512(acc[g][j]);
  }
}

template <int GT, int JT>
void dot_q8_heads(const QHeads8& q, int64_t D, const void* const* k, int n, float* s, int lds, RowPrefetcher& pf) {
  int j = 0;
  for (; j + JT <= n; j += JT) dot_q8_tile<GT, JT>(q, D, k + j, s + j, lds, pf);
  for (; j < n; ++j) dot_q8_tile<GT, 1>(q, D, k + j, s + j, lds, pf);
}

// Keys per tile of GT heads: GT·JT accumulators beside 3·GT query registers.
constexpr int dot_q8_keys(int GT) { return GT >= 4 ? 2 : GT >= 2 ? 4 : 8; }

void attn_dot_q8(const QHeads8& q, int G, int64_t D, const void* const* k, int n, float* s, int lds,
                 const AttnPrefetch& prefetch) {
  const int64_t nb = D / kQK8_0;
  // pf.step() runs once per pair of blocks of a tile; the first head group's tile count sets the pace.
  const int jt = dot_q8_keys(G >= 4 ? 4 : G >= 2 ? 2 : 1);
  RowPrefetcher pf(prefetch, (n + jt - 1) / jt * ((nb + 1) / 2));
  auto at = [&](int g) { return QHeads8{q.q + g * D, q.d + g * nb, q.c + g * nb}; };
  int g = 0;
  for (; g + 4 <= G; g += 4) dot_q8_heads<4, dot_q8_keys(4)>(at(g), D, k, n, s + g * lds, lds, pf);
  for (; g + 2 <= G; g += 2) dot_q8_heads<2, dot_q8_keys(2)>(at(g), D, k, n, s + g * lds, lds, pf);
  for (; g < G; ++g) dot_q8_heads<1, dot_q8_keys(1)>(at(g), D, k, n, s + g * lds, lds, pf);
  pf.finish();
}

}  // namespace

void set_attention_avx512(Kernels* k) {
  k->attn_dot = &attn_dot;
  k->attn_axpy = &attn_axpy;
  k->exp_sum = &exp_sum;
  k->attn_dot_lanes = &attn_dot_lanes;
  k->attn_softmax_lanes = &attn_softmax_lanes;
  k->attn_axpy_lanes = &attn_axpy_lanes;
  k->attn_dot_lanes_q8 = &attn_dot_lanes_q8;
  k->attn_dot_q8 = &attn_dot_q8;
}

}  // namespace gemma12b::cpu
