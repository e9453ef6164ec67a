#include "core/tensor.h"

#include "absl/strings/str_format.h"  // absl::StrAppendFormat
#include "core/backend.h"

namespace gemma12b {

TensorView TensorView::contiguous(Buffer* buffer, size_t offset, DType dtype, int rank,
                                  const int64_t* shape) {
  TensorView v;
  v.dtype = dtype;
  v.rank = rank;
  v.buffer = buffer;
  v.offset = offset;
  for (int i = 0; i < rank; ++i) v.shape[i] = shape[i];
  const DTypeTraits& tr = dtype_traits(dtype);
  v.stride[rank - 1] = tr.quantized ? 0 : tr.block_bytes;
  size_t s = row_size(dtype, shape[rank - 1]);
  for (int i = rank - 2; i >= 0; --i) {
    v.stride[i] = s;
    s *= static_cast<size_t>(shape[i]);
  }
  return v;
}

TensorView TensorView::contiguous(Buffer* buffer, size_t offset, DType dtype,
                                  std::initializer_list<int64_t> shape) {
  return contiguous(buffer, offset, dtype, static_cast<int>(shape.size()), shape.begin());
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= shape[i];
  return n;
}

size_t TensorView::row_offset(int64_t r) const {
  size_t off = offset;
  for (int i = rank - 2; i >= 0; --i) {
    const int64_t idx = r % shape[i];
    r /= shape[i];
    off += static_cast<size_t>(idx) * stride[i];
  }
  return off;
}

size_t TensorView::nbytes() const { return row_bytes() * static_cast<size_t>(n_rows()); }

bool TensorView::is_contiguous() const {
  size_t s = row_bytes();
  for (int i = rank - 2; i >= 0; --i) {
    if (shape[i] > 1 && stride[i] != s) return false;
    s *= static_cast<size_t>(shape[i]);
  }
  return true;
}

TensorView TensorView::slice(int d, int64_t begin, int64_t len) const {
  TensorView v = *this;
  if (d < 0) d += rank;
  if (d == rank - 1) {
    // Narrowing the innermost dim: element offset (scalar types) or whole blocks (quantized).
    v.offset += row_size(dtype, begin);
  } else {
    v.offset += static_cast<size_t>(begin) * stride[d];
  }
  v.shape[d] = len;
  return v;
}

TensorView TensorView::reshape(std::initializer_list<int64_t> new_shape) const {
  return contiguous(buffer, offset, dtype, static_cast<int>(new_shape.size()), new_shape.begin());
}

uint8_t* TensorView::host_data() const {
  if (buffer == nullptr) return nullptr;
  auto* base = static_cast<uint8_t*>(buffer->map());
  return base == nullptr ? nullptr : base + offset;
}

uint8_t* TensorView::host_row(int64_t r) const {
  if (buffer == nullptr) return nullptr;
  auto* base = static_cast<uint8_t*>(buffer->map());
  return base == nullptr ? nullptr : base + row_offset(r);
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) absl::StrAppendFormat(&s, "%s%d", i ? ", " : "", shape[i]);
  return s + "]";
}

std::vector<int32_t> read_i32(const TensorView& t) {
  std::vector<int32_t> out;
  out.reserve(t.numel());
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    const auto* p = reinterpret_cast<const int32_t*>(t.host_row(r));
    out.insert(out.end(), p, p + t.row_len());
  }
  return out;
}

}  // namespace gemma12b
