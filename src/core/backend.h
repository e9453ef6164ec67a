// The backend interface: Device, Buffer, Stream. Small and explicit; capabilities that are
// optional get default bodies in the base class (no nullable slots). A backend that cannot run an
// op says so through Device::supports_op and the caller falls back to the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/op.h"
#include "util/status.h"

namespace gemma12b {

// Bumped whenever Device/Buffer/Stream change; checked at registration.
constexpr int kBackendInterfaceVersion = 1;

class Device;

class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual size_t size() const = 0;
  virtual Device& device() const = 0;
  // Copies host memory into the buffer at `offset`.
  virtual Status upload(size_t offset, const void* src, size_t n) = 0;
  // Copies buffer bytes at `offset` into host memory.
  virtual Status download(size_t offset, void* dst, size_t n) const = 0;
  // Copies n bytes from another buffer of the same device.
  virtual Status copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) = 0;
  // Host address of byte 0 when the memory is host-visible, else nullptr.
  virtual void* map() { return nullptr; }
  // True when the device keeps its own copy of the bytes (Device::wrap_weight), so the memory
  // the buffer wraps is read only by other consumers of the same views (e.g. an embedding row
  // lookup on the tied LM head) and its pages need not stay resident.
  virtual bool holds_copy() const { return false; }
};

struct DeviceCaps {
  bool host_memory = false;  // buffers are plain host memory (weights can be wrapped, not copied)
  bool fp16 = false;         // fast f16 arithmetic
  bool int_dot = false;      // int8 dot products
  // CPU threads the device computes with (the CPU device's pool; 1 for a GPU): host-side work
  // around its ops, such as resizing an image, may use as many.
  int host_threads = 1;
};

struct MemoryInfo {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Enqueues (or runs) one op. Errors from argument validation are returned immediately; errors
  // of asynchronous execution surface at synchronize().
  virtual Status execute(const Op& op) = 0;
  // Waits until every enqueued op has finished.
  virtual Status synchronize() = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string_view name() const = 0;
  virtual const DeviceCaps& caps() const = 0;
  virtual MemoryInfo memory_info() const = 0;
  virtual StatusOr<std::unique_ptr<Buffer>> create_buffer(size_t bytes) = 0;
  // Wraps caller-owned host memory without copying (e.g. mmapped weights). The memory must
  // outlive the buffer. Only devices with caps().host_memory implement it.
  virtual StatusOr<std::unique_ptr<Buffer>> wrap_host(void* ptr, size_t bytes) {
    return Unimplemented("device %s cannot wrap host memory", std::string(name()));
  }
  // Wraps a matmul weight: `rows` x `cols` elements of `dtype` in the file's layout at ptr
  // (host memory that must not change while the buffer lives). A device may also keep a copy in
  // a layout its kernels read faster (a one-time cost here; then holds_copy() is true), and calls
  // `copied(offset, n)` (when set) with byte ranges of ptr it has copied (they may overlap ranges
  // reported before), as it goes, so the owner can let those pages go before the next range is
  // read. Views of the buffer describe the file's layout either way: map(), download() and every
  // op that does not know the copy read the wrapped memory. Default: wrap_host.
  using CopiedFn = std::function<void(size_t offset, size_t n)>;
  virtual StatusOr<std::unique_ptr<Buffer>> wrap_weight(void* ptr, size_t bytes, DType dtype, int64_t rows,
                                                        int64_t cols, const CopiedFn& copied = {}) {
    (void)dtype;
    (void)rows;
    (void)cols;
    (void)copied;
    return wrap_host(ptr, bytes);
  }
  virtual StatusOr<std::unique_ptr<Stream>> create_stream() = 0;
  virtual bool supports_op(const Op& op) const = 0;
};

// ---- registry ----------------------------------------------------------------------------------
struct DeviceOptions {
  int n_threads = 0;  // 0 = all hardware threads
  // CPU: quantized weights meet f32 activations (the dequantized-f32 math of the reference
  // backend) instead of int8 activations per 32-block (llama.cpp's scheme, several times faster);
  // likewise attention over a q8_0 KV cache scores f32 queries and sums the values with f32
  // weights, instead of queries rounded to int8 and (on CPUs with AVX-512 BF16) bf16 weights.
  bool exact_matmul = false;
  // CPU: read every weight matrix in the file's layout (no copy at load: Device::wrap_weight
  // wraps only). By default q4_0, q8_0, q4_k and q6_k matrices get x16 tiles (AVX-512 and AVX2), which decode
  // ~1.4x faster.
  bool cpu_file_layout = false;
  // GPU backends: which physical device (an index into the backend's device list). -1 picks the
  // first discrete GPU, else the first integrated one, else whatever exists (lavapipe). The
  // environment variable GEMMA12B_VULKAN_DEVICE (an index or a substring of the device name)
  // overrides it.
  int device_index = -1;
};

struct BackendFactory {
  int interface_version = kBackendInterfaceVersion;
  const char* name;  // "reference", "cpu", "vulkan"
  StatusOr<std::unique_ptr<Device>> (*create)(const DeviceOptions& options);
};

// Backends compiled into this build, in preference order (generated by CMake).
const std::vector<BackendFactory>& registered_backends();
// Creates the named backend's device ("cpu", "reference", ...).
StatusOr<std::unique_ptr<Device>> create_device(std::string_view name, const DeviceOptions& options);

// A host-memory buffer shared by CPU-side backends: owning (aligned allocation) or wrapping.
class HostBuffer final : public Buffer {
 public:
  // Owning: allocates `bytes` zero-initialised bytes, 64-byte aligned.
  static StatusOr<std::unique_ptr<HostBuffer>> allocate(Device& device, size_t bytes);
  // Non-owning wrapper of external memory.
  static std::unique_ptr<HostBuffer> wrap(Device& device, void* ptr, size_t bytes);
  ~HostBuffer() override;

  size_t size() const override { return size_; }
  Device& device() const override { return *device_; }
  Status upload(size_t offset, const void* src, size_t n) override;
  Status download(size_t offset, void* dst, size_t n) const override;
  Status copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) override;
  void* map() override { return data_; }

 private:
  HostBuffer(Device* device, void* data, size_t size, bool owned)
      : device_(device), data_(data), size_(size), owned_(owned) {}
  Device* device_;
  void* data_;
  size_t size_;
  bool owned_;
};

// Base of devices whose buffers are plain host memory (reference, cpu): host buffers, weights
// wrapped in place.
class HostDevice : public Device {
 public:
  HostDevice() { caps_.host_memory = true; }
  const DeviceCaps& caps() const override { return caps_; }
  MemoryInfo memory_info() const override { return {}; }
  StatusOr<std::unique_ptr<Buffer>> create_buffer(size_t bytes) override;
  StatusOr<std::unique_ptr<Buffer>> wrap_host(void* ptr, size_t bytes) override;
  bool supports_op(const Op& op) const override { return op.kind < OpKind::kCount; }

 protected:
  DeviceCaps caps_;
};

}  // namespace gemma12b
