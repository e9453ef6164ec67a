// Counts the C++ heap allocations of this test binary (it replaces the global operator new; plain
// malloc/free otherwise) between start() and stop(), on every thread, with the largest size seen.
#pragma once

#include <cstddef>

namespace gemma12b::test {

struct AllocStats {
  int count = 0;
  size_t largest = 0;
};

void alloc_probe_start();        // resets the counts and starts counting
AllocStats alloc_probe_stop();   // stops counting; what was seen since start

}  // namespace gemma12b::test
