#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/dtype.h"

namespace gemma12b {

static_assert(std::endian::native == std::endian::little, "GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMaxArrayDepth = 4;      // nested arrays deeper than this are rejected
constexpr size_t kMinKvBytes = 8 + 4 + 1;   // key length, type, smallest value
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne[0], type, offset
constexpr uint32_t kMaxGgmlTypeId = 64;     // ids at or above this are garbage, not "unsupported"

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

// Size of a fixed-size value type; 0 for string and array.
size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

const char* type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "?";
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
    case GgufType::kBool:
      return true;
    default:
      return false;
  }
}
bool is_float(GgufType t) { return t == GgufType::kF32 || t == GgufType::kF64; }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads an integer-typed (or bool) scalar at p. False if it does not fit int64.
bool load_int(GgufType t, const uint8_t* p, int64_t* out) {
  switch (t) {
    case GgufType::kU8: *out = load<uint8_t>(p); return true;
    case GgufType::kI8: *out = load<int8_t>(p); return true;
    case GgufType::kBool: *out = load<uint8_t>(p) != 0 ? 1 : 0; return true;
    case GgufType::kU16: *out = load<uint16_t>(p); return true;
    case GgufType::kI16: *out = load<int16_t>(p); return true;
    case GgufType::kU32: *out = load<uint32_t>(p); return true;
    case GgufType::kI32: *out = load<int32_t>(p); return true;
    case GgufType::kI64: *out = load<int64_t>(p); return true;
    case GgufType::kU64: {
      const uint64_t v = load<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<int64_t>(v);
      return true;
    }
    default: return false;
  }
}

// Reads a numeric scalar as double (floats and integers).
bool load_number(GgufType t, const uint8_t* p, double* out) {
  if (t == GgufType::kF32) { *out = load<float>(p); return true; }
  if (t == GgufType::kF64) { *out = load<double>(p); return true; }
  if (t == GgufType::kU64) { *out = static_cast<double>(load<uint64_t>(p)); return true; }
  int64_t v = 0;
  if (!load_int(t, p, &v)) return false;
  *out = static_cast<double>(v);
  return true;
}

