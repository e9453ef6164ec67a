// The AVX-512 VNNI path of qdot.h. Compiled with -mavx512f/bw/vl/dq/vnni, -mfma, -mf16c and only
// called after detect_isa() found them. This file uses nothing inline from shared headers (an
// inline function compiled here could be picked by the linker for callers on older processors)
// except simd_avx512.h, whose unnamed namespace keeps its copies here. The attention kernels are
// in attn_avx512.cpp.
#include <immintrin.h>

#include "core/quant.h"
#include "cpu/gemm_avx512.h"
#include "cpu/qdot.h"
#include "cpu/qdot_rows.h"
#include "cpu/simd_avx512.h"

namespace gemma12b::cpu {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// The f16 scales a and b of two consecutive blocks as one vector: lanes 0-7 a, lanes 8-15 b (one
// conversion and one permute instead of two scalar conversions, two broadcasts and a blend).
inline __m512 scales2(uint16_t a, uint16_t b) {
  const __m128 f = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(a), b, 1));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                               _mm512_castps128_ps512(f));
}

constexpr int kPrefetch = 4096;
constexpr int kNR = 2;  // weight rows per pass (4 measured slower: more streams than the prefetchers follow)

// Each type: State decoded once per super-block, chunk() gives 64 unsigned bytes and the 16
// per-lane scales, kShift = log2 of the offset (0: none).
struct Q4_0 {
  static constexpr int kSuper = 64, kShift = 3, kSuperBytes = 2 * sizeof(BlockQ4_0);
  static constexpr bool kMins = false, kGroups16 = false;
  struct State {
    const BlockQ4_0* b;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) { st.b = reinterpret_cast<const BlockQ4_0*>(row) + 2 * s; }
  static void chunk(const State& st, int, __m512i& u, __m512& ws) {
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st.b[0].qs));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st.b[1].qs));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(q0, q0)), _mm256_set_m128i(q1, q1), 1);
    // 128-bit lanes 1 and 3 take the high nibbles (16-bit elements 8-15 and 24-31).
    v = _mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4);
    u = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
    ws = scales2(st.b[0].d, st.b[1].d);
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

struct Q8_0 {
  static constexpr int kSuper = 64, kShift = 7, kSuperBytes = 2 * sizeof(BlockQ8_0);
  static constexpr bool kMins = false, kGroups16 = false;
  struct State {
    const BlockQ8_0* b;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) { st.b = reinterpret_cast<const BlockQ8_0*>(row) + 2 * s; }
  static void chunk(const State& st, int, __m512i& u, __m512& ws) {
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b[0].qs));
    const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b[1].qs));
    u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), _mm512_set1_epi8(static_cast<char>(0x80)));
    ws = scales2(st.b[0].d, st.b[1].d);
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

struct Q4_K {
  static constexpr int kSuper = 256, kShift = 0, kSuperBytes = sizeof(BlockQ4_K);
  static constexpr bool kMins = true, kGroups16 = false;
  struct State {
    const uint8_t* qs;
    float dsc[8], dmn[8];
  };
  static void begin(const uint8_t* row, int64_t s, State& st) {
    const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(row)[s];
    q4_k_scales(&b, st.dsc, st.dmn);
    st.qs = b.qs;
  }
  static void chunk(const State& st, int c, __m512i& u, __m512& ws) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.qs + 32 * c));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
    v = _mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4);  // upper half: high nibbles
    u = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
    ws = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(st.dsc[2 * c]), _mm512_set1_ps(st.dsc[2 * c + 1]));
  }
  static __m256 mins(const State& st) { return _mm256_loadu_ps(st.dmn); }
};

