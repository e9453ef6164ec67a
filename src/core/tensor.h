// TensorView: a cheap, copyable, non-owning view {dtype, shape, byte strides, buffer, offset}.
// Shapes are written outermost first, PyTorch style: a weight of HF shape [out, in] is the view
// {out, in}, and its rows (length `in`) are contiguous, which is also GGUF's layout (ne0 = in).
// The innermost dimension is always contiguous; quantized types are blocked along it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace gemma12b {

class Buffer;

constexpr int kMaxDims = 4;

struct TensorView {
  DType dtype = DType::kF32;
  int rank = 0;
  std::array<int64_t, kMaxDims> shape{};  // outermost first
  std::array<size_t, kMaxDims> stride{};  // bytes per step of each dim (innermost: element size,
                                          // 0 for quantized types, which are only row-addressed)
  Buffer* buffer = nullptr;               // not owned
  size_t offset = 0;                      // bytes from the start of buffer

  // A contiguous view of the given shape starting at `offset` in `buffer`.
  static TensorView contiguous(Buffer* buffer, size_t offset, DType dtype,
                               std::initializer_list<int64_t> shape);
  static TensorView contiguous(Buffer* buffer, size_t offset, DType dtype, int rank,
                               const int64_t* shape);

  bool valid() const { return buffer != nullptr && rank > 0; }
  int64_t dim(int i) const { return shape[i < 0 ? rank + i : i]; }
  int64_t numel() const;
  int64_t row_len() const { return shape[rank - 1]; }
  // Number of rows: product of every dim but the innermost.
  int64_t n_rows() const { return numel() / row_len(); }
  // Bytes of one row (dtype-aware, blocks included).
  size_t row_bytes() const { return row_size(dtype, row_len()); }
  // Byte offset (from the buffer start) of flattened row r, walking the leading dims' strides.
  size_t row_offset(int64_t r) const;
  // Total bytes spanned by the view when contiguous.
  size_t nbytes() const;
  bool is_contiguous() const;

  // Narrows dim d to [begin, begin + len).
  TensorView slice(int d, int64_t begin, int64_t len) const;
  // Reinterprets a contiguous view with a new shape of the same element count.
  TensorView reshape(std::initializer_list<int64_t> new_shape) const;

  // Host address of the first byte, or nullptr when the buffer is not host-visible.
  uint8_t* host_data() const;
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(host_data());
  }
  // Host address of row r (nullptr when not host-visible).
  uint8_t* host_row(int64_t r) const;

  std::string shape_string() const;  // "[4, 256]"
};

// All elements of a host-visible i32 view, in row order (ids, positions, block ids).
std::vector<int32_t> read_i32(const TensorView& t);

}  // namespace gemma12b
