// What every weight-file reader (GGUF, safetensors) reports about one tensor.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/tensor.h"
#include "io/mapped_file.h"

namespace gemma12b {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  int rank = 0;
  std::array<int64_t, kMaxDims> shape{};  // outermost first (GGUF ne reversed; HF as stored)
  std::shared_ptr<MappedFile> mapping;    // the file holding the bytes
  size_t offset = 0;                      // absolute byte offset of the data in `mapping`
  size_t nbytes = 0;                      // exact byte size (validated against shape and dtype)

  const uint8_t* data() const { return mapping->data() + offset; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  std::string shape_string() const;  // "[373, 256]"
};

}  // namespace gemma12b