// Bounds-checked little-endian cursor over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path)
      : data_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const uint8_t* at(size_t off) const { return data_ + off; }

  Status need(size_t n, std::string_view what) const {
    if (n > remaining()) {
      return InvalidArgument("%s: truncated or corrupt GGUF: %s needs %d bytes at offset %d, %d left",
                             path_, what, n, pos_, remaining());
    }
    return OkStatus();
  }
  Status skip(size_t n, std::string_view what) {
    G12_RETURN_IF_ERROR(need(n, what));
    pos_ += n;
    return OkStatus();
  }
  Status u32(uint32_t* v, std::string_view what) {
    G12_RETURN_IF_ERROR(need(4, what));
    *v = load<uint32_t>(data_ + pos_);
    pos_ += 4;
    return OkStatus();
  }
  Status u64(uint64_t* v, std::string_view what) {
    G12_RETURN_IF_ERROR(need(8, what));
    *v = load<uint64_t>(data_ + pos_);
    pos_ += 8;
    return OkStatus();
  }
  Status str(std::string_view* s, std::string_view what) {
    uint64_t len = 0;
    G12_RETURN_IF_ERROR(u64(&len, what));
    if (len > remaining()) {
      return InvalidArgument("%s: truncated or corrupt GGUF: %s has length %d at offset %d, only %d bytes left",
                             path_, what, len, pos_ - 8, remaining());
    }
    *s = std::string_view(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return OkStatus();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

std::string printable(std::string_view s, size_t max_len = 64) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else if (c >= 0x80) {
      out += static_cast<char>(c);  // keep UTF-8 bytes
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...";
  return out;
}

}  // namespace

namespace gguf_detail {

struct GgufKv {
  std::string key;
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // arrays only
  uint64_t count = 0;                  // arrays only
  size_t value_off = 0;                // scalars/strings: the value; arrays: the first element
};

// Parsed state; GgufFile::Impl derives from it so the parser (a free function) can fill it.
struct GgufState {
  std::shared_ptr<MappedFile> file;
  uint32_t version = 0;
  size_t alignment = 32;
  size_t data_start = 0;
  std::vector<GgufKv> kvs;
  std::unordered_map<std::string, size_t> kv_index;
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;

  const std::string& path() const { return file->path(); }
  const uint8_t* at(size_t off) const { return file->data() + off; }

  StatusOr<const GgufKv*> find(const std::string& key) const {
    auto it = kv_index.find(key);
    if (it == kv_index.end()) return NotFound("%s: GGUF key '%s' not found", path(), key);
    return &kvs[it->second];
  }
  Status wrong_type(const GgufKv& kv, const char* expected) const {
    if (kv.type == GgufType::kArray) {
      return InvalidArgument("%s: GGUF key '%s' is an array of %s, expected %s", path(), kv.key,
                             type_name(kv.elem_type), expected);
    }
    return InvalidArgument("%s: GGUF key '%s' has type %s, expected %s", path(), kv.key,
                           type_name(kv.type), expected);
  }
  // Reads the string at `off` (validated at parse time). Returns the offset past it.
  size_t string_at(size_t off, std::string_view* s) const {
    const uint64_t len = load<uint64_t>(at(off));
    *s = std::string_view(reinterpret_cast<const char*>(at(off + 8)), static_cast<size_t>(len));
    return off + 8 + static_cast<size_t>(len);
  }
};

}  // namespace gguf_detail

using gguf_detail::GgufKv;
using gguf_detail::GgufState;

namespace {

// Validates (and steps over) one value of type `t`. Work is linear in the bytes consumed: every
// element consumes at least one byte, and counts are checked against the bytes left first.
Status skip_value(Reader& r, GgufType t, uint32_t depth, const std::string& path,
                  const std::string& key) {
  const size_t sz = scalar_size(t);
  if (sz != 0) return r.skip(sz, "value");
  if (t == GgufType::kString) {
    std::string_view s;
    return r.str(&s, "string value");
  }
  // Array.
  if (depth >= kMaxArrayDepth) {
    return InvalidArgument("%s: GGUF key '%s': arrays nested deeper than %d levels", path, key,
                           kMaxArrayDepth);
  }
  uint32_t et = 0;
  G12_RETURN_IF_ERROR(r.u32(&et, "array element type"));
  if (!valid_type(et)) {
    return InvalidArgument("%s: GGUF key '%s': invalid array element type %d", path, key, et);
  }
  uint64_t count = 0;
  G12_RETURN_IF_ERROR(r.u64(&count, "array length"));
  const GgufType etype = static_cast<GgufType>(et);
  const size_t esz = scalar_size(etype);
  const size_t min_elem = esz != 0 ? esz : (etype == GgufType::kString ? 8 : 12);
  if (count > r.remaining() / min_elem) {
    return InvalidArgument("%s: truncated or corrupt GGUF: array '%s' claims %d elements of type %s "
                           "but only %d bytes are left",
                           path, key, count, type_name(etype), r.remaining());
  }
  if (esz != 0) return r.skip(static_cast<size_t>(count) * esz, "array data");
  for (uint64_t i = 0; i < count; ++i) {
    G12_RETURN_IF_ERROR(skip_value(r, etype, depth + 1, path, key));
  }
  return OkStatus();
}

// Adds the metadata key to a low-level read error.
Status with_key(Status st, const std::string& key) {
  if (st.ok() || st.message().find("key '") != std::string_view::npos) return st;
  return Status(st.code(), absl::StrCat(st.message(), " (in the value of key '", printable(key), "')"));
}

Status parse_impl(GgufState& g) {
  const std::string& path = g.file->path();
  Reader r(g.file->data(), g.file->size(), path);

  G12_RETURN_IF_ERROR(r.need(4, "magic"));
  if (std::memcmp(r.at(0), "GGUF", 4) != 0) {
    return InvalidArgument("%s: not a GGUF file (bad magic)", path);
  }
  G12_RETURN_IF_ERROR(r.skip(4, "magic"));
  G12_RETURN_IF_ERROR(r.u32(&g.version, "version"));
  if (g.version != 2 && g.version != 3) {
    if ((g.version & 0xffffu) == 0 && g.version != 0) {
      return InvalidArgument("%s: GGUF version %d looks byte-swapped (big-endian file?); only "
                             "little-endian versions 2 and 3 are supported", path, g.version);
    }
    return InvalidArgument("%s: unsupported GGUF version %d (supported: 2, 3)", path, g.version);
  }
  uint64_t n_tensors = 0, n_kv = 0;
  G12_RETURN_IF_ERROR(r.u64(&n_tensors, "tensor count"));
  G12_RETURN_IF_ERROR(r.u64(&n_kv, "metadata count"));
  if (n_kv > r.remaining() / kMinKvBytes) {
    return InvalidArgument("%s: corrupt GGUF: metadata count %d cannot fit in the %d bytes left",
                           path, n_kv, r.remaining());
  }
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return InvalidArgument("%s: corrupt GGUF: tensor count %d cannot fit in the %d bytes left",
                           path, n_tensors, r.remaining());
  }

  // ---- metadata ----
  // Counts are bounded by the file size; reserve only a little up front so a corrupt count in a
  // huge file cannot trigger a huge allocation (entries are added only as they parse).
  constexpr uint64_t kReserveCap = 1024;
  g.kvs.reserve(static_cast<size_t>(std::min(n_kv, kReserveCap)));
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    std::string_view key;
    G12_RETURN_IF_ERROR(r.str(&key, "metadata key #" + std::to_string(i)));
    kv.key.assign(key);
    uint32_t t = 0;
    G12_RETURN_IF_ERROR(r.u32(&t, "type of key '" + printable(kv.key) + "'"));
    if (!valid_type(t)) {
      return InvalidArgument("%s: GGUF key '%s' has invalid value type %d", path, printable(kv.key), t);
    }
    kv.type = static_cast<GgufType>(t);
    if (kv.type == GgufType::kArray) {
      // Peek the header so getters can index the elements directly.
      const size_t start = r.pos();
      G12_RETURN_IF_ERROR(with_key(skip_value(r, kv.type, 0, path, kv.key), kv.key));
      kv.elem_type = static_cast<GgufType>(load<uint32_t>(r.at(start)));
      kv.count = load<uint64_t>(r.at(start + 4));
      kv.value_off = start + 12;
    } else {
      kv.value_off = r.pos();
      G12_RETURN_IF_ERROR(with_key(skip_value(r, kv.type, 0, path, kv.key), kv.key));
    }
    if (!g.kv_index.emplace(kv.key, g.kvs.size()).second) {
      return InvalidArgument("%s: duplicate GGUF key '%s'", path, printable(kv.key));
    }
    g.kvs.push_back(std::move(kv));
  }

  if (auto it = g.kv_index.find("general.alignment"); it != g.kv_index.end()) {
    const GgufKv& kv = g.kvs[it->second];
    if (kv.type != GgufType::kU32) {
      return InvalidArgument("%s: GGUF key 'general.alignment' has type %s, expected u32", path,
                             type_name(kv.type));
    }
    const uint32_t a = load<uint32_t>(g.at(kv.value_off));
    if (a == 0 || (a & (a - 1)) != 0) {
      return InvalidArgument("%s: GGUF general.alignment %d is not a power of 2", path, a);
    }
    g.alignment = a;
  }

  // ---- tensor infos ----
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return InvalidArgument("%s: corrupt GGUF: tensor count %d cannot fit in the %d bytes left",
                           path, n_tensors, r.remaining());
  }
  std::vector<uint64_t> rel_offsets;
  rel_offsets.reserve(static_cast<size_t>(std::min(n_tensors, kReserveCap)));
  g.tensors.reserve(static_cast<size_t>(std::min(n_tensors, kReserveCap)));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo ti;
    std::string_view name;
    G12_RETURN_IF_ERROR(r.str(&name, "name of tensor #" + std::to_string(i)));
    ti.name.assign(name);
    const std::string what = "tensor '" + printable(ti.name) + "'";
    uint32_t n_dims = 0;
    G12_RETURN_IF_ERROR(r.u32(&n_dims, "n_dims of " + what));
    if (n_dims < 1 || n_dims > static_cast<uint32_t>(kMaxDims)) {
      return InvalidArgument("%s: %s has %d dimensions (supported: 1..%d)", path, what, n_dims, kMaxDims);
    }
    uint64_t ne[kMaxDims] = {1, 1, 1, 1};
    for (uint32_t d = 0; d < n_dims; ++d) {
      G12_RETURN_IF_ERROR(r.u64(&ne[d], "dimensions of " + what));
      if (ne[d] == 0 || ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return InvalidArgument("%s: %s has invalid dimension ne[%d] = %d", path, what, d, ne[d]);
      }
    }
    uint32_t gtype = 0;
    G12_RETURN_IF_ERROR(r.u32(&gtype, "type of " + what));
    uint64_t off = 0;
    G12_RETURN_IF_ERROR(r.u64(&off, "data offset of " + what));

    const std::optional<DType> dt = dtype_from_ggml(gtype);
    if (!dt) {
      if (gtype >= kMaxGgmlTypeId) {
        return InvalidArgument("%s: %s has invalid ggml type id %d", path, what, gtype);
      }
      return Unimplemented("%s: %s has unsupported ggml type id %d", path, what, gtype);
    }
    ti.dtype = *dt;
    ti.rank = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) ti.shape[n_dims - 1 - d] = static_cast<int64_t>(ne[d]);

    const std::optional<size_t> row = row_size_checked(ti.dtype, static_cast<int64_t>(ne[0]));
    if (!row) {
      return InvalidArgument("%s: %s: row length %d is not a multiple of the %s block size %d", path,
                             what, ne[0], dtype_name(ti.dtype), dtype_traits(ti.dtype).block_size);
    }
    // Element count must fit int64 (TensorInfo::numel) and the byte size must fit size_t.
    uint64_t numel = ne[0];
    uint64_t nbytes = *row;
    for (uint32_t d = 1; d < n_dims; ++d) {
      if (__builtin_mul_overflow(numel, ne[d], &numel) ||
          numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(nbytes, ne[d], &nbytes)) {
        return InvalidArgument("%s: %s: element count overflows", path, what);
      }
    }
    ti.nbytes = static_cast<size_t>(nbytes);
    ti.mapping = g.file;
    if (!g.tensor_index.emplace(ti.name, g.tensors.size()).second) {
      return InvalidArgument("%s: duplicate tensor name '%s'", path, printable(ti.name));
    }
    rel_offsets.push_back(off);
    g.tensors.push_back(std::move(ti));
  }

  // ---- data section ----
  const size_t end_of_infos = r.pos();
  const size_t a = g.alignment;
  g.data_start = (end_of_infos + (a - 1)) / a * a;  // end_of_infos <= size, a <= 2^31: no overflow
  const size_t size = g.file->size();
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    TensorInfo& ti = g.tensors[i];
    const uint64_t off = rel_offsets[i];
    if (off % a != 0) {
      return InvalidArgument("%s: tensor '%s': data offset %d is not a multiple of the alignment %d",
                             path, printable(ti.name), off, a);
    }
    if (g.data_start > size || off > size - g.data_start ||
        ti.nbytes > size - g.data_start - static_cast<size_t>(off)) {
      return InvalidArgument("%s: truncated or corrupt GGUF: tensor '%s' (%s %s, %d bytes at data "
                             "offset %d) extends past the end of the file (%d bytes, data starts at %d)",
                             path, printable(ti.name), dtype_name(ti.dtype), ti.shape_string(),
                             ti.nbytes, off, size, g.data_start);
    }
    ti.offset = g.data_start + static_cast<size_t>(off);
  }
  return OkStatus();
}

}  // namespace

