// The encoder-free multimodal embedders (spec MODEL.md 2.3 and 3): raw 48x48 pixel patches and
// raw 640-sample audio frames projected straight to decoder rows. Loaded from a llama.cpp mmproj
// GGUF (`clip` with gemma4uv/gemma4ua projectors; CHW-permuted patch weights, un-permuted here)
// or from the HF checkpoint (HWC). One internal layout (HWC), so both give the same numbers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"
#include "model/multimodal/preprocess.h"
#include "util/status.h"

namespace gemma12b {

class Embedders {
 public:
  // `path`: an mmproj .gguf, or an HF directory / .safetensors holding `model.vision_embedder.*`.
  static StatusOr<std::unique_ptr<Embedders>> load(const std::string& path, Device& device);
  ~Embedders();

  bool has_vision() const { return has_vision_; }
  bool has_audio() const { return has_audio_; }
  int64_t n_embd() const { return n_embd_; }  // rows produced (= the decoder's d_model)
  // CPU threads for preprocessing (image_to_patches) next to this device's work.
  int host_threads() const { return device_->caps().host_threads; }

  // [n, n_embd] rows for the decoder (inserted unscaled).
  StatusOr<std::vector<float>> embed_image(const ImagePatches& patches);
  StatusOr<std::vector<float>> embed_audio(const std::vector<float>& frames, int64_t n_frames);

 private:
  Embedders() = default;
  Status load_gguf(const std::string& path);
  Status load_hf(const std::string& path);
  StatusOr<TensorView> upload_f32(const std::vector<float>& data, std::vector<int64_t> shape);

  Device* device_ = nullptr;
  std::unique_ptr<Stream> stream_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::shared_ptr<void> keep_alive_;  // the mapped file the projection views point into
  bool has_vision_ = false, has_audio_ = false;
  int64_t n_embd_ = 0;
  float rms_eps_ = 1e-6f;
  // Vision (HWC order): patch LayerNorm, dense, LayerNorm, position tables [2 * 1120, n_embd]
  // (x table then y table), pos LayerNorm, projection.
  TensorView ln1_w_, ln1_b_, dense_w_, dense_b_, ln2_w_, ln2_b_, pos_, pos_w_, pos_b_, vproj_;
  int64_t pos_size_ = 1120;
  TensorView aproj_;  // audio projection [n_embd, 640]
};

}  // namespace gemma12b
