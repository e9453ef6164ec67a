// q4_0, q8_0, q4_k and q6_k on x16 tiles (qdot.h) for AVX-512 VNNI. Lane j of every 64-byte vector
// of a tile is weight row j, so one vpdpbusd against a broadcast activation dword advances the
// dots of all 16 rows by 4 elements, and a block's scales (and q4_k's mins) of the 16 rows come as
// one vector: the per-block work the file's layout repeats for every row is done once per 16.
// Compiled with the flags of qdot_avx512.cpp; nothing inline from shared headers except the
// AVX-512-only gemm_avx512.h and simd_avx512.h and the per-file copies of prefetch.h (see
// qdot_avx512.cpp).
#include <immintrin.h>

#include <type_traits>
#include <utility>

#include "cpu/gemm_avx512.h"
#include "cpu/prefetch.h"
#include "cpu/qdot.h"
#include "cpu/qdot_rows.h"

namespace gemma12b::cpu {
namespace {

inline __m512i bcast32(const int8_t* q, int g) {
  int32_t v;
  __builtin_memcpy(&v, q + 4 * g, 4);
  return _mm512_set1_epi32(v);
}

// f(std::integral_constant<int, i>{}) for i = 0 .. N-1 in order (sub-blocks and nibble vectors with
// compile-time indices).
template <int N, class F>
inline void unrolled(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(std::integral_constant<int, I>{}), ...); }(
      std::make_integer_sequence<int, N>{});
}

inline __m512i load(const uint8_t* p) { return _mm512_loadu_si512(p); }

// dot[r] += the products of a 32-block's 4 nibble vectors at nib (q4_0's x16 order, qdot.h: low
// nibbles elements 4c..4c+3, high ones 16+4c..19+4c) with activation row r's block b.
template <int R>
inline void nibble_dots(const uint8_t* nib, const QRow* x, int64_t b, __m512i (&dot)[R]) {
  const __m512i low = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512i v = load(nib + 64 * c);
    const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    for (int r = 0; r < R; ++r) {
      dot[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(dot[r], lo, bcast32(x[r].q + 32 * b, c)), hi,
                                   bcast32(x[r].q + 32 * b, 4 + c));
    }
  }
}

// ---- q4_0: per pair of 32-blocks, the 16 rows' f16 scales of each, then 4 nibble vectors each ----
template <int R>
void q4_0_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int64_t pairs = K / 64;
  for (int64_t p = 0; p < pairs; ++p, t += kX16PairBytes) {
    for (int h = 0; h < 2; ++h) {
      prefetch_step<R>(t, kX16PairBytes / 64, h, 2);
      const int64_t b = 2 * p + h;
      const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32 * h)));
      __m512i dot[R];
      for (int r = 0; r < R; ++r) dot[r] = _mm512_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) * 8);  // −8·Σq
      nibble_dots<R>(t + 64 + 256 * h, x, b, dot);
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(ws, _mm512_set1_ps(x[r].dl[8 * b])), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

// ---- q8_0: per pair of 32-blocks, the f16 scales of each, then 8 vectors of int8 weights each ----
// vpdpbusd takes unsigned weights: w + 128 (the sign bit flipped), and 128·Σq comes off through
// the dot's initial value (ns = −Σq).
template <int R>
void q8_0_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int64_t pairs = K / 64;
  for (int64_t p = 0; p < pairs; ++p, t += kX16PairBytesQ8) {
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 2 * p + h;
      __m512i dot[R];
      for (int r = 0; r < R; ++r) dot[r] = _mm512_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) * 128);
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        prefetch_step<R>(t, kX16PairBytesQ8 / 64, 8 * h + c, 16);
        const __m512i u = _mm512_xor_si512(load(t + 64 + 512 * h + 64 * c), flip);
        for (int r = 0; r < R; ++r) dot[r] = _mm512_dpbusd_epi32(dot[r], u, bcast32(x[r].q + 32 * b, c));
      }
      const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 32 * h)));
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(ws, _mm512_set1_ps(x[r].dl[8 * b])), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

