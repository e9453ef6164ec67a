// The Vulkan device: buffers in device memory (weights uploaded once through a staging buffer),
// streams that record whole forward passes into one command buffer, shaders compiled from
// shaders/*.comp at build time.
#include <memory>
#include <string>

#include "core/backend.h"
#include "util/log.h"
#include "vulkan/vk_context.h"
#include "vulkan/vk_stream.h"

namespace gemma12b {
namespace {

class VulkanDevice final : public Device {
 public:
  explicit VulkanDevice(std::shared_ptr<vk::Context> ctx) : ctx_(std::move(ctx)) {
    name_ = "vulkan (" + ctx_->name + ")";
  }
  std::string_view name() const override { return name_; }
  const DeviceCaps& caps() const override { return ctx_->caps; }
  MemoryInfo memory_info() const override {
    MemoryInfo m;
    m.total_bytes = ctx_->device_heap;
    const uint64_t used = ctx_->allocated.load();
    m.free_bytes = m.total_bytes > used ? m.total_bytes - used : 0;
    return m;
  }
  StatusOr<std::unique_ptr<Buffer>> create_buffer(size_t bytes) override {
    std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
    G12_ASSIGN_OR_RETURN(vk::Memory m, ctx_->allocate(bytes, /*host_visible=*/false));
    return std::unique_ptr<Buffer>(new vk::VulkanBuffer(this, ctx_, m, bytes));
  }
  StatusOr<std::unique_ptr<Stream>> create_stream() override {
    std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
    G12_ASSIGN_OR_RETURN(auto s, vk::VulkanStream::create(this, ctx_));
    return std::unique_ptr<Stream>(std::move(s));
  }
  bool supports_op(const Op& op) const override { return vk::can_record(op); }

 private:
  std::shared_ptr<vk::Context> ctx_;
  std::string name_;
};

StatusOr<std::unique_ptr<Device>> create_vulkan(const DeviceOptions& options) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<vk::Context> ctx, vk::Context::create(options));
  return std::unique_ptr<Device>(new VulkanDevice(std::move(ctx)));
}

}  // namespace

BackendFactory backend_factory_vulkan() {
  return BackendFactory{kBackendInterfaceVersion, "vulkan", &create_vulkan};
}

}  // namespace gemma12b
