// The AVX2 attention kernels of qdot.h, the shapes of attn_avx512.cpp's with half-width vectors and
// 16 registers: the head-major pieces (a sliding layer's decode step, G = 2) with register tiles
// of heads x keys and heads x dims, and the lane-major ones (16 query rows per pair of 8-lane
// vectors; the full layers' 16-head groups, verify steps and prefill). The kernels they replace
// re-read a key per head and streamed accumulators through memory per key (head-major), and
// converted each f16 key element on its own with a scalar exp per score (lane-major, generic C++).
// Compiled with qdot_avx2.cpp's flags and only reached through its table.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/qdot.h"
#include "cpu/simd_avx2.h"

namespace gemma12b::cpu {
namespace {

// 8 elements of a K/V row from element i as f32.
inline __m256 load_kv8(const void* p, bool f16, int64_t i) {
  if (f16)
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}

// ---- head-major: G query heads x a block of keys, vectors along the head dim ----

// Element i (q8_0: the block's scale times its int8, the product dequantize_row forms).
inline float load_row1(const void* p, KvRow t, int64_t i) {
  if (t == KvRow::kQ8_0) return q8_0_at(p, i);
  return t == KvRow::kF16 ? _cvtsh_ss(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

// Elements [i, i + 8) (q8_0: all inside one block, i % 32 ≤ 24).
inline __m256 load_row8(const void* p, KvRow t, int64_t i) {
  if (t != KvRow::kQ8_0) return load_kv8(p, t == KvRow::kF16, i);
  const BlockQ8_0& blk = q8_0_block(p, i / kQK8_0);
  const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk.qs + i % kQK8_0)));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(_cvtsh_ss(blk.d)));
}

// Scores of GT heads x JT keys, in GT·JT registers over D: each key chunk is loaded (and
// converted from f16) once per GT heads, each query chunk once per JT keys; dims past the last
// multiple of 8 are added one by one.
template <int GT, int JT>
void attn_dot_tile(const float* q, int64_t D, const void* const* k, KvRow kt, float* s, int lds,
                   RowPrefetcher& pf) {
  __m256 acc[GT][JT];
  for (int g = 0; g < GT; ++g) {
    for (int j = 0; j < JT; ++j) acc[g][j] = _mm256_setzero_ps();
  }
  const int64_t D8 = D / 8 * 8;
  for (int64_t i = 0; i < D8; i += 8) {
    __m256 kv[JT];
    for (int j = 0; j < JT; ++j) kv[j] = load_row8(k[j], kt, i);
    pf.step();
    for (int g = 0; g < GT; ++g) {
      const __m256 qv = _mm256_loadu_ps(q + g * D + i);
      for (int j = 0; j < JT; ++j) acc[g][j] = _mm256_fmadd_ps(qv, kv[j], acc[g][j]);
    }
  }
  for (int g = 0; g < GT; ++g) {
    for (int j = 0; j < JT; ++j) {
      float sum = hsum256(acc[g][j]);
      for (int64_t i = D8; i < D; ++i) sum += q[g * D + i] * load_row1(k[j], kt, i);
      s[g * lds + j] = sum;
    }
  }
}

template <int GT, int JT>
void attn_dot_heads(const float* q, int64_t D, const void* const* k, int n, KvRow kt, float* s, int lds,
                    RowPrefetcher& pf) {
  int j = 0;
  for (; j + JT <= n; j += JT) attn_dot_tile<GT, JT>(q, D, k + j, kt, s + j, lds, pf);
  for (; j < n; ++j) attn_dot_tile<GT, 1>(q, D, k + j, kt, s + j, lds, pf);
}

// Keys per score tile of GT heads: GT·JT accumulators, JT key chunks and a query chunk.
constexpr int dot_keys(int GT) { return GT >= 4 ? 2 : GT >= 2 ? 4 : 6; }

void attn_dot(const float* q, int G, int64_t D, const void* const* k, int n, KvRow kt, float* s, int lds,
              const AttnPrefetch& prefetch) {
  // pf.step() runs once per 8 dims of a tile; the first head group's tile count sets the pace.
  const int jt = dot_keys(G >= 4 ? 4 : G >= 2 ? 2 : 1);
  RowPrefetcher pf(prefetch, (n + jt - 1) / jt * (D / 8));
  int g = 0;
  for (; g + 4 <= G; g += 4) attn_dot_heads<4, dot_keys(4)>(q + g * D, D, k, n, kt, s + g * lds, lds, pf);
  for (; g + 2 <= G; g += 2) attn_dot_heads<2, dot_keys(2)>(q + g * D, D, k, n, kt, s + g * lds, lds, pf);
  for (; g < G; ++g) attn_dot_heads<1, dot_keys(1)>(q + g * D, D, k, n, kt, s + g * lds, lds, pf);
  pf.finish();
}

