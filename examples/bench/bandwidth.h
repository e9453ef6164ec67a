// Memory read bandwidth, for the decode bound (DESIGN.md section 6): `threads` threads each
// stream through their slice of a buffer much larger than the caches, summing 64-bit lanes
// with AVX-512 / AVX2 (runtime dispatch) or plain loops. Best of `passes`.
#pragma once

#include <cstddef>

namespace gemma12b::bench {

struct Bandwidth {
  double gb_per_s = 0;  // 1e9 bytes per second
  const char* kernel = "";
};

Bandwidth measure_read_bandwidth(size_t bytes, int threads, int passes);

}  // namespace gemma12b::bench