struct Q6_K {
  static constexpr int kSuper = 256, kShift = 5, kSuperBytes = sizeof(BlockQ6_K);
  static constexpr bool kMins = false, kGroups16 = true;
  struct State {
    const BlockQ6_K* b;
    float d;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) {
    st.b = reinterpret_cast<const BlockQ6_K*>(row) + s;
    st.d = h2f(st.b->d);
  }
  static void chunk(const State& st, int c, __m512i& u, __m512& ws) {
    const int h = c / 2, p = c % 2;
    const __m512i ql = _mm512_loadu_si512(st.b->ql + 64 * h);
    const __m512i lo = _mm512_and_si512(p == 0 ? ql : _mm512_srli_epi16(ql, 4), _mm512_set1_epi8(0x0F));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b->qh + 32 * h));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
    if (p == 1) v = _mm512_srli_epi16(v, 4);
    v = _mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 2);  // second 32 elements: the next 2 bits
    const __m512i hi = _mm512_and_si512(_mm512_slli_epi16(v, 4), _mm512_set1_epi8(0x30));
    u = _mm512_or_si512(lo, hi);
    int32_t sc4;
    __builtin_memcpy(&sc4, st.b->scales + 8 * h + 4 * p, 4);
    const __m128i rep = _mm_shuffle_epi8(_mm_cvtsi32_si128(sc4), _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
    ws = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(rep)), _mm512_set1_ps(st.d));
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

// NR weight rows against R activation rows: the activation-side vectors (bytes, offset term,
// lane scales) are loaded once per chunk for all NR rows, and NR independent weight streams keep
// more loads in flight.
template <class T, int NR, int R>
inline void tile(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
  __m512 acc[NR][R];
  __m256 accm[NR][R];
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) {
      acc[i][r] = _mm512_setzero_ps();
      accm[i][r] = _mm256_setzero_ps();
    }
  }
  const int64_t n_super = K / T::kSuper;
  for (int64_t s = 0; s < n_super; ++s) {
    typename T::State st[NR];
    for (int i = 0; i < NR; ++i) {
      // Software prefetch kPrefetch bytes ahead of each weight stream (past the row end it
      // reaches the next rows, which come next): the hardware prefetcher alone leaves a core
      // waiting on DRAM latency at a third of its bandwidth.
      _mm_prefetch(reinterpret_cast<const char*>(w + i * ldw) + s * T::kSuperBytes + kPrefetch, _MM_HINT_T0);
      T::begin(w + i * ldw, s, st[i]);
    }
    for (int c = 0; c < T::kSuper / 64; ++c) {
      const int64_t e = s * T::kSuper + 64 * c;
      __m512i init[R], q[R];
      __m512 dl[R];
      for (int r = 0; r < R; ++r) {
        init[r] = T::kShift > 0 ? _mm512_slli_epi32(_mm512_loadu_si512(x[r].ns4 + e / 4), T::kShift)
                                : _mm512_setzero_si512();
        q[r] = _mm512_loadu_si512(x[r].q + e);
        dl[r] = _mm512_loadu_ps(x[r].dl + e / 4);
      }
      for (int i = 0; i < NR; ++i) {
        __m512i u;
        __m512 ws;
        T::chunk(st[i], c, u, ws);
        for (int r = 0; r < R; ++r) {
          const __m512i dot = _mm512_dpbusd_epi32(init[r], u, q[r]);
          acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, dl[r]), acc[i][r]);
        }
      }
    }
    if constexpr (T::kMins) {
      for (int i = 0; i < NR; ++i) {
        const __m256 m = T::mins(st[i]);
        for (int r = 0; r < R; ++r) accm[i][r] = _mm256_fmadd_ps(m, _mm256_loadu_ps(x[r].ds + 8 * s), accm[i][r]);
      }
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) out[r * ldo + i] = hsum512(acc[i][r]) - hsum256(accm[i][r]);
  }
}

// A RowDotFn from a tile kernel: n weight rows in tiles of kNR (the rest one at a time), each
// against the R activation rows; Tile::run<NR, R>(w, ldw, x, K, out, ldo) does one tile.
template <class Tile>
void rowdot_tiled(const uint8_t* w, size_t ldw, int64_t n, const QRow* x, int R, int64_t K, float* out,
                  size_t ldo) {
  with_rows(R, [&](auto rc) {
    constexpr int kR = decltype(rc)::value;
    int64_t j = 0;
    for (; j + kNR <= n; j += kNR) Tile::template run<kNR, kR>(w + j * ldw, ldw, x, K, out + j, ldo);
    for (; j < n; ++j) Tile::template run<1, kR>(w + j * ldw, ldw, x, K, out + j, ldo);
  });
}

