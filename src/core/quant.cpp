// Scalar reference (de)quantization for the ggml block formats we consume. Every routine here is
// a bit-exact re-statement of ggml's reference code (ref: ggml/src/ggml-quants.c
// dequantize_row_{q8_0,q4_0,q4_K,q6_K}, quantize_row_{q8_0,q4_0,q4_K,q6_K}_ref), including the
// order of floating-point operations, so a GGUF written by llama-quantize (no imatrix) can be
// reproduced byte for byte from the f32 weights.
#include "core/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "util/log.h"

// These routines define bytes that must equal ggml's; a fused multiply-add rounds differently
// from the separate multiply and add ggml's reference build performs (e.g. x*id + 8.5f in q4_0),
// so contraction is switched off here even when the project is built with -march=native/-mfma.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace gemma12b {
namespace {

// Groups whose largest magnitude is below this are treated as all-zero (ggml GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Round-to-nearest (ties to even) for |v| < 2^22 via the 1.5 * 2^23 magic-number trick, exactly
// as ggml's nearest_int.
inline int nearest_int(float v) {
  const float biased = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// Contract violations (bad dtype, n not a multiple of the block size) are programming errors.
[[noreturn]] void fail(const char* what, DType t, int64_t n) {
  const std::string_view name = t >= DType::kF32 && t < DType::kCount ? dtype_name(t) : "?";
  log_message(LogLevel::kError,
              absl::StrFormat("%s: unsupported dtype %s or n=%d not a multiple of its block", what,
                              name, n));
  std::abort();
}

// Number of blocks in n elements; aborts on i32 or when n is not a multiple of the block size.
int64_t checked_blocks(const char* what, DType t, int64_t n) {
  if (t < DType::kF32 || t >= DType::kI32) fail(what, t, n);
  const int64_t bs = dtype_traits(t).block_size;
  if (n < 0 || n % bs != 0) fail(what, t, n);
  return n / bs;
}

inline float h2f(uint16_t h) { return f16_to_f32(h); }
inline uint16_t f2h(float f) { return f32_to_f16(f); }

template <typename In, typename Out, typename Fn>
void convert(const In* in, Out* out, int64_t n, Fn fn) {
  for (int64_t i = 0; i < n; ++i) out[i] = fn(in[i]);
}

// Scale and min of sub-block j (0..7) from the packed 12-byte q4_K scales (ggml get_scale_min_k4).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// ---- dequantization -----------------------------------------------------------------------

void dequant_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void dequant_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (b[i].qs[j] & 0x0F) - 8;
      const int hi = (b[i].qs[j] >> 4) - 8;
      y[i * kQK4_0 + j] = static_cast<float>(lo) * d;
      y[i * kQK4_0 + j + kHalf] = static_cast<float>(hi) * d;
    }
  }
}

void dequant_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const float dmin = h2f(b[i].dmin);
    const uint8_t* q = b[i].qs;
    // Each 64-element chunk: 32 low nibbles (sub-block 2c), then 32 high nibbles (2c+1).
    for (int c = 0; c < kQK_K / 64; ++c) {
      uint8_t sc, mn;
      get_scale_min_k4(2 * c, b[i].scales, &sc, &mn);
      const float d1 = d * sc, m1 = dmin * mn;
      get_scale_min_k4(2 * c + 1, b[i].scales, &sc, &mn);
      const float d2 = d * sc, m2 = dmin * mn;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void dequant_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    // Each 128-element half: 64 ql bytes (low nibbles of quarters 0,1 / high nibbles of 2,3) and
    // 32 qh bytes (2 high bits for each of the four quarters).
    for (int half = 0; half < kQK_K / 128; ++half) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// ---- quantization -------------------------------------------------------------------------

void quant_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f2h(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quant_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
    // The signed value of largest magnitude maps to -8 (first one wins ties).
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        vmax = x[j];
      }
    }
    const float d = vmax / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = f2h(d);
    for (int j = 0; j < kHalf; ++j) {
      // ggml truncates (x*id + 8.5) towards zero, i.e. rounds half up, then caps at 15.
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kHalf] * id + 8.5f)));
      b[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

// Weighted least-squares fit of x ~ scale * L + min with L in [0, nmax] and min <= 0, trying
// nstep+1 candidate inverse scales (ggml make_qkx2_quants). Returns scale; *neg_min = -min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float mn = x[0], mx = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < mn) mn = x[i];
    if (x[i] > mx) mx = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;
  if (mx == mn) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -mn;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (mx - mn);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - mn));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + mn - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += w[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (mx - mn);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - mn))));
      Laux[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += w[i] * diff;
      }
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        mn = this_min;
      }
    }
  }
  *neg_min = -mn;
  return scale;
}

