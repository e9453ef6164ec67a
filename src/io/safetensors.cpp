#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

namespace gemma12b {

static_assert(std::endian::native == std::endian::little,
              "safetensors reader assumes a little-endian host");

namespace {

using Json = nlohmann::json;  // std::map objects: O(log n) inserts even for hostile headers

std::string printable(std::string_view s, size_t max_len = 96) {
  std::string out(s.substr(0, max_len));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  if (s.size() > max_len) out += "...";
  return out;
}

// A non-negative JSON integer (int64 range).
bool json_index(const Json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = v;
    return true;
  }
  return false;
}

Status parse_tensor(const std::string& path, const std::string& name, const Json& e,
                    const std::shared_ptr<MappedFile>& file, size_t data_start, size_t data_size,
                    TensorInfo* ti) {
  const std::string pname = printable(name);
  if (!e.is_object()) {
    return InvalidArgument("%s: safetensors entry '%s' is not an object", path, pname);
  }
  auto dt = e.find("dtype");
  auto sh = e.find("shape");
  auto of = e.find("data_offsets");
  if (dt == e.end() || sh == e.end() || of == e.end()) {
    return InvalidArgument("%s: safetensors tensor '%s' lacks dtype, shape or data_offsets", path, pname);
  }
  if (!dt->is_string()) {
    return InvalidArgument("%s: safetensors tensor '%s': dtype is not a string", path, pname);
  }
  const std::string& dts = dt->get_ref<const std::string&>();
  if (dts == "F32") {
    ti->dtype = DType::kF32;
  } else if (dts == "F16") {
    ti->dtype = DType::kF16;
  } else if (dts == "BF16") {
    ti->dtype = DType::kBF16;
  } else {
    return Unimplemented("%s: safetensors tensor '%s' has unsupported dtype '%s' (supported: F32, F16, BF16)",
                         path, pname, printable(dts, 32));
  }
  if (!sh->is_array()) {
    return InvalidArgument("%s: safetensors tensor '%s': shape is not an array", path, pname);
  }
  if (sh->size() > static_cast<size_t>(kMaxDims)) {
    return Unimplemented("%s: safetensors tensor '%s' has rank %d (at most %d supported)", path,
                         pname, sh->size(), kMaxDims);
  }
  const size_t esize = dtype_traits(ti->dtype).block_bytes;
  uint64_t bytes = esize;
  if (sh->empty()) {  // a scalar: stored as rank 1, shape {1}
    ti->rank = 1;
    ti->shape = {1, 0, 0, 0};
  } else {
    ti->rank = static_cast<int>(sh->size());
    for (int d = 0; d < ti->rank; ++d) {
      int64_t v = 0;
      if (!json_index((*sh)[static_cast<size_t>(d)], &v)) {
        return InvalidArgument("%s: safetensors tensor '%s': shape[%d] is not a non-negative integer",
                               path, pname, d);
      }
      if (v == 0) {
        return Unimplemented("%s: safetensors tensor '%s' is empty (shape has a zero dimension)",
                             path, pname);
      }
      ti->shape[static_cast<size_t>(d)] = v;
      // `bytes` stays <= data_size (checked each step), so the product cannot overflow.
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(v), &bytes) || bytes > data_size) {
        return InvalidArgument("%s: safetensors tensor '%s': shape %s is larger than the data section "
                               "(%d bytes)", path, pname, sh->dump(), data_size);
      }
    }
  }
  if (!of->is_array() || of->size() != 2) {
    return InvalidArgument("%s: safetensors tensor '%s': data_offsets is not [begin, end]", path, pname);
  }
  int64_t b = 0, en = 0;
  if (!json_index((*of)[0], &b) || !json_index((*of)[1], &en) || b > en) {
    return InvalidArgument("%s: safetensors tensor '%s': invalid data_offsets %s", path, pname, of->dump());
  }
  if (static_cast<uint64_t>(en) > data_size) {
    return InvalidArgument("%s: truncated or corrupt safetensors: tensor '%s' data_offsets %s end past "
                           "the data section (%d bytes)", path, pname, of->dump(), data_size);
  }
  if (static_cast<uint64_t>(en - b) != bytes) {
    return InvalidArgument("%s: safetensors tensor '%s': data_offsets %s span %d bytes, but %s %s needs %d",
                           path, pname, of->dump(), en - b, dts, sh->dump(), bytes);
  }
  ti->name = name;
  ti->mapping = file;
  ti->offset = data_start + static_cast<size_t>(b);
  ti->nbytes = static_cast<size_t>(bytes);
  return OkStatus();
}

