#include "util/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define G12_PAUSE() _mm_pause()
#else
#define G12_PAUSE() ((void)0)
#endif

namespace gemma12b {

namespace {
// Spin iterations (a pause each, ~10-40 ns) before blocking: long enough to cover the gap
// between two kernels of a decode step, short enough not to matter when the pool is idle.
constexpr int kSpin = 20000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

// Chunks per thread: a thread that finishes early (another process took a core, or its rows were
// cheaper) takes more chunks instead of spinning until the slowest thread is done.
constexpr int64_t kChunksPerThread = 4;

void ThreadPool::run_chunks(RangeFn fn, int64_t n, int index) {
  const int64_t chunk = std::max<int64_t>(1, (n + kChunksPerThread * n_threads_ - 1) / (kChunksPerThread * n_threads_));
  for (;;) {
    const int64_t begin = next_.fetch_add(chunk, std::memory_order_relaxed);
    if (begin >= n) return;
    fn(begin, std::min(n, begin + chunk), index);
  }
}

void ThreadPool::parallel_for(int64_t n, RangeFn fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    next_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_chunks(fn, n, 0);
  for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) != 0; ++i) G12_PAUSE();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const RangeFn* job;
    int64_t n;
    for (int i = 0; i < kSpin && generation_.load(std::memory_order_acquire) == seen; ++i) G12_PAUSE();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      job = job_;
      n = job_n_;
    }
    run_chunks(*job, n, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace gemma12b
