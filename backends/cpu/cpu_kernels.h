// CPU kernels: threaded (util/thread_pool), f32 accumulation, oneDNN sgemm for batched matmuls.
// Semantics are those of core/op.h; tests/backend checks each against backends/reference.
#pragma once

#include "core/op.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace gemma12b::cpu {

Status execute(const Op& op, ThreadPool& pool);

}  // namespace gemma12b::cpu
