// The AVX-512 VNNI GEMM kernel on a repacked tile of 16 weight rows, shared by the AVX-512 files
// (qdot_avx512.cpp packs the file's layout into it, x16_avx512.cpp unpacks its x16 tiles), which
// are compiled with the same -mavx512* flags. Only those files may include this header: the
// unnamed namespace gives each its own copy, so no build of these functions can reach a caller on
// a processor without AVX-512. A weight type T tells the kernel:
//   kShift    unsigned weights with offset 2^kShift (0: none; q8_0 is stored as w + 128)
//   kGroups16 scales per 16 elements (q6_k), else per 32
//   kMins     a per-block min term (q4_k)
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/qdot.h"

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): per-file copies, see above

// 16 weight rows side by side, activation bytes broadcast.
// Packed tile (gemm_scratch_bytes): for each 32-block b, u[b][g][j][4] = the 4 unsigned weight
// bytes of group g (elements 4g..4g+3) of row j, so vpdpbusd of one vector with a broadcast
// activation dword advances 16 rows' dots at once; then the rows' scales for the block's two
// 16-element halves (equal except for q6_k) and their q4_k mins.
struct Packed {
  uint8_t* u;   // [nb][8][16][4]
  float* s;     // [nb][2][16]
  float* mins;  // [nb][16]
};

inline Packed packed_view(uint8_t* scratch, int64_t nb) {
  return Packed{scratch, reinterpret_cast<float*>(scratch + nb * 512),
                reinterpret_cast<float*>(scratch + nb * 512 + nb * 128)};
}

