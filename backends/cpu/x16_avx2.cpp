// q4_0 on x16 tiles (qdot.h) for AVX2 (no VNNI): a tile's 64-byte vectors are read as two
// 32-byte halves, rows 0-7 and rows 8-15, so lane j of a half is weight row j of it. Per 32-block
// and half: 4 vectors of packed nibbles give 8 vectors of unsigned weights (groups of 4 elements),
// each met by a broadcast activation dword through vpmaddubsw; the 8 products of a row add up in
// int16 (|Σ| ≤ 8 · 2 · 15 · 127 = 30480, exact), then one vpmaddwd, one conversion and one
// multiply-add with the rows' scales times the block's dx serve all 8 rows. The file's layout
// spends that per-block tail on every row: about 2.4x the instructions per weight.
// Compiled with -mavx2 -mfma -mf16c; nothing inline from shared headers (see qdot_avx512.cpp).
#include <immintrin.h>

#include "cpu/qdot.h"
#include "cpu/qdot_rows.h"

namespace gemma12b::cpu {
namespace {

// Bytes the decode kernel prefetches ahead of its tile stream.
constexpr int kPrefetch = 4096;

// s += the int16 pair sums of u·q. The empty asm makes each sum a value of its own, so the
// compiler keeps one running sum per row instead of re-associating a block's products into a
// tree whose leaves all live at once (GCC 12 did, spilling most of them to the stack).
inline void madd_into(__m256i& s, __m256i u, __m256i q) {
  s = _mm256_add_epi16(s, _mm256_maddubs_epi16(u, q));
  asm("" : "+x"(s));
}

inline __m256i bcast(const int8_t* q, int g) {
  int32_t v;
  __builtin_memcpy(&v, q + 4 * g, 4);
  return _mm256_set1_epi32(v);
}

// All 16 rows of the tile against R ≤ 2 activation rows: both halves share each broadcast (a
// broadcast from memory takes a vector pipe on Zen 3, not only a load port).
template <int R>
void x16_pass(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  constexpr int H = 2;
  __m256 acc[R][H];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) acc[r][hh] = _mm256_setzero_ps();
  }
  const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const int64_t pairs = K / 64;
  for (int64_t p = 0; p < pairs; ++p, t += kX16PairBytes) {
#pragma GCC unroll 9
    for (int l = 0; l < kX16PairBytes / 64; ++l) _mm_prefetch(reinterpret_cast<const char*>(t) + kPrefetch + 64 * l, _MM_HINT_T0);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 2 * p + h;
#pragma GCC unroll 2
      for (int hh = 0; hh < H; ++hh) {
        const int half = hh;
        // [8] rows' scales of block b
        const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 32 * h + 16 * half)));
        __m256i s16[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) s16[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 64 + 256 * h + 64 * c + 32 * half));
          const __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            const int8_t* q = x[r].q + 32 * b;
            madd_into(s16[r], lo, bcast(q, c));
            madd_into(s16[r], hi, bcast(q, 4 + c));
          }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m256i off = _mm256_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) * 8);  // −8·Σq
          const __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(s16[r], ones), off);
          acc[r][hh] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(ws, _mm256_set1_ps(x[r].dl[8 * b])),
                                       acc[r][hh]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) _mm256_storeu_ps(out + r * ldo + 8 * hh, acc[r][hh]);
  }
}

// Decode and verify: R ≤ kMaxRows activation rows against all 16 rows of the tile, two rows per
// pass over it (more at once would spill their accumulators and running sums; a second pass
// finds the tile in cache).
template <int R>
void x16_rows(const uint8_t* t, int64_t K, const QRow* x, float* out, size_t ldo) {
  if constexpr (R <= 2) {
    x16_pass<R>(t, K, x, out, ldo);
  } else {
    x16_pass<2>(t, K, x, out, ldo);
    x16_pass<R - 2>(t, K, x + 2, out + 2 * ldo, ldo);
  }
}

