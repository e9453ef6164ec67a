// The AVX2 lane-major attention kernels of qdot.h (16 query rows per pair of 8-lane vectors; the
// full layers' 16-head groups, verify steps and prefill use them): the shape of attn_avx512.cpp's
// with half-width vectors and 16 registers. The generic C++ kernels (attn_lanes_generic.h) they
// replace converted every f16 key element on its own and ran the softmax through scalar exp.
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
  if (f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}

// Elements [i, i + 8) of a K/V row of D elements as f32 into dst[0..8), zeros past the row.
inline void stage_kv(const void* p, bool f16, int64_t i, int64_t D, float* dst) {
  if (D - i >= 8) {
    _mm256_store_ps(dst, load_kv8(p, f16, i));
    return;
  }
  for (int64_t t = 0; t < 8; ++t) {
    dst[t] = i + t >= D ? 0.0f
             : f16  ? _cvtsh_ss(static_cast<const uint16_t*>(p)[i + t])
                    : static_cast<const float*>(p)[i + t];
  }
}

constexpr int kVecs = kAttnLanes / 8;  // vectors per 16 query rows

// Scores of JT keys x 16 query rows, in 2·JT registers over the D dims: per 8 dims the JT keys'
// elements are staged as f32 (double-buffered, so broadcasts never wait on store forwarding),
// the two query vectors of a dim loaded once per JT keys and each staged element broadcast once.
template <int JT>
void dot_lanes_tile(const float* qt, int R, int64_t D, const void* const* k, bool f16, float* s, RowPrefetcher& pf) {
  __m256 acc[JT][kVecs];
  alignas(32) float st[2][JT][8];
  for (int jt = 0; jt < JT; ++jt) acc[jt][0] = acc[jt][1] = _mm256_setzero_ps();
  auto stage = [&](int64_t i0) {
    for (int jt = 0; jt < JT; ++jt) stage_kv(k[jt], f16, i0, D, st[(i0 / 8) & 1][jt]);
    pf.step();
  };
  stage(0);
  for (int64_t i0 = 0; i0 < D; i0 += 8) {
    if (i0 + 8 < D) stage(i0 + 8);
    const float(*cur)[8] = st[(i0 / 8) & 1];
    const int64_t dims = std::min<int64_t>(8, D - i0);
    for (int64_t ii = 0; ii < dims; ++ii) {
      const float* q = qt + (i0 + ii) * R;
      const __m256 q0 = _mm256_loadu_ps(q), q1 = _mm256_loadu_ps(q + 8);
      for (int jt = 0; jt < JT; ++jt) {
        const __m256 b = _mm256_broadcast_ss(&cur[jt][ii]);
        acc[jt][0] = _mm256_fmadd_ps(b, q0, acc[jt][0]);
        acc[jt][1] = _mm256_fmadd_ps(b, q1, acc[jt][1]);
      }
    }
  }
  for (int jt = 0; jt < JT; ++jt) {
    _mm256_storeu_ps(s + jt * R, acc[jt][0]);
    _mm256_storeu_ps(s + jt * R + 8, acc[jt][1]);
  }
}

// Keys per score tile (dims per accumulator tile): 2·6 accumulators, 2 query or weight vectors
// and a broadcast fill 15 of the 16 registers.
constexpr int kTile = 6;

void attn_dot_lanes(const float* qt, int R, int64_t D, const void* const* k, bool f16, int n, float* s,
                    const AttnPrefetch& prefetch) {
  // pf.step() runs once per 8 dims of a tile; the first 16 rows' tile count sets the pace.
  RowPrefetcher pf(prefetch, (n + kTile - 1) / kTile * ((D + 7) / 8));
  for (int r = 0; r < R; r += kAttnLanes) {
    int j = 0;
    for (; j + kTile <= n; j += kTile) dot_lanes_tile<kTile>(qt + r, R, D, k + j, f16, s + j * R + r, pf);
    for (; j + 2 <= n; j += 2) dot_lanes_tile<2>(qt + r, R, D, k + j, f16, s + j * R + r, pf);
    for (; j < n; ++j) dot_lanes_tile<1>(qt + r, R, D, k + j, f16, s + j * R + r, pf);
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
    const __m256 fv = _mm256_and_ps(_mm256_cmp_ps(m_old, ninf, _CMP_NEQ_OQ), exp256(_mm256_sub_ps(m_old, mu)));
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
void axpy_lanes_tile(float* acc, int R, int64_t D, int64_t i0, const float* f, const float* p, const void* const* v,
                     bool f16, int n, RowPrefetcher& pf) {
  __m256 a[IT][kVecs];
  const __m256 f0 = _mm256_loadu_ps(f), f1 = _mm256_loadu_ps(f + 8);
  for (int it = 0; it < IT; ++it) {
    a[it][0] = _mm256_mul_ps(_mm256_loadu_ps(acc + it * R), f0);
    a[it][1] = _mm256_mul_ps(_mm256_loadu_ps(acc + it * R + 8), f1);
  }
  constexpr int kAhead = 4;
  alignas(32) float st[2 * kAhead][8];
  for (int j = 0; j < std::min(n, kAhead); ++j) stage_kv(v[j], f16, i0, D, st[j]);
  for (int j = 0; j < n; ++j) {
    if (j + kAhead < n) stage_kv(v[j + kAhead], f16, i0, D, st[(j + kAhead) % (2 * kAhead)]);
    const float* cur = st[j % (2 * kAhead)];
    pf.step();
    const __m256 p0 = _mm256_loadu_ps(p + j * R), p1 = _mm256_loadu_ps(p + j * R + 8);
    for (int it = 0; it < IT; ++it) {
      const __m256 b = _mm256_broadcast_ss(&cur[it]);
      a[it][0] = _mm256_fmadd_ps(b, p0, a[it][0]);
      a[it][1] = _mm256_fmadd_ps(b, p1, a[it][1]);
    }
  }
  for (int it = 0; it < IT; ++it) {
    _mm256_storeu_ps(acc + it * R, a[it][0]);
    _mm256_storeu_ps(acc + it * R + 8, a[it][1]);
  }
}

void attn_axpy_lanes(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v, bool f16,
                     int n, const AttnPrefetch& prefetch) {
  // pf.step() runs once per key of a tile; the first 16 rows' tile count sets the pace.
  RowPrefetcher pf(prefetch, (D + kTile - 1) / kTile * n);
  for (int r = 0; r < R; r += kAttnLanes) {
    int64_t i = 0;
    for (; i + kTile <= D; i += kTile) axpy_lanes_tile<kTile>(acc + i * R + r, R, D, i, f + r, s + r, v, f16, n, pf);
    for (; i + 2 <= D; i += 2) axpy_lanes_tile<2>(acc + i * R + r, R, D, i, f + r, s + r, v, f16, n, pf);
    for (; i < D; ++i) axpy_lanes_tile<1>(acc + i * R + r, R, D, i, f + r, s + r, v, f16, n, pf);
  }
  pf.finish();
}

}  // namespace

void set_attention_avx2(Kernels* k) {
  k->attn_dot_lanes = &attn_dot_lanes;
  k->attn_softmax_lanes = &attn_softmax_lanes;
  k->attn_axpy_lanes = &attn_axpy_lanes;
}

}  // namespace gemma12b::cpu