// R activation rows against the packed tile. The rows' integer dots advance side by side, group
// by group (each weight vector meets R broadcasts): written row after row, each row's 8 vpdpbusd
// formed one dependent chain, which GCC kept in that order.
template <class T, int R>
void gemm_rows(const Packed& p, int64_t nb, const QRow* x, float* out, size_t ldo, __mmask16 keep) {
  constexpr int kParts = T::kGroups16 ? 2 : 1;  // integer dots per block: per 16 or per 32 elements
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i i[kParts][R];
    for (int r = 0; r < R; ++r) {
      if constexpr (T::kGroups16) {
        i[0][r] = _mm512_set1_epi32(x[r].ns16[2 * b] << T::kShift);
        i[kParts - 1][r] = _mm512_set1_epi32(x[r].ns16[2 * b + 1] << T::kShift);
      } else {
        i[0][r] = T::kShift > 0 ? _mm512_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) << T::kShift)
                                : _mm512_setzero_si512();
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m512i w = _mm512_load_si512(p.u + b * 512 + g * 64);
      const int part = T::kGroups16 && g >= 4 ? kParts - 1 : 0;
      for (int r = 0; r < R; ++r) {
        int32_t q;
        __builtin_memcpy(&q, x[r].q + 32 * b + 4 * g, 4);
        i[part][r] = _mm512_dpbusd_epi32(i[part][r], w, _mm512_set1_epi32(q));
      }
    }
    const __m512 s0 = _mm512_loadu_ps(p.s + b * 32);
    const __m512 s1 = _mm512_loadu_ps(p.s + b * 32 + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 dx = _mm512_set1_ps(x[r].dl[8 * b]);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[0][r]), _mm512_mul_ps(s0, dx), acc[r]);
      if constexpr (T::kGroups16) acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[kParts - 1][r]), _mm512_mul_ps(s1, dx), acc[r]);
      if constexpr (T::kMins) {
        acc[r] = _mm512_fnmadd_ps(_mm512_loadu_ps(p.mins + b * 16), _mm512_set1_ps(x[r].ds[b]), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(out + r * ldo, keep, acc[r]);
}

constexpr int kGemmRows = 8;  // activation rows per pass over the packed tile

// Every activation row of x against a packed tile; `keep` masks the tile's rows past the matrix.
template <class T>
void gemm_packed(const Packed& p, int64_t nb, const QActs& x, float* out, size_t ldo, __mmask16 keep) {
  const int64_t M = x.rows();
  QRow rows[kGemmRows];
  for (int64_t m0 = 0; m0 < M; m0 += kGemmRows) {
    const int R = static_cast<int>(M - m0 < kGemmRows ? M - m0 : kGemmRows);
    for (int r = 0; r < R; ++r) rows[r] = x.row(m0 + r);
    float* o = out + m0 * ldo;
    switch (R) {
      case 1: gemm_rows<T, 1>(p, nb, rows, o, ldo, keep); break;
      case 2: gemm_rows<T, 2>(p, nb, rows, o, ldo, keep); break;
      case 3: gemm_rows<T, 3>(p, nb, rows, o, ldo, keep); break;
      case 4: gemm_rows<T, 4>(p, nb, rows, o, ldo, keep); break;
      case 5: gemm_rows<T, 5>(p, nb, rows, o, ldo, keep); break;
      case 6: gemm_rows<T, 6>(p, nb, rows, o, ldo, keep); break;
      case 7: gemm_rows<T, 7>(p, nb, rows, o, ldo, keep); break;
      default: gemm_rows<T, 8>(p, nb, rows, o, ldo, keep); break;
    }
  }
}

// Two packed tiles (32 weight rows) against R ≤ 4 activation rows: each broadcast activation dword
// meets both tiles' weight vectors, and the offset term and dx serve both.
template <class T, int R>
void gemm_rows2(const Packed (&p)[2], int64_t nb, const QRow* x, float* out, size_t ldo) {
  constexpr int kParts = T::kGroups16 ? 2 : 1;
  __m512 acc[2][R];
  for (int t = 0; t < 2; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i i[2][kParts][R];
    for (int r = 0; r < R; ++r) {
      if constexpr (T::kGroups16) {
        i[0][0][r] = i[1][0][r] = _mm512_set1_epi32(x[r].ns16[2 * b] << T::kShift);
        i[0][kParts - 1][r] = i[1][kParts - 1][r] = _mm512_set1_epi32(x[r].ns16[2 * b + 1] << T::kShift);
      } else {
        i[0][0][r] = i[1][0][r] = T::kShift > 0
                                      ? _mm512_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) << T::kShift)
                                      : _mm512_setzero_si512();
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m512i w0 = _mm512_load_si512(p[0].u + b * 512 + g * 64);
      const __m512i w1 = _mm512_load_si512(p[1].u + b * 512 + g * 64);
      const int part = T::kGroups16 && g >= 4 ? kParts - 1 : 0;
      for (int r = 0; r < R; ++r) {
        int32_t q;
        __builtin_memcpy(&q, x[r].q + 32 * b + 4 * g, 4);
        const __m512i qb = _mm512_set1_epi32(q);
        i[0][part][r] = _mm512_dpbusd_epi32(i[0][part][r], w0, qb);
        i[1][part][r] = _mm512_dpbusd_epi32(i[1][part][r], w1, qb);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 dx = _mm512_set1_ps(x[r].dl[8 * b]);
      const __m512 ds = T::kMins ? _mm512_set1_ps(x[r].ds[b]) : _mm512_setzero_ps();
      for (int t = 0; t < 2; ++t) {
        acc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t][0][r]), _mm512_mul_ps(_mm512_loadu_ps(p[t].s + b * 32), dx), acc[t][r]);
        if constexpr (T::kGroups16) {
          acc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t][kParts - 1][r]),
                                      _mm512_mul_ps(_mm512_loadu_ps(p[t].s + b * 32 + 16), dx), acc[t][r]);
        }
        if constexpr (T::kMins) acc[t][r] = _mm512_fnmadd_ps(_mm512_loadu_ps(p[t].mins + b * 16), ds, acc[t][r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(out + r * ldo, acc[0][r]);
    _mm512_storeu_ps(out + r * ldo + 16, acc[1][r]);
  }
}

// Every activation row of x against two packed tiles (out, out + 16), 4 rows per pass.
template <class T>
void gemm_packed2(const Packed (&p)[2], int64_t nb, const QActs& x, float* out, size_t ldo) {
  const int64_t M = x.rows();
  QRow rows[4];
  for (int64_t m0 = 0; m0 < M; m0 += 4) {
    const int R = static_cast<int>(M - m0 < 4 ? M - m0 : 4);
    for (int r = 0; r < R; ++r) rows[r] = x.row(m0 + r);
    float* o = out + m0 * ldo;
    switch (R) {
      case 1: gemm_rows2<T, 1>(p, nb, rows, o, ldo); break;
      case 2: gemm_rows2<T, 2>(p, nb, rows, o, ldo); break;
      case 3: gemm_rows2<T, 3>(p, nb, rows, o, ldo); break;
      default: gemm_rows2<T, 4>(p, nb, rows, o, ldo); break;
    }
  }
}

}  // namespace
}  // namespace gemma12b::cpu
