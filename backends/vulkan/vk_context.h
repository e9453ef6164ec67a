// The Vulkan side of one gemma12b Device: instance, physical/logical device, the compute queue,
// memory allocation, one-shot transfer submissions, the pipeline set (SPIR-V embedded at build
// time) with its on-disk pipeline cache, and the validation-layer messenger. Shared (refcounted)
// by the device, its buffers and streams, so a buffer that outlives its Device stays valid.
//
// Threading: every entry point that touches the queue or records commands holds `mu`; a Vulkan
// device is therefore used by one thread at a time (streams on several threads serialize).
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/backend.h"
#include "util/status.h"

namespace gemma12b::vk {

// VkResult -> Status: out-of-memory results map to ResourceExhausted, device loss to Unavailable.
Status vk_status(VkResult r, const char* what);

constexpr int kBindings = 8;         // storage-buffer bindings of every pipeline (set 0)
constexpr uint32_t kPushBytes = 128;  // push-constant range of every pipeline

struct Memory {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;  // persistent mapping when host-visible
};

class StreamBase;

class Context {
 public:
  static StatusOr<std::shared_ptr<Context>> create(const DeviceOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Allocates a buffer (storage + transfer usage). host_visible: must be mappable (staging,
  // readback, small per-stream buffers); else device-local is preferred. Sizes above the
  // device's limits give ResourceExhausted.
  StatusOr<Memory> allocate(VkDeviceSize bytes, bool host_visible);
  void release(Memory& m);

  // Records `fill` into a one-shot command buffer, submits it and waits.
  Status run_commands(const std::function<void(VkCommandBuffer)>& fill);
  // Copies between host memory and a buffer through the staging buffer (or directly when the
  // buffer is mapped). Both first flush every stream, so ops recorded before the call see the
  // old contents, exactly as on a synchronous backend.
  Status write(Memory& m, VkDeviceSize offset, const void* src, size_t n);
  Status read(const Memory& m, VkDeviceSize offset, void* dst, size_t n);
  Status copy(const Memory& src, VkDeviceSize src_off, Memory& dst, VkDeviceSize dst_off, size_t n);

  // Streams register so buffer transfers can flush their recorded work first.
  void add_stream(StreamBase* s);
  void remove_stream(StreamBase* s);
  Status flush_streams();

  // The compute pipeline of an embedded shader variant ("matmul_q4_0", ...), created on first use.
  StatusOr<VkPipeline> pipeline(const std::string& name);

  // Validation-layer errors seen since the last call (empty if none).
  std::string take_validation_errors();

  std::recursive_mutex mu;
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceMemoryProperties mem_props{};
  VkDeviceSize max_allocation = 0;   // maxMemoryAllocationSize (Vulkan 1.1)
  VkDeviceSize device_heap = 0;      // the largest device-local heap
  std::atomic<uint64_t> allocated{0};
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  Memory dummy;  // bound to unused binding slots
  bool lost = false;
  // Testing aid for device loss, which no real driver produces on demand:
  // GEMMA12B_VULKAN_LOSE_DEVICE_AFTER=N makes stream submission N+1 report VK_ERROR_DEVICE_LOST
  // (without reaching the driver), so the recovery path runs exactly as for a real loss.
  int64_t lose_after = -1;
  int64_t submissions = 0;
  // Subgroup arithmetic in compute shaders (Vulkan 1.1 subgroup properties), used by the matmul
  // reductions; GEMMA12B_VULKAN_NO_SUBGROUPS=1 turns it off (the shared-memory fallback).
  bool subgroups = false;
  // Optional device features the fast paths use (each with an environment switch to force the
  // fallback): f16 arithmetic with 16-bit storage (shaderFloat16 + storageBuffer16BitAccess;
  // GEMMA12B_VULKAN_NO_FP16=1) for f16-weight matmuls, and packed 4x8-bit integer dot products
  // (shaderIntegerDotProduct; GEMMA12B_VULKAN_NO_INT_DOT=1) for q8_0/q4_0/q4_k/q6_k matmuls with int8
  // activations. `exact` (DeviceOptions::exact_matmul) keeps every matmul in f32 regardless.
  bool fp16 = false;
  bool int_dot = false;
  bool exact = false;
  std::string name;
  DeviceCaps caps;

 private:
  Context() = default;
  Status init(const DeviceOptions& options);
  Status init_pipelines();
  void save_pipeline_cache();
  int find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid) const;

  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkCommandPool transfer_pool_ = VK_NULL_HANDLE;
  VkFence transfer_fence_ = VK_NULL_HANDLE;
  Memory staging_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string cache_path_;
  std::map<std::string, VkPipeline> pipelines_;
  std::vector<StreamBase*> streams_;
  std::mutex validation_mu_;
  std::string validation_errors_;

  friend VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                          VkDebugUtilsMessageTypeFlagsEXT,
                                                          const VkDebugUtilsMessengerCallbackDataEXT*,
                                                          void*);
};

// What Context::flush_streams needs from a stream.
class StreamBase {
 public:
  virtual ~StreamBase() = default;
  // Submits the recorded commands (if any) and waits; errors are kept for synchronize().
  virtual void flush() = 0;
};

// The embedded SPIR-V (generated vk_shaders.cpp).
struct ShaderBlob {
  const char* name;
  const uint32_t* code;
  size_t bytes;
};
const ShaderBlob* find_shader(const std::string& name);

}  // namespace gemma12b::vk
