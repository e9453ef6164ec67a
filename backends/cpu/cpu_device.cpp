// The CPU device: host memory (weights are wrapped in place; q4_0 (and on AVX2 q8_0, q4_k, q6_k) matmul weights also get an x16
// copy, cpu/cpu_weights.h), a fixed thread pool, synchronous execution of cpu::execute.
#include <string>
#include <thread>

#include "core/backend.h"
#include "core/ops.h"
#include "cpu/cpu_kernels.h"
#include "cpu/cpu_weights.h"
#include "cpu/isa.h"
#include "util/log.h"

namespace gemma12b {
namespace {

class CpuStream final : public Stream {
 public:
  explicit CpuStream(const cpu::Context& ctx) : ctx_(ctx) {}
  Status execute(const Op& op) override {
    G12_RETURN_IF_ERROR(validate_op(op));
    return cpu::execute(op, ctx_);
  }
  Status synchronize() override { return OkStatus(); }

 private:
  const cpu::Context& ctx_;
};

class CpuDevice final : public HostDevice {
 public:
  CpuDevice(int n_threads, cpu::Isa isa, bool exact, bool file_layout)
      : pool_(n_threads), ctx_{pool_, cpu::kernels(isa), exact}, file_layout_(file_layout) {
    caps_.int_dot = isa != cpu::Isa::kScalar;
    caps_.host_threads = pool_.n_threads();
  }
  std::string_view name() const override { return "cpu"; }
  StatusOr<std::unique_ptr<Buffer>> wrap_weight(void* ptr, size_t bytes, DType dtype, int64_t rows, int64_t cols,
                                                const CopiedFn& copied) override {
    if (file_layout_) return wrap_host(ptr, bytes);
    G12_ASSIGN_OR_RETURN(auto b, cpu::CpuWeightBuffer::create(*this, ctx_.kernels, pool_, ptr, bytes, dtype, rows,
                                                              cols, copied));
    return std::unique_ptr<Buffer>(std::move(b));
  }
  StatusOr<std::unique_ptr<Stream>> create_stream() override {
    return std::unique_ptr<Stream>(new CpuStream(ctx_));
  }

 private:
  ThreadPool pool_;
  cpu::Context ctx_;
  bool file_layout_;
};

StatusOr<std::unique_ptr<Device>> create_cpu(const DeviceOptions& options) {
  int n = options.n_threads;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n > 1024) return InvalidArgument("cpu: %d threads requested; at most 1024", n);
  const cpu::Isa isa = cpu::isa_from_env();
  log_info("cpu backend: %d threads, %s kernels%s%s", n, std::string(cpu::isa_name(isa)),
           options.exact_matmul ? ", exact (f32-activation) matmuls" : "",
           options.cpu_file_layout ? ", weights in the file's layout" : "");
  return std::unique_ptr<Device>(new CpuDevice(n, isa, options.exact_matmul, options.cpu_file_layout));
}

}  // namespace

BackendFactory backend_factory_cpu() {
  return BackendFactory{kBackendInterfaceVersion, "cpu", &create_cpu};
}

}  // namespace gemma12b
