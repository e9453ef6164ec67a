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

class ReferenceDevice final : public HostDevice {
 public:
  std::string_view name() const override { return "reference"; }
  StatusOr<std::unique_ptr<Stream>> create_stream() override {
    return std::unique_ptr<Stream>(new ReferenceStream());
  }
};

StatusOr<std::unique_ptr<Device>> create_reference(const DeviceOptions&) {
  return std::unique_ptr<Device>(new ReferenceDevice());
}

}  // namespace

BackendFactory backend_factory_reference() {
  return BackendFactory{kBackendInterfaceVersion, "reference", &create_reference};
}

}  // namespace gemma12b
