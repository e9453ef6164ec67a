#include "model/multimodal/embedders.h"

#include <filesystem>

#include "core/ops.h"
#include "core/quant.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace gemma12b {

namespace {

constexpr float kLayerNormEps = 1e-5f;  // PyTorch nn.LayerNorm default, as HF and llama.cpp use

// All elements of a tensor as f32.
std::vector<float> to_f32(const TensorInfo& t) {
  const int64_t cols = t.shape[t.rank - 1], rows = t.numel() / cols;
  std::vector<float> out(t.numel());
  const size_t rb = row_size(t.dtype, cols);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t.dtype, t.data() + r * rb, &out[r * cols], cols);
  return out;
}

// HWC index of CHW position i within a 48x48x3 patch (llama.cpp's im2col order).
int64_t hwc_of_chw(int64_t i) {
  const int64_t plane = kPatchPixels * kPatchPixels;
  const int64_t ch = i / plane, row = (i % plane) / kPatchPixels, col = i % kPatchPixels;
  return (row * kPatchPixels + col) * 3 + ch;
}

Status expect_shape(const TensorInfo* t, const std::string& name, std::vector<int64_t> shape) {
  if (t == nullptr) return InvalidArgument("multimodal projector: tensor %s is missing", name);
  std::vector<int64_t> got(t->shape.begin(), t->shape.begin() + t->rank);
  if (got != shape) return InvalidArgument("multimodal projector: tensor %s has shape %s", name, t->shape_string());
  return OkStatus();
}

}  // namespace

Embedders::~Embedders() = default;

StatusOr<std::unique_ptr<Embedders>> Embedders::load(const std::string& path, Device& device) {
  std::unique_ptr<Embedders> e(new Embedders());
  e->device_ = &device;
  G12_ASSIGN_OR_RETURN(e->stream_, device.create_stream());
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec) || (path.size() >= 12 && path.substr(path.size() - 12) == ".safetensors")) {
    G12_RETURN_IF_ERROR(e->load_hf(path));
  } else {
    G12_RETURN_IF_ERROR(e->load_gguf(path));
  }
  if (!e->has_vision_ && !e->has_audio_) return InvalidArgument("%s holds neither a vision nor an audio projector", path);
  return e;
}

StatusOr<TensorView> Embedders::upload_f32(const std::vector<float>& data, std::vector<int64_t> shape) {
  G12_ASSIGN_OR_RETURN(auto buf, device_->create_buffer(data.size() * sizeof(float)));
  G12_RETURN_IF_ERROR(buf->upload(0, data.data(), data.size() * sizeof(float)));
  TensorView v = TensorView::contiguous(buf.get(), 0, DType::kF32, static_cast<int>(shape.size()), shape.data());
  buffers_.push_back(std::move(buf));
  return v;
}