// ---- q4_k: per super-block the rows' d, dmin and packed 6-bit scales, then 8 sub-blocks ----
//
// The 6-bit scales and mins of all 16 rows as bytes (cf. x16_avx2.cpp's q4_k_x16_bytes): v[0]
// (v[1]) has row j's scales of sub-blocks 0-3 (4-7) in dword j, byte i % 4; v[2], v[3] the mins.
struct Q4KScales {
  __m512i v[4];
  __m512 d, dmin;
  explicit Q4KScales(const uint8_t* sb) {
    const __m512i m6 = _mm512_set1_epi8(0x3F), m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i a = load(sb + 64), b = load(sb + 128), c = load(sb + 192);
    v[0] = _mm512_and_si512(a, m6);
    v[1] = _mm512_or_si512(_mm512_and_si512(c, m4), _mm512_and_si512(_mm512_srli_epi32(a, 2), m30));
    v[2] = _mm512_and_si512(b, m6);
    v[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(c, 4), m4), _mm512_and_si512(_mm512_srli_epi32(b, 2), m30));
    d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb)));
    dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 32)));
  }
  // Sub-block j's d·sc (k = 0) or dmin·m (k = 1) of the 16 rows, the products q4_k_scales forms.
  template <int J>
  __m512 get(int k) const {
    const __m512i byte = _mm512_and_si512(_mm512_srli_epi32(v[2 * k + J / 4], 8 * (J % 4)), _mm512_set1_epi32(0xFF));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(byte), k == 0 ? d : dmin);
  }
};

template <int R>
void q4_k_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int64_t supers = K / 256;
  for (int64_t s = 0; s < supers; ++s, t += kX16SuperBytesQ4K) {
    const Q4KScales sc(t);
    auto sub = [&](auto jc) {
      constexpr int J = decltype(jc)::value;
      prefetch_step<R>(t, kX16SuperBytesQ4K / 64, J, 8);
      const int64_t b = 8 * s + J;
      __m512i dot[R];
      for (int r = 0; r < R; ++r) dot[r] = _mm512_setzero_si512();
      nibble_dots<R>(t + 256 + 256 * J, x, b, dot);
      const __m512 ws = sc.get<J>(0), mn = sc.get<J>(1);
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(ws, _mm512_set1_ps(x[r].dl[8 * b])), acc[r]);
        acc[r] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(x[r].ds[b]), acc[r]);
      }
    };
    unrolled<8>(sub);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

// ---- q6_k: per super-block the rows' f16 d and int8 scales, then 8 sub-blocks of 384 bytes ----
//
// The top 2 bits of a sub-block's 16-element part p for all 16 rows: the tile keeps them per
// 8 rows (qdot.h), so the vector is two 32-byte loads.
inline __m512i q6_top_bits(const uint8_t* sub, int part) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + 256 + 32 * part))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + 320 + 32 * part)), 1);
}

// Bits 2c, 2c + 1 of each byte of h on bits 4, 5 (16-bit shifts: the mask drops what crosses from
// the neighbouring byte).
template <int C>
inline __m512i q6_top(__m512i h) {
  const __m512i m = _mm512_set1_epi8(0x30);
  if constexpr (C == 0) return _mm512_and_si512(_mm512_slli_epi16(h, 4), m);
  if constexpr (C == 1) return _mm512_and_si512(_mm512_slli_epi16(h, 2), m);
  if constexpr (C == 2) return _mm512_and_si512(h, m);
  return _mm512_and_si512(_mm512_srli_epi16(h, 2), m);
}

// Weights u = w + 32 ∈ [0, 63] of nibble vector C of a sub-block, parts 0 (low nibbles, elements
// 4C..4C+3) and 1 (high nibbles, 16 + 4C..19 + 4C) of the 16 rows.
template <int C>
inline void q6_weights(const uint8_t* sub, const __m512i (&top)[2], __m512i& u0, __m512i& u1) {
  const __m512i low = _mm512_set1_epi8(0x0F), v = load(sub + 64 * C);
  u0 = _mm512_or_si512(_mm512_and_si512(v, low), q6_top<C>(top[0]));
  u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), low), q6_top<C>(top[1]));
}

