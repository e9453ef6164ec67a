// Minimal .npy reader for golden data (little-endian '<f4' / '<i4' / '<i8', C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemma12b::test {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // converted to f32
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
};

// Loads `path`; on failure returns false and sets *error.
bool load_npy(const std::string& path, NpyArray* out, std::string* error);

// Absolute path of a file in the golden data directory.
std::string golden_path(const std::string& relative);

}  // namespace gemma12b::test
