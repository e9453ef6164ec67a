// ThreadPool: every index 0..n-1 is handed out exactly once per parallel_for, on the calling
// thread and the workers, with thread indices in range, call after call, and a thread that is
// held up leaves its share to the others.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "alloc_probe.h"
#include "util/thread_pool.h"

using gemma12b::ThreadPool;


TEST_CASE("thread pool: chunks cover 0 to n-1 exactly once, thread indices in range") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 8, 64, 1000, 4097}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> bad_index{0}, empty{0};
      pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
        if (t < 0 || t >= threads) bad_index.fetch_add(1);
        if (b >= e) empty.fetch_add(1);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      int wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      CAPTURE(threads);
      CAPTURE(n);
      CHECK(wrong == 0);
      CHECK(bad_index.load() == 0);
      CHECK(empty.load() == 0);
    }
    pool.parallel_for(0, [&](int64_t, int64_t, int) { FAIL("called for n = 0"); });
  }
}

TEST_CASE("thread pool: many short calls in a row (a decode step's pattern)") {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int call = 0; call < 5000; ++call) {
    pool.parallel_for(16, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
  }
  CHECK(sum.load() == 5000 * (15 * 16 / 2));
}

TEST_CASE("thread pool: a thread held up leaves the remaining chunks to the others") {
  ThreadPool pool(2);
  // Thread 0 sleeps in its first chunk; the worker must take every other chunk meanwhile, so
  // thread 0 runs one chunk of the 4 per thread x 2 threads.
  std::atomic<int> chunks0{0}, chunks1{0};
  std::atomic<bool> slept{false};
  pool.parallel_for(8, [&](int64_t, int64_t, int t) {
    if (t == 0) {
      chunks0.fetch_add(1);
      if (!slept.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    } else {
      chunks1.fetch_add(1);
    }
  });
  CHECK(chunks0.load() + chunks1.load() == 8);
  CHECK(chunks1.load() >= 6);
}

TEST_CASE("thread pool: parallel_for with a large-capture lambda allocates nothing") {
  ThreadPool pool(2);
  // 6 references captured (48 bytes): std::function would put this lambda on the heap each call.
  int64_t a = 1, b = 2, c = 3, d = 4, e2 = 5;
  std::atomic<int64_t> sum{0};
  pool.parallel_for(8, [&](int64_t, int64_t, int) {});  // warm-up: the workers have started
  gemma12b::test::alloc_probe_start();
  for (int call = 0; call < 100; ++call) {
    pool.parallel_for(64, [&](int64_t lo, int64_t hi, int) { sum.fetch_add((hi - lo) * (a + b + c + d + e2) / 15); });
  }
  CHECK(gemma12b::test::alloc_probe_stop().count == 0);
  CHECK(sum.load() == 100 * 64);
}