Status parse_one(const std::shared_ptr<MappedFile>& file, std::vector<TensorInfo>* out) {
  const std::string& path = file->path();
  const size_t size = file->size();
  if (size < 8) {
    return InvalidArgument("%s: truncated safetensors file (%d bytes, need an 8-byte header length)",
                           path, size);
  }
  uint64_t n = 0;
  std::memcpy(&n, file->data(), 8);
  if (n > size - 8) {
    return InvalidArgument("%s: truncated or corrupt safetensors: header length %d exceeds the %d bytes "
                           "after it", path, n, size - 8);
  }
  if (n < 2) return InvalidArgument("%s: corrupt safetensors: header length %d", path, n);
  // Same limit as the reference implementation (safetensors' MAX_HEADER_SIZE); keeps the JSON
  // tree of a hostile header bounded.
  constexpr uint64_t kMaxHeaderBytes = 100'000'000;
  if (n > kMaxHeaderBytes) {
    return InvalidArgument("%s: corrupt safetensors: header length %d exceeds %d bytes", path, n,
                           kMaxHeaderBytes);
  }
  const char* hb = reinterpret_cast<const char*>(file->data() + 8);
  const size_t data_start = 8 + static_cast<size_t>(n);
  const size_t data_size = size - data_start;

  // Top-level keys seen twice would be silently merged by the parser: catch them in the callback.
  // The callback also records the file order of the entries (Json objects are sorted by key).
  std::unordered_set<std::string> top_keys;
  std::vector<std::string> order;
  std::string duplicate;
  bool has_duplicate = false;
  auto cb = [&](int depth, nlohmann::detail::parse_event_t ev, Json& parsed) {
    if (ev == nlohmann::detail::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !has_duplicate) {
      std::string k = parsed.get<std::string>();
      if (!top_keys.insert(k).second) {
        has_duplicate = true;
        duplicate = std::move(k);
      } else {
        order.push_back(std::move(k));
      }
    }
    return true;
  };
  Json header = Json::parse(hb, hb + n, cb, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return InvalidArgument("%s: corrupt safetensors: header (%d bytes) is not valid JSON", path, n);
  }
  if (!header.is_object()) {
    return InvalidArgument("%s: corrupt safetensors: header is not a JSON object", path);
  }
  if (has_duplicate) {
    return InvalidArgument("%s: corrupt safetensors: duplicate header entry '%s'", path, printable(duplicate));
  }
  out->reserve(out->size() + header.size());
  if (order.size() != header.size()) {
    return Internal("%s: safetensors header key bookkeeping mismatch", path);
  }
  for (const std::string& key : order) {
    auto it = header.find(key);
    if (it == header.end()) return Internal("%s: safetensors header key bookkeeping mismatch", path);
    if (it.key() == "__metadata__") {
      if (!it.value().is_object() && !it.value().is_null()) {
        return InvalidArgument("%s: safetensors __metadata__ is not an object", path);
      }
      continue;
    }
    TensorInfo ti;
    G12_RETURN_IF_ERROR(parse_tensor(path, it.key(), it.value(), file, data_start, data_size, &ti));
    out->push_back(std::move(ti));
  }
  return OkStatus();
}

}  // namespace

namespace safetensors_detail {
struct State {
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> index;
  std::string directory;
};
}  // namespace safetensors_detail

struct SafetensorsSet::Impl : safetensors_detail::State {};

namespace {

// Adds one file's tensors; a name already present (another shard) is an error.
Status add_file(safetensors_detail::State& s, const std::shared_ptr<MappedFile>& file) {
  std::vector<TensorInfo> ts;
  G12_RETURN_IF_ERROR(parse_one(file, &ts));
  for (TensorInfo& t : ts) {
    auto [it, inserted] = s.index.emplace(t.name, s.tensors.size());
    if (!inserted) {
      return InvalidArgument("duplicate tensor '%s': in %s and in %s", printable(t.name),
                             s.tensors[it->second].mapping->path(), file->path());
    }
    s.tensors.push_back(std::move(t));
  }
  return OkStatus();
}

}  // namespace

