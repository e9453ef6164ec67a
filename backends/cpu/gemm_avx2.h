// The AVX2 GEMM kernel on a repacked tile of 16 weight rows, shared by the AVX2 files
// (qdot_avx2.cpp packs the file's layout into it, x16_avx2.cpp its q8_0 tiles), which are compiled
// with the same -mavx2 -mfma -mf16c flags. Only those files may include this header: the unnamed
// namespace gives each its own copy, so no build of these functions can reach a caller on a
// processor without AVX2. A weight type T tells the kernel:
//   kSigned   weights are signed int8 (q8_0), else unsigned with offset 2^kShift (0: none)
//   kGroups16 scales per 16 elements (q6_k), else per 32
//   kMins     a per-block min term (q4_k)
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/qdot.h"

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): per-file copies, see above

// The tile in the scratch (gemm_scratch_bytes): per 32-block b, 512 bytes of weights in x16_avx2's
// unpacked order (two halves of 8 rows; per half 8 groups of 4 elements; per group 8 rows x 4
// bytes, unsigned, or signed for q8_0), then f32 scales s[b][2][16] (of elements 0-15 and 16-31:
// they differ for q6_k only) and mins[b][16] (q4_k). One broadcast activation dword meets the
// 8 rows of both halves.
struct Packed {
  uint8_t* u;   // [nb][2][8][8][4]
  float* s;     // [nb][2][16]
  float* mins;  // [nb][16]
};

inline Packed packed_view(uint8_t* scratch, int64_t nb) {
  return Packed{scratch, reinterpret_cast<float*>(scratch + nb * 512),
                reinterpret_cast<float*>(scratch + nb * 640)};
}

inline __m256i bcast32(const int8_t* q, int g) {
  int32_t v;
  __builtin_memcpy(&v, q + 4 * g, 4);
  return _mm256_set1_epi32(v);
}

// s += the int16 pair sums of u·q (s = them, for the first product of a sum: no add to zero).
// The empty asm makes each sum a value of its own, so the compiler keeps one running sum per row
// instead of re-associating a block's products into a tree whose leaves all live at once (GCC 12
// did, spilling most of them to the stack).
inline void madd_into(__m256i& s, __m256i u, __m256i q, bool first = false) {
  const __m256i p = _mm256_maddubs_epi16(u, q);
  s = first ? p : _mm256_add_epi16(s, p);
  asm("" : "+x"(s));
}

// The integer dots of block b's groups [g0, g0 + G) with R activation rows, both halves, into
// i32[r][h]: unsigned weights sum in int16 over the groups (exact while G·2·umax·127 < 2^15:
// 8 groups of q4_0/q4_k nibbles, 2 of q6_k's 6-bit values), signed q8_0 weights go through the
// sign trick one group at a time.
template <class T, int R, int G>
inline void block_dots(const uint8_t* pb, const int8_t* const* q, int g0, __m256i (&i32)[R][2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (T::kSigned) {
#pragma GCC unroll 8
    for (int g = g0; g < g0 + G; ++g) {
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + 32 * g));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + 256 + 32 * g));
      const __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i qv = bcast32(q[r], g);
        i32[r][0] = _mm256_add_epi32(
            i32[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(qv, w0)), ones));
        i32[r][1] = _mm256_add_epi32(
            i32[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(qv, w1)), ones));
      }
    }
  } else {
    __m256i s16[R][2];
#pragma GCC unroll 8
    for (int g = g0; g < g0 + G; ++g) {
      const __m256i u0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + 32 * g));
      const __m256i u1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + 256 + 32 * g));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i qv = bcast32(q[r], g);
        madd_into(s16[r][0], u0, qv, g == g0);
        madd_into(s16[r][1], u1, qv, g == g0);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      i32[r][0] = _mm256_add_epi32(i32[r][0], _mm256_madd_epi16(s16[r][0], ones));
      i32[r][1] = _mm256_add_epi32(i32[r][1], _mm256_madd_epi16(s16[r][1], ones));
    }
  }
}