void quant_q4_k(const float* x, BlockQ4_K* b, int64_t nb) {
  constexpr int kSub = kQK_K / 32;
  uint8_t L[kQK_K];
  uint8_t Laux[32];
  float weights[32];
  float scales[kSub], mins[kSub];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < kSub; ++j) {
      const float* xs = x + 32 * j;
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] =
          make_qkx2_quants(32, 15, xs, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20, false);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    // 6-bit sub-block scales/mins: j<4 in the low 6 bits of bytes j / j+4; j>=4 split into a
    // nibble pair in byte j+4 and 2 high bits in the top of bytes j-4 / j.
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::memset(b[i].scales, 0, sizeof(b[i].scales));
    for (int j = 0; j < kSub; ++j) {
      // ggml stores nearest_int into a uint8_t (wrapping) before capping at 63.
      const uint8_t ls =
          std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
      const uint8_t lm =
          std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
      if (j < 4) {
        b[i].scales[j] = ls;
        b[i].scales[j + 4] = lm;
      } else {
        b[i].scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        b[i].scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        b[i].scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
      }
    }
    b[i].d = f2h(max_scale / 63.f);
    b[i].dmin = f2h(max_min / 63.f);
    // Re-quantize against the rounded (f16, 6-bit) scales actually stored.
    for (int j = 0; j < kSub; ++j) {
      uint8_t sc, mn;
      get_scale_min_k4(j, b[i].scales, &sc, &mn);
      const float d = h2f(b[i].d) * sc;
      if (d == 0.0f) continue;
      const float dm = h2f(b[i].dmin) * mn;
      for (int l = 0; l < 32; ++l) {
        const int q = nearest_int((x[32 * j + l] + dm) / d);
        L[32 * j + l] = static_cast<uint8_t>(std::max(0, std::min(15, q)));
      }
    }
    uint8_t* q = b[i].qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
  }
}

// Symmetric fit x ~ scale * (L - nmax), L in [0, 2*nmax), weights x^2 (ggml make_qx_quants
// with rmse_type 1 and no quant weights). Returns scale.
float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L) {
  float vmax = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      vmax = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  auto clamp_q = [nmax](int l) { return std::max(-nmax, std::min(nmax - 1, l)); };
  float iscale = static_cast<float>(-nmax) / vmax;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_q(nearest_int(iscale * x[i]));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / vmax;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_q(nearest_int(iscale * x[i]));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<int8_t>(nmax + clamp_q(nearest_int(iscale * x[i])));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quant_q6_k(const float* x, BlockQ6_K* b, int64_t nb) {
  constexpr int kSub = kQK_K / 16;
  int8_t L[kQK_K];
  float scales[kSub];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kSub; ++ib) {
      scales[ib] = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    std::memset(&b[i], 0, sizeof(BlockQ6_K));
    if (max_abs_scale < kGroupMaxEps) continue;  // all-zero block (d = +0)

    const float iscale = -128.f / max_scale;
    b[i].d = f2h(1 / iscale);
    for (int ib = 0; ib < kSub; ++ib) {
      b[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    }
    for (int j = 0; j < kSub; ++j) {
      const float d = h2f(b[i].d) * static_cast<float>(b[i].scales[j]);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        const int q = std::max(-32, std::min(31, nearest_int(x[16 * j + l] / d)));
        L[16 * j + l] = static_cast<int8_t>(q + 32);
      }
    }
    uint8_t* ql = b[i].ql;
    uint8_t* qh = b[i].qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                     ((q4 >> 4) << 6));
      }
    }
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const int64_t nb = checked_blocks("dequantize_row", t, n);
  if (n == 0) return;
  const auto* h = static_cast<const uint16_t*>(src);
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::kF16: return convert(h, dst, n, f16_to_f32);
    case DType::kBF16: return convert(h, dst, n, bf16_to_f32);
    case DType::kQ8_0: return dequant_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb);
    case DType::kQ4_0: return dequant_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb);
    case DType::kQ4_K: return dequant_q4_k(static_cast<const BlockQ4_K*>(src), dst, nb);
    case DType::kQ6_K: return dequant_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb);
    case DType::kI32:
    case DType::kCount: break;
  }
  fail("dequantize_row", t, n);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  const int64_t nb = checked_blocks("quantize_row", t, n);
  if (n == 0) return;
  auto* h = static_cast<uint16_t*>(dst);
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case DType::kF16: return convert(src, h, n, f32_to_f16);
    case DType::kBF16: return convert(src, h, n, f32_to_bf16);
    case DType::kQ8_0: return quant_q8_0(src, static_cast<BlockQ8_0*>(dst), nb);
    case DType::kQ4_0: return quant_q4_0(src, static_cast<BlockQ4_0*>(dst), nb);
    case DType::kQ4_K: return quant_q4_k(src, static_cast<BlockQ4_K*>(dst), nb);
    case DType::kQ6_K: return quant_q6_k(src, static_cast<BlockQ6_K*>(dst), nb);
    case DType::kI32:
    case DType::kCount: break;
  }
  fail("quantize_row", t, n);
}

}  // namespace gemma12b
