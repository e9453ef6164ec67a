// Matmul weights on the CPU device (Device::wrap_weight): the file's bytes, wrapped in place, plus
// for q4_0, q8_0, q4_k and q6_k on ISAs with x16 kernels (cpu/qdot.h) a copy of the rows in x16 tiles, made once at
// load with the device's threads. The copy takes the same bytes as the file; the model then lets
// the file's pages go (Buffer::holds_copy), so resident memory stays at one copy of the weights.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/backend.h"
#include "cpu/qdot.h"
#include "util/thread_pool.h"

namespace gemma12b::cpu {

class CpuWeightBuffer final : public Buffer {
 public:
  // Wraps ptr; packs it when the kernels have an x16 path for dtype and the shape allows one
  // (cols % 64 == 0, at least one full tile of 16 rows; rows past the last full tile stay in the
  // file's layout), reporting each packed source range to `copied` (Device::wrap_weight). Packs
  // with `pool`, so not while another thread runs ops on the same device (models load first).
  // Errors: ResourceExhausted when the copy cannot be allocated.
  static StatusOr<std::unique_ptr<CpuWeightBuffer>> create(Device& device, const Kernels& kernels, ThreadPool& pool,
                                                           void* ptr, size_t bytes, DType dtype, int64_t rows,
                                                           int64_t cols, const Device::CopiedFn& copied);
  ~CpuWeightBuffer() override;

  size_t size() const override { return bytes_; }
  Device& device() const override { return *device_; }
  // Weights are immutable once wrapped (the copy would go stale): upload and copy_from fail.
  Status upload(size_t offset, const void* src, size_t n) override;
  Status download(size_t offset, void* dst, size_t n) const override;
  Status copy_from(const Buffer& src, size_t src_offset, size_t dst_offset, size_t n) override;
  void* map() override { return ptr_; }
  bool holds_copy() const override { return tiles_ != nullptr; }

  // The x16 tiles of a view of this buffer, when the view is the whole matrix as wrapped (slices
  // and reshapes read the file's layout); nullptr otherwise. Tile t covers rows 16t..16t+15.
  const uint8_t* tiles_for(const TensorView& v) const;
  int64_t full_tiles() const { return rows_ / kX16Rows; }
  // Row r of the matrix in the file's layout: unpacked from its tile into `scratch` (row_size
  // bytes) when the row has been copied, so that the file's released pages are not faulted back in
  // (for the 12B's 566 MB embedding table, each looked-up token would map a 2 MB folio); the
  // file's bytes otherwise. r must be in [0, rows).
  const uint8_t* row(int64_t r, uint8_t* scratch) const;

 private:
  CpuWeightBuffer(Device& device, void* ptr, size_t bytes, DType dtype, int64_t rows, int64_t cols)
      : device_(&device), ptr_(ptr), bytes_(bytes), dtype_(dtype), rows_(rows), cols_(cols) {}
  Device* device_;
  void* ptr_;
  size_t bytes_;
  DType dtype_;
  int64_t rows_, cols_;
  uint8_t* tiles_ = nullptr;  // anonymous mapping of tiles_bytes_
  size_t tiles_bytes_ = 0;
};

}  // namespace gemma12b::cpu
