// gemma12b-bench --ops: the CPU backend's matmul alone at the 12B's shapes, per weight type and
// row count (1: decode, 4: a speculative verify step, 512: prefill), with weights rotated through
// more memory than the caches hold, as decode sees them. Reports time, weight bytes per second
// (the decode bound's currency) and arithmetic rate. Then attention at decode / verify with f16
// and q8_0 K/V at the full and sliding layers' shapes: time, K/V bytes per second, arithmetic
// rate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gemma12b::bench {

struct OpsOptions {
  int threads = 0;
  int reps = 5;
  std::vector<DType> types = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kF16};
  std::vector<int64_t> rows = {1, 4, 512};
  bool matmul = true, attention = true;  // which tables to print
  bool file_layout = false;               // CPU: weights in the file's layout (no x16 tiles)
  std::function<void(const std::string&)> log;
};

// Prints the table to stdout; returns a process exit code.
int run_ops_bench(const OpsOptions& o);

}  // namespace gemma12b::bench
