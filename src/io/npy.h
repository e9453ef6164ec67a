// .npy (format 1.0, little-endian float32, C order) reading and writing, for reference data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace gemma12b {

struct NpyF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

Status write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data);
// Reads '<f4' arrays (C order); anything else is an error naming the file.
StatusOr<NpyF32> read_npy_f32(const std::string& path);

}  // namespace gemma12b