// The packed tile against R activation rows; acc[r][h] holds rows 8h..8h+7 of output row r.
template <class T, int R>
void gemm_pass(const Packed& p, int64_t nb, const QRow* x, float* out, size_t ldo) {
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = p.u + b * 512;
    const int8_t* q[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) q[r] = x[r].q + 32 * b;
    // q6_k: elements 0-15 (groups 0-3) and 16-31 (groups 4-7) with their own scales and offsets;
    // the others: all 32 at once. (No lambda here: GCC kept the accumulators a lambda captured in
    // memory, storing them every block; measured 25% slower.)
    constexpr int kParts = T::kGroups16 ? 2 : 1;
#pragma GCC unroll 2
    for (int part = 0; part < kParts; ++part) {
      __m256i i32[R][2];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const int32_t ns = T::kShift == 0 ? 0
                           : T::kGroups16 ? x[r].ns16[2 * b + part]
                                          : x[r].ns16[2 * b] + x[r].ns16[2 * b + 1];
        i32[r][0] = i32[r][1] = _mm256_set1_epi32(ns * (1 << T::kShift));  // −o·Σq
      }
      if constexpr (T::kGroups16) {
        block_dots<T, R, 2>(pb, q, 4 * part, i32);
        block_dots<T, R, 2>(pb, q, 4 * part + 2, i32);
      } else {
        block_dots<T, R, 8>(pb, q, 0, i32);
      }
      const float* sp = p.s + b * 32 + 16 * part;
      const __m256 s0 = _mm256_loadu_ps(sp), s1 = _mm256_loadu_ps(sp + 8);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 dx = _mm256_set1_ps(x[r].dl[8 * b]);
        acc[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][0]), _mm256_mul_ps(s0, dx), acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][1]), _mm256_mul_ps(s1, dx), acc[r][1]);
      }
    }
    if constexpr (T::kMins) {
      const __m256 m0 = _mm256_loadu_ps(p.mins + b * 16), m1 = _mm256_loadu_ps(p.mins + b * 16 + 8);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 d = _mm256_set1_ps(x[r].ds[b]);
        acc[r][0] = _mm256_fnmadd_ps(m0, d, acc[r][0]);
        acc[r][1] = _mm256_fnmadd_ps(m1, d, acc[r][1]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(out + r * ldo, acc[r][0]);
    _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
  }
}

// Every activation row of x against a packed tile whose first n ≤ 16 rows are weight rows.
template <class T>
void gemm_packed(const Packed& p, int64_t nb, int64_t n, const QActs& x, float* out, size_t ldo) {
  const int64_t M = x.rows();
  // Activation rows per pass: 3 for nibbles (15 registers; measured 1.3x faster than 6 rows and
  // one half at a time, which broadcast each activation dword twice as often), 2 where the integer
  // dots need 32-bit sums per group pair (q6_k) or per group (q8_0).
  constexpr int kRows = T::kSigned || T::kGroups16 ? 2 : 3;
  QRow rows[kRows];
  alignas(32) float tmp[kRows * kGemmTile];
  for (int64_t m0 = 0; m0 < M; m0 += kRows) {
    const int R = static_cast<int>(M - m0 < kRows ? M - m0 : kRows);
    for (int r = 0; r < R; ++r) rows[r] = x.row(m0 + r);
    // Whole tiles write straight to the output; a ragged last tile (n < 16) through tmp.
    float* o = n == kGemmTile ? out + m0 * ldo : tmp;
    const size_t lo = n == kGemmTile ? ldo : kGemmTile;
    switch (R) {
      case 1:
        gemm_pass<T, 1>(p, nb, rows, o, lo);
        break;
      case 2:
        gemm_pass<T, 2>(p, nb, rows, o, lo);
        break;
      default:
        gemm_pass<T, kRows>(p, nb, rows, o, lo);
        break;
    }
    if (n < kGemmTile) {
      for (int r = 0; r < R; ++r) {
        for (int64_t j = 0; j < n; ++j) out[(m0 + r) * ldo + j] = tmp[r * kGemmTile + j];
      }
    }
  }
}

}  // namespace
}  // namespace gemma12b::cpu
