// q4_0, q8_0, q4_k and q6_k on x16 tiles (qdot.h) for AVX2 (no VNNI). q4_0: a tile's 64-byte vectors are read
// as two 32-byte halves, rows 0-7 and rows 8-15, so lane j of a half is weight row j of it. Per
// 32-block and half: 4 vectors of packed nibbles give 8 vectors of unsigned weights (groups of 4 elements),
// each met by a broadcast activation dword through vpmaddubsw; the 8 products of a row add up in
// int16 (|Σ| ≤ 8 · 2 · 15 · 127 = 30480, exact), then one vpmaddwd, one conversion and one
// multiply-add with the rows' scales times the block's dx serve all 8 rows. The file's layout
// spends that per-block tail on every row: about 2.4x the instructions per weight.
// Compiled with -mavx2 -mfma -mf16c; nothing inline from shared headers except the AVX2-only
// gemm_avx2.h and the per-file copies of prefetch.h (see qdot_avx512.cpp).
#include <immintrin.h>

#include <type_traits>

#include "cpu/gemm_avx2.h"
#include "cpu/prefetch.h"
#include "cpu/qdot.h"
#include "cpu/qdot_rows.h"

namespace gemma12b::cpu {
namespace {

// The 16 results of each of R activation rows (two 8-row halves) to out[r·ldo ..].
template <int R>
inline void store_rows(const __m256 (&acc)[R][2], float* out, size_t ldo) {
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(out + r * ldo, acc[r][0]);
    _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
  }
}

// q4_k: the 6-bit scales and mins of 8 rows (rows 8·half..8·half + 7) of a super-block, unpacked
// from the tile's three scale words per row (qdot.h) as bytes: v[0] (v[1]) has row r's scales of
// sub-blocks 0-3 (4-7) in dword r, byte j % 4; v[2], v[3] the mins likewise. With words a, b, c:
// sub-block j < 4 has its scale in the low 6 bits of byte j of a and its min in those of b;
// sub-block 4 + j the low (scale) and high (min) nibble of byte j of c, with 2 more bits from the
// top of byte j of a (scale) or b (min). All bytes at once: as q4_k_scales (qdot.cpp) computes them.
inline void q4_k_x16_bytes(const uint8_t* sb, int half, __m256i (&v)[4]) {
  const __m256i m6 = _mm256_set1_epi8(0x3F), m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 64 + 32 * half));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 128 + 32 * half));
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 192 + 32 * half));
  v[0] = _mm256_and_si256(a, m6);
  v[1] = _mm256_or_si256(_mm256_and_si256(c, m4), _mm256_and_si256(_mm256_srli_epi32(a, 2), m30));
  v[2] = _mm256_and_si256(b, m6);
  v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(c, 4), m4), _mm256_and_si256(_mm256_srli_epi32(b, 2), m30));
}

// The f16 d (k = 0) or dmin (k = 1) of rows 8·half..8·half + 7 of a super-block, as f32.
inline __m256 q4_k_x16_d(const uint8_t* sb, int k, int half) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + 32 * k + 16 * half)));
}

// vpshufb controls that take byte j of each dword, zero-extended: into the dword (c[0][j]), or
// into both of its 16-bit halves (c[1][j], a vpmaddwd operand that multiplies a pair sum by it).
struct ByteCtl {
  alignas(32) uint32_t c[2][4][8];
};
constexpr ByteCtl make_byte_ctl() {
  ByteCtl t{};
  for (int j = 0; j < 4; ++j) {
    for (int r = 0; r < 8; ++r) {
      const uint32_t src = static_cast<uint32_t>(4 * (r % 4) + j);  // vpshufb indexes within 128-bit lanes
      t.c[0][j][r] = src | 0x80808000u;
      t.c[1][j][r] = src | src << 16 | 0x80008000u;
    }
  }
  return t;
}
constexpr ByteCtl kByteCtl = make_byte_ctl();

template <bool kWords>
inline __m256i dword_byte(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(kByteCtl.c[kWords][j])));
}

