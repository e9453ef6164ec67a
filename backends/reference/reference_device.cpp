// The reference device: host memory, synchronous execution of reference::execute.
#include <thread>

#include "core/backend.h"
#include "core/ops.h"
#include "reference/reference_ops.h"

namespace gemma12b {
namespace {

class ReferenceStream final : public Stream {
 public:
  Status execute(const Op& op) override {
    G12_RETURN_IF_ERROR(validate_op(op));
    return reference::execute(op);
  }
  Status synchronize() override { return OkStatus(); }
};

class ReferenceDevice final : public Device {
 public:
  ReferenceDevice() { caps_.host_memory = true; }
  std::string_view name() const override { return "reference"; }
  const DeviceCaps& caps() const override { return caps_; }
  MemoryInfo memory_info() const override { return {}; }
  StatusOr<std::unique_ptr<Buffer>> create_buffer(size_t bytes) override {
    G12_ASSIGN_OR_RETURN(auto b, HostBuffer::allocate(*this, bytes));
    return std::unique_ptr<Buffer>(std::move(b));
  }
  StatusOr<std::unique_ptr<Buffer>> wrap_host(void* ptr, size_t bytes) override {
    return std::unique_ptr<Buffer>(HostBuffer::wrap(*this, ptr, bytes));
  }
  StatusOr<std::unique_ptr<Stream>> create_stream() override {
    return std::unique_ptr<Stream>(new ReferenceStream());
  }
  bool supports_op(const Op& op) const override { return op.kind < OpKind::kCount; }

 private:
  DeviceCaps caps_;
};

StatusOr<std::unique_ptr<Device>> create_reference(const DeviceOptions&) {
  return std::unique_ptr<Device>(new ReferenceDevice());
}

}  // namespace

BackendFactory backend_factory_reference() {
  return BackendFactory{kBackendInterfaceVersion, "reference", &create_reference};
}

}  // namespace gemma12b
