// A read-only memory-mapped file. Weight files are consumed in place: tensors are views into the
// mapping (a device that keeps its own copy of a matrix, Device::wrap_weight, lets its pages go).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "util/status.h"

namespace gemma12b {

class MappedFile {
 public:
  // Maps the whole file read-only. Errors: NotFound (missing), InvalidArgument (a directory, or
  // empty), Internal (mmap failure), all naming the path.
  static StatusOr<std::shared_ptr<MappedFile>> open(const std::string& path);
  // Wraps a caller-provided byte string (tests, in-memory files); the MappedFile owns a copy.
  static std::shared_ptr<MappedFile> from_bytes(std::string bytes, std::string name = "<memory>");
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the system that the whole pages inside [offset, offset + n) are not needed now: they
  // leave this process's resident memory and are read from the file again if touched. The bytes
  // stay the same (a read-only private mapping). No-op for from_bytes files and empty ranges.
  void release(size_t offset, size_t n) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  bool mmapped_ = false;
  std::string owned_;  // from_bytes storage
};

}  // namespace gemma12b