struct GgufFile::Impl : GgufState {};

GgufFile::GgufFile() = default;
GgufFile::~GgufFile() = default;

StatusOr<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> f, MappedFile::open(path));
  return parse(std::move(f));
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::parse(std::shared_ptr<MappedFile> file) {
  if (file == nullptr) return InvalidArgument("GgufFile::parse: null file");
  const std::string path = file->path();
  try {
    std::unique_ptr<GgufFile> g(new GgufFile());
    g->impl_ = std::make_unique<Impl>();
    g->impl_->file = std::move(file);
    G12_RETURN_IF_ERROR(parse_impl(*g->impl_));
    return g;
  } catch (const std::exception& e) {
    return Internal("%s: GGUF parse failed: %s", path, e.what());
  }
}

uint32_t GgufFile::version() const { return impl_->version; }
size_t GgufFile::alignment() const { return impl_->alignment; }
const std::shared_ptr<MappedFile>& GgufFile::file() const { return impl_->file; }

bool GgufFile::has(const std::string& key) const { return impl_->kv_index.count(key) != 0; }

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(impl_->kvs.size());
  for (const GgufKv& kv : impl_->kvs) out.push_back(kv.key);
  return out;
}

StatusOr<GgufType> GgufFile::type_of(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  return kv->type;
}