SafetensorsSet::SafetensorsSet() = default;
SafetensorsSet::~SafetensorsSet() = default;

StatusOr<std::unique_ptr<SafetensorsSet>> SafetensorsSet::open(const std::string& path) {
  namespace fs = std::filesystem;
  try {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return NotFound("%s: no such file or directory", path);
    std::vector<std::string> files;
    std::string dir;
    if (fs::is_directory(st)) {
      dir = path;
      fs::directory_iterator it(path, ec), end;
      if (ec) return Internal("%s: cannot list directory: %s", path, ec.message());
      for (; it != end; it.increment(ec)) {
        if (ec) return Internal("%s: cannot list directory: %s", path, ec.message());
        const fs::path& p = it->path();
        std::error_code ec2;
        if (p.extension() == ".safetensors" && fs::is_regular_file(it->status(ec2))) {
          files.push_back(p.string());
        }
      }
      if (ec) return Internal("%s: cannot list directory: %s", path, ec.message());
      if (files.empty()) return NotFound("%s: no .safetensors files in directory", path);
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
      dir = fs::path(path).parent_path().string();
      if (dir.empty()) dir.assign(1, '.');
    }
    std::unique_ptr<SafetensorsSet> set(new SafetensorsSet());
    set->impl_ = std::make_unique<Impl>();
    set->impl_->directory = dir;
    // A sharded checkpoint's index names the shard of every tensor: open exactly those shards
    // and check that each tensor is where the index says.
    const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
    nlohmann::json weight_map;
    if (fs::is_directory(st) && fs::exists(index_path, ec)) {
      G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> idx, MappedFile::open(index_path.string()));
      const nlohmann::json j = nlohmann::json::parse(idx->data(), idx->data() + idx->size(), nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
        return DataLoss("%s: not a safetensors index (no weight_map object)", index_path.string());
      }
      weight_map = j["weight_map"];
      std::vector<std::string> shards;
      for (const auto& [tensor, shard] : weight_map.items()) {
        if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos) {
          return DataLoss("%s: tensor %s has an invalid shard name", index_path.string(), tensor);
        }
        shards.push_back((fs::path(dir) / shard.get<std::string>()).string());
      }
      std::sort(shards.begin(), shards.end());
      shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
      for (const std::string& f : shards) {
        if (!fs::exists(f, ec)) return NotFound("%s lists shard %s, which does not exist", index_path.string(), f);
      }
      files = shards;
    }
    for (const std::string& f : files) {
      G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> mf, MappedFile::open(f));
      G12_RETURN_IF_ERROR(add_file(*set->impl_, mf));
    }
    for (const auto& [tensor, shard] : weight_map.items()) {
      const TensorInfo* t = set->find_tensor(tensor);
      if (t == nullptr) return DataLoss("%s lists tensor %s, which no shard holds", index_path.string(), tensor);
      if (fs::path(t->mapping->path()).filename() != shard.get<std::string>()) {
        return DataLoss("%s puts tensor %s in %s, but it is in %s", index_path.string(), tensor,
                        shard.get<std::string>(), fs::path(t->mapping->path()).filename().string());
      }
    }
    return set;
  } catch (const std::exception& e) {
    return Internal("%s: safetensors open failed: %s", path, e.what());
  }
}

StatusOr<std::unique_ptr<SafetensorsSet>> SafetensorsSet::parse(std::shared_ptr<MappedFile> file) {
  if (file == nullptr) return InvalidArgument("SafetensorsSet::parse: null file");
  const std::string path = file->path();
  try {
    std::unique_ptr<SafetensorsSet> set(new SafetensorsSet());
    set->impl_ = std::make_unique<Impl>();
    G12_RETURN_IF_ERROR(add_file(*set->impl_, file));
    return set;
  } catch (const std::exception& e) {
    return Internal("%s: safetensors parse failed: %s", path, e.what());
  }
}

const std::vector<TensorInfo>& SafetensorsSet::tensors() const { return impl_->tensors; }

const TensorInfo* SafetensorsSet::find_tensor(const std::string& name) const {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const std::string& SafetensorsSet::directory() const { return impl_->directory; }

}  // namespace gemma12b