// The nibble types' tiles, as groups of blocks: q4_0 a pair of 32-blocks (their 16 rows' f16
// scales, then 4 vectors of 64 bytes per block), q4_k a super-block (packed scales, then 8
// sub-blocks of 4 vectors). begin() reads a group's scales; for block j and rows 8·half..8·half
// + 7, weights16() is the vpmaddwd operand that turns the int16 pair sums into int32 dots (ones,
// or q4_k's sub-block scales) and scale() what multiplies them (with the activations' dx);
// q4_k's mins() and min_scale() give the min term, mins · min_scale · dx·Σq.
struct NibQ4_0 {
  static constexpr int64_t kGroupBytes = kX16PairBytes, kBlocks = 2, kHeader = 64;
  static constexpr bool kOffset = true, kMins = false;  // weights u − 8
  struct State {
    const uint8_t* t;
  };
  static void begin(const uint8_t* t, State& st) { st.t = t; }
  static __m256i weights16(const State&, int, int) { return _mm256_set1_epi16(1); }
  static __m256 scale(const State& st, int j, int half) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(st.t + 32 * j + 16 * half)));
  }
  static __m256 mins(const State&, int, int) { return _mm256_setzero_ps(); }
  static __m256 min_scale(const State&, int) { return _mm256_setzero_ps(); }
};
struct NibQ4_K {
  static constexpr int64_t kGroupBytes = kX16SuperBytesQ4K, kBlocks = 8, kHeader = 256;
  static constexpr bool kOffset = false, kMins = true;  // d·sc·u − dmin·m
  struct State {
    __m256i v[2][4];  // q4_k_x16_bytes of each half
    __m256 d[2][2];   // [half][d, dmin]
  };
  static void begin(const uint8_t* t, State& st) {
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      q4_k_x16_bytes(t, half, st.v[half]);
      st.d[half][0] = q4_k_x16_d(t, 0, half);
      st.d[half][1] = q4_k_x16_d(t, 1, half);
    }
  }
  // The integer scale multiplies the pair sums exactly (≤ 63 · 2 · 30480 < 2^31): no f32 scale per
  // sub-block to form.
  static __m256i weights16(const State& st, int j, int half) { return dword_byte<true>(st.v[half][j / 4], j % 4); }
  static __m256 scale(const State& st, int, int half) { return st.d[half][0]; }
  static __m256 mins(const State& st, int j, int half) {
    return _mm256_cvtepi32_ps(dword_byte<false>(st.v[half][2 + j / 4], j % 4));
  }
  static __m256 min_scale(const State& st, int half) { return st.d[half][1]; }
};

// All 16 rows of a q4_0 or q4_k tile against R ≤ 2 activation rows. Per 32-block, 4 vectors of
// packed nibbles per half (rows 0-7, rows 8-15) give 8 vectors of unsigned weights, each met by a
// broadcast activation dword that both halves share; a row's products add up in int16, then per
// half one vpmaddwd (by ones, or q4_k's sub-block scales), one conversion and one multiply-add
// with the rows' scales times the block's dx (and q4_k's min term) serve all 8 rows. The halves
// are written out side by side: GCC, left to share the broadcasts across two half loops, kept all
// 16 live and spilled them and the accumulators to the stack (in cache, one thread, ns per 16 rows
// x 32 weights x row: q4_k 8.8 -> 7.6 with two rows, 10.0 -> 9.0 with one; q4_0 6.95 -> 5.44 and
// 8.2 -> 7.4; q4_k's integer scales took its two-row pass on to 6.3).
template <class T, int R>
void nib_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(0x0F);
  typename T::State st;
  const int64_t groups = K / (32 * T::kBlocks);
  for (int64_t g = 0; g < groups; ++g, t += T::kGroupBytes) {
    T::begin(t, st);
#pragma GCC unroll 2
    for (int j = 0; j < T::kBlocks; ++j) {
      prefetch_step<R>(t, T::kGroupBytes / 64, j, T::kBlocks);
      const int64_t b = T::kBlocks * g + j;
      const uint8_t* nib = t + T::kHeader + 256 * j;
      __m256i s16[R][2];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        __m256i lo[2], hi[2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nib + 64 * c + 32 * h));
          lo[h] = _mm256_and_si256(v, low);
          hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const int8_t* q = x[r].q + 32 * b;
          const __m256i ql = bcast32(q, c), qh = bcast32(q, 4 + c);
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            madd_into(s16[r][h], lo[h], ql, c == 0);
            madd_into(s16[r][h], hi[h], qh);
          }
        }
      }
      __m256i w16[2];
      __m256 mn[2];
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        w16[h] = T::weights16(st, j, h);
        mn[h] = T::mins(st, j, h);
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 dx = _mm256_set1_ps(x[r].dl[8 * b]);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          __m256i dot = _mm256_madd_epi16(s16[r][h], w16[h]);
          if constexpr (T::kOffset) {  // −8·Σq
            dot = _mm256_add_epi32(dot, _mm256_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) * 8));
          }
          acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(T::scale(st, j, h), dx), acc[r][h]);
          if constexpr (T::kMins) {
            const __m256 ds = _mm256_mul_ps(T::min_scale(st, h), _mm256_set1_ps(x[r].ds[b]));
            acc[r][h] = _mm256_fnmadd_ps(mn[h], ds, acc[r][h]);
          }
        }
      }
    }
  }
  store_rows<R>(acc, out, ldo);
}

