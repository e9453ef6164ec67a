// Streaming GGUF v3 writer (see gguf_writer.h). Value type ids are gguf_type (GgufType in
// src/io/gguf.h); tensor type ids come from dtype_to_ggml.
#include "gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/gguf.h"

namespace gemma12b::bench {
namespace {

void append(std::string& s, const void* p, size_t n) { s.append(static_cast<const char*>(p), n); }
void append_u32(std::string& s, uint32_t v) { append(s, &v, 4); }
void append_u64(std::string& s, uint64_t v) { append(s, &v, 8); }
void append_str(std::string& s, const std::string& v) {
  append_u64(s, v.size());
  s += v;
}
uint32_t t(GgufType type) { return static_cast<uint32_t>(type); }
uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter::~GgufWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void GgufWriter::kv_header(const std::string& key, uint32_t type) {
  append_str(kv_, key);
  append_u32(kv_, type);
  ++n_kv_;
}

void GgufWriter::add_string(const std::string& key, const std::string& v) {
  kv_header(key, t(GgufType::kString));
  append_str(kv_, v);
}
void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  kv_header(key, t(GgufType::kU32));
  append_u32(kv_, v);
}
void GgufWriter::add_i32(const std::string& key, int32_t v) {
  kv_header(key, t(GgufType::kI32));
  append(kv_, &v, 4);
}
void GgufWriter::add_f32(const std::string& key, float v) {
  kv_header(key, t(GgufType::kF32));
  append(kv_, &v, 4);
}
void GgufWriter::add_bool(const std::string& key, bool v) {
  kv_header(key, t(GgufType::kBool));
  kv_ += static_cast<char>(v ? 1 : 0);
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  kv_header(key, t(GgufType::kArray));
  append_u32(kv_, t(GgufType::kString));
  append_u64(kv_, v.size());
  for (const std::string& s : v) append_str(kv_, s);
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  kv_header(key, t(GgufType::kArray));
  append_u32(kv_, t(GgufType::kI32));
  append_u64(kv_, v.size());
  append(kv_, v.data(), v.size() * 4);
}
void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& v) {
  kv_header(key, t(GgufType::kArray));
  append_u32(kv_, t(GgufType::kF32));
  append_u64(kv_, v.size());
  append(kv_, v.data(), v.size() * 4);
}
void GgufWriter::add_bool_array(const std::string& key, const std::vector<bool>& v) {
  kv_header(key, t(GgufType::kArray));
  append_u32(kv_, t(GgufType::kBool));
  append_u64(kv_, v.size());
  for (bool b : v) kv_ += static_cast<char>(b ? 1 : 0);
}

StatusOr<size_t> GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type) {
  if (file_ != nullptr) return InvalidArgument("gguf writer: tensor %s declared after open()", name);
  if (shape.empty()) return InvalidArgument("gguf writer: tensor %s has no dims", name);
  auto row = row_size_checked(type, shape.back());
  if (!row) {
    return InvalidArgument("gguf writer: %s row of %d is not a multiple of the %s block", name, shape.back(),
                           std::string(dtype_name(type)));
  }
  size_t bytes = *row;
  for (size_t i = 0; i + 1 < shape.size(); ++i) bytes *= static_cast<size_t>(shape[i]);
  data_size_ = align_up(data_size_, kAlignment);
  tensors_.push_back({name, shape, type, bytes, data_size_});
  data_size_ += bytes;
  return tensors_.size() - 1;
}

size_t GgufWriter::header_size() const {
  size_t n = 4 + 4 + 8 + 8 + kv_.size();
  for (const Tensor& x : tensors_) n += 8 + x.name.size() + 4 + 8 * x.shape.size() + 4 + 8;
  return align_up(n, kAlignment);
}

Status GgufWriter::put(const void* data, size_t n) {
  if (n != 0 && std::fwrite(data, 1, n, file_) != n) return DataLoss("writing %s failed (disk full?)", path_);
  return OkStatus();
}

Status GgufWriter::pad_to(uint64_t pos) {
  static const char zeros[kAlignment] = {};
  while (written_ < pos) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(pos - written_, kAlignment));
    G12_RETURN_IF_ERROR(put(zeros, k));
    written_ += k;
  }
  return OkStatus();
}

Status GgufWriter::open(const std::string& path) {
  if (file_ != nullptr) return InvalidArgument("gguf writer: already open");
  path_ = path;
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return NotFound("cannot create %s: %s", path, std::strerror(errno));
  io_buffer_.resize(size_t{8} << 20);
  std::setvbuf(file_, io_buffer_.data(), _IOFBF, io_buffer_.size());
  std::string h = "GGUF";
  append_u32(h, 3);
  append_u64(h, tensors_.size());
  append_u64(h, n_kv_);
  h += kv_;
  for (const Tensor& x : tensors_) {
    append_str(h, x.name);
    append_u32(h, static_cast<uint32_t>(x.shape.size()));
    for (auto it = x.shape.rbegin(); it != x.shape.rend(); ++it) append_u64(h, static_cast<uint64_t>(*it));
    append_u32(h, dtype_to_ggml(x.type));
    append_u64(h, x.offset);
  }
  h.resize(align_up(h.size(), kAlignment), '\0');
  if (h.size() != header_size()) return Internal("gguf writer: header size mismatch");
  written_ = 0;
  current_ = 0;
  current_done_ = 0;
  return put(h.data(), h.size());
}

Status GgufWriter::write(const void* data, size_t n) {
  if (file_ == nullptr) return InvalidArgument("gguf writer: not open");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    if (current_ >= tensors_.size()) return InvalidArgument("gguf writer: more data than the tensor table holds");
    const Tensor& x = tensors_[current_];
    if (current_done_ == 0) G12_RETURN_IF_ERROR(pad_to(x.offset));
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, x.bytes - current_done_));
    G12_RETURN_IF_ERROR(put(p, k));
    p += k;
    n -= k;
    written_ += k;
    current_done_ += k;
    if (current_done_ == x.bytes) {
      ++current_;
      current_done_ = 0;
    }
  }
  return OkStatus();
}

Status GgufWriter::finish() {
  if (file_ == nullptr) return InvalidArgument("gguf writer: not open");
  if (current_ != tensors_.size()) {
    return InvalidArgument("gguf writer: tensor %s not written in full", tensors_[current_].name);
  }
  G12_RETURN_IF_ERROR(pad_to(data_size_));
  const bool ok = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) return DataLoss("writing %s failed (disk full?)", path_);
  return OkStatus();
}

}  // namespace gemma12b::bench
