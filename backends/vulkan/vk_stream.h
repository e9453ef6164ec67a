// A Vulkan stream: ops are recorded into one command buffer (a memory barrier between
// consecutive dispatches) and submitted once, at synchronize() or when a buffer transfer needs
// the results. Ops the shaders cannot address (a rank-4 view whose dims do not merge) run on the
// reference backend after a flush, with a log line.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "vulkan/vk_context.h"

namespace gemma12b::vk {

// The Buffer of a Vulkan device.
class VulkanBuffer final : public Buffer {
 public:
  VulkanBuffer(Device* device, std::shared_ptr<Context> ctx, Memory m, size_t size)
      : device_(device), ctx_(std::move(ctx)), mem_(m), size_(size) {}
  ~VulkanBuffer() override;
  size_t size() const override { return size_; }
  Device& device() const override { return *device_; }
  Status upload(size_t offset, const void* src, size_t n) override;
  Status download(size_t offset, void* dst, size_t n) const override;
  Status copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) override;
  const Memory& memory() const { return mem_; }

 private:
  Device* device_;
  std::shared_ptr<Context> ctx_;
  Memory mem_;
  size_t size_;
};

// One binding slot of a dispatch.
struct Binding {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize range = 0;
};

class VulkanStream final : public Stream, public StreamBase {
 public:
  static StatusOr<std::unique_ptr<VulkanStream>> create(Device* device, std::shared_ptr<Context> ctx);
  ~VulkanStream() override;
  Status execute(const Op& op) override;
  Status synchronize() override;
  void flush() override;

  // ---- used by the op recorders (vk_ops.cpp) ----
  Context& ctx() { return *ctx_; }
  // Records one dispatch of `shader` with the given push constants and bindings.
  Status dispatch(const std::string& shader, const void* push, size_t push_bytes,
                  const std::array<Binding, kBindings>& bindings, uint32_t gx, uint32_t gy, uint32_t gz);
  // n bytes of this submission's host-visible arena for small op tables: the caller writes them
  // at `host`; the binding starts at the first of them. Valid until the next submission.
  struct Staged {
    Binding binding;
    void* host;
  };
  StatusOr<Staged> reserve(size_t n);
  // The per-stream error word (set by shaders, checked at synchronize).
  Binding error_binding() const;
  // A device-local buffer of at least n bytes for data passed between the dispatches of one op
  // (matmul's int8 activations); ops record in order, so one buffer serves them all. Growing it
  // first submits the work recorded so far, which may still use the old buffer.
  StatusOr<Binding> scratch(size_t n);

 private:
  VulkanStream(Device* device, std::shared_ptr<Context> ctx) : device_(device), ctx_(std::move(ctx)) {}
  Status init();
  Status begin_if_needed();
  Status submit_and_wait();
  Status run_on_host(const Op& op, const Status& why);

  Device* device_;
  std::shared_ptr<Context> ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool recording_ = false;
  int dispatches_ = 0;
  std::vector<VkDescriptorPool> dpools_;
  size_t dpool_index_ = 0;
  uint32_t sets_in_pool_ = 0;
  Memory error_;
  Memory scratch_;
  std::vector<Memory> arenas_;
  size_t arena_index_ = 0, arena_used_ = 0;
  Status pending_;  // an error of a flush triggered by a buffer transfer
};

// Records op on the stream (vk_ops.cpp). Unimplemented means "cannot address this on the GPU".
Status record_op(VulkanStream& s, const Op& op);
// True when record_op can take op (used by Device::supports_op).
bool can_record(const Op& op);

}  // namespace gemma12b::vk