template <class T>
struct GenericTile {
  template <int NR, int R>
  static void run(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
    tile<T, NR, R>(w, ldw, x, K, out, ldo);
  }
};

// ---- q4_0 rows, four blocks (128 weights) per step ----
//
// The 64 packed bytes of four consecutive blocks, read in place (18-byte blocks: 2 bytes of f16
// scale, 16 of nibbles), give two vectors of 64 unsigned weights: the low nibbles (each block's
// elements 0-15) and the high nibbles (16-31). Against the activations in nibble order
// (QRow::qn) both vectors' 4-byte lane l belongs to block l / 4, so they share one vector of lane
// scales and accumulate into one integer dot; the four f16 scales come out of one load with a
// word permute. Per 128 weights: ~10 instructions for the weights, 5 per activation row (the
// generic tile above needs about twice that).
constexpr int kQ4Group = 4 * static_cast<int>(sizeof(BlockQ4_0));  // 72 bytes

// Word w of the 64 bytes at a group's start holds block w / 9's scale for w = 0, 9, 18, 27.
inline __m512i q4_scale_index() {
  return _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27, 27, 27, 27, 18, 18, 18, 18, 9, 9, 9,
                          9, 0, 0, 0, 0);
}

// The weights of nbk (4 or 2) blocks at g: the packed bytes v (zero past nbk blocks) and the 16
// lane scales (0 past nbk blocks: the short group's loads are masked, nothing past it is read).
template <int NBK>
inline void q4_group(const uint8_t* g, const __m512i sidx, __m512i& v, __m512& ws) {
  const BlockQ4_0* b = reinterpret_cast<const BlockQ4_0*>(g);
  if constexpr (NBK == 4) {
    v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[2].qs)), 2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[3].qs)), 3);
    const __m512i sc = _mm512_permutexvar_epi16(sidx, _mm512_loadu_si512(g));
    ws = _mm512_cvtph_ps(_mm512_castsi512_si256(sc));
  } else {
    v = _mm512_zextsi256_si512(_mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)),
                                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs))));
    const __m512i raw = _mm512_maskz_loadu_epi16((1u << 18) - 1, g);  // the 2 blocks' 36 bytes
    ws = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(sidx, raw)));
  }
}

template <int NR, int R>
inline void tile_q4n(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
  __m512 acc[NR][R];
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  const __m512i sidx = q4_scale_index(), low = _mm512_set1_epi8(0x0F);
  auto step = [&](auto nbk_c, int64_t g) {
    constexpr int NBK = decltype(nbk_c)::value;
    constexpr __mmask64 kHalf = NBK == 4 ? ~__mmask64{0} : __mmask64{0xFFFFFFFFu};
    const int64_t e = 128 * g;  // first element of the group
    __m512i qlo[R], qhi[R], init[R];
    __m512 dl[R];
    for (int r = 0; r < R; ++r) {
      qlo[r] = _mm512_maskz_loadu_epi8(kHalf, x[r].qn + e);
      qhi[r] = _mm512_maskz_loadu_epi8(kHalf, x[r].qn + e + 16 * NBK);
      init[r] = _mm512_loadu_si512(x[r].nsn + 16 * g);  // −8·Σq: the q4_0 offset
      dl[r] = _mm512_loadu_ps(x[r].dln + 16 * g);
    }
    for (int i = 0; i < NR; ++i) {
      const uint8_t* gp = w + i * ldw + g * kQ4Group;
      _mm_prefetch(reinterpret_cast<const char*>(gp) + kPrefetch, _MM_HINT_T0);
      __m512i v;
      __m512 ws;
      q4_group<NBK>(gp, sidx, v, ws);
      const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      for (int r = 0; r < R; ++r) {
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init[r], lo, qlo[r]), hi, qhi[r]);
        acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, dl[r]), acc[i][r]);
      }
    }
  };
  const int64_t full = K / 128;
  for (int64_t g = 0; g < full; ++g) step(std::integral_constant<int, 4>{}, g);
  if (K % 128 != 0) step(std::integral_constant<int, 2>{}, full);  // K % 64 == 0: two blocks left
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) out[r * ldo + i] = hsum512(acc[i][r]);
  }
}

