// attn_dot_lanes_q8 of qdot.h in plain C++: the scalar table's, and the AVX2 table's (compiled
// with its flags, the 16-lane integer loops vectorize). The per-block integer sums are exact and
// each block adds one fma per lane, in block order, so the result has the AVX-512 kernel's bits.
// Included by qdot_scalar.cpp and attn_avx2.cpp; the unnamed namespace keeps one copy per file.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/qdot.h"

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): one copy per including ISA file, see above
namespace lanes_q8 {

template <float (*H2F)(uint16_t)>
inline void attn_dot_lanes_q8(const QLanes8& q, int R, int64_t D, const void* const* k, int n, float* s,
                              const AttnPrefetch& prefetch) {
  constexpr int kL = kAttnLanes;
  const int64_t nb = D / 32;
  RowPrefetcher pf(prefetch, n);  // a step per key
  for (int j = 0; j < n; ++j, pf.step()) {
    const uint8_t* row = static_cast<const uint8_t*>(k[j]);
    float* sj = s + j * R;
    for (int r = 0; r < R; ++r) sj[r] = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = row + 34 * b;
      uint16_t h;
      std::memcpy(&h, blk, 2);
      const float dk = H2F(h);
      const int8_t* kq = reinterpret_cast<const int8_t*>(blk + 2);
      for (int r0 = 0; r0 < R; r0 += kL) {
        int32_t acc[kL] = {};
        for (int g = 0; g < 8; ++g) {
          const int8_t* qg = q.q + ((b * 8 + g) * R + r0) * 4;
          for (int e = 0; e < 4; ++e) {
            const int32_t ke = kq[4 * g + e];
            for (int l = 0; l < kL; ++l) acc[l] += ke * qg[4 * l + e];
          }
        }
        const float* d = q.d + b * R + r0;
        for (int l = 0; l < kL; ++l) sj[r0 + l] = std::fma(static_cast<float>(acc[l]), d[l] * dk, sj[r0 + l]);
      }
    }
  }
  pf.finish();
}

}  // namespace lanes_q8
}  // namespace
}  // namespace gemma12b::cpu
