// Software prefetch for the x16 decode kernels (x16_avx2.cpp, x16_avx512.cpp): x86 only. Those
// files are compiled with different instruction sets, so the helpers live in an unnamed namespace:
// each file gets its own copy (see simd_avx512.h).
#pragma once

#include <cstdint>

namespace gemma12b::cpu {
namespace {  // NOLINT(build/namespaces): per-file copies, see above

// prefetcht0 / prefetcht1 at p, as an asm volatile so the compiler issues it where it is
// written. GCC's scheduler moves _mm_prefetch freely (it has no operands it waits for): in the
// AVX-512 q4_k kernel it hoisted all 36 prefetches of a super-block, written 4-5 per sub-block,
// into one burst at the top of the loop, and the stream from DRAM stalled behind it (x16 q4_k,
// 15360 x 3840, 1 thread, from DRAM: 2.2-3.3 ms for 1 row, 4.4-5.2 for 4; spread: 1.5-1.75 and
// 2.9-3.1; in L2 both 0.6 and 1.5-1.7).
inline void prefetch_t0(const void* p) { asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p))); }
inline void prefetch_t1(const void* p) { asm volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p))); }

// How far ahead of its tile stream an x16 decode kernel with R activation rows prefetches, and
// to which level. One row runs at the memory's pace: 4 KB ahead into L1 (from DRAM on q4_0,
// without it ~75% of a plain read loop's bandwidth, with it 92-94%). Two to four rows compute
// ~1.4-2.6x longer per byte, so lines fetched into L1 4 KB ahead arrive too late to hide the
// misses (4 rows of q4_0, 1 thread, from DRAM: 2.4-2.9 ms per FFN matrix against 1.35 in L2);
// 8 KB ahead into L2, where more misses can be in flight, they do: 1.47-1.55 ms. (One row with
// the L2 hint: the same in that microbenchmark, 4-16% slower per decode step end to end in 3
// interleaved pairs.)
template <int R>
struct X16Prefetch {
  static constexpr int kAhead = R == 1 ? 4096 : 8192;
  static void line(const uint8_t* p) {
    if constexpr (R == 1) prefetch_t0(p);
    else prefetch_t1(p);
  }
};

// Step k of n over a group of `lines` cache lines from t: prefetches its share of the lines
// ahead (X16Prefetch<R>), so a group's prefetches spread over its blocks instead of one burst
// (a burst of 36 also held the AVX2 q4_k decode back: 1.3-1.7 ms per FFN matrix, 1 row, 2
// threads, from DRAM; spread, 0.85-1.1).
template <int R>
inline void prefetch_step(const uint8_t* t, int lines, int k, int n) {
#pragma GCC unroll 9
  for (int l = lines * k / n; l < lines * (k + 1) / n; ++l) X16Prefetch<R>::line(t + X16Prefetch<R>::kAhead + 64 * l);
}

}  // namespace
}  // namespace gemma12b::cpu
