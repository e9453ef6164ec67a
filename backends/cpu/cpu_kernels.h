// CPU kernels: threaded (util/thread_pool), f32 accumulation, oneDNN sgemm for batched matmuls.
// Semantics are those of core/op.h; tests/backend checks each against backends/reference.
#pragma once

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

}  // namespace gemma12b::cpu
