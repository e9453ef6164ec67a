// Glue shared by the ISA files of qdot.h: templates only, always instantiated with a file's own
// lambdas (closure types are local to their translation unit), so no instantiation compiled for
// one ISA can be picked by the linker for another file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cpu/qdot.h"

namespace gemma12b::cpu {

// Calls f(std::integral_constant<int, R>{}) for a run-time R in [1, kMaxRows], so kernels can
// keep R accumulators in registers.
template <class F>
inline void with_rows(int R, F&& f) {
  switch (R) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    default: return f(std::integral_constant<int, 4>{});
  }
}

// For each of n weight rows w_j = w + j·ldw: one(w_j, o) writes the R results of row j into o,
// which go to out[r·ldo + j].
template <class One>
inline void each_row(int R, const uint8_t* w, size_t ldw, int64_t n, float* out, size_t ldo, One&& one) {
  float o[kMaxRows];
  for (int64_t j = 0; j < n; ++j) {
    one(w + j * ldw, o);
    for (int r = 0; r < R; ++r) out[r * ldo + j] = o[r];
  }
}

}  // namespace gemma12b::cpu
