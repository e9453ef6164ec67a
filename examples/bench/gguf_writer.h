// A streaming GGUF (version 3) writer for the bench's synthetic models. Metadata and the tensor
// table are declared first and kept in memory; tensor data is then streamed in declaration order
// (any number of chunks per tensor), so a 7 GB file is written with a few MB of memory.
// Layout as ggml/docs/gguf.md and our reader src/io/gguf.cpp: little-endian, alignment 32
// (general.alignment is not written), tensor shapes innermost-first on disk.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "util/status.h"

namespace gemma12b::bench {

class GgufWriter {
 public:
  GgufWriter() = default;
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // ---- metadata (before open) ----
  void add_string(const std::string& key, const std::string& v);
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void add_f32_array(const std::string& key, const std::vector<float>& v);
  void add_bool_array(const std::string& key, const std::vector<bool>& v);

  // ---- tensor table (before open) ----
  // `shape` is outermost first (our convention, HF's [out, in]); written reversed (ggml ne).
  // Returns the tensor's index, or an error when the innermost dim is not a multiple of the
  // type's block size.
  StatusOr<size_t> add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type);
  size_t n_tensors() const { return tensors_.size(); }
  size_t tensor_bytes(size_t i) const { return tensors_[i].bytes; }
  const std::string& tensor_name(size_t i) const { return tensors_[i].name; }
  // Bytes of all tensor data (with alignment padding) and of the whole file.
  uint64_t data_bytes() const { return data_size_; }
  uint64_t file_bytes() const { return header_size() + data_size_; }

  // ---- writing ----
  // Creates the file and writes header, metadata and tensor table.
  Status open(const std::string& path);
  // Appends bytes of the current tensor; when a tensor is complete the writer pads and moves to
  // the next one. Writing more bytes than the table declares is an error.
  Status write(const void* data, size_t n);
  // Checks that every tensor was written in full, then flushes and closes.
  Status finish();

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    DType type;
    size_t bytes;
    uint64_t offset;  // from the start of the data section
  };
  void kv_header(const std::string& key, uint32_t type);
  size_t header_size() const;
  Status put(const void* data, size_t n);
  Status pad_to(uint64_t pos);

  static constexpr size_t kAlignment = 32;
  std::string kv_;  // serialized metadata
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
  std::FILE* file_ = nullptr;
  std::string path_;
  std::vector<char> io_buffer_;
  uint64_t written_ = 0;                   // position in the data section
  size_t current_ = 0;                     // tensor being written
  uint64_t current_done_ = 0;              // its bytes written so far
};

}  // namespace gemma12b::bench
