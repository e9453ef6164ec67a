// qdot.h's attn_axpy_lanes_q8_bf16: the value sum of lane-major attention over q8_0 value rows
// with vdpbf16ps (AVX-512 BF16), two keys per instruction, for the int8 path of a q8_0 cache.
// The int8 values are exact in bf16 (an int8's f32 has zeros in its low 16 bits, so its bf16 is
// its high half); each weight p·dv (dv the value block's scale) is rounded to bf16 once (relative
// error ≤ 2^-8, about the values' own q8_0 rounding: ≤ 2^-8 of their block's largest); every
// product is accumulated in f32.
//  1. weights: the value rows' block scales dv are read into an f32 table first (q8_scales);
//     then for each pair of keys q = (2q, 2q + 1) and value block b, the R rows' weight pairs
//     (p_2q·dv_2q,b, p_2q+1·dv_2q+1,b) as bf16 dwords, in a per-thread scratch;
//  2. per tile of IT dims (inside one block) and RT vectors of 16 rows, in IT·RT registers
//     across the keys: per pair the IT value pairs (v_2q[i], v_2q+1[i]) are staged as bf16
//     dwords and each is broadcast into one vdpbf16ps per vector of rows: half the f32 path's
//     multiply-adds, and no per-key scale.
// Compiled with the AVX-512 flags plus -mavx512bf16; installed only when the CPU has it.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/qdot.h"
#include "cpu/simd_avx512.h"

namespace gemma12b::cpu {
namespace {

inline float q8_scale(const void* row, int64_t b) { return _cvtsh_ss(q8_0_block(row, b).d); }

// The block scales of n q8_0 rows of nb blocks as f32, out[j·nb + b] = row j's block b scale.
// These loads are a value row's first touch (9 cache lines of a 512-wide one); in a loop of
// their own many are in flight at once. (Read one by one inside the weight loop, their latency
// held up the dependent multiplies: perf put 15% of a decode step's full-layer attention at 32K
// keys there. A vpgatherdd per row instead of the scalar loads: no faster, 4.97 vs 4.86 ms.)
void q8_scales(const void* const* rows, int n, int64_t nb, float* out) {
  for (int j = 0; j < n; ++j) {
    for (int64_t b = 0; b < nb; ++b) out[j * nb + b] = q8_scale(rows[j], b);
  }
}

// IT int8 values from element i0 of a q8_0 row (inside one block), as f32 in lanes [0, IT).
template <int IT>
inline __m512i q8_f32_bits(const void* row, int64_t i0) {
  constexpr __mmask16 kM = static_cast<__mmask16>(IT >= 16 ? 0xFFFF : (1u << IT) - 1);
  const __m128i q = _mm_maskz_loadu_epi8(kM, q8_0_block(row, i0 / kQK8_0).qs + i0 % kQK8_0);
  return _mm512_castps_si512(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
}

// dword t = (bf16 of a[t], bf16 of b[t]) for exactly representable a, b (their f32's high halves).
inline __m512i exact_pairs(__m512i a, __m512i b) {
  // (b & 0xFFFF0000) | (a >> 16): ternary select, mask bits from b, the rest from a >> 16.
  return _mm512_ternarylogic_epi32(b, _mm512_srli_epi32(a, 16), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)),
                                   0xE4);
}

// Dims [i0, i0 + IT) (IT divides 32: one block) of RT vectors of 16 rows; w: this row group's
// weight pairs, [pair][block][R] dwords from column 0 of the group.
template <int IT, int RT>
void axpy_tile(float* acc, int R, int64_t nb, int64_t i0, const float* f, const uint32_t* w, const void* const* v,
               int n, RowPrefetcher& pf) {
  __m512 a[IT][RT];
  load_rescaled(a, acc, R, f);
  // Value pairs staged kAhead pairs before use in a ring of 2·kAhead (reading a 64-byte store
  // back as dwords right away stalls on store forwarding); a lone last key pairs with zeros.
  constexpr int kAhead = 2;
  alignas(64) uint32_t st[2 * kAhead][16];
  const int pairs = (n + 1) / 2;
  auto stage = [&](int q) {
    const __m512i v0 = q8_f32_bits<IT>(v[2 * q], i0);
    const __m512i v1 = 2 * q + 1 < n ? q8_f32_bits<IT>(v[2 * q + 1], i0) : _mm512_setzero_si512();
    _mm512_store_si512(st[q % (2 * kAhead)], exact_pairs(v0, v1));
  };
  for (int q = 0; q < std::min(pairs, kAhead); ++q) stage(q);
  const int64_t b = i0 >> 5;
  for (int q = 0; q < pairs; ++q) {
    if (q + kAhead < pairs) stage(q + kAhead);
    pf.step();
    const uint32_t* wq = w + (q * nb + b) * R;
    __m512bh wv[RT];
#pragma GCC unroll 4
    for (int rt = 0; rt < RT; ++rt) wv[rt] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(wq + 16 * rt));
    const uint32_t* cur = st[q % (2 * kAhead)];
#pragma GCC unroll 16
    for (int it = 0; it < IT; ++it) {
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(cur[it])));
#pragma GCC unroll 4
      for (int rt = 0; rt < RT; ++rt) a[it][rt] = _mm512_dpbf16_ps(a[it][rt], wv[rt], x);
    }
  }
  store_tile(a, acc, R);
}

