#include "io/weight_file.h"

#include <string>

namespace gemma12b {

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (int i = 0; i < rank && i < kMaxDims; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  s += "]";
  return s;
}

}  // namespace gemma12b