// Per 16-element part: the dot of u against the activations starts at 32·ns16 (ns16 = −Σq: the
// −32 offset), so it is the dot of the signed weights; times the rows' int8 scale (vpmulld, exact:
// |dot| ≤ 16 · 32 · 127, · 128), the two parts add up, and the sub-block's int32 dot converts
// once and meets d · dx.
template <int R>
void q6_k_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int64_t supers = K / 256;
  for (int64_t s = 0; s < supers; ++s, t += kX16SuperBytesQ6K) {
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t)));
    for (int j = 0; j < 8; ++j) {
      prefetch_step<R>(t, kX16SuperBytesQ6K / 64, j, 8);
      const int64_t b = 8 * s + j;
      const uint8_t* sub = t + 288 + 384 * j;
      const __m512i top[2] = {q6_top_bits(sub, 0), q6_top_bits(sub, 1)};
      __m512i d0[R], d1[R];
      for (int r = 0; r < R; ++r) {
        d0[r] = _mm512_set1_epi32(x[r].ns16[2 * b] * 32);
        d1[r] = _mm512_set1_epi32(x[r].ns16[2 * b + 1] * 32);
      }
      auto vec = [&](auto cc) {
        constexpr int C = decltype(cc)::value;
        __m512i u0, u1;
        q6_weights<C>(sub, top, u0, u1);
        for (int r = 0; r < R; ++r) {
          d0[r] = _mm512_dpbusd_epi32(d0[r], u0, bcast32(x[r].q + 32 * b, C));
          d1[r] = _mm512_dpbusd_epi32(d1[r], u1, bcast32(x[r].q + 32 * b, 4 + C));
        }
      };
      unrolled<4>(vec);
      const __m512i sc0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 32 + 16 * (2 * j))));
      const __m512i sc1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 32 + 16 * (2 * j + 1))));
      for (int r = 0; r < R; ++r) {
        const __m512i dot = _mm512_add_epi32(_mm512_mullo_epi32(d0[r], sc0), _mm512_mullo_epi32(d1[r], sc1));
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, _mm512_set1_ps(x[r].dl[8 * b])), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

// The X16DotFn of type T: its pass with the row count as a compile-time constant.
template <DType T>
void x16_dot(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  with_rows(R, [&](auto rc) {
    constexpr int kR = decltype(rc)::value;
    if constexpr (T == DType::kQ4_0) q4_0_pass<kR>(tile, K, x, out, ldo);
    if constexpr (T == DType::kQ8_0) q8_0_pass<kR>(tile, K, x, out, ldo);
    if constexpr (T == DType::kQ4_K) q4_k_pass<kR>(tile, K, x, out, ldo);
    if constexpr (T == DType::kQ6_K) q6_k_pass<kR>(tile, K, x, out, ldo);
  });
}

// ---- prefill: each tile rewritten once into gemm_avx512.h's packed order, then its kernel ----
// gemm_avx512.h's weight traits: offset 2^kShift, scales per 16 elements, a min term.
template <int Shift, bool Groups16, bool Mins>
struct GemmTraits {
  static constexpr int kShift = Shift;
  static constexpr bool kGroups16 = Groups16, kMins = Mins;
};
using GemmQ4_0 = GemmTraits<3, false, false>;
using GemmQ8_0 = GemmTraits<7, false, false>;  // stored as w + 128
using GemmQ4_K = GemmTraits<0, false, true>;
using GemmQ6_K = GemmTraits<5, true, false>;

inline void store(uint8_t* p, __m512i v) { _mm512_store_si512(p, v); }

// A 32-block's 4 nibble vectors into the packed tile's 8 groups: low nibbles of vector c are
// group c, high ones group 4 + c.
inline void split_nibbles(const uint8_t* nib, uint8_t* u) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (int c = 0; c < 4; ++c) {
    const __m512i v = load(nib + 64 * c);
    store(u + 64 * c, _mm512_and_si512(v, low));
    store(u + 64 * (4 + c), _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
  }
}

// Block b's scales: one vector for both 16-element halves, or one per half.
inline void put_scales(const Packed& p, int64_t b, __m512 s0, __m512 s1) {
  _mm512_storeu_ps(p.s + b * 32, s0);
  _mm512_storeu_ps(p.s + b * 32 + 16, s1);
}