struct Q4_0Tile {
  template <int NR, int R>
  static void run(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
    tile_q4n<NR, R>(w, ldw, x, K, out, ldo);
  }
};

// ---- q4_k rows, whole super-blocks (256 weights) per step ----
//
// A super-block's 128 packed bytes are two 64-byte loads; in each, bytes 0-31 hold sub-blocks
// (4h, 4h+1) as low/high nibbles and bytes 32-63 hold (4h+2, 4h+3). Splitting nibbles and
// swapping 256-bit halves gives two vectors in element order, so the activations are read as
// they are (no reordered copy). The 8 scales and 8 mins come out of the block's first 16 bytes
// with two byte shuffles (the scalar q4_k_scales takes ~10x the instructions, per row and
// super-block); both give the same floats, one f32 product of the same integer and d or dmin.

// Lanes 0-7: d·sc_j, lanes 8-15: dmin·m_j of the super-block at b (cf. q4_k_scales).
inline __m512 q4_k_scales16(const BlockQ4_K* b) {
  // Bytes 0-3: d, dmin (f16); 4-15: the 12 packed bytes s[0..11] of the 6-bit scales and mins.
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  // Output byte j (0-7: sc_j, 8-15: m_j). a: the byte holding the low bits, h: the byte whose top
  // two bits are bits 4-5 for j ≥ 4 (see q4_k_scales). Indices are into raw (s[i] = raw[4 + i]).
  const __m128i a = _mm_shuffle_epi8(raw, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m128i h = _mm_shuffle_epi8(raw, _mm_setr_epi8(4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11));
  const __m128i m6 = _mm_set1_epi8(63), m4 = _mm_set1_epi8(0x0F), top = _mm_set1_epi8(0x30);
  // j ≥ 4: sc = (s[j+4] & 15) | (s[j-4] >> 6) << 4; m = (s[j+4] >> 4) | (s[j] >> 6) << 4.
  const __m128i lowbits = _mm_and_si128(_mm_mask_blend_epi8(0xF000, a, _mm_srli_epi16(a, 4)), m4);
  const __m128i hi = _mm_or_si128(lowbits, _mm_and_si128(_mm_srli_epi16(h, 2), top));
  const __m128i v = _mm_mask_blend_epi8(0xF0F0, _mm_and_si128(a, m6), hi);
  const __m512 dd = _mm512_cvtph_ps(_mm256_permutexvar_epi16(
      _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm256_castsi128_si256(raw)));
  return _mm512_mul_ps(dd, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)));
}

template <int NR, int R>
inline void tile_q4k(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
  __m512 acc[NR][R];
  __m256 accm[NR][R];
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) {
      acc[i][r] = _mm512_setzero_ps();
      accm[i][r] = _mm256_setzero_ps();
    }
  }
  const __m512i low = _mm512_set1_epi8(0x0F);
  // Lane scales of chunk c (elements 64c..64c+63: sub-blocks 2c and 2c+1).
  const __m512i pick[4] = {_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                           _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
                           _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
                           _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6)};
  const int64_t n_super = K / 256;
  for (int64_t s = 0; s < n_super; ++s) {
    __m512 sm[NR];
    const uint8_t* qs[NR];
    for (int i = 0; i < NR; ++i) {
      const BlockQ4_K* b = reinterpret_cast<const BlockQ4_K*>(w + i * ldw) + s;
      _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetch, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b) + kPrefetch + 64, _MM_HINT_T0);
      sm[i] = q4_k_scales16(b);
      qs[i] = b->qs;
    }
    for (int hh = 0; hh < 2; ++hh) {
      const int64_t e = 256 * s + 128 * hh;
      __m512i qa[R], qb[R];
      __m512 da[R], db[R];
      for (int r = 0; r < R; ++r) {
        qa[r] = _mm512_loadu_si512(x[r].q + e);
        qb[r] = _mm512_loadu_si512(x[r].q + e + 64);
        da[r] = _mm512_loadu_ps(x[r].dl + e / 4);
        db[r] = _mm512_loadu_ps(x[r].dl + e / 4 + 16);
      }
      for (int i = 0; i < NR; ++i) {
        const __m512i v = _mm512_loadu_si512(qs[i] + 64 * hh);
        const __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        const __m512i ua = _mm512_shuffle_i64x2(lo, hi, 0x44);  // sub-blocks 4hh, 4hh+1
        const __m512i ub = _mm512_shuffle_i64x2(lo, hi, 0xEE);  // sub-blocks 4hh+2, 4hh+3
        const __m512 wa = _mm512_permutexvar_ps(pick[2 * hh], sm[i]);
        const __m512 wb = _mm512_permutexvar_ps(pick[2 * hh + 1], sm[i]);
        for (int r = 0; r < R; ++r) {
          const __m512i za = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ua, qa[r]);
          const __m512i zb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ub, qb[r]);
          acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(za), _mm512_mul_ps(wa, da[r]), acc[i][r]);
          acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(zb), _mm512_mul_ps(wb, db[r]), acc[i][r]);
        }
      }
    }
    for (int i = 0; i < NR; ++i) {
      const __m256 mn = _mm512_extractf32x8_ps(sm[i], 1);
      for (int r = 0; r < R; ++r) accm[i][r] = _mm256_fmadd_ps(mn, _mm256_loadu_ps(x[r].ds + 8 * s), accm[i][r]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int r = 0; r < R; ++r) out[r * ldo + i] = hsum512(acc[i][r]) - hsum256(accm[i][r]);
  }
}