// Decode and verify: R ≤ kMaxRows activation rows against all 16 rows of the tile, two rows per
// pass over it (more at once would spill their accumulators and running sums; a second pass
// finds the tile in cache). pass(rows, x, out) runs one pass, rows ≤ 2 as an integral_constant.
template <class Pass>
void in_passes_of_two(int R, const QRow* x, float* out, size_t ldo, Pass&& pass) {
  with_rows(R, [&](auto rc) {
    constexpr int kR = decltype(rc)::value;
    if constexpr (kR <= 2) {
      pass(rc, x, out);
    } else {
      pass(std::integral_constant<int, 2>{}, x, out);
      pass(std::integral_constant<int, kR - 2>{}, x + 2, out + 2 * ldo);
    }
  });
}

void q4_0_x16(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  in_passes_of_two(R, x, out, ldo, [&](auto rows, const QRow* xr, float* o) {
    nib_pass<NibQ4_0, decltype(rows)::value>(tile, K, xr, o, ldo);
  });
}

// q8_0: the same shape with signed weights, 8 vectors of 64 bytes per block (no nibbles to split)
// through the sign trick: |w| against q·sign(w), a vpmaddwd per group (its int16 pairs reach
// 2 · 127 · 127, so no int16 running sum), both halves sharing each broadcast.
template <int R>
void x16q8_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t pairs = K / 64;
  for (int64_t p = 0; p < pairs; ++p, t += kX16PairBytesQ8) {
    // One burst per pair: spread over its 16 vector steps it measured no different.
#pragma GCC unroll 17
    for (int l = 0; l < kX16PairBytesQ8 / 64; ++l)
      X16Prefetch<R>::line(t + X16Prefetch<R>::kAhead + 64 * l);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 2 * p + h;
      __m256i i32[R][2];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) i32[r][0] = i32[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const uint8_t* v = t + 64 + 512 * h + 64 * c;
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 32));
        const __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m256i q = bcast32(x[r].q + 32 * b, c);
          i32[r][0] = _mm256_add_epi32(
              i32[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(q, w0)), ones));
          i32[r][1] = _mm256_add_epi32(
              i32[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(q, w1)), ones));
        }
      }
#pragma GCC unroll 2
      for (int hh = 0; hh < 2; ++hh) {
        const __m256 ws =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 32 * h + 16 * hh)));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          acc[r][hh] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][hh]),
                                       _mm256_mul_ps(ws, _mm256_set1_ps(x[r].dl[8 * b])), acc[r][hh]);
        }
      }
    }
  }
  store_rows<R>(acc, out, ldo);
}

void q8_0_x16(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  in_passes_of_two(R, x, out, ldo, [&](auto rows, const QRow* xr, float* o) {
    x16q8_pass<decltype(rows)::value>(tile, K, xr, o, ldo);
  });
}

