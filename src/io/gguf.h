// GGUF reader (versions 2 and 3). Parses the header, metadata and tensor table with every size,
// count, offset and string checked against the file bounds, so a truncated or corrupted file is
// an error naming what is wrong, never a crash. Tensor data is not copied.
// Format: ggml/docs/gguf.md (little-endian; alignment from general.alignment, default 32).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "io/weight_file.h"
#include "util/status.h"

namespace gemma12b {

// GGUF metadata value types (gguf_type).
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

class GgufFile {
 public:
  static StatusOr<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses an already-mapped file (also used by tests on in-memory bytes).
  static StatusOr<std::unique_ptr<GgufFile>> parse(std::shared_ptr<MappedFile> file);
  ~GgufFile();

  uint32_t version() const;
  size_t alignment() const;
  const std::shared_ptr<MappedFile>& file() const;

  // ---- metadata ----
  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;  // in file order
  // Type of a key (NotFound if absent); for arrays, array_type_of gives the element type.
  StatusOr<GgufType> type_of(const std::string& key) const;
  StatusOr<GgufType> array_type_of(const std::string& key) const;
  // Typed getters. Integer getters accept any integer type (and bool) that fits int64;
  // get_float accepts f32/f64 and integers. Wrong type -> InvalidArgument naming the key.
  StatusOr<std::string> get_string(const std::string& key) const;
  StatusOr<int64_t> get_int(const std::string& key) const;
  StatusOr<double> get_float(const std::string& key) const;
  StatusOr<bool> get_bool(const std::string& key) const;
  // Arrays. get_int_array accepts integer and bool element types (bools as 0/1).
  StatusOr<std::vector<int64_t>> get_int_array(const std::string& key) const;
  StatusOr<std::vector<float>> get_float_array(const std::string& key) const;
  StatusOr<std::vector<std::string>> get_string_array(const std::string& key) const;
  // Short printable form of any value ("1000000", "[2, 2, 2, ... 6 items]", "\"gemma4\"").
  std::string value_summary(const std::string& key) const;

  // ---- tensors ----
  const std::vector<TensorInfo>& tensors() const;  // in file order
  const TensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent

 private:
  GgufFile();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemma12b
