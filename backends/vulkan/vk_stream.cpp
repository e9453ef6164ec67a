#include "vulkan/vk_stream.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "core/ops.h"
#include "reference/reference_ops.h"
#include "util/log.h"

namespace gemma12b::vk {

// ---- VulkanBuffer ------------------------------------------------------------------------------

VulkanBuffer::~VulkanBuffer() {
  std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
  // Work recorded against this buffer must finish before its memory goes away.
  (void)ctx_->flush_streams();
  ctx_->release(mem_);
}

namespace {
Status check_range(size_t offset, size_t n, size_t size, const char* what) {
  if (offset > size || n > size - offset) {
    return absl::OutOfRangeError(absl::StrFormat("vulkan: %s of %d bytes at %d outside a %d-byte buffer", what, n, offset, size));
  }
  return OkStatus();
}
}  // namespace

Status VulkanBuffer::upload(size_t offset, const void* src, size_t n) {
  G12_RETURN_IF_ERROR(check_range(offset, n, size_, "upload"));
  if (n == 0) return OkStatus();
  return ctx_->write(mem_, offset, src, n);
}

Status VulkanBuffer::download(size_t offset, void* dst, size_t n) const {
  G12_RETURN_IF_ERROR(check_range(offset, n, size_, "download"));
  if (n == 0) return OkStatus();
  return ctx_->read(mem_, offset, dst, n);
}

Status VulkanBuffer::copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) {
  const auto* s = dynamic_cast<const VulkanBuffer*>(&src);
  if (s == nullptr || s->ctx_ != ctx_) return InvalidArgument("vulkan: copy_from a buffer of another device");
  G12_RETURN_IF_ERROR(check_range(src_offset, n, s->size_, "copy source"));
  G12_RETURN_IF_ERROR(check_range(dst_offset, n, size_, "copy destination"));
  return ctx_->copy(s->mem_, src_offset, mem_, dst_offset, n);
}

// ---- VulkanStream ------------------------------------------------------------------------------

StatusOr<std::unique_ptr<VulkanStream>> VulkanStream::create(Device* device, std::shared_ptr<Context> ctx) {
  std::unique_ptr<VulkanStream> s(new VulkanStream(device, std::move(ctx)));
  G12_RETURN_IF_ERROR(s->init());
  s->ctx_->add_stream(s.get());
  return s;
}

Status VulkanStream::init() {
  Context& c = *ctx_;
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = c.queue_family;
  G12_RETURN_IF_ERROR(vk_status(vkCreateCommandPool(c.device, &pci, nullptr, &pool_), "vkCreateCommandPool"));
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  G12_RETURN_IF_ERROR(vk_status(vkAllocateCommandBuffers(c.device, &ai, &cmd_), "vkAllocateCommandBuffers"));
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  G12_RETURN_IF_ERROR(vk_status(vkCreateFence(c.device, &fci, nullptr, &fence_), "vkCreateFence"));
  G12_ASSIGN_OR_RETURN(error_, c.allocate(16, /*host_visible=*/true));
  std::memset(error_.mapped, 0, 16);
  return OkStatus();
}