void q4_0_x16(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo) {
  with_rows(R, [&](auto rc) { x16_rows<decltype(rc)::value>(tile, K, x, out, ldo); });
}

// Prefill: the tile unpacked once into the scratch (per block: for each half, 8 groups of 8 rows
// x 4 unsigned weights, then the 16 scales as f32), then every activation row streamed past it,
// kGemmRows rows at a time with both halves (6 float and 6 int16 accumulators, a group's two
// weight vectors and a broadcast: 15 of the 16 registers; measured 1.3x faster than 6 rows and
// one half at a time, which broadcast each activation dword twice as often).
constexpr int kGemmRows = 3;
constexpr int64_t kBlockBytes = 512 + 64;

void unpack(const uint8_t* t, int64_t K, uint8_t* p) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < K / 32; ++b, p += kBlockBytes) {
    const uint8_t* pair = t + (b / 2) * kX16PairBytes;
    const int h = static_cast<int>(b % 2);
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pair + 32 * h + 16 * half)));
      _mm256_storeu_ps(reinterpret_cast<float*>(p + 512) + 8 * half, ws);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pair + 64 + 256 * h + 64 * c + 32 * half));
        uint8_t* u = p + 256 * half;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * c), _mm256_and_si256(v, low));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + 32 * (4 + c)), _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
      }
    }
  }
}

// All 16 rows of the unpacked tile against R ≤ kGemmRows activation rows.
template <int R>
void gemm_pass(const uint8_t* p, int64_t nb, const QRow* x, float* out, size_t ldo) {
  constexpr int H = 2;
  __m256 acc[R][H];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) acc[r][hh] = _mm256_setzero_ps();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b, p += kBlockBytes) {
    __m256i s16[R][H];
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (int hh = 0; hh < H; ++hh) s16[r][hh] = _mm256_setzero_si256();
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      __m256i u[H];
#pragma GCC unroll 2
      for (int hh = 0; hh < H; ++hh) u[hh] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 256 * hh + 32 * g));
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m256i q = bcast(x[r].q + 32 * b, g);
#pragma GCC unroll 2
        for (int hh = 0; hh < H; ++hh) madd_into(s16[r][hh], u[hh], q);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256i off = _mm256_set1_epi32((x[r].ns16[2 * b] + x[r].ns16[2 * b + 1]) * 8);  // −8·Σq
      const __m256 dx = _mm256_set1_ps(x[r].dl[8 * b]);
#pragma GCC unroll 2
      for (int hh = 0; hh < H; ++hh) {
        const __m256 ws = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 512) + 8 * hh);
        const __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(s16[r][hh], ones), off);
        acc[r][hh] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(ws, dx), acc[r][hh]);
      }
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) _mm256_storeu_ps(out + r * ldo + 8 * hh, acc[r][hh]);
  }
}

void gemm_q4_0_x16(const uint8_t* tile, int64_t K, const QActs& x, float* out, size_t ldo, uint8_t* scratch) {
  static_assert(kBlockBytes <= 512 + 3 * 64, "the unpacked tile must fit gemm_scratch_bytes");
  const int64_t nb = K / 32, M = x.rows();
  unpack(tile, K, scratch);
  QRow rows[kGemmRows];
  for (int64_t m0 = 0; m0 < M; m0 += kGemmRows) {
    const int R = static_cast<int>(M - m0 < kGemmRows ? M - m0 : kGemmRows);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) rows[r] = x.row(m0 + r);
    float* o = out + m0 * ldo;
    switch (R) {
      case 1: gemm_pass<1>(scratch, nb, rows, o, ldo); break;
      case 2: gemm_pass<2>(scratch, nb, rows, o, ldo); break;
      default: gemm_pass<3>(scratch, nb, rows, o, ldo); break;
    }
  }
}

}  // namespace

void set_x16_avx2(Kernels* k) {
  k->q4_0_x16 = &q4_0_x16;
  k->gemm_q4_0_x16 = &gemm_q4_0_x16;
}

}  // namespace gemma12b::cpu
