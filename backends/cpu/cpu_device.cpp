// The CPU device: host memory (weights are wrapped in place), a fixed thread pool, synchronous
// execution of cpu::execute.
#include <thread>

#include "core/backend.h"
#include "core/ops.h"
#include "cpu/cpu_kernels.h"

namespace gemma12b {
namespace {

class CpuStream final : public Stream {
 public:
  explicit CpuStream(ThreadPool& pool) : pool_(pool) {}
  Status execute(const Op& op) override {
    G12_RETURN_IF_ERROR(validate_op(op));
    return cpu::execute(op, pool_);
  }
  Status synchronize() override { return OkStatus(); }

 private:
  ThreadPool& pool_;
};

class CpuDevice final : public HostDevice {
 public:
  explicit CpuDevice(int n_threads) : pool_(n_threads) {}
  std::string_view name() const override { return "cpu"; }
  StatusOr<std::unique_ptr<Stream>> create_stream() override {
    return std::unique_ptr<Stream>(new CpuStream(pool_));
  }

 private:
  ThreadPool pool_;
};

StatusOr<std::unique_ptr<Device>> create_cpu(const DeviceOptions& options) {
  int n = options.n_threads;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n > 1024) return InvalidArgument("cpu: %d threads requested; at most 1024", n);
  return std::unique_ptr<Device>(new CpuDevice(n));
}

}  // namespace

BackendFactory backend_factory_cpu() {
  return BackendFactory{kBackendInterfaceVersion, "cpu", &create_cpu};
}

}  // namespace gemma12b