VulkanStream::~VulkanStream() {
  std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
  ctx_->remove_stream(this);
  (void)submit_and_wait();
  VkDevice d = ctx_->device;
  for (VkDescriptorPool p : dpools_) vkDestroyDescriptorPool(d, p, nullptr);
  for (Memory& m : arenas_) ctx_->release(m);
  ctx_->release(error_);
  ctx_->release(scratch_);
  if (fence_ != VK_NULL_HANDLE) vkDestroyFence(d, fence_, nullptr);
  if (pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(d, pool_, nullptr);
}

Status VulkanStream::begin_if_needed() {
  if (recording_) return OkStatus();
  if (ctx_->lost) return absl::UnavailableError("vulkan: device lost");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  G12_RETURN_IF_ERROR(vk_status(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer"));
  // Everything written before this submission (transfers, host writes) is visible to it.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  recording_ = true;
  dispatches_ = 0;
  return OkStatus();
}

Status VulkanStream::dispatch(const std::string& shader, const void* push, size_t push_bytes,
                              const std::array<Binding, kBindings>& bindings, uint32_t gx, uint32_t gy,
                              uint32_t gz) {
  Context& c = *ctx_;
  if (gx == 0 || gy == 0 || gz == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(VkPipeline pipe, c.pipeline(shader));
  G12_RETURN_IF_ERROR(begin_if_needed());
  // Descriptor sets come from pools that are reset after each submission.
  constexpr uint32_t kSetsPerPool = 512;
  if (dpool_index_ >= dpools_.size() || sets_in_pool_ == kSetsPerPool) {
    if (dpool_index_ < dpools_.size() && sets_in_pool_ == kSetsPerPool) ++dpool_index_;
    if (dpool_index_ >= dpools_.size()) {
      VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kBindings};
      VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
      dpci.maxSets = kSetsPerPool;
      dpci.poolSizeCount = 1;
      dpci.pPoolSizes = &size;
      VkDescriptorPool p;
      G12_RETURN_IF_ERROR(vk_status(vkCreateDescriptorPool(c.device, &dpci, nullptr, &p), "vkCreateDescriptorPool"));
      dpools_.push_back(p);
    }
    sets_in_pool_ = 0;
  }
  VkDescriptorSetAllocateInfo dai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  dai.descriptorPool = dpools_[dpool_index_];
  dai.descriptorSetCount = 1;
  dai.pSetLayouts = &c.set_layout;
  VkDescriptorSet set;
  G12_RETURN_IF_ERROR(vk_status(vkAllocateDescriptorSets(c.device, &dai, &set), "vkAllocateDescriptorSets"));
  ++sets_in_pool_;
  VkDescriptorBufferInfo infos[kBindings];
  VkWriteDescriptorSet writes[kBindings];
  for (int i = 0; i < kBindings; ++i) {
    const Binding& b = bindings[i];
    infos[i] = b.buffer != VK_NULL_HANDLE ? VkDescriptorBufferInfo{b.buffer, b.offset, b.range}
                                          : VkDescriptorBufferInfo{c.dummy.buffer, 0, VK_WHOLE_SIZE};
    writes[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = static_cast<uint32_t>(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(c.device, kBindings, writes, 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, c.pipeline_layout, 0, 1, &set, 0, nullptr);
  vkCmdPushConstants(cmd_, c.pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                     static_cast<uint32_t>((push_bytes + 3) & ~size_t{3}), push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  // The next op reads what this one wrote.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                       0, nullptr, 0, nullptr);
  ++dispatches_;
  return OkStatus();
}

StatusOr<VulkanStream::Staged> VulkanStream::reserve(size_t n) {
  const size_t align = std::max<size_t>(16, ctx_->props.limits.minStorageBufferOffsetAlignment);
  constexpr size_t kArena = 1u << 20;
  if (n > kArena) return Internal("vulkan: %d bytes of op tables exceed the arena", n);
  if (arena_index_ < arenas_.size() && arena_used_ + n > kArena) {
    ++arena_index_;
    arena_used_ = 0;
  }
  if (arena_index_ >= arenas_.size()) {
    G12_ASSIGN_OR_RETURN(Memory m, ctx_->allocate(kArena, /*host_visible=*/true));
    arenas_.push_back(m);
    arena_used_ = 0;
  }
  Memory& m = arenas_[arena_index_];
  const size_t at = arena_used_;
  arena_used_ = (at + n + align - 1) / align * align;
  return Staged{Binding{m.buffer, at, (n + 15) & ~size_t{15}}, static_cast<uint8_t*>(m.mapped) + at};
}

Binding VulkanStream::error_binding() const { return Binding{error_.buffer, 0, 16}; }

StatusOr<Binding> VulkanStream::scratch(size_t n) {
  n = std::max<size_t>(n, 16);
  if (n > ctx_->props.limits.maxStorageBufferRange) {
    return Unimplemented("vulkan: %d bytes of scratch exceed one binding", n);
  }
  if (scratch_.size < n) {
    G12_RETURN_IF_ERROR(submit_and_wait());
    // Grow geometrically (prefill sizes vary with the batch), within one binding.
    const size_t want = std::min<size_t>(std::max(n, static_cast<size_t>(scratch_.size) * 2),
                                         ctx_->props.limits.maxStorageBufferRange);
    ctx_->release(scratch_);
    G12_ASSIGN_OR_RETURN(scratch_, ctx_->allocate(want, /*host_visible=*/false));
  }
  return Binding{scratch_.buffer, 0, n};
}

Status VulkanStream::submit_and_wait() {
  if (!recording_) return OkStatus();
  recording_ = false;
  Context& c = *ctx_;
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  VkResult r = vkEndCommandBuffer(cmd_);
  if (r == VK_SUCCESS && c.lose_after >= 0 && c.submissions++ >= c.lose_after) {
    r = VK_ERROR_DEVICE_LOST;  // simulated (vk_context.h)
  } else if (r == VK_SUCCESS) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    r = vkQueueSubmit(c.queue, 1, &si, fence_);
    if (r == VK_SUCCESS) {
      r = vkWaitForFences(c.device, 1, &fence_, VK_TRUE, UINT64_MAX);
      vkResetFences(c.device, 1, &fence_);
    }
  }
  vkResetCommandBuffer(cmd_, 0);
  for (VkDescriptorPool p : dpools_) vkResetDescriptorPool(c.device, p, 0);
  dpool_index_ = 0;
  sets_in_pool_ = 0;
  arena_index_ = 0;
  arena_used_ = 0;
  if (r == VK_ERROR_DEVICE_LOST) c.lost = true;
  return vk_status(r, "queue submission");
}

void VulkanStream::flush() {
  Status st = submit_and_wait();
  if (!st.ok() && pending_.ok()) pending_ = st;
}

Status VulkanStream::synchronize() {
  std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
  Status st = submit_and_wait();
  if (st.ok() && !pending_.ok()) st = pending_;
  if (st.ok() && ctx_->lost) st = absl::UnavailableError("vulkan: device lost");
  pending_ = OkStatus();
  uint32_t flags = 0;
  std::memcpy(&flags, error_.mapped, sizeof(flags));
  if (flags != 0) {
    std::memset(error_.mapped, 0, 16);
    if (st.ok() && (flags & 1u)) st = InvalidArgument("get_rows: an id is outside the table");
  }
  const std::string v = ctx_->take_validation_errors();
  if (st.ok() && !v.empty()) st = Internal("vulkan validation error: %s", v);
  return st;
}

Status VulkanStream::execute(const Op& op) {
  G12_RETURN_IF_ERROR(validate_op(op));
  std::lock_guard<std::recursive_mutex> lock(ctx_->mu);
  if (ctx_->lost) return absl::UnavailableError("vulkan: device lost");
  for (const TensorView* t : {&op.dst, &op.src[0], &op.src[1], &op.src[2], &op.src[3], &op.src[4], &op.src[5], &op.src[6]}) {
    if (t->valid() && dynamic_cast<VulkanBuffer*>(t->buffer) == nullptr) {
      return InvalidArgument("vulkan: %s has a tensor in a buffer of another device", op_name(op.kind));
    }
  }
  Status st = record_op(*this, op);
  if (absl::IsUnimplemented(st)) return run_on_host(op, st);
  return st;
}

// The fallback: flush, copy every tensor's bytes to the host, run the reference op there, copy
// dst back. Slow, but exact, and only for ops the shaders cannot address.
Status VulkanStream::run_on_host(const Op& op, const Status& why) {
  static std::mutex logged_mu;
  static std::set<int> logged;
  {
    std::lock_guard<std::mutex> lock(logged_mu);
    if (logged.insert(static_cast<int>(op.kind)).second) {
      log_warn("vulkan: %s runs on the CPU (%s)", std::string(op_name(op.kind)), std::string(why.message()));
    }
  }
  struct Host {
    std::vector<uint8_t> bytes;
    std::unique_ptr<HostBuffer> buffer;
    size_t lo = 0;
  };
  auto span = [](const TensorView& t, size_t* lo, size_t* hi) {
    *lo = t.row_offset(0);
    *hi = *lo;
    for (int64_t r = 0; r < t.n_rows(); ++r) {
      *lo = std::min(*lo, t.row_offset(r));
      *hi = std::max(*hi, t.row_offset(r) + t.row_bytes());
    }
  };
  Op host = op;
  std::vector<Host> copies(kMaxOpSrc + 1);
  for (int i = 0; i <= kMaxOpSrc; ++i) {
    TensorView& t = i == kMaxOpSrc ? host.dst : host.src[i];
    if (!t.valid()) continue;
    size_t lo, hi;
    span(t, &lo, &hi);
    Host& h = copies[i];
    h.bytes.resize(hi - lo);
    h.lo = lo;
    G12_RETURN_IF_ERROR(t.buffer->download(lo, h.bytes.data(), h.bytes.size()));
    h.buffer = HostBuffer::wrap(*device_, h.bytes.data(), h.bytes.size());
    t.buffer = h.buffer.get();
    t.offset -= lo;
  }
  G12_RETURN_IF_ERROR(reference::execute(host));
  const Host& d = copies[kMaxOpSrc];
  return op.dst.buffer->upload(d.lo, d.bytes.data(), d.bytes.size());
}

}  // namespace gemma12b::vk
