// The lane-major attention kernels of qdot.h (attn_dot_lanes, attn_softmax_lanes,
// attn_axpy_lanes) in plain C++: the innermost loops run over 16 contiguous lanes, which the
// compiler vectorizes with whatever instruction set the including file is compiled for. Included
// by qdot_scalar.cpp only (AVX2 and AVX-512 have their own, attn_avx2.cpp and attn_avx512.cpp);
// the unnamed namespace keeps its copy private to that file.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/quant.h"
#include "cpu/qdot.h"

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): one copy per including ISA file, see above
namespace lanes {

constexpr int kL = kAttnLanes;

// Element i of a K/V row as f32; H2F converts one f16 value.
template <float (*H2F)(uint16_t)>
inline float kv(const void* row, bool f16, int64_t i) {
  return f16 ? H2F(static_cast<const uint16_t*>(row)[i]) : static_cast<const float*>(row)[i];
}

// Element i of a value row of type t as f32 (q8_0: the block's scale times its int8).
template <float (*H2F)(uint16_t)>
inline float vrow(const void* row, KvRow t, int64_t i) {
  return t == KvRow::kQ8_0 ? q8_0_at(row, i) : kv<H2F>(row, t == KvRow::kF16, i);
}

// Scores of JT keys (rows of type kt) against the 16 lanes at qt (row stride R), accumulated over
// the D dims.
template <float (*H2F)(uint16_t), int JT>
void dot_tile(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, float* s) {
  float acc[JT][kL] = {};
  for (int64_t i = 0; i < D; ++i) {
    const float* q = qt + i * R;
    for (int jt = 0; jt < JT; ++jt) {
      const float b = vrow<H2F>(k[jt], kt, i);
      for (int l = 0; l < kL; ++l) acc[jt][l] += b * q[l];
    }
  }
  for (int jt = 0; jt < JT; ++jt) {
    for (int l = 0; l < kL; ++l) s[jt * R + l] = acc[jt][l];
  }
}

template <float (*H2F)(uint16_t)>
void attn_dot_lanes(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, int n, float* s,
                    const AttnPrefetch& prefetch) {
  if (kt == KvRow::kQ8_0) {
    // Decoding a q8_0 element where it is used (block index, scale conversion) costs more than
    // the multiply-add in plain C++: the block's key rows are dequantized once instead.
    thread_local std::vector<float> buf;
    thread_local std::vector<const void*> rows;
    buf.resize(static_cast<size_t>(n * D));
    rows.resize(n);
    for (int j = 0; j < n; ++j) {
      dequantize_row(DType::kQ8_0, k[j], &buf[j * D], D);
      rows[j] = &buf[j * D];
    }
    return attn_dot_lanes<H2F>(qt, R, D, rows.data(), KvRow::kF32, n, s, prefetch);
  }
  RowPrefetcher pf(prefetch, (n + 3) / 4);  // a step per tile of the first 16 lanes
  for (int r0 = 0; r0 < R; r0 += kL) {
    int j = 0;
    for (; j + 4 <= n; j += 4, pf.step()) dot_tile<H2F, 4>(qt + r0, R, D, k + j, kt, s + j * R + r0);
    for (; j < n; ++j) dot_tile<H2F, 1>(qt + r0, R, D, k + j, kt, s + j * R + r0);
  }
  pf.finish();
}

void attn_softmax_lanes(float* s, int n, int R, float* m, float* l, float* f) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int r = 0; r < R; ++r) {
    float mx = m[r];
    for (int j = 0; j < n; ++j) mx = s[j * R + r] > mx ? s[j * R + r] : mx;
    const float mu = mx == kNegInf ? 0.0f : mx;
    f[r] = m[r] == kNegInf ? 0.0f : std::exp(m[r] - mu);
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) {
      float& x = s[j * R + r];
      x = x == kNegInf ? 0.0f : std::exp(x - mu);
      sum += x;
    }
    l[r] = l[r] * f[r] + sum;
    m[r] = mx;
  }
}

// IT dims from i0 of the accumulator (row stride R) for the 16 lanes at acc: rescaled by f, then
// the n weighted value rows added.
template <float (*H2F)(uint16_t), int IT>
void axpy_tile(float* acc, int R, int64_t i0, const float* f, const float* p, const void* const* v, KvRow vt,
               int n) {
  float a[IT][kL];
  for (int it = 0; it < IT; ++it) {
    for (int l = 0; l < kL; ++l) a[it][l] = acc[it * R + l] * f[l];
  }
  for (int j = 0; j < n; ++j) {
    const float* pj = p + j * R;
    for (int it = 0; it < IT; ++it) {
      const float b = vrow<H2F>(v[j], vt, i0 + it);
      for (int l = 0; l < kL; ++l) a[it][l] += b * pj[l];
    }
  }
  for (int it = 0; it < IT; ++it) {
    for (int l = 0; l < kL; ++l) acc[it * R + l] = a[it][l];
  }
}

template <float (*H2F)(uint16_t)>
void attn_axpy_lanes(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v, KvRow vt,
                     int n, const AttnPrefetch& prefetch) {
  RowPrefetcher pf(prefetch, (D + 3) / 4);  // a step per tile of the first 16 lanes
  for (int r0 = 0; r0 < R; r0 += kL) {
    int64_t i = 0;
    for (; i + 4 <= D; i += 4, pf.step()) axpy_tile<H2F, 4>(acc + i * R + r0, R, i, f + r0, s + r0, v, vt, n);
    for (; i < D; ++i) axpy_tile<H2F, 1>(acc + i * R + r0, R, i, f + r0, s + r0, v, vt, n);
  }
  pf.finish();
}

}  // namespace lanes
}  // namespace
}  // namespace gemma12b::cpu