// acc[g][i0 .. i0 + 8·CT) += Σ_j p[g][j] · v[j][..] for GT heads: the GT x CT accumulator tile
// stays in registers for the whole block of keys and is stored once.
template <int GT, int CT>
void attn_axpy_tile(float* acc, int64_t D, int64_t i0, const float* p, int ldp, const void* const* v, int n,
                    KvRow kt, RowPrefetcher& pf) {
  __m256 a[GT][CT];
  for (int g = 0; g < GT; ++g) {
    for (int c = 0; c < CT; ++c) a[g][c] = _mm256_loadu_ps(acc + g * D + i0 + 8 * c);
  }
  for (int j = 0; j < n; ++j) {
    __m256 vv[CT];
    for (int c = 0; c < CT; ++c) vv[c] = load_row8(v[j], kt, i0 + 8 * c);
    pf.step();
    for (int g = 0; g < GT; ++g) {
      const __m256 pg = _mm256_broadcast_ss(p + g * ldp + j);
      for (int c = 0; c < CT; ++c) a[g][c] = _mm256_fmadd_ps(pg, vv[c], a[g][c]);
    }
  }
  for (int g = 0; g < GT; ++g) {
    for (int c = 0; c < CT; ++c) _mm256_storeu_ps(acc + g * D + i0 + 8 * c, a[g][c]);
  }
}

// Value chunks of 8 dims per accumulator tile of GT heads.
constexpr int axpy_chunks(int GT) { return GT >= 4 ? 2 : GT >= 2 ? 4 : 6; }

template <int GT>
void attn_axpy_heads(float* acc, int64_t D, const float* p, int ldp, const void* const* v, int n, KvRow kt,
                     RowPrefetcher& pf) {
  constexpr int CT = axpy_chunks(GT);
  const int64_t D8 = D / 8 * 8;
  int64_t i = 0;
  for (; i + 8 * CT <= D8; i += 8 * CT) attn_axpy_tile<GT, CT>(acc, D, i, p, ldp, v, n, kt, pf);
  for (; i < D8; i += 8) attn_axpy_tile<GT, 1>(acc, D, i, p, ldp, v, n, kt, pf);
  for (; i < D; ++i) {  // dims past the last multiple of 8
    for (int j = 0; j < n; ++j) {
      const float vv = load_row1(v[j], kt, i);
      for (int g = 0; g < GT; ++g) acc[g * D + i] += p[g * ldp + j] * vv;
    }
  }
}

void attn_axpy(float* acc, int G, int64_t D, const float* p, int ldp, const void* const* v, int n, KvRow kt,
               const AttnPrefetch& prefetch) {
  // pf.step() runs once per key of a tile; the first head group's tile count sets the pace.
  const int64_t dims = 8 * axpy_chunks(G >= 4 ? 4 : G >= 2 ? 2 : 1);
  RowPrefetcher pf(prefetch, (D + dims - 1) / dims * n);
  int g = 0;
  for (; g + 4 <= G; g += 4) attn_axpy_heads<4>(acc + g * D, D, p + g * ldp, ldp, v, n, kt, pf);
  for (; g + 2 <= G; g += 2) attn_axpy_heads<2>(acc + g * D, D, p + g * ldp, ldp, v, n, kt, pf);
  for (; g < G; ++g) attn_axpy_heads<1>(acc + g * D, D, p + g * ldp, ldp, v, n, kt, pf);
  pf.finish();
}

float exp_sum(float* x, int64_t n, float m) {
  __m256 sum = _mm256_setzero_ps();
  const __m256 mv = _mm256_set1_ps(m), ninf = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 live = _mm256_cmp_ps(v, ninf, _CMP_NEQ_OQ);
    const __m256 e = _mm256_and_ps(live, exp256(_mm256_sub_ps(v, mv)));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float s = hsum256(sum);
  for (; i < n; ++i) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, exp256(_mm256_set1_ps(x[i] - m)));
    s += x[i] = x[i] == -__builtin_inff() ? 0.0f : tmp[0];
  }
  return s;
}

// ---- lane-major: 16 query rows per pair of vectors, keys and values broadcast (qdot.h) ----

// Elements [i, i + 8) of a K/V row of D elements as f32 into dst[0..8), zeros past the row.
inline void stage_kv(const void* p, bool f16, int64_t i, int64_t D, float* dst) {
  if (D - i >= 8) {
    _mm256_store_ps(dst, load_kv8(p, f16, i));
    return;
  }
  for (int64_t t = 0; t < 8; ++t) {
    dst[t] = i + t >= D ? 0.0f
             : f16      ? _cvtsh_ss(static_cast<const uint16_t*>(p)[i + t])
                        : static_cast<const float*>(p)[i + t];
  }
}