StatusOr<GgufType> GgufFile::array_type_of(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kArray) return impl_->wrong_type(*kv, "array");
  return kv->elem_type;
}

StatusOr<std::string> GgufFile::get_string(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kString) return impl_->wrong_type(*kv, "string");
  std::string_view s;
  impl_->string_at(kv->value_off, &s);
  return std::string(s);
}

StatusOr<int64_t> GgufFile::get_int(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (!is_integer(kv->type)) return impl_->wrong_type(*kv, "integer");
  int64_t v = 0;
  if (!load_int(kv->type, impl_->at(kv->value_off), &v)) {
    return InvalidArgument("%s: GGUF key '%s': value %d does not fit int64", impl_->path(), key,
                           load<uint64_t>(impl_->at(kv->value_off)));
  }
  return v;
}

StatusOr<double> GgufFile::get_float(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  double v = 0;
  if (kv->type == GgufType::kBool || !(is_float(kv->type) || is_integer(kv->type)) ||
      !load_number(kv->type, impl_->at(kv->value_off), &v)) {
    return impl_->wrong_type(*kv, "number");
  }
  return v;
}

StatusOr<bool> GgufFile::get_bool(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kBool) return impl_->wrong_type(*kv, "bool");
  return load<uint8_t>(impl_->at(kv->value_off)) != 0;
}

