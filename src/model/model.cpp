#include "model/model.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_join.h"  // absl::StrJoin
#include "core/quant.h"
#include "io/hf_config.h"
#include "util/log.h"

namespace gemma12b {

Model::~Model() = default;

namespace {

std::string shape_str(const std::vector<int64_t>& s) { return "[" + absl::StrJoin(s, ", ") + "]"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

StatusOr<std::unique_ptr<Model>> Model::load(const std::string& path, Device& device,
                                             const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->device_ = &device;
  m->path_ = path;
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(path, ec);
  if (!is_dir && !std::filesystem::exists(path, ec)) return NotFound("model file %s does not exist", path);
  if (!is_dir && !ends_with(path, ".safetensors")) {
    m->format_ = "gguf";
    G12_ASSIGN_OR_RETURN(m->gguf_, GgufFile::open(path));
    G12_ASSIGN_OR_RETURN(m->config_, config_from_gguf(*m->gguf_));
    G12_RETURN_IF_ERROR(validate_config(m->config_));
    const GgufFile* g = m->gguf_.get();
    G12_RETURN_IF_ERROR(m->bind([g](const TensorSpec& s) { return g->find_tensor(s.gguf_name); },
                                /*hf=*/false, options));
  } else {
    m->format_ = "safetensors";
    const std::string dir = is_dir ? path : std::filesystem::path(path).parent_path().string();
    G12_ASSIGN_OR_RETURN(auto json, JsonConfig::load(dir + "/config.json"));
    G12_ASSIGN_OR_RETURN(m->config_, config_from_hf(*json));
    G12_RETURN_IF_ERROR(validate_config(m->config_));
    G12_ASSIGN_OR_RETURN(m->safetensors_, SafetensorsSet::open(path));
    const SafetensorsSet* st = m->safetensors_.get();
    G12_RETURN_IF_ERROR(m->bind([st](const TensorSpec& s) {
      return s.hf_name.empty() ? nullptr : st->find_tensor(s.hf_name);
    }, /*hf=*/true, options));
  }
  log_info("loaded %s (%s): %d layers, d_model %d, vocab %d, %.1f MiB of weights", path, m->format_,
           m->config_.n_layers, m->config_.d_model, m->config_.n_vocab, m->weight_bytes_ / 1048576.0);
  return m;
}

Status Model::bind(const std::function<const TensorInfo*(const TensorSpec&)>& find, bool hf,
                   const LoadOptions& options) {
  std::vector<TensorSpec> specs;
  for_each_tensor(config_, weights_, [&](TensorSpec& s) { specs.push_back(s); });
  size_t done = 0;
  // File ranges whose bytes now live in device copies. The file's pages are let go as each copy
  // completes, and once more at the end: a fault on a page of this file maps the page cache's
  // whole folio around it (2 MB on some kernels), so copying a small tensor later maps neighbours
  // that an earlier copy had already released.
  struct Released {
    const MappedFile* file;
    size_t offset, n;
  };
  std::vector<Released> released;
  for (TensorSpec& s : specs) {
    const TensorInfo* info = find(s);
    const std::string& name = hf ? s.hf_name : s.gguf_name;
    if (info == nullptr) {
      if (s.slot == &weights_.rope_freqs) {
        // HF checkpoints carry no rope_freqs: synthesise the proportional-RoPE divisors.
        const std::vector<float> ff = config_.full_rope_freq_factors();
        G12_ASSIGN_OR_RETURN(auto buf, device_->create_buffer(ff.size() * sizeof(float)));
        G12_RETURN_IF_ERROR(buf->upload(0, ff.data(), ff.size() * sizeof(float)));
        *s.slot = TensorView::contiguous(buf.get(), 0, DType::kF32, {static_cast<int64_t>(ff.size())});
        buffers_.push_back(std::move(buf));
        continue;
      }
      if (!s.required) continue;
      return InvalidArgument("%s: tensor %s is missing (expected shape %s)", path_, name, shape_str(s.shape));
    }
    // Shapes must match exactly; a scalar may be stored as [] or [1].
    std::vector<int64_t> got(info->shape.begin(), info->shape.begin() + info->rank);
    if (got.empty()) got.push_back(1);
    if (got != s.shape) {
      return InvalidArgument("%s: tensor %s has shape %s, expected %s", path_, name, shape_str(got), shape_str(s.shape));
    }
    if (info->dtype == DType::kI32) return InvalidArgument("%s: tensor %s is i32", path_, name);
    const bool convert = s.norm_like && info->dtype != DType::kF32;
    // Vectors and scalars (norm weights, rope_freqs: a few KB each) are copied even where the
    // device could read the file in place: read during every step, they would keep a 2 MB folio
    // of the file resident each, 130 MB for the 12B's norms.
    const bool small = s.shape.size() != 2;
    if (convert || small || !device_->caps().host_memory) {
      // Upload a copy (converted to f32 for norms) to device memory; the file's pages can go.
      const int64_t rows = s.shape.size() == 2 ? s.shape[0] : 1;
      const int64_t cols = s.shape.back();
      const DType dt = convert ? DType::kF32 : info->dtype;
      const size_t row_bytes = row_size(dt, cols);
      G12_ASSIGN_OR_RETURN(auto buf, device_->create_buffer(rows * row_bytes));
      if (convert) {
        std::vector<float> tmp(cols);
        const size_t src_row = row_size(info->dtype, cols);
        for (int64_t r = 0; r < rows; ++r) {
          dequantize_row(info->dtype, info->data() + r * src_row, tmp.data(), cols);
          G12_RETURN_IF_ERROR(buf->upload(r * row_bytes, tmp.data(), row_bytes));
        }
      } else {
        G12_RETURN_IF_ERROR(buf->upload(0, info->data(), info->nbytes));
      }
      *s.slot = TensorView::contiguous(buf.get(), 0, dt, static_cast<int>(s.shape.size()), s.shape.data());
      buffers_.push_back(std::move(buf));
      released.push_back({info->mapping.get(), info->offset, info->nbytes});
      info->mapping->release(info->offset, info->nbytes);
    } else {
      // Matrices (every other tensor is a 2-D matmul weight) may get a device-side copy in a
      // faster layout; then the file's pages are let go, so the weights stay resident once, not twice.
      const MappedFile& file = *info->mapping;
      const size_t base = info->offset;
      size_t copied = 0;
      G12_ASSIGN_OR_RETURN(
          auto buf, device_->wrap_weight(const_cast<uint8_t*>(info->data()), info->nbytes, info->dtype,
                                         s.shape[0], s.shape[1], [&file, base, &copied](size_t o, size_t n) {
                                           file.release(base + o, n);
                                           copied = std::max(copied, o + n);
                                         }));
      if (copied > 0) released.push_back({&file, base, copied});  // reported as growing prefixes
      *s.slot = TensorView::contiguous(buf.get(), 0, info->dtype, 2, s.shape.data());
      buffers_.push_back(std::move(buf));
    }
    weight_bytes_ += info->nbytes;
    table_.push_back({name, std::string(dtype_name(info->dtype)), shape_str(s.shape), info->nbytes});
    ++done;
    if (options.progress && !options.progress(static_cast<float>(done) / specs.size())) {
      return absl::CancelledError("model loading cancelled");
    }
  }
  for (const Released& r : released) r.file->release(r.offset, r.n);
  return OkStatus();
}

std::vector<Model::TensorRow> Model::tensor_table() const { return table_; }

}  // namespace gemma12b