struct Q4_KTile {
  template <int NR, int R>
  static void run(const uint8_t* w, size_t ldw, const QRow* x, int64_t K, float* out, size_t ldo) {
    tile_q4k<NR, R>(w, ldw, x, K, out, ldo);
  }
};

// ---- prefill: the file layout packed into gemm_avx512.h's tile ----

template <class T>
void pack(const uint8_t* w, size_t ldw, int64_t n, int64_t K, const Packed& p) {
  const int64_t nb = K / 32;
  // Lane l of a chunk's 16 dwords is group l % 8 of block 2c + l / 8.
  const __m512i idx = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
  for (int64_t j = 0; j < kGemmTile; ++j) {
    if (j >= n) {  // rows past the matrix: zero weights and scales
      for (int64_t b = 0; b < nb; ++b) {
        for (int g = 0; g < 8; ++g) reinterpret_cast<int32_t*>(p.u + b * 512)[g * 16 + j] = 0;
        p.s[b * 32 + j] = p.s[b * 32 + 16 + j] = p.mins[b * 16 + j] = 0.0f;
      }
      continue;
    }
    const uint8_t* row = w + j * ldw;
    for (int64_t sp = 0; sp < K / T::kSuper; ++sp) {
      typename T::State st;
      T::begin(row, sp, st);
      float dmn[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      if constexpr (T::kMins) _mm256_storeu_ps(dmn, T::mins(st));
      for (int c = 0; c < T::kSuper / 64; ++c) {
        __m512i u;
        __m512 ws;
        T::chunk(st, c, u, ws);
        const int64_t b = sp * (T::kSuper / 32) + 2 * c;
        _mm512_i32scatter_epi32(reinterpret_cast<int32_t*>(p.u + b * 512) + j, idx, u, 4);
        alignas(64) float wl[16];
        _mm512_store_ps(wl, ws);
        for (int h = 0; h < 2; ++h) {
          p.s[(b + h) * 32 + j] = wl[8 * h];
          p.s[(b + h) * 32 + 16 + j] = wl[8 * h + 4];
          p.mins[(b + h) * 16 + j] = dmn[2 * c + h];
        }
      }
    }
  }
}

template <class T>
void gemm(const uint8_t* w, size_t ldw, int64_t n, const QActs& x, int64_t K, float* out, size_t ldo,
          uint8_t* scratch) {
  const int64_t nb = K / 32;
  // The scratch is 64-byte aligned by the caller; u blocks are 512 bytes.
  const Packed p = packed_view(scratch, nb);
  pack<T>(w, ldw, n, K, p);
  gemm_packed<T, 1>(&p, nb, x, out, ldo, static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1));
}

// ---- float weights: f32 activations, 16 elements per step, masked tail ----
template <DType kT>
inline __m512 load_w(const uint8_t* w, int64_t k, __mmask16 m) {
  if constexpr (kT == DType::kF32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(w) + k);
  } else if constexpr (kT == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(w) + k));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(w) + k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType kT, int R>
