// Read-bandwidth probe (see bandwidth.h). The buffer is first touched by the thread that later
// reads each slice (first-touch placement), then every pass reads it all once; the result is the
// best pass. The sums go to a volatile sink so the loads cannot be optimised away.
#include "bandwidth.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace gemma12b::bench {
namespace {

volatile uint64_t g_sink = 0;

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  // (stored and summed by hand: GCC 12 warns inside _mm512_reduce_add_epi64)
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t s = 0;
  for (uint64_t x : lanes) s += x;
  return s;
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_generic(const uint8_t* p, size_t n) {
  const auto* q = reinterpret_cast<const uint64_t*>(p);
  uint64_t a[8] = {};
  for (size_t i = 0; i + 8 <= n / 8; i += 8) {
    for (int k = 0; k < 8; ++k) a[k] += q[i + k];
  }
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

}  // namespace

Bandwidth measure_read_bandwidth(size_t bytes, int threads, int passes) {
  Bandwidth out;
  threads = std::max(1, threads);
  const size_t slice = (bytes / threads) / 4096 * 4096;
  if (slice == 0) return out;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, slice * threads));
  if (buf == nullptr) return out;
  uint64_t (*kernel)(const uint8_t*, size_t) = sum_generic;
  out.kernel = "scalar";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    kernel = sum_avx512;
    out.kernel = "avx512";
  } else if (__builtin_cpu_supports("avx2")) {
    kernel = sum_avx2;
    out.kernel = "avx2";
  }
  auto run = [&](bool touch) {
    std::vector<std::thread> pool;
    std::vector<uint64_t> sums(threads);
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        uint8_t* p = buf + static_cast<size_t>(t) * slice;
        if (touch) {
          std::memset(p, t + 1, slice);
        } else {
          sums[t] = kernel(p, slice);
        }
      });
    }
    for (auto& th : pool) th.join();
    for (uint64_t s : sums) g_sink = g_sink + s;
  };
  run(true);
  double best = 0;
  for (int i = 0; i < passes; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run(false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(slice) * threads / s / 1e9);
  }
  std::free(buf);
  out.gb_per_s = best;
  return out;
}

}  // namespace gemma12b::bench
