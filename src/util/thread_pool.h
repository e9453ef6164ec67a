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
#include <type_traits>
#include <mutex>
#include <thread>
#include <vector>

namespace gemma12b {

// A non-owning reference to a callable fn(begin, end, thread_index): what parallel_for takes, so
// that passing a lambda never allocates (std::function heap-allocates captures over 16 bytes,
// i.e. most kernels' [&] lambdas, on every call of a decode step). The callable must outlive the
// call it is passed to, which a lambda argument always does.
class RangeFn {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  RangeFn(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert implicitly
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int64_t b, int64_t e, int t) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e, t); }) {}
  void operator()(int64_t b, int64_t e, int t) const { call_(obj_, b, e, t); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t, int);
};

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
  void parallel_for(int64_t n, RangeFn fn);

 private:
  void worker_loop(int index);
  void run_chunks(RangeFn fn, int64_t n, int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> next_{0};  // the first index not yet taken in the current job
  bool stop_ = false;
};

}  // namespace gemma12b