Status Embedders::load_gguf(const std::string& path) {
  G12_ASSIGN_OR_RETURN(auto g, GgufFile::open(path));
  G12_ASSIGN_OR_RETURN(std::string arch, g->get_string("general.architecture"));
  if (arch != "clip") return InvalidArgument("%s: general.architecture is '%s', expected an mmproj ('clip')", path, arch);
  auto find = [&](const char* n) { return g->find_tensor(n); };
  if (g->has("clip.vision.projector_type")) {
    G12_ASSIGN_OR_RETURN(std::string type, g->get_string("clip.vision.projector_type"));
    if (type != "gemma4uv") return Unimplemented("%s: vision projector '%s' is not gemma4uv", path, type);
    G12_ASSIGN_OR_RETURN(n_embd_, g->get_int("clip.vision.projection_dim"));
    if (g->has("clip.vision.attention.layer_norm_epsilon")) {
      G12_ASSIGN_OR_RETURN(double eps, g->get_float("clip.vision.attention.layer_norm_epsilon"));
      rms_eps_ = static_cast<float>(eps);
    }
    const int64_t d = n_embd_;
    const TensorInfo* ln1w = find("v.patch_norm.1.weight");
    const TensorInfo* ln1b = find("v.patch_norm.1.bias");
    const TensorInfo* dw = find("v.patch_embd.weight");
    G12_RETURN_IF_ERROR(expect_shape(ln1w, "v.patch_norm.1.weight", {kPatchDim}));
    G12_RETURN_IF_ERROR(expect_shape(ln1b, "v.patch_norm.1.bias", {kPatchDim}));
    G12_RETURN_IF_ERROR(expect_shape(dw, "v.patch_embd.weight", {d, kPatchDim}));
    // Un-permute the CHW columns to HWC.
    std::vector<float> w1 = to_f32(*ln1w), b1 = to_f32(*ln1b), dense = to_f32(*dw);
    std::vector<float> w1h(kPatchDim), b1h(kPatchDim), denseh(dense.size());
    for (int64_t i = 0; i < kPatchDim; ++i) {
      w1h[hwc_of_chw(i)] = w1[i];
      b1h[hwc_of_chw(i)] = b1[i];
    }
    for (int64_t r = 0; r < d; ++r) {
      for (int64_t i = 0; i < kPatchDim; ++i) denseh[r * kPatchDim + hwc_of_chw(i)] = dense[r * kPatchDim + i];
    }
    G12_ASSIGN_OR_RETURN(ln1_w_, upload_f32(w1h, {kPatchDim}));
    G12_ASSIGN_OR_RETURN(ln1_b_, upload_f32(b1h, {kPatchDim}));
    G12_ASSIGN_OR_RETURN(dense_w_, upload_f32(denseh, {d, kPatchDim}));
    struct Vec {
      const char* name;
      TensorView* slot;
    };
    for (Vec v : {Vec{"v.patch_embd.bias", &dense_b_}, Vec{"v.patch_norm.2.weight", &ln2_w_}, Vec{"v.patch_norm.2.bias", &ln2_b_},
                  Vec{"v.patch_norm.3.weight", &pos_w_}, Vec{"v.patch_norm.3.bias", &pos_b_}}) {
      const TensorInfo* t = find(v.name);
      G12_RETURN_IF_ERROR(expect_shape(t, v.name, {d}));
      G12_ASSIGN_OR_RETURN(*v.slot, upload_f32(to_f32(*t), {d}));
    }
    const TensorInfo* pos = find("v.position_embd.weight");  // [2, P, d]: x table then y table
    if (pos == nullptr || pos->rank != 3 || pos->shape[0] != 2 || pos->shape[2] != d) {
      return InvalidArgument("%s: v.position_embd.weight missing or not [2, P, %d]", path, d);
    }
    pos_size_ = pos->shape[1];
    G12_ASSIGN_OR_RETURN(pos_, upload_f32(to_f32(*pos), {2 * pos_size_, d}));
    const TensorInfo* proj = find("mm.input_projection.weight");
    G12_RETURN_IF_ERROR(expect_shape(proj, "mm.input_projection.weight", {d, d}));
    G12_ASSIGN_OR_RETURN(vproj_, upload_f32(to_f32(*proj), {d, d}));
    has_vision_ = true;
  }
  if (g->has("clip.audio.projector_type")) {
    G12_ASSIGN_OR_RETURN(std::string type, g->get_string("clip.audio.projector_type"));
    if (type != "gemma4ua") return Unimplemented("%s: audio projector '%s' is not gemma4ua", path, type);
    G12_ASSIGN_OR_RETURN(int64_t d, g->get_int("clip.audio.projection_dim"));
    if (n_embd_ != 0 && d != n_embd_) return InvalidArgument("%s: audio and vision projection sizes differ", path);
    n_embd_ = d;
    const TensorInfo* proj = find("mm.a.input_projection.weight");
    G12_RETURN_IF_ERROR(expect_shape(proj, "mm.a.input_projection.weight", {d, kAudioFrame}));
    G12_ASSIGN_OR_RETURN(aproj_, upload_f32(to_f32(*proj), {d, kAudioFrame}));
    has_audio_ = true;
  }
  return OkStatus();
}