void q4_k_x16(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  in_passes_of_two(R, x, out, ldo, [&](auto rows, const QRow* xr, float* o) {
    nib_pass<NibQ4_K, decltype(rows)::value>(tile, K, xr, o, ldo);
  });
}

// q6_k (qdot.h's tile): per sub-block and half, the 6-bit weights of nibble vector c come from
// its nibbles and the top-bit vector of their 16 elements, shifted so that bits 2c, 2c + 1 land on
// bits 4, 5 of each byte (16-bit shifts: the mask drops what crosses from the neighbouring byte).
template <int C>
inline __m256i q6_top(__m256i h) {
  const __m256i m = _mm256_set1_epi8(0x30);
  if constexpr (C == 0) return _mm256_and_si256(_mm256_slli_epi16(h, 4), m);
  if constexpr (C == 1) return _mm256_and_si256(_mm256_slli_epi16(h, 2), m);
  if constexpr (C == 2) return _mm256_and_si256(h, m);
  return _mm256_and_si256(_mm256_srli_epi16(h, 2), m);
}

// Weights u ∈ [0, 63] of nibble vector c, part (elements 0-15 | 16-31) of a sub-block, rows
// 8·half..8·half + 7.
template <int C>
inline __m256i q6_weights(const uint8_t* sub, int part, int half) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + 64 * C + 32 * half));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sub + 256 + 64 * half + 32 * part));
  const __m256i nib = part == 0 ? v : _mm256_srli_epi16(v, 4);
  return _mm256_or_si256(_mm256_and_si256(nib, _mm256_set1_epi8(0x0F)), q6_top<C>(h));
}

// Scale g of rows 8·half..8·half + 7 (int8) in both int16 halves of each row's dword: the
// vpmaddwd operand that multiplies a row's pair sums by it.
inline __m256i q6_scale16(const uint8_t* sb, int g, int half) {
  const __m256i s = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sb + 32 + 16 * g + 8 * half)));
  return _mm256_blend_epi16(s, _mm256_slli_epi32(s, 16), 0xAA);
}

// All 16 rows of a q6_k tile against R ≤ 2 activation rows. Per 16-element group (a part of a
// sub-block) and half: 4 vpmaddubsw of weights u = w + 32 against broadcast activation dwords,
// summed two by two in int16 (2 · 2 · 63 · 127 < 2^15), each sum multiplied by the rows' int8
// scale with vpmaddwd, and 32 · sc · Σq taken off the same way (ns16 = −Σq, so 16 · ns16 fits an
// int16 and the pair (16·ns16, 16·ns16) times sc gives it); the int32 dot of a sub-block then
// converts once and meets d · dx.
template <int R>
void x16q6_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const int64_t supers = K / 256;
  for (int64_t s = 0; s < supers; ++s, t += kX16SuperBytesQ6K) {
    __m256 d[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) d[h] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 16 * h)));
    for (int j = 0; j < 8; ++j) {
      prefetch_step<R>(t, kX16SuperBytesQ6K / 64, j, 8);
      const int64_t b = 8 * s + j;
      const uint8_t* sub = t + 288 + 384 * j;
      __m256i i32[R][2];
#pragma GCC unroll 2
      for (int part = 0; part < 2; ++part) {
        __m256i sc[2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) sc[h] = q6_scale16(t, 2 * j + part, h);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m256i ns = _mm256_set1_epi16(static_cast<int16_t>(16 * x[r].ns16[2 * b + part]));
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            const __m256i o = _mm256_madd_epi16(sc[h], ns);
            i32[r][h] = part == 0 ? o : _mm256_add_epi32(i32[r][h], o);
          }
        }
        // Nibble vectors (0, 1) and (2, 3): two products per int16 sum.
        auto two = [&](auto c0) {
          constexpr int C = decltype(c0)::value;
          __m256i q0[R], q1[R];
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            q0[r] = bcast32(x[r].q + 32 * b, 4 * part + C);
            q1[r] = bcast32(x[r].q + 32 * b, 4 * part + C + 1);
          }
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            const __m256i u0 = q6_weights<C>(sub, part, h), u1 = q6_weights<C + 1>(sub, part, h);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
              __m256i s16;
              madd_into(s16, u0, q0[r], true);
              madd_into(s16, u1, q1[r]);
              i32[r][h] = _mm256_add_epi32(i32[r][h], _mm256_madd_epi16(s16, sc[h]));
            }
          }
        };
        two(std::integral_constant<int, 0>{});
        two(std::integral_constant<int, 2>{});
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256 dx = _mm256_set1_ps(x[r].dl[8 * b]);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) acc[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][h]), _mm256_mul_ps(d[h], dx), acc[r][h]);
      }
    }
  }
  store_rows<R>(acc, out, ldo);
}