StatusOr<std::vector<int64_t>> GgufFile::get_int_array(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kArray || !is_integer(kv->elem_type)) {
    return impl_->wrong_type(*kv, "array of integers");
  }
  const size_t esz = scalar_size(kv->elem_type);
  std::vector<int64_t> out(static_cast<size_t>(kv->count));  // count validated against the file
  for (size_t i = 0; i < out.size(); ++i) {
    if (!load_int(kv->elem_type, impl_->at(kv->value_off + i * esz), &out[i])) {
      return InvalidArgument("%s: GGUF key '%s': element %d does not fit int64", impl_->path(), key, i);
    }
  }
  return out;
}

StatusOr<std::vector<float>> GgufFile::get_float_array(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kArray || kv->elem_type == GgufType::kBool ||
      !(is_float(kv->elem_type) || is_integer(kv->elem_type))) {
    return impl_->wrong_type(*kv, "array of numbers");
  }
  const size_t esz = scalar_size(kv->elem_type);
  std::vector<float> out(static_cast<size_t>(kv->count));
  for (size_t i = 0; i < out.size(); ++i) {
    double v = 0;
    load_number(kv->elem_type, impl_->at(kv->value_off + i * esz), &v);
    out[i] = static_cast<float>(v);
  }
  return out;
}

StatusOr<std::vector<std::string>> GgufFile::get_string_array(const std::string& key) const {
  G12_ASSIGN_OR_RETURN(const GgufKv* kv, impl_->find(key));
  if (kv->type != GgufType::kArray || kv->elem_type != GgufType::kString) {
    return impl_->wrong_type(*kv, "array of strings");
  }
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(kv->count));
  size_t off = kv->value_off;
  for (uint64_t i = 0; i < kv->count; ++i) {
    std::string_view s;
    off = impl_->string_at(off, &s);
    out.emplace_back(s);
  }
  return out;
}

std::string GgufFile::value_summary(const std::string& key) const {
  auto found = impl_->find(key);
  if (!found.ok()) return "<missing>";
  const GgufKv& kv = **found;
  auto scalar = [&](GgufType t, size_t off) -> std::string {
    if (t == GgufType::kString) {
      std::string_view s;
      impl_->string_at(off, &s);
      return absl::StrCat("\"", printable(s), "\"");
    }
    if (t == GgufType::kBool) return load<uint8_t>(impl_->at(off)) != 0 ? "true" : "false";
    if (is_float(t)) {
      double v = 0;
      load_number(t, impl_->at(off), &v);
      return absl::StrFormat("%g", v);
    }
    if (t == GgufType::kU64) return std::to_string(load<uint64_t>(impl_->at(off)));
    int64_t v = 0;
    load_int(t, impl_->at(off), &v);
    return std::to_string(v);
  };
  if (kv.type != GgufType::kArray) return scalar(kv.type, kv.value_off);
  if (kv.elem_type == GgufType::kArray) {
    return absl::StrFormat("[<nested arrays>, %d items]", kv.count);
  }
  constexpr uint64_t kShow = 3;
  std::string s = "[";
  size_t off = kv.value_off;
  const size_t esz = scalar_size(kv.elem_type);
  for (uint64_t i = 0; i < kv.count && i < kShow; ++i) {
    if (i > 0) s += ", ";
    s += scalar(kv.elem_type, off);
    if (esz != 0) {
      off += esz;
    } else {
      std::string_view unused;
      off = impl_->string_at(off, &unused);
    }
  }
  if (kv.count > kShow) s += absl::StrFormat(", ... %d items", kv.count);
  s += "]";
  return s;
}

const std::vector<TensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

const TensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

}  // namespace gemma12b
