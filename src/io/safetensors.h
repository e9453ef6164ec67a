// HF safetensors reader: one file or a directory of shards (model.safetensors,
// model-0000N-of-0000M.safetensors with or without model.safetensors.index.json). Header JSON,
// dtypes (F32, F16, BF16), shapes and data_offsets are checked against the file size; tensor
// data is not copied.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "io/weight_file.h"
#include "util/status.h"

namespace gemma12b {

class SafetensorsSet {
 public:
  // `path` is a .safetensors file or a directory holding one or more of them.
  static StatusOr<std::unique_ptr<SafetensorsSet>> open(const std::string& path);
  // Parses one in-memory file (tests).
  static StatusOr<std::unique_ptr<SafetensorsSet>> parse(std::shared_ptr<MappedFile> file);
  ~SafetensorsSet();

  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent
  // The directory the set was opened from ("" for in-memory).
  const std::string& directory() const;

 private:
  SafetensorsSet();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemma12b
