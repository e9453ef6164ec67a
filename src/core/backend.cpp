#include "core/backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace gemma12b {

StatusOr<std::unique_ptr<HostBuffer>> HostBuffer::allocate(Device& device, size_t bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat("cannot allocate %d bytes", bytes));
  }
  std::memset(p, 0, rounded == 0 ? 64 : rounded);
  return std::unique_ptr<HostBuffer>(new HostBuffer(&device, p, bytes, /*owned=*/true));
}

std::unique_ptr<HostBuffer> HostBuffer::wrap(Device& device, void* ptr, size_t bytes) {
  return std::unique_ptr<HostBuffer>(new HostBuffer(&device, ptr, bytes, /*owned=*/false));
}

HostBuffer::~HostBuffer() {
  if (owned_) std::free(data_);
}

static Status check_range(size_t offset, size_t n, size_t size) {
  if (offset > size || n > size - offset) {
    return InvalidArgument("buffer access [%d, +%d) outside a buffer of %d bytes", offset, n, size);
  }
  return OkStatus();
}

Status HostBuffer::upload(size_t offset, const void* src, size_t n) {
  G12_RETURN_IF_ERROR(check_range(offset, n, size_));
  if (n) std::memcpy(static_cast<uint8_t*>(data_) + offset, src, n);
  return OkStatus();
}

Status HostBuffer::download(size_t offset, void* dst, size_t n) const {
  G12_RETURN_IF_ERROR(check_range(offset, n, size_));
  if (n) std::memcpy(dst, static_cast<const uint8_t*>(data_) + offset, n);
  return OkStatus();
}

Status HostBuffer::copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) {
  G12_RETURN_IF_ERROR(check_range(dst_offset, n, size_));
  return src.download(src_offset, static_cast<uint8_t*>(data_) + dst_offset, n);
}

StatusOr<std::unique_ptr<Buffer>> HostDevice::create_buffer(size_t bytes) {
  G12_ASSIGN_OR_RETURN(auto b, HostBuffer::allocate(*this, bytes));
  return std::unique_ptr<Buffer>(std::move(b));
}

StatusOr<std::unique_ptr<Buffer>> HostDevice::wrap_host(void* ptr, size_t bytes) {
  return std::unique_ptr<Buffer>(HostBuffer::wrap(*this, ptr, bytes));
}

}  // namespace gemma12b