void unpack_q4_0(const uint8_t* tile, int64_t K, const Packed& p) {
  const int64_t nb = K / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pair = tile + (b / 2) * kX16PairBytes;
    const int h = static_cast<int>(b % 2);
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pair + 32 * h)));
    put_scales(p, b, ws, ws);
    split_nibbles(pair + 64 + 256 * h, p.u + b * 512);
  }
}

void unpack_q8_0(const uint8_t* tile, int64_t K, const Packed& p) {
  const int64_t nb = K / 32;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pair = tile + (b / 2) * kX16PairBytesQ8;
    const int h = static_cast<int>(b % 2);
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pair + 32 * h)));
    put_scales(p, b, ws, ws);
    for (int c = 0; c < 8; ++c) store(p.u + b * 512 + 64 * c, _mm512_xor_si512(load(pair + 64 + 512 * h + 64 * c), flip));
  }
}

void unpack_q4_k(const uint8_t* tile, int64_t K, const Packed& p) {
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ4K;
    const Q4KScales sc(sb);
    auto sub = [&](auto jc) {
      constexpr int J = decltype(jc)::value;
      const int64_t b = 8 * s + J;
      const __m512 ws = sc.get<J>(0);
      put_scales(p, b, ws, ws);
      _mm512_storeu_ps(p.mins + b * 16, sc.get<J>(1));
      split_nibbles(sb + 256 + 256 * J, p.u + b * 512);
    };
    unrolled<8>(sub);
  }
}

// q6_k: nibble vector c gives group c (part 0) and group 4 + c (part 1) of its sub-block.
void unpack_q6_k(const uint8_t* tile, int64_t K, const Packed& p) {
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ6K;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb)));
    for (int j = 0; j < 8; ++j) {
      const int64_t b = 8 * s + j;
      __m512 ws[2];
      for (int part = 0; part < 2; ++part) {
        const __m512i s8 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + 32 + 16 * (2 * j + part))));
        ws[part] = _mm512_mul_ps(_mm512_cvtepi32_ps(s8), d);
      }
      put_scales(p, b, ws[0], ws[1]);
      const uint8_t* sub = sb + 288 + 384 * j;
      const __m512i top[2] = {q6_top_bits(sub, 0), q6_top_bits(sub, 1)};
      uint8_t* u = p.u + b * 512;
      auto vec = [&](auto cc) {
        constexpr int C = decltype(cc)::value;
        __m512i u0, u1;
        q6_weights<C>(sub, top, u0, u1);
        store(u + 64 * C, u0);
        store(u + 64 * (4 + C), u1);
      };
      unrolled<4>(vec);
    }
  }
}

// One or two tiles unpacked side by side in the scratch, then every activation row past them.
template <class T, void (*Unpack)(const uint8_t*, int64_t, const Packed&)>
void gemm_tiles(const uint8_t* tile, size_t tile_bytes, int n, int64_t K, const QActs& x, float* out, size_t ldo,
                uint8_t* scratch) {
  const int64_t nb = K / 32;
  const Packed p[2] = {packed_view(scratch, nb), packed_view(scratch + packed_bytes(nb), nb)};
  for (int i = 0; i < n; ++i) Unpack(tile + i * tile_bytes, K, p[i]);
  if (n == 2) {
    gemm_packed<T, 2>(p, nb, x, out, ldo, 0xFFFF);
  } else {
    gemm_packed<T, 1>(p, nb, x, out, ldo, 0xFFFF);
  }
}

}  // namespace

void set_x16_avx512(Kernels* k) {
  k->q4_0_x16 = &x16_dot<DType::kQ4_0>;
  k->gemm_q4_0_x16 = &gemm_tiles<GemmQ4_0, &unpack_q4_0>;
  k->q8_0_x16 = &x16_dot<DType::kQ8_0>;
  k->gemm_q8_0_x16 = &gemm_tiles<GemmQ8_0, &unpack_q8_0>;
  k->q4_k_x16 = &x16_dot<DType::kQ4_K>;
  k->gemm_q4_k_x16 = &gemm_tiles<GemmQ4_K, &unpack_q4_k>;
  k->q6_k_x16 = &x16_dot<DType::kQ6_K>;
  k->gemm_q6_k_x16 = &gemm_tiles<GemmQ6_K, &unpack_q6_k>;
}

}  // namespace gemma12b::cpu