// stage_kv for a key or value row of any KvRow type.
inline void stage_v(const void* p, KvRow t, int64_t i, int64_t D, float* dst) {
  if (t != KvRow::kQ8_0) return stage_kv(p, t == KvRow::kF16, i, D, dst);
  if (D - i >= 8 && i % 32 <= 24) return _mm256_store_ps(dst, load_row8(p, t, i));  // inside one block
  for (int64_t e = 0; e < 8; ++e) dst[e] = i + e >= D ? 0.0f : load_row1(p, t, i + e);
}

constexpr int kVecs = kAttnLanes / 8;  // vectors per 16 query rows

// Scores of JT keys x 16 query rows, in 2·JT registers over the D dims: per 8 dims the JT keys'
// elements are staged as f32 (double-buffered, so broadcasts never wait on store forwarding),
// the two query vectors of a dim loaded once per JT keys and each staged element broadcast once.
template <int JT>
void dot_lanes_tile(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, float* s,
                    RowPrefetcher& pf) {
  __m256 acc[JT][kVecs];
  alignas(32) float st[2][JT][8];
#pragma GCC unroll 8
  for (int jt = 0; jt < JT; ++jt) acc[jt][0] = acc[jt][1] = _mm256_setzero_ps();
  const float(*cur)[8] = st[0];
  auto step = [&](const float* q, int ii) {
    const __m256 q0 = _mm256_loadu_ps(q), q1 = _mm256_loadu_ps(q + 8);
#pragma GCC unroll 8
    for (int jt = 0; jt < JT; ++jt) {
      const __m256 b = _mm256_broadcast_ss(&cur[jt][ii]);
      acc[jt][0] = _mm256_fmadd_ps(b, q0, acc[jt][0]);
      acc[jt][1] = _mm256_fmadd_ps(b, q1, acc[jt][1]);
    }
  };
  auto stage = [&](int64_t i0) {
#pragma GCC unroll 8
    for (int jt = 0; jt < JT; ++jt) stage_v(k[jt], kt, i0, D, st[(i0 / 8) & 1][jt]);
    pf.step();
  };
  stage(0);
  for (int64_t i0 = 0; i0 < D; i0 += 8) {
    if (i0 + 8 < D) stage(i0 + 8);
    cur = st[(i0 / 8) & 1];
    const float* q = qt + i0 * R;
    if (D - i0 >= 8) {  // fully unrolled, so the accumulators stay in registers
#pragma GCC unroll 8
      for (int ii = 0; ii < 8; ++ii) step(q + ii * R, ii);
    } else {
      for (int ii = 0; ii < D - i0; ++ii) step(q + ii * R, ii);
    }
  }
#pragma GCC unroll 8
  for (int jt = 0; jt < JT; ++jt) {
    _mm256_storeu_ps(s + jt * R, acc[jt][0]);
    _mm256_storeu_ps(s + jt * R + 8, acc[jt][1]);
  }
}

// Keys per score tile (dims per accumulator tile): 2·6 accumulators, 2 query or weight vectors
// and a broadcast fill 15 of the 16 registers.
constexpr int kTile = 6;

void attn_dot_lanes(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, int n, float* s,
                    const AttnPrefetch& prefetch) {
  // pf.step() runs once per 8 dims of a tile; the first 16 rows' tile count sets the pace.
  RowPrefetcher pf(prefetch, (n + kTile - 1) / kTile * ((D + 7) / 8));
  for (int r = 0; r < R; r += kAttnLanes) {
    int j = 0;
    for (; j + kTile <= n; j += kTile) dot_lanes_tile<kTile>(qt + r, R, D, k + j, kt, s + j * R + r, pf);
    for (; j + 2 <= n; j += 2) dot_lanes_tile<2>(qt + r, R, D, k + j, kt, s + j * R + r, pf);
    for (; j < n; ++j) dot_lanes_tile<1>(qt + r, R, D, k + j, kt, s + j * R + r, pf);
  }
  pf.finish();
}

