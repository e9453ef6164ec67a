// The AVX2 path of qdot.h (AVX2 + FMA + F16C, no VNNI): 32-element chunks, u8 x s8 products with
// vpmaddubsw (pairs summed to int16: |u| ≤ 63 keeps them exact; q8_0 weights are signed and go
// through the sign trick instead) and vpmaddwd to 4-element int32 lanes. Compiled with -mavx2
// -mfma -mf16c; nothing inline from shared headers (see qdot_avx512.cpp).
#include <immintrin.h>

#include "core/quant.h"
#include "cpu/qdot.h"
#include "cpu/gemm_avx2.h"
#include "cpu/qdot_rows.h"
#include "cpu/simd_avx2.h"

namespace gemma12b::cpu {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// chunk(st, c, w, ws): 32 bytes (unsigned 0..63, or signed for kSigned) and 8 lane scales
// (one per 16 elements for kGroups16, else one per chunk).
struct Q4_0 {
  static constexpr int kSuper = 32, kShift = 3;
  static constexpr bool kMins = false, kSigned = false, kGroups16 = false;
  struct State {
    const BlockQ4_0* b;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) { st.b = reinterpret_cast<const BlockQ4_0*>(row) + s; }
  static void chunk(const State& st, int, __m256i& u, __m256& ws) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st.b->qs));
    u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
    ws = _mm256_set1_ps(h2f(st.b->d));
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

struct Q8_0 {
  static constexpr int kSuper = 32, kShift = 0;
  static constexpr bool kMins = false, kSigned = true, kGroups16 = false;
  struct State {
    const BlockQ8_0* b;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) { st.b = reinterpret_cast<const BlockQ8_0*>(row) + s; }
  static void chunk(const State& st, int, __m256i& u, __m256& ws) {
    u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b->qs));
    ws = _mm256_set1_ps(h2f(st.b->d));
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

struct Q4_K {
  static constexpr int kSuper = 256, kShift = 0;
  static constexpr bool kMins = true, kSigned = false, kGroups16 = false;
  struct State {
    const uint8_t* qs;
    alignas(32) float dsc[8];
    alignas(32) float dmn[8];
  };
  // q4_k_scales (qdot.cpp) on whole words: with the 12 scale bytes as words a, b, c (bytes 0-3,
  // 4-7, 8-11), scales 0-3 are a's low 6 bits per byte, scales 4-7 c's low nibbles with a's top
  // 2 bits above them; the mins likewise from b and c's high nibbles with b's top 2 bits. (The
  // scalar function converted two f16 values in software and packed one value at a time: about
  // as much work per super-block as its 8 chunks' dots.)
  static void begin(const uint8_t* row, int64_t s, State& st) {
    const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(row)[s];
    uint32_t w[3];
    __builtin_memcpy(w, b.scales, 12);
    const uint64_t sc = (w[0] & 0x3F3F3F3Fu) |
                        static_cast<uint64_t>((w[2] & 0x0F0F0F0Fu) | ((w[0] >> 2) & 0x30303030u)) << 32;
    const uint64_t mn = (w[1] & 0x3F3F3F3Fu) |
                        static_cast<uint64_t>(((w[2] >> 4) & 0x0F0F0F0Fu) | ((w[1] >> 2) & 0x30303030u)) << 32;
    auto expand = [](uint64_t v, uint16_t h) {
      const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(v))));
      return _mm256_mul_ps(f, _mm256_set1_ps(h2f(h)));
    };
    _mm256_store_ps(st.dsc, expand(sc, b.d));
    _mm256_store_ps(st.dmn, expand(mn, b.dmin));
    st.qs = b.qs;
  }
  // Chunk c is sub-block c: low nibbles of qs[32(c/2)..] for even c, high nibbles for odd c.
  static void chunk(const State& st, int c, __m256i& u, __m256& ws) {
    __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.qs + 32 * (c / 2)));
    if (c % 2) q = _mm256_srli_epi16(q, 4);
    u = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
    ws = _mm256_set1_ps(st.dsc[c]);
  }
  static __m256 mins(const State& st) { return _mm256_loadu_ps(st.dmn); }
};