Status Embedders::load_hf(const std::string& path) {
  G12_ASSIGN_OR_RETURN(auto st, SafetensorsSet::open(path));
  auto find = [&](const std::string& n) { return st->find_tensor("model." + n); };
  if (const TensorInfo* dw = find("vision_embedder.patch_dense.weight"); dw != nullptr) {
    const int64_t d = dw->shape[0];
    n_embd_ = d;
    G12_RETURN_IF_ERROR(expect_shape(dw, "vision_embedder.patch_dense.weight", {d, kPatchDim}));
    G12_ASSIGN_OR_RETURN(dense_w_, upload_f32(to_f32(*dw), {d, kPatchDim}));
    struct Vec {
      const char* name;
      int64_t n;
      TensorView* slot;
    };
    for (Vec v : {Vec{"vision_embedder.patch_ln1.weight", kPatchDim, &ln1_w_}, Vec{"vision_embedder.patch_ln1.bias", kPatchDim, &ln1_b_},
                  Vec{"vision_embedder.patch_dense.bias", d, &dense_b_}, Vec{"vision_embedder.patch_ln2.weight", d, &ln2_w_},
                  Vec{"vision_embedder.patch_ln2.bias", d, &ln2_b_}, Vec{"vision_embedder.pos_norm.weight", d, &pos_w_},
                  Vec{"vision_embedder.pos_norm.bias", d, &pos_b_}}) {
      const TensorInfo* t = find(v.name);
      G12_RETURN_IF_ERROR(expect_shape(t, v.name, {v.n}));
      G12_ASSIGN_OR_RETURN(*v.slot, upload_f32(to_f32(*t), {v.n}));
    }
    const TensorInfo* pos = find("vision_embedder.pos_embedding");  // [P, 2, d] -> [2, P, d]
    if (pos == nullptr || pos->rank != 3 || pos->shape[1] != 2 || pos->shape[2] != d) {
      return InvalidArgument("%s: vision_embedder.pos_embedding missing or not [P, 2, %d]", path, d);
    }
    pos_size_ = pos->shape[0];
    const std::vector<float> p = to_f32(*pos);
    std::vector<float> q(p.size());
    for (int64_t i = 0; i < pos_size_; ++i) {
      for (int64_t t = 0; t < 2; ++t) std::copy_n(&p[(i * 2 + t) * d], d, &q[(t * pos_size_ + i) * d]);
    }
    G12_ASSIGN_OR_RETURN(pos_, upload_f32(q, {2 * pos_size_, d}));
    const TensorInfo* proj = find("embed_vision.embedding_projection.weight");
    G12_RETURN_IF_ERROR(expect_shape(proj, "embed_vision.embedding_projection.weight", {d, d}));
    G12_ASSIGN_OR_RETURN(vproj_, upload_f32(to_f32(*proj), {d, d}));
    has_vision_ = true;
  }
  if (const TensorInfo* ap = find("embed_audio.embedding_projection.weight"); ap != nullptr) {
    const int64_t d = ap->shape[0];
    if (n_embd_ != 0 && d != n_embd_) return InvalidArgument("%s: audio and vision projection sizes differ", path);
    n_embd_ = d;
    G12_RETURN_IF_ERROR(expect_shape(ap, "embed_audio.embedding_projection.weight", {d, kAudioFrame}));
    G12_ASSIGN_OR_RETURN(aproj_, upload_f32(to_f32(*ap), {d, kAudioFrame}));
    has_audio_ = true;
  }
  return OkStatus();
}

