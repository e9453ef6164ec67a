// Small AVX-512 helpers shared by the AVX-512 files (qdot_avx512.cpp, attn_avx512.cpp,
// attn_avx512bf16.cpp), which are compiled with the same -mavx512* flags (the last one also with
// -mavx512bf16). Only those files may include this header: the unnamed namespace gives each its
// own copy, so no build of these functions can reach a caller on a processor without AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): per-file copies, see above

inline float hsum256(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// (Not _mm512_reduce_add_ps: GCC 12 warns inside it under -Werror.)
inline float hsum512(__m512 v) {
  return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

inline __mmask16 head_mask(int64_t n, int64_t i) {
  return n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
}

// exp(x) for x ≤ 0: Cody-Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial
// (Cephes expf coefficients, ~1 ulp) and scalef for the 2^n.
inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// a[i][r] = 0 for a tile of accumulators.
template <int IT, int RT>
inline void zero_tile(__m512 (&a)[IT][RT]) {
#pragma GCC unroll 16
  for (int i = 0; i < IT; ++i) {
#pragma GCC unroll 4
    for (int r = 0; r < RT; ++r) a[i][r] = _mm512_setzero_ps();
  }
}

// The IT x RT accumulator tile of a lane-major value sum, acc[it·R + 16·rt .. + 16) (16 query
// rows per vector), loaded and rescaled by the rows' factors f[16·rt ..] (the online softmax's
// exp(m − m')), and stored back.
template <int IT, int RT>
inline void load_rescaled(__m512 (&a)[IT][RT], const float* acc, int R, const float* f) {
  __m512 fv[RT];
#pragma GCC unroll 4
  for (int rt = 0; rt < RT; ++rt) fv[rt] = _mm512_loadu_ps(f + 16 * rt);
#pragma GCC unroll 16
  for (int it = 0; it < IT; ++it) {
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) a[it][rt] = _mm512_mul_ps(_mm512_loadu_ps(acc + it * R + 16 * rt), fv[rt]);
  }
}

template <int IT, int RT>
inline void store_tile(const __m512 (&a)[IT][RT], float* acc, int R) {
#pragma GCC unroll 16
  for (int it = 0; it < IT; ++it) {
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) _mm512_storeu_ps(acc + it * R + 16 * rt, a[it][rt]);
  }
}

}  // namespace
}  // namespace gemma12b::cpu