struct Q6_K {
  static constexpr int kSuper = 256, kShift = 5;
  static constexpr bool kMins = false, kSigned = false, kGroups16 = true;  // scales per 16 elements
  struct State {
    const BlockQ6_K* b;
    float d;
  };
  static void begin(const uint8_t* row, int64_t s, State& st) {
    st.b = reinterpret_cast<const BlockQ6_K*>(row) + s;
    st.d = h2f(st.b->d);
  }
  // Chunk c: half h = c/4, part p = (c/2)%2, quarter half q = c%2 (elements 128h + 64p + 32q).
  static void chunk(const State& st, int c, __m256i& u, __m256& ws) {
    const int h = c / 4, p = (c / 2) % 2, qq = c % 2;
    __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b->ql + 64 * h + 32 * qq));
    if (p) ql = _mm256_srli_epi16(ql, 4);
    const __m256i lo = _mm256_and_si256(ql, _mm256_set1_epi8(0x0F));
    __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.b->qh + 32 * h));
    qh = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * p + 2 * qq));
    const __m256i hi = _mm256_and_si256(_mm256_slli_epi16(qh, 4), _mm256_set1_epi8(0x30));
    u = _mm256_or_si256(lo, hi);
    const int8_t* sc = st.b->scales + 8 * h + 4 * p + 2 * qq;
    const float s0 = st.d * static_cast<float>(sc[0]), s1 = st.d * static_cast<float>(sc[1]);
    ws = _mm256_setr_ps(s0, s0, s0, s0, s1, s1, s1, s1);
  }
  static __m256 mins(const State&) { return _mm256_setzero_ps(); }
};

template <class T, int R>
void rowdot_r(const uint8_t* w, const QRow* x, int64_t K, float* out) {
  __m256 acc[R], accm[R];
  for (int r = 0; r < R; ++r) acc[r] = accm[r] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t n_super = K / T::kSuper;
  for (int64_t s = 0; s < n_super; ++s) {
    typename T::State st;
    T::begin(w, s, st);
    for (int c = 0; c < T::kSuper / 32; ++c) {
      __m256i u;
      __m256 ws;
      T::chunk(st, c, u, ws);
      const int64_t e = s * T::kSuper + 32 * c;
      const __m256i uu = T::kSigned ? _mm256_sign_epi8(u, u) : u;  // |w| for signed weights
      for (int r = 0; r < R; ++r) {
        __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[r].q + e));
        if (T::kSigned) q = _mm256_sign_epi8(q, u);
        __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(uu, q), ones);
        if (T::kShift > 0) {
          const __m256i ns4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[r].ns4 + e / 4));
          dot = _mm256_add_epi32(dot, _mm256_slli_epi32(ns4, T::kShift));
        }
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(ws, _mm256_loadu_ps(x[r].dl + e / 4)), acc[r]);
      }
    }
    if constexpr (T::kMins) {
      const __m256 m = T::mins(st);
      for (int r = 0; r < R; ++r) accm[r] = _mm256_fmadd_ps(m, _mm256_loadu_ps(x[r].ds + 8 * s), accm[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum256(acc[r]) - hsum256(accm[r]);
}

template <class T>
void rowdot(const uint8_t* w, size_t ldw, int64_t n, const QRow* x, int R, int64_t K, float* out, size_t ldo) {
  with_rows(R, [&](auto rc) {
    each_row(R, w, ldw, n, out, ldo, [&](const uint8_t* wj, float* o) { rowdot_r<T, rc.value>(wj, x, K, o); });
  });
}

template <DType kT>
inline __m256 load_w8(const uint8_t* w, int64_t k) {
  if constexpr (kT == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + k);
  } else if constexpr (kT == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(w) + k)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(w) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType kT>
inline float load_w1(const uint8_t* w, int64_t k) {
  if constexpr (kT == DType::kF32) {
    return reinterpret_cast<const float*>(w)[k];
  } else if constexpr (kT == DType::kF16) {
    return h2f(reinterpret_cast<const uint16_t*>(w)[k]);
  } else {
    const uint32_t u = static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(w)[k]) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
  }
}

template <DType kT, int R>
void fdot_r(const uint8_t* w, const float* const* x, int64_t K, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 wv = load_w8<kT>(w, k);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[r] + k), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float s = hsum256(acc[r]);
    for (int64_t j = k; j < K; ++j) s += load_w1<kT>(w, j) * x[r][j];
    out[r] = s;
  }
}

// W weight rows at once (see qdot_avx512.cpp's fdot_w; W = 2 keeps the 2·R accumulators and
// operands within the 16 ymm registers). Each output sums in the same order as fdot_r.
template <DType kT, int R, int W>
void fdot_w(const uint8_t* w, size_t ldw, const float* const* x, int64_t K, float* out, size_t ldo) {
  __m256 acc[W][R];
  for (int i = 0; i < W; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r] = _mm256_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[W];
    for (int i = 0; i < W; ++i) wv[i] = load_w8<kT>(w + i * ldw, k);
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_loadu_ps(x[r] + k);
      for (int i = 0; i < W; ++i) acc[i][r] = _mm256_fmadd_ps(wv[i], xv, acc[i][r]);
    }
  }
  for (int i = 0; i < W; ++i) {
    for (int r = 0; r < R; ++r) {
      float s = hsum256(acc[i][r]);
      for (int64_t j = k; j < K; ++j) s += load_w1<kT>(w + i * ldw, j) * x[r][j];
      out[r * ldo + i] = s;
    }
  }
}