void q6_k_x16(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  in_passes_of_two(R, x, out, ldo, [&](auto rows, const QRow* xr, float* o) {
    x16q6_pass<decltype(rows)::value>(tile, K, xr, o, ldo);
  });
}

// Prefill: the tile rewritten once into gemm_avx2.h's packed order (q4_0's nibbles split, scales
// as f32), then gemm_avx2.h's kernel streams every activation row past it.
struct X16Q4_0 {
  static constexpr int kShift = 3;
  static constexpr bool kSigned = false, kGroups16 = false, kMins = false;
  static constexpr int64_t kPairBytes = kX16PairBytes, kVectors = 4;  // 64-byte vectors per block
  // Vector c of a half (8 rows x 4 bytes): low nibbles are group c, high nibbles group 4 + c.
  static void put(uint8_t* u, int c, __m256i v) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * c), _mm256_and_si256(v, low));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * (4 + c)),
                        _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  }
};
struct X16Q8_0 {
  static constexpr int kShift = 0;
  static constexpr bool kSigned = true, kGroups16 = false, kMins = false;
  static constexpr int64_t kPairBytes = kX16PairBytesQ8, kVectors = 8;
  static void put(uint8_t* u, int c, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * c), v);
  }
};

struct X16Q4_K {
  static constexpr int kShift = 0;
  static constexpr bool kSigned = false, kGroups16 = false, kMins = true;
};

// Block b's 16 scales (f16 at src) into p.s for both 16-element halves.
inline void unpack_scales(const uint8_t* src, const Packed& p, int64_t b) {
#pragma GCC unroll 2
  for (int hh = 0; hh < 2; ++hh) {
    const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * hh)));
    _mm256_storeu_ps(p.s + b * 32 + 8 * hh, ws);
    _mm256_storeu_ps(p.s + b * 32 + 16 + 8 * hh, ws);
  }
}

template <class T>
void gemm_x16(const uint8_t* tile, int64_t K, const QActs& x, float* out, size_t ldo, uint8_t* scratch) {
  const int64_t nb = K / 32;
  const Packed p = packed_view(scratch, nb);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pair = tile + (b / 2) * T::kPairBytes;
    const int h = static_cast<int>(b % 2);
    unpack_scales(pair + 32 * h, p, b);
#pragma GCC unroll 2
    for (int hh = 0; hh < 2; ++hh) {
#pragma GCC unroll 8
      for (int c = 0; c < T::kVectors; ++c) {
        const uint8_t* v = pair + 64 + 64 * T::kVectors * h + 64 * c + 32 * hh;
        T::put(p.u + b * 512 + 256 * hh, c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)));
      }
    }
  }
  gemm_packed<T>(p, nb, kX16Rows, x, out, ldo);
}