void attn_softmax_lanes(float* s, int n, int R, float* m, float* l, float* f) {
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff()), zero = _mm256_setzero_ps();
  for (int r = 0; r < R; r += 8) {
    const __m256 m_old = _mm256_loadu_ps(m + r);
    __m256 mx = m_old;
    for (int j = 0; j < n; ++j) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j * R + r));
    // μ = m' where finite (0 where every score so far is −inf), f = exp(m − μ) where m is finite.
    const __m256 mu = _mm256_blendv_ps(mx, zero, _mm256_cmp_ps(mx, ninf, _CMP_EQ_OQ));
    const __m256 fv =
        _mm256_and_ps(_mm256_cmp_ps(m_old, ninf, _CMP_NEQ_OQ), exp256(_mm256_sub_ps(m_old, mu)));
    __m256 sum = zero;
    for (int j = 0; j < n; ++j) {
      const __m256 x = _mm256_loadu_ps(s + j * R + r);
      const __m256 e = _mm256_and_ps(_mm256_cmp_ps(x, ninf, _CMP_NEQ_OQ), exp256(_mm256_sub_ps(x, mu)));
      _mm256_storeu_ps(s + j * R + r, e);
      sum = _mm256_add_ps(sum, e);
    }
    _mm256_storeu_ps(l + r, _mm256_fmadd_ps(_mm256_loadu_ps(l + r), fv, sum));
    _mm256_storeu_ps(m + r, mx);
    _mm256_storeu_ps(f + r, fv);
  }
}

// IT accumulator dims x 16 query rows in 2·IT registers across the n keys: rescaled by f when
// loaded; per key the value's IT elements are staged as f32 a few keys ahead (see
// dot_lanes_tile), the two weight vectors loaded once and each staged element broadcast once.
template <int IT>
void axpy_lanes_tile(float* acc, int R, int64_t D, int64_t i0, const float* f, const float* p,
                     const void* const* v, KvRow vt, int n, RowPrefetcher& pf) {
  __m256 a[IT][kVecs];
  const __m256 f0 = _mm256_loadu_ps(f), f1 = _mm256_loadu_ps(f + 8);
#pragma GCC unroll 8
  for (int it = 0; it < IT; ++it) {
    a[it][0] = _mm256_mul_ps(_mm256_loadu_ps(acc + it * R), f0);
    a[it][1] = _mm256_mul_ps(_mm256_loadu_ps(acc + it * R + 8), f1);
  }
  constexpr int kAhead = 4;
  alignas(32) float st[2 * kAhead][8];
  for (int j = 0; j < std::min(n, kAhead); ++j) stage_v(v[j], vt, i0, D, st[j]);
  for (int j = 0; j < n; ++j) {
    if (j + kAhead < n) stage_v(v[j + kAhead], vt, i0, D, st[(j + kAhead) % (2 * kAhead)]);
    const float* cur = st[j % (2 * kAhead)];
    pf.step();
    const __m256 p0 = _mm256_loadu_ps(p + j * R), p1 = _mm256_loadu_ps(p + j * R + 8);
#pragma GCC unroll 8
    for (int it = 0; it < IT; ++it) {
      const __m256 b = _mm256_broadcast_ss(&cur[it]);
      a[it][0] = _mm256_fmadd_ps(b, p0, a[it][0]);
      a[it][1] = _mm256_fmadd_ps(b, p1, a[it][1]);
    }
  }
#pragma GCC unroll 8
  for (int it = 0; it < IT; ++it) {
    _mm256_storeu_ps(acc + it * R, a[it][0]);
    _mm256_storeu_ps(acc + it * R + 8, a[it][1]);
  }
}

void attn_axpy_lanes(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v,
                     KvRow vt, int n, const AttnPrefetch& prefetch) {
  // pf.step() runs once per key of a tile; the first 16 rows' tile count sets the pace.
  RowPrefetcher pf(prefetch, (D + kTile - 1) / kTile * n);
  for (int r = 0; r < R; r += kAttnLanes) {
    int64_t i = 0;
    for (; i + kTile <= D; i += kTile)
      axpy_lanes_tile<kTile>(acc + i * R + r, R, D, i, f + r, s + r, v, vt, n, pf);
    for (; i + 2 <= D; i += 2) axpy_lanes_tile<2>(acc + i * R + r, R, D, i, f + r, s + r, v, vt, n, pf);
    for (; i < D; ++i) axpy_lanes_tile<1>(acc + i * R + r, R, D, i, f + r, s + r, v, vt, n, pf);
  }
  pf.finish();
}

}  // namespace

void set_attention_avx2(Kernels* k) {
  k->attn_dot = &attn_dot;
  k->attn_axpy = &attn_axpy;
  k->exp_sum = &exp_sum;
  k->attn_dot_lanes = &attn_dot_lanes;
  k->attn_softmax_lanes = &attn_softmax_lanes;
  k->attn_axpy_lanes = &attn_axpy_lanes;
}

}  // namespace gemma12b::cpu
