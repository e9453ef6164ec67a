// Model: a loaded Gemma 4 decoder (config + weights) bound to one device. Weights stay in the
// mmapped file on host-memory devices (views, no copy), except where the device keeps a matrix in
// a faster layout (Device::wrap_weight: the CPU backend's x16 tiles for q4_0), whose file pages
// are then released; norms that are not f32 in the file are converted once. Loading checks every tensor against the table in weights.h and names the first
// one that is missing, mis-shaped or of an unsupported type.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/weights.h"

namespace gemma12b {

// Progress of long work: fraction in [0, 1]; return false to cancel.
using ProgressFn = std::function<bool(float fraction)>;

struct LoadOptions {
  ProgressFn progress;  // optional
};

class Model {
 public:
  // `path` is a .gguf file, or an HF directory (config.json + *.safetensors) / .safetensors file.
  static StatusOr<std::unique_ptr<Model>> load(const std::string& path, Device& device,
                                               const LoadOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  Device& device() const { return *device_; }
  const std::string& path() const { return path_; }
  // "gguf" or "safetensors".
  const std::string& format() const { return format_; }
  // The GGUF file (nullptr for safetensors): metadata for the tokenizer and the CLI.
  const GgufFile* gguf() const { return gguf_.get(); }
  // Bytes of weight data referenced by the decoder.
  size_t weight_bytes() const { return weight_bytes_; }

  // One line per decoder tensor: name, dtype, shape (the CLI's tensor table).
  struct TensorRow {
    std::string name;
    std::string dtype;
    std::string shape;
    size_t bytes;
  };
  std::vector<TensorRow> tensor_table() const;

 private:
  Model() = default;
  Status bind(const std::function<const TensorInfo*(const TensorSpec&)>& find, bool hf,
              const LoadOptions& options);

  ModelConfig config_;
  Weights weights_;
  Device* device_ = nullptr;
  std::string path_, format_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsSet> safetensors_;
  std::vector<std::unique_ptr<Buffer>> buffers_;  // wrapped file regions and converted tensors
  std::vector<TensorRow> table_;
  size_t weight_bytes_ = 0;
};

}  // namespace gemma12b