template <int IT, int RT>
void axpy_rows(float* acc, int R, int64_t D, const float* f, const uint32_t* w, const void* const* v, int n,
               RowPrefetcher& pf) {
  for (int64_t i = 0; i < D; i += IT) axpy_tile<IT, RT>(acc + i * R, R, D / 32, i, f, w, v, n, pf);
}

void attn_axpy_lanes_q8_bf16(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v,
                             KvRow vt, int n, const AttnPrefetch& prefetch) {
  (void)vt;  // always q8_0 (qdot.h)
  const int64_t nb = D / 32;
  const int pairs = (n + 1) / 2;
  // 1. The weight pairs, rounded to bf16 (vcvtne2ps2bf16: nearest even), interleaved per row.
  thread_local std::vector<uint32_t> wbuf;
  wbuf.resize(static_cast<size_t>(pairs * nb * R));
  // Word 2t takes word t (p0's), word 2t + 1 word 16 + t (p1's).
  alignas(64) static constexpr int16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                          8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  thread_local std::vector<float> dbuf;
  dbuf.resize(static_cast<size_t>(2 * pairs * nb));
  q8_scales(v, n, nb, dbuf.data());
  if (n % 2 != 0) std::fill_n(&dbuf[n * nb], nb, 0.0f);
  for (int q = 0; q < pairs; ++q) {
    const int j = 2 * q;
    const bool pair = j + 1 < n;
    const float *dv0 = &dbuf[j * nb], *dv1 = &dbuf[(j + 1) * nb];
    for (int64_t b = 0; b < nb; ++b) {
      const __m512 d0 = _mm512_set1_ps(dv0[b]);
      const __m512 d1 = _mm512_set1_ps(dv1[b]);
      uint32_t* wq = &wbuf[(q * nb + b) * R];
      for (int r = 0; r < R; r += 16) {
        const __m512 p0 = _mm512_mul_ps(_mm512_loadu_ps(s + j * R + r), d0);
        const __m512 p1 = pair ? _mm512_mul_ps(_mm512_loadu_ps(s + (j + 1) * R + r), d1) : _mm512_setzero_ps();
        const __m512i bf = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(p1, p0));  // p0 low, p1 high
        _mm512_storeu_si512(wq + r, _mm512_permutexvar_epi16(interleave, bf));
      }
    }
  }
  // 2. Tiles of 16, 8 or 4 dims for 1, 2 or 4 vectors of rows (16 accumulators); pf.step() runs
  // once per pair of keys of a tile, the first row group's tiles setting the pace.
  const int it = R >= 64 ? 4 : R >= 32 ? 8 : 16;
  RowPrefetcher pf(prefetch, D / it * pairs);
  int r = 0;
  for (; r + 64 <= R; r += 64) axpy_rows<4, 4>(acc + r, R, D, f + r, wbuf.data() + r, v, n, pf);
  for (; r + 32 <= R; r += 32) axpy_rows<8, 2>(acc + r, R, D, f + r, wbuf.data() + r, v, n, pf);
  for (; r < R; r += 16) axpy_rows<16, 1>(acc + r, R, D, f + r, wbuf.data() + r, v, n, pf);
  pf.finish();
}

}  // namespace

void set_attention_avx512_bf16(Kernels* k) { k->attn_axpy_lanes_q8_bf16 = &attn_axpy_lanes_q8_bf16; }

}  // namespace gemma12b::cpu