void fdot_r(const uint8_t* w, const float* const* x, int64_t K, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 wv = load_w<kT>(w, k, 0xFFFF);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[r] + k), acc[r]);
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 wv = load_w<kT>(w, k, m);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x[r] + k), acc[r]);
  }
  for (int r = 0; r < R; ++r) out[r] = hsum512(acc[r]);
}

// W weight rows at once (W·R ≤ 16 accumulators): each activation vector loaded once meets W
// rows, where row by row every row re-read all R activation rows (from L2 once K·R floats
// outgrow L1: 240 KB for 4 rows of the 12B's ffn_down), and one row's single FMA chain waited on
// its own latency. Each output still sums its products in the same order as fdot_r.
template <DType kT, int R, int W>
void fdot_w(const uint8_t* w, size_t ldw, const float* const* x, int64_t K, float* out, size_t ldo) {
  __m512 acc[W][R];
  for (int i = 0; i < W; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[W];
    for (int i = 0; i < W; ++i) wv[i] = load_w<kT>(w + i * ldw, k, 0xFFFF);
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_loadu_ps(x[r] + k);
      for (int i = 0; i < W; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x[r] + k);
      for (int i = 0; i < W; ++i) acc[i][r] = _mm512_fmadd_ps(load_w<kT>(w + i * ldw, k, m), xv, acc[i][r]);
    }
  }
  for (int i = 0; i < W; ++i) {
    for (int r = 0; r < R; ++r) out[r * ldo + i] = hsum512(acc[i][r]);
  }
}

template <DType kT>
void fdot(const uint8_t* w, size_t ldw, int64_t n, const float* const* x, int R, int64_t K, float* out, size_t ldo) {
  with_rows(R, [&](auto rc) {
    constexpr int kR = decltype(rc)::value;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) fdot_w<kT, kR, 4>(w + j * ldw, ldw, x, K, out + j, ldo);
    each_row(kR, w + j * ldw, ldw, n - j, out + j, ldo,
             [&](const uint8_t* wj, float* o) { fdot_r<kT, kR>(wj, x, K, o); });
  });
}

// tanh to ~2 ulp (Cephes tanhf): an odd polynomial below |x| = 0.625, (1 − e)/(1 + e) with
// e = exp(−2|x|) above (no cancellation there: e ≤ 0.29); NaN stays NaN.
inline __m512 tanh512(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x), z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  const __m512 e = exp512(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big),
                                            _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  const __m512 r = _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), small);
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

void geglu(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = head_mask(n, i);
    const __m512 z = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                       _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), z), _mm512_mul_ps(z, z), z));
    const __m512 gl = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), z), _mm512_add_ps(_mm512_set1_ps(1.0f), tanh512(inner)));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(gl, _mm512_maskz_loadu_ps(m, u + i)));
  }
}

void softcap(const float* x, float* out, int64_t n, float cap) {
  const __m512 c = _mm512_set1_ps(cap), inv = _mm512_set1_ps(1.0f / cap);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = head_mask(n, i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(c, tanh512(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv))));
  }
}

}  // namespace

const Kernels& kernels_avx512() {
  static const Kernels k = [] {
    Kernels t{Isa::kAvx512,
              &rowdot_tiled<Q4_0Tile>,
              &rowdot_tiled<GenericTile<Q8_0>>,
              &rowdot_tiled<Q4_KTile>,
              &rowdot_tiled<GenericTile<Q6_K>>,
              &fdot<DType::kF32>, &fdot<DType::kF16>, &fdot<DType::kBF16>,
              nullptr,          nullptr,            nullptr,            &geglu,
              &softcap,
              &gemm<Q4_0>,      &gemm<Q8_0>,        &gemm<Q4_K>,        &gemm<Q6_K>,
              /*q4_0_nibble_order=*/true};
    set_x16_avx512(&t);        // x16_avx512.cpp
    set_attention_avx512(&t);  // attn_avx512.cpp
    if (__builtin_cpu_supports("avx512bf16")) set_attention_avx512_bf16(&t);  // attn_avx512bf16.cpp
    return t;
  }();
  return k;
}

}  // namespace gemma12b::cpu
