#include "cpu/cpu_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

#include "core/quant.h"

namespace gemma12b::cpu {

StatusOr<std::unique_ptr<CpuWeightBuffer>> CpuWeightBuffer::create(Device& device, const Kernels& kernels,
                                                                    ThreadPool& pool, void* ptr, size_t bytes,
                                                                    DType dtype, int64_t rows, int64_t cols,
                                                                    const Device::CopiedFn& copied) {
  std::unique_ptr<CpuWeightBuffer> b(new CpuWeightBuffer(device, ptr, bytes, dtype, rows, cols));
  const size_t row_bytes = row_size(dtype, cols);
  const X16PackFn pack = x16_pack(dtype);
  const bool packable = pack != nullptr && x16_unpack(dtype) != nullptr && kernels.x16(dtype) != nullptr &&
                        cols % 64 == 0 && rows >= kX16Rows && bytes >= static_cast<size_t>(rows) * row_bytes;
  if (!packable) return b;
  const int64_t tiles = rows / kX16Rows;
  const size_t tile_bytes = kX16Rows * row_bytes;
  b->tiles_bytes_ = static_cast<size_t>(tiles) * tile_bytes;
  // An anonymous mapping: page-aligned (every tile 64-byte aligned: tile_bytes = 16·18·K/32,
  // 16·34·K/32 or 16·144·K/256 is a multiple of 64), returned to the system on destruction, eligible for transparent huge pages.
  void* m = ::mmap(nullptr, b->tiles_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    const std::string msg = absl::StrFormat("cpu: cannot allocate %d bytes for the x16 copy of a %d x %d %s weight: %s",
                                            b->tiles_bytes_, rows, cols, dtype_name(dtype), std::strerror(errno));
    b->tiles_bytes_ = 0;
    return absl::ResourceExhaustedError(msg);
  }
#if defined(MADV_HUGEPAGE)
  ::madvise(m, b->tiles_bytes_, MADV_HUGEPAGE);  // advisory (no measured effect on this host's decode)
#endif
  b->tiles_ = static_cast<uint8_t*>(m);
  const auto* src = static_cast<const uint8_t*>(ptr);
  uint8_t* dst = b->tiles_;
  // In batches of about kBatchBytes of the file; after each, the whole prefix copied so far is
  // reported (so pages that straddle two batches are covered once both are done), and the owner
  // can release it: resident memory then grows by the copy only, not by the copy plus the whole
  // source matrix (566 MB for the 12B's embedding). Rows past the last tile are never reported.
  constexpr size_t kBatchBytes = size_t{16} << 20;
  const int64_t per_batch = std::max<int64_t>(1, static_cast<int64_t>(kBatchBytes / tile_bytes));
  for (int64_t first = 0; first < tiles; first += per_batch) {
    const int64_t n = std::min(per_batch, tiles - first);
    pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = first + t0; t < first + t1; ++t) {
        pack(src + t * tile_bytes, row_bytes, cols, dst + t * tile_bytes);
      }
    });
    if (copied) copied(0, static_cast<size_t>(first + n) * tile_bytes);
  }
  return b;
}

CpuWeightBuffer::~CpuWeightBuffer() {
  if (tiles_ != nullptr) ::munmap(tiles_, tiles_bytes_);
}

Status CpuWeightBuffer::upload(size_t, const void*, size_t) {
  return absl::FailedPreconditionError("cpu: a wrapped weight buffer is read-only");
}

Status CpuWeightBuffer::download(size_t offset, void* dst, size_t n) const {
  if (offset > bytes_ || n > bytes_ - offset) {
    return InvalidArgument("buffer access [%d, +%d) outside a buffer of %d bytes", offset, n, bytes_);
  }
  const auto* src = static_cast<const uint8_t*>(ptr_);
  auto* out = static_cast<uint8_t*>(dst);
  const size_t tiled = tiles_ != nullptr ? tiles_bytes_ : 0;  // the copied rows' bytes come first
  if (offset < tiled) {
    const size_t row_bytes = row_size(dtype_, cols_);
    std::vector<uint8_t> scratch(row_bytes);
    while (n > 0 && offset < tiled) {
      const int64_t r = static_cast<int64_t>(offset / row_bytes);
      const size_t in_row = offset - static_cast<size_t>(r) * row_bytes;
      const size_t take = std::min(n, row_bytes - in_row);
      std::memcpy(out, row(r, scratch.data()) + in_row, take);
      out += take, offset += take, n -= take;
    }
  }
  if (n) std::memcpy(out, src + offset, n);
  return OkStatus();
}

Status CpuWeightBuffer::copy_from(const Buffer&, size_t, size_t, size_t) {
  return absl::FailedPreconditionError("cpu: a wrapped weight buffer is read-only");
}

const uint8_t* CpuWeightBuffer::row(int64_t r, uint8_t* scratch) const {
  const size_t row_bytes = row_size(dtype_, cols_);
  if (tiles_ == nullptr || r >= full_tiles() * kX16Rows) {
    return static_cast<const uint8_t*>(ptr_) + r * row_bytes;
  }
  x16_unpack(dtype_)(tiles_ + (r / kX16Rows) * (kX16Rows * row_bytes), cols_, static_cast<int>(r % kX16Rows),
                     scratch);
  return scratch;
}

const uint8_t* CpuWeightBuffer::tiles_for(const TensorView& v) const {
  if (tiles_ == nullptr || v.buffer != this || v.offset != 0 || v.dtype != dtype_ || v.rank != 2 ||
      v.dim(0) != rows_ || v.dim(1) != cols_ || v.stride[0] != row_size(dtype_, cols_)) {
    return nullptr;
  }
  return tiles_;
}

}  // namespace gemma12b::cpu