StatusOr<std::vector<float>> Embedders::embed_image(const ImagePatches& p) {
  if (!has_vision_) return Unimplemented("the projector file has no vision embedder");
  const int64_t n = p.n, d = n_embd_;
  if (n <= 0 || static_cast<int64_t>(p.pixels.size()) != n * kPatchDim ||
      static_cast<int64_t>(p.pos_x.size()) != n || static_cast<int64_t>(p.pos_y.size()) != n) {
    return InvalidArgument("image patches are inconsistent (%d patches)", n);
  }
  std::vector<int32_t> ix(n), iy(n);
  for (int64_t i = 0; i < n; ++i) {
    if (p.pos_x[i] < 0 || p.pos_x[i] >= pos_size_ || p.pos_y[i] < 0 || p.pos_y[i] >= pos_size_) {
      return InvalidArgument("patch position (%d, %d) outside the %d-entry position tables", p.pos_x[i], p.pos_y[i], pos_size_);
    }
    ix[i] = p.pos_x[i];
    iy[i] = static_cast<int32_t>(pos_size_) + p.pos_y[i];
  }
  G12_ASSIGN_OR_RETURN(TensorView x, upload_f32(p.pixels, {n, kPatchDim}));
  G12_ASSIGN_OR_RETURN(TensorView h, upload_f32(std::vector<float>(n * d), {n, d}));
  G12_ASSIGN_OR_RETURN(TensorView t, upload_f32(std::vector<float>(n * d), {n, d}));
  G12_ASSIGN_OR_RETURN(auto idbuf, device_->create_buffer(2 * n * sizeof(int32_t)));
  G12_RETURN_IF_ERROR(idbuf->upload(0, ix.data(), n * sizeof(int32_t)));
  G12_RETURN_IF_ERROR(idbuf->upload(n * sizeof(int32_t), iy.data(), n * sizeof(int32_t)));
  const TensorView idx = TensorView::contiguous(idbuf.get(), 0, DType::kI32, {n});
  const TensorView idy = TensorView::contiguous(idbuf.get(), n * sizeof(int32_t), DType::kI32, {n});
  Stream& s = *stream_;
  // h = LayerNorm1(p); h = W_dense h + b; h = LayerNorm2(h)
  G12_RETURN_IF_ERROR(ops::layer_norm(s, x, x, ln1_w_, ln1_b_, kLayerNormEps));
  G12_RETURN_IF_ERROR(ops::matmul(s, h, x, dense_w_, dense_b_));
  G12_RETURN_IF_ERROR(ops::layer_norm(s, h, h, ln2_w_, ln2_b_, kLayerNormEps));
  // h += P_x[x] + P_y[y]; h = LayerNorm3(h)
  G12_RETURN_IF_ERROR(ops::get_rows(s, t, pos_, idx, 1.0f));
  G12_RETURN_IF_ERROR(ops::add(s, h, h, t));
  G12_RETURN_IF_ERROR(ops::get_rows(s, t, pos_, idy, 1.0f));
  G12_RETURN_IF_ERROR(ops::add(s, h, h, t));
  G12_RETURN_IF_ERROR(ops::layer_norm(s, h, h, pos_w_, pos_b_, kLayerNormEps));
  // out = W_proj RMSNorm_noscale(h)
  G12_RETURN_IF_ERROR(ops::rms_norm(s, h, h, TensorView{}, rms_eps_));
  G12_RETURN_IF_ERROR(ops::matmul(s, t, h, vproj_));
  G12_RETURN_IF_ERROR(s.synchronize());
  std::vector<float> out(n * d);
  G12_RETURN_IF_ERROR(t.buffer->download(t.offset, out.data(), out.size() * sizeof(float)));
  // The per-call buffers were appended to buffers_ by upload_f32; drop them again.
  buffers_.resize(buffers_.size() - 3);
  return out;
}

StatusOr<std::vector<float>> Embedders::embed_audio(const std::vector<float>& frames, int64_t n) {
  if (!has_audio_) return Unimplemented("the projector file has no audio embedder");
  if (n <= 0 || static_cast<int64_t>(frames.size()) != n * kAudioFrame) {
    return InvalidArgument("audio frames are inconsistent (%d frames, %d samples)", n, frames.size());
  }
  const int64_t d = n_embd_;
  G12_ASSIGN_OR_RETURN(TensorView x, upload_f32(frames, {n, kAudioFrame}));
  G12_ASSIGN_OR_RETURN(TensorView y, upload_f32(std::vector<float>(n * d), {n, d}));
  Stream& s = *stream_;
  // e = W_a RMSNorm_noscale(frame)
  G12_RETURN_IF_ERROR(ops::rms_norm(s, x, x, TensorView{}, rms_eps_));
  G12_RETURN_IF_ERROR(ops::matmul(s, y, x, aproj_));
  G12_RETURN_IF_ERROR(s.synchronize());
  std::vector<float> out(n * d);
  G12_RETURN_IF_ERROR(y.buffer->download(y.offset, out.data(), out.size() * sizeof(float)));
  buffers_.resize(buffers_.size() - 2);
  return out;
}

}  // namespace gemma12b
