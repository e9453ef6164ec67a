// A fixed pool of worker threads for data-parallel kernels: `parallel_for(n, fn)` splits [0, n)
// into contiguous chunks (a few per thread, taken in order from a shared counter, so a thread
// that falls behind does fewer), runs them on the workers plus the calling thread, and returns
// when all are done. Threads are created once; no per-call thread creation or allocation. A decode step is
// ~1000 short calls, so both sides spin briefly (kSpin) before sleeping on a condition variable:
// a wake-up through the kernel costs tens of microseconds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gemma12b {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means no workers.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // fn(begin, end, thread_index) is called for disjoint chunks covering [0, n), possibly several
  // times per thread; thread_index < n_threads() names the calling thread (for per-thread scratch).
  // Not reentrant: a kernel must not call parallel_for from inside fn.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  void worker_loop(int index);
  void run_chunks(const std::function<void(int64_t, int64_t, int)>& fn, int64_t n, int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> next_{0};  // the first index not yet taken in the current job
  bool stop_ = false;
};

}  // namespace gemma12b
