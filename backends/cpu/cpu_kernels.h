// CPU kernels: threaded (util/thread_pool), f32 accumulation, oneDNN sgemm for batched matmuls.
// Semantics are those of core/op.h; tests/backend checks each against backends/reference.
#pragma once

#include <cstdint>
#include <vector>

#include "core/op.h"
#include "cpu/qdot.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace gemma12b::cpu {

// What a CPU device executes with: its threads, the kernels of its instruction set, and whether
// quantized matmuls take int8 activations (fast) or f32 ones (exact_matmul).
struct Context {
  ThreadPool& pool;
  const Kernels& kernels;
  bool exact_matmul;
};

Status execute(const Op& op, const Context& ctx);

// ---- shared by the kernel files ----

// Attention (cpu_attention.cpp).
Status attention(const Op& op, const Context& ctx);

// Row r of an f32 tensor.
inline const float* f32_row(const TensorView& t, int64_t r) { return reinterpret_cast<const float*>(t.host_row(r)); }
inline float* f32_row_mut(const TensorView& t, int64_t r) { return reinterpret_cast<float*>(t.host_row(r)); }

// i32 inputs (ids, positions, block ids) are small contiguous vectors: read them in place, so
// the decode step allocates nothing here; `fallback` holds a copy of a strided one.
const int32_t* i32_data(const TensorView& t, std::vector<int32_t>& fallback);

}  // namespace gemma12b::cpu