template <DType kT>
void fdot(const uint8_t* w, size_t ldw, int64_t n, const float* const* x, int R, int64_t K, float* out, size_t ldo) {
  with_rows(R, [&](auto rc) {
    constexpr int kR = decltype(rc)::value;
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) fdot_w<kT, kR, 2>(w + j * ldw, ldw, x, K, out + j, ldo);
    each_row(kR, w + j * ldw, ldw, n - j, out + j, ldo,
             [&](const uint8_t* wj, float* o) { fdot_r<kT, kR>(wj, x, K, o); });
  });
}

// tanh to ~2 ulp (Cephes tanhf): an odd polynomial below |x| = 0.625, (1 − e)/(1 + e) with
// e = exp(−2|x|) above (no cancellation there: e ≤ 0.29); NaN stays NaN.
inline __m256 tanh256(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x), z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 e = exp256(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 big = _mm256_or_ps(_mm256_and_ps(sign, x), _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e)));
  const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// Lanes below k (a tail of k < 8 values: maskload reads nothing past them, maskstore writes nothing).
inline __m256i lanes_below(int64_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k < 8 ? k : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void geglu(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = lanes_below(n - i);
    const __m256 z = _mm256_maskload_ps(g + i, m);
    const __m256 inner = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                                       _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), z), _mm256_mul_ps(z, z), z));
    const __m256 gl = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), z), _mm256_add_ps(_mm256_set1_ps(1.0f), tanh256(inner)));
    _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(gl, _mm256_maskload_ps(u + i, m)));
  }
}

void softcap(const float* x, float* out, int64_t n, float cap) {
  const __m256 c = _mm256_set1_ps(cap), inv = _mm256_set1_ps(1.0f / cap);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = lanes_below(n - i);
    _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(c, tanh256(_mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv))));
  }
}

// ---- GEMM (prefill): 16 weight rows repacked (gemm_avx2.h), every activation row streamed past them ----

template <class T>
void pack(const uint8_t* w, size_t ldw, int64_t n, int64_t K, const Packed& p) {
  const int64_t nb = K / 32;
  for (int64_t j = 0; j < kGemmTile; ++j) {
    uint8_t* uj = p.u + 256 * (j / 8) + 4 * (j % 8);
    if (j >= n) {  // rows past the matrix: zero weights and scales
      for (int64_t b = 0; b < nb; ++b) {
        for (int g = 0; g < 8; ++g) __builtin_memset(uj + b * 512 + 32 * g, 0, 4);
        p.s[b * 32 + j] = p.s[b * 32 + 16 + j] = p.mins[b * 16 + j] = 0.0f;
      }
      continue;
    }
    const uint8_t* row = w + j * ldw;
    for (int64_t sp = 0; sp < K / T::kSuper; ++sp) {
      typename T::State st;
      T::begin(row, sp, st);
      alignas(32) float dmn[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      if constexpr (T::kMins) _mm256_store_ps(dmn, T::mins(st));
      for (int c = 0; c < T::kSuper / 32; ++c) {
        __m256i u;
        __m256 ws;
        T::chunk(st, c, u, ws);
        const int64_t b = sp * (T::kSuper / 32) + c;
        alignas(32) uint8_t ub[32];
        alignas(32) float wl[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(ub), u);
        _mm256_store_ps(wl, ws);
        for (int g = 0; g < 8; ++g) __builtin_memcpy(uj + b * 512 + 32 * g, ub + 4 * g, 4);
        p.s[b * 32 + j] = wl[0];
        p.s[b * 32 + 16 + j] = wl[4];
        p.mins[b * 16 + j] = dmn[c];
      }
    }
  }
}

template <class T>
void gemm(const uint8_t* w, size_t ldw, int64_t n, const QActs& x, int64_t K, float* out, size_t ldo,
          uint8_t* scratch) {
  const Packed p = packed_view(scratch, K / 32);
  pack<T>(w, ldw, n, K, p);
  gemm_packed<T>(p, K / 32, n, x, out, ldo);
}

}  // namespace

const Kernels& kernels_avx2() {
  static const Kernels k = [] {
    Kernels t{Isa::kAvx2,    &rowdot<Q4_0>,      &rowdot<Q8_0>,      &rowdot<Q4_K>,
              &rowdot<Q6_K>, &fdot<DType::kF32>, &fdot<DType::kF16>, &fdot<DType::kBF16>,
              nullptr,       nullptr,            nullptr,
              &geglu,        &softcap,
              &gemm<Q4_0>,   &gemm<Q8_0>,        &gemm<Q4_K>,        &gemm<Q6_K>};
    set_attention_avx2(&t);  // attn_avx2.cpp
    set_x16_avx2(&t);  // x16_avx2.cpp
    return t;
  }();
  return k;
}

}  // namespace gemma12b::cpu