// q4_k: per super-block, the unpacked scales and mins, and each sub-block's nibbles split as q4_0's.
void gemm_x16_q4_k(const uint8_t* tile, int64_t K, const QActs& x, float* out, size_t ldo, uint8_t* scratch) {
  const int64_t nb = K / 32;
  const Packed p = packed_view(scratch, nb);
  NibQ4_K::State st;
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ4K;
    NibQ4_K::begin(sb, st);
    for (int j = 0; j < 8; ++j) {
      const int64_t b = 8 * s + j;
#pragma GCC unroll 2
      for (int hh = 0; hh < 2; ++hh) {
        // d·sc_j and dmin·m_j, as q4_k_scales (qdot.cpp) forms them
        const __m256 ws = _mm256_mul_ps(_mm256_cvtepi32_ps(dword_byte<false>(st.v[hh][j / 4], j % 4)), st.d[hh][0]);
        _mm256_storeu_ps(p.s + b * 32 + 8 * hh, ws);
        _mm256_storeu_ps(p.s + b * 32 + 16 + 8 * hh, ws);
        _mm256_storeu_ps(p.mins + b * 16 + 8 * hh, _mm256_mul_ps(NibQ4_K::mins(st, j, hh), st.d[hh][1]));
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const uint8_t* v = sb + 256 + 256 * j + 64 * c + 32 * hh;
          X16Q4_0::put(p.u + b * 512 + 256 * hh, c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)));
        }
      }
    }
  }
  gemm_packed<X16Q4_K>(p, nb, kX16Rows, x, out, ldo);
}

// q6_k: per sub-block, the 6-bit weights as gemm_avx2.h's groups (nibble vector c is group c, its
// elements 16 on group 4 + c) and d·sc per 16-element half.
struct X16Q6_K {
  static constexpr int kShift = 5;
  static constexpr bool kSigned = false, kGroups16 = true, kMins = false;
};

template <int C>
inline void q6_put(const uint8_t* sub, uint8_t* u, int half) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * C), q6_weights<C>(sub, 0, half));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * (4 + C)), q6_weights<C>(sub, 1, half));
}

void gemm_x16_q6_k(const uint8_t* tile, int64_t K, const QActs& x, float* out, size_t ldo, uint8_t* scratch) {
  const int64_t nb = K / 32;
  const Packed p = packed_view(scratch, nb);
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ6K;
#pragma GCC unroll 2
    for (int hh = 0; hh < 2; ++hh) {
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + 16 * hh)));
      for (int j = 0; j < 8; ++j) {
        const int64_t b = 8 * s + j;
#pragma GCC unroll 2
        for (int part = 0; part < 2; ++part) {
          const __m256 sc = _mm256_cvtepi32_ps(
              _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sb + 32 + 16 * (2 * j + part) + 8 * hh))));
          _mm256_storeu_ps(p.s + b * 32 + 16 * part + 8 * hh, _mm256_mul_ps(d, sc));
        }
        const uint8_t* sub = sb + 288 + 384 * j;
        uint8_t* u = p.u + b * 512 + 256 * hh;
        q6_put<0>(sub, u, hh);
        q6_put<1>(sub, u, hh);
        q6_put<2>(sub, u, hh);
        q6_put<3>(sub, u, hh);
      }
    }
  }
  gemm_packed<X16Q6_K>(p, nb, kX16Rows, x, out, ldo);
}

// An X16GemmFn from a one-tile GEMM: the tiles one after the other.
template <void (*F)(const uint8_t*, int64_t, const QActs&, float*, size_t, uint8_t*)>
void each_tile(const uint8_t* tile, size_t tile_bytes, int n, int64_t K, const QActs& x, float* out, size_t ldo,
               uint8_t* scratch) {
  for (int i = 0; i < n; ++i) F(tile + i * tile_bytes, K, x, out + kX16Rows * i, ldo, scratch);
}

}  // namespace

void set_x16_avx2(Kernels* k) {
  k->q4_0_x16 = &q4_0_x16;
  k->gemm_q4_0_x16 = &each_tile<&gemm_x16<X16Q4_0>>;
  k->q8_0_x16 = &q8_0_x16;
  k->gemm_q8_0_x16 = &each_tile<&gemm_x16<X16Q8_0>>;
  k->q4_k_x16 = &q4_k_x16;
  k->gemm_q4_k_x16 = &each_tile<&gemm_x16_q4_k>;
  k->q6_k_x16 = &q6_k_x16;
  k->gemm_q6_k_x16 = &each_tile<&gemm_x16_q6_k>;
}

}  // namespace gemma12b::cpu
