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
#include <utility>

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

// Bytes of one packed tile of nb blocks (packed_view's u, s and mins).
constexpr int64_t packed_bytes(int64_t nb) { return nb * (512 + 128 + 64); }

// NT ≤ 2 packed tiles (16·NT weight rows) against R activation rows; out + 16·t gets tile t, the
// last tile's rows masked by `keep`. The rows' integer dots advance side by side, group by group:
// each weight vector meets R broadcasts, and with two tiles each broadcast activation dword, the
// offset term and dx serve 32 weight rows. (Written row after row, each row's 8 vpdpbusd formed one
// dependent chain, which GCC kept in that order.)
template <class T, int NT, int R>
void gemm_rows(const Packed* p, int64_t nb, const QRow* x, float* out, size_t ldo, __mmask16 keep) {
  constexpr int kParts = T::kGroups16 ? 2 : 1;  // integer dots per block: per 16 or per 32 elements
  __m512 acc[NT][R];
  for (int t = 0; t < NT; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i i[NT][kParts][R];
    for (int r = 0; r < R; ++r) {
      __m512i o[kParts];  // −2^kShift·Σq: the offset of unsigned weights
      if constexpr (T::kGroups16) {
        o[0] = _mm512_set1_epi32(x[r].ns16[2 * b] << T::kShift);
        o[kParts - 1] = _mm512_set1_epi32(x[r].ns16[2 * b + 1] << T::kShift);
      } else {
        o[0] = T::kShift > 0 ? _mm512_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) << T::kShift)
                             : _mm512_setzero_si512();
      }
      for (int t = 0; t < NT; ++t) {
        for (int k = 0; k < kParts; ++k) i[t][k][r] = o[k];
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      __m512i w[NT];
      for (int t = 0; t < NT; ++t) w[t] = _mm512_load_si512(p[t].u + b * 512 + g * 64);
      const int part = T::kGroups16 && g >= 4 ? kParts - 1 : 0;
      for (int r = 0; r < R; ++r) {
        int32_t q;
        __builtin_memcpy(&q, x[r].q + 32 * b + 4 * g, 4);
        const __m512i qb = _mm512_set1_epi32(q);
        for (int t = 0; t < NT; ++t) i[t][part][r] = _mm512_dpbusd_epi32(i[t][part][r], w[t], qb);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 dx = _mm512_set1_ps(x[r].dl[8 * b]);
      for (int t = 0; t < NT; ++t) {
        const float* s = p[t].s + b * 32;
        acc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t][0][r]), _mm512_mul_ps(_mm512_loadu_ps(s), dx), acc[t][r]);
        if constexpr (T::kGroups16) {
          acc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t][kParts - 1][r]), _mm512_mul_ps(_mm512_loadu_ps(s + 16), dx),
                                      acc[t][r]);
        }
        if constexpr (T::kMins) {
          acc[t][r] = _mm512_fnmadd_ps(_mm512_loadu_ps(p[t].mins + b * 16), _mm512_set1_ps(x[r].ds[b]), acc[t][r]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < NT; ++t) {
      _mm512_mask_storeu_ps(out + r * ldo + 16 * t, t == NT - 1 ? keep : __mmask16{0xFFFF}, acc[t][r]);
    }
  }
}

// Every activation row of x against NT ≤ 2 packed tiles; `keep` masks the last tile's rows past
// the matrix. Activation rows per pass: 8 with one tile, 4 with two (the accumulators of both
// tiles then fill the registers as 8 rows of one do).
template <class T, int NT>
void gemm_packed(const Packed* p, int64_t nb, const QActs& x, float* out, size_t ldo, __mmask16 keep) {
  constexpr int kRows = NT == 1 ? 8 : 4;
  const int64_t M = x.rows();
  QRow rows[kRows];
  for (int64_t m0 = 0; m0 < M; m0 += kRows) {
    const int R = static_cast<int>(M - m0 < kRows ? M - m0 : kRows);
    for (int r = 0; r < R; ++r) rows[r] = x.row(m0 + r);
    float* o = out + m0 * ldo;
    [&]<int... I>(std::integer_sequence<int, I...>) {
      ((R == I + 1 ? gemm_rows<T, NT, I + 1>(p, nb, rows, o, ldo, keep) : void()), ...);
    }(std::make_integer_sequence<int, kRows>{});
  }
}

}  // namespace
}  // namespace gemma12b::cpu
