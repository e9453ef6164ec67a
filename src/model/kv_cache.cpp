#include "model/kv_cache.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "io/mapped_file.h"

namespace gemma12b {

StatusOr<std::unique_ptr<KvCache>> KvCache::create(const ModelConfig& c, Device& device,
                                                   const KvCacheOptions& o) {
  if (o.dtype != DType::kF32 && o.dtype != DType::kF16 && o.dtype != DType::kQ8_0) {
    return InvalidArgument("KV cache type must be f32, f16 or q8_0, not %s", std::string(dtype_name(o.dtype)));
  }
  if (o.n_ctx <= 0 || o.n_ctx > c.max_context) {
    return InvalidArgument("context size %d outside [1, %d]", o.n_ctx, c.max_context);
  }
  if (o.max_ubatch <= 0) return InvalidArgument("max_ubatch must be positive");
  std::unique_ptr<KvCache> kv(new KvCache());
  kv->options_ = o;
  kv->layers_.resize(c.n_layers);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    Layer& L = kv->layers_[l];
    L.ring = !c.is_full(l) && c.sliding_window + o.max_ubatch < o.n_ctx;
    L.slots = L.ring ? c.sliding_window + o.max_ubatch : o.n_ctx;
    const int64_t hd = c.head_dim(l), nkv = c.kv_heads(l);
    if (!row_size_checked(o.dtype, hd)) {
      return InvalidArgument("head dim %d is not a multiple of the %s block", hd, std::string(dtype_name(o.dtype)));
    }
    const size_t bytes = L.slots * nkv * row_size(o.dtype, hd);
    G12_ASSIGN_OR_RETURN(L.k_buf, device.create_buffer(bytes));
    G12_ASSIGN_OR_RETURN(L.v_buf, device.create_buffer(bytes));
    G12_ASSIGN_OR_RETURN(L.meta_buf, device.create_buffer(2 * L.slots * sizeof(int32_t)));
    L.k = kv_view(L.k_buf.get(), o.dtype, L.slots, nkv, hd);
    L.v = kv_view(L.v_buf.get(), o.dtype, L.slots, nkv, hd);
    L.kpos = TensorView::contiguous(L.meta_buf.get(), 0, DType::kI32, {L.slots});
    L.kblock = TensorView::contiguous(L.meta_buf.get(), L.slots * sizeof(int32_t), DType::kI32, {L.slots});
    kv->bytes_ += 2 * bytes + 2 * L.slots * sizeof(int32_t);
  }
  G12_RETURN_IF_ERROR(kv->clear());
  return kv;
}

TensorView KvCache::kv_view(Buffer* buffer, DType dtype, int64_t slots, int64_t n_kv, int64_t head_dim) {
  TensorView v = TensorView::contiguous(buffer, 0, dtype, {slots, n_kv, head_dim});
  v.stride[0] = row_size(dtype, head_dim);
  v.stride[1] = slots * v.stride[0];
  return v;
}

Status KvCache::upload_meta(Layer& L) {
  G12_RETURN_IF_ERROR(L.meta_buf->upload(0, L.pos_host.data(), L.slots * sizeof(int32_t)));
  return L.meta_buf->upload(L.slots * sizeof(int32_t), L.block_host.data(), L.slots * sizeof(int32_t));
}

Status KvCache::clear() {
  for (Layer& L : layers_) {
    L.pos_host.assign(L.slots, -1);
    L.block_host.assign(L.slots, -1);
    G12_RETURN_IF_ERROR(upload_meta(L));
  }
  n_past_ = 0;
  return OkStatus();
}

Status KvCache::truncate(int64_t n) {
  if (n < 0 || n > n_past_) return InvalidArgument("cannot truncate a cache of %d positions to %d", n_past_, n);
  for (Layer& L : layers_) {
    if (!L.ring) continue;
    // Future queries (positions >= n) see keys back to n - window; the ring must still hold them.
    const int64_t window = L.slots - options_.max_ubatch;
    for (int64_t p = std::max<int64_t>(0, n - window); p < n; ++p) {
      if (L.pos_host[p % L.slots] != p) {
        return InvalidArgument("cannot truncate to %d: the sliding-window ring no longer holds position %d "
                               "(truncate by at most %d positions at a time)", n, p, options_.max_ubatch);
      }
    }
  }
  for (Layer& L : layers_) {
    for (int64_t s = 0; s < L.slots; ++s) {
      if (L.pos_host[s] >= n) {
        L.pos_host[s] = -1;
        L.block_host[s] = -1;
      }
    }
    G12_RETURN_IF_ERROR(upload_meta(L));
  }
  n_past_ = n;
  return OkStatus();
}

Status KvCache::copy_from(const KvCache& other) {
  if (other.layers_.size() != layers_.size() || other.options_.n_ctx != options_.n_ctx ||
      other.options_.dtype != options_.dtype || other.options_.max_ubatch != options_.max_ubatch) {
    return InvalidArgument("KV caches differ in shape or type; cannot copy");
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    const Layer& O = other.layers_[l];
    G12_RETURN_IF_ERROR(L.k_buf->copy_from(*O.k_buf, 0, 0, O.k_buf->size()));
    G12_RETURN_IF_ERROR(L.v_buf->copy_from(*O.v_buf, 0, 0, O.v_buf->size()));
    L.pos_host = O.pos_host;
    L.block_host = O.block_host;
    G12_RETURN_IF_ERROR(upload_meta(L));
  }
  n_past_ = other.n_past_;
  last_block_ = std::max(last_block_, other.last_block_);
  return OkStatus();
}

namespace {
// Format version 2: K and V per KV head (version 1 was slot-major).
constexpr char kKvMagic[8] = {'G', '1', '2', 'K', 'V', 'C', 0, 2};
struct KvFileHeader {
  char magic[8];
  uint64_t model_id;
  int32_t dtype, n_layers;
  int64_t n_ctx, max_ubatch, n_past;
  int32_t last_block, reserved;
};
}  // namespace

Status KvCache::save(const std::string& path, uint64_t model_id) const {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return NotFound("cannot open %s for writing", path);
  KvFileHeader h{};
  std::memcpy(h.magic, kKvMagic, sizeof kKvMagic);
  h.model_id = model_id;
  h.dtype = static_cast<int32_t>(options_.dtype);
  h.n_layers = static_cast<int32_t>(layers_.size());
  h.n_ctx = options_.n_ctx;
  h.max_ubatch = options_.max_ubatch;
  h.n_past = n_past_;
  h.last_block = last_block_;
  bool ok = std::fwrite(&h, sizeof h, 1, f.get()) == 1;
  std::vector<uint8_t> staging;
  for (size_t l = 0; ok && l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const int64_t used = used_slots(static_cast<int64_t>(l));
    const size_t row = L.k.stride[0], head = L.k.stride[1];
    ok = std::fwrite(&used, sizeof used, 1, f.get()) == 1 &&
         std::fwrite(L.pos_host.data(), sizeof(int32_t), used, f.get()) == static_cast<size_t>(used) &&
         std::fwrite(L.block_host.data(), sizeof(int32_t), used, f.get()) == static_cast<size_t>(used);
    for (const Buffer* b : {L.k_buf.get(), L.v_buf.get()}) {
      for (int64_t hk = 0; ok && hk < L.k.shape[1]; ++hk) {  // each head's slots [0, used)
        staging.resize(used * row);
        G12_RETURN_IF_ERROR(b->download(hk * head, staging.data(), staging.size()));
        ok = std::fwrite(staging.data(), 1, staging.size(), f.get()) == staging.size();
      }
    }
  }
  if (!ok || std::fflush(f.get()) != 0) return DataLoss("writing %s failed (disk full?)", path);
  return OkStatus();
}

Status KvCache::load(const std::string& path, uint64_t model_id) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::open(path));
  const uint8_t* p = file->data();
  size_t left = file->size();
  auto take = [&](void* dst, size_t n) {
    if (n > left) return false;
    std::memcpy(dst, p, n);
    p += n;
    left -= n;
    return true;
  };
  auto fail = [&](const Status& s) {
    (void)clear();
    return s;
  };
  KvFileHeader h{};
  if (!take(&h, sizeof h) || std::memcmp(h.magic, kKvMagic, sizeof kKvMagic) != 0) {
    return fail(DataLoss("%s is not a gemma12b KV cache file (or another format version)", path));
  }
  if (h.model_id != model_id) return fail(InvalidArgument("%s was saved from a different model", path));
  if (h.dtype != static_cast<int32_t>(options_.dtype) || h.n_layers != static_cast<int32_t>(layers_.size()) ||
      h.n_ctx != options_.n_ctx || h.max_ubatch != options_.max_ubatch) {
    return fail(InvalidArgument("%s holds a cache of another shape (n_ctx %d, max_ubatch %d, type %d); this one is "
                                "n_ctx %d, max_ubatch %d, type %d", path, h.n_ctx, h.max_ubatch, h.dtype,
                                options_.n_ctx, options_.max_ubatch, static_cast<int32_t>(options_.dtype)));
  }
  if (h.n_past < 0 || h.n_past > options_.n_ctx) return fail(DataLoss("%s: corrupt length %d", path, h.n_past));
  for (Layer& L : layers_) {
    int64_t used = 0;
    const size_t row = L.k.stride[0], head = L.k.stride[1];
    if (!take(&used, sizeof used) || used < 0 || used > L.slots) return fail(DataLoss("%s is corrupt or truncated", path));
    L.pos_host.assign(L.slots, -1);
    L.block_host.assign(L.slots, -1);
    if (!take(L.pos_host.data(), used * sizeof(int32_t)) || !take(L.block_host.data(), used * sizeof(int32_t))) {
      return fail(DataLoss("%s is truncated", path));
    }
    for (int64_t s = 0; s < used; ++s) {
      if (L.pos_host[s] < -1 || L.pos_host[s] >= h.n_past || L.block_host[s] > h.last_block) {
        return fail(DataLoss("%s: corrupt slot table", path));
      }
    }
    for (Buffer* b : {L.k_buf.get(), L.v_buf.get()}) {
      for (int64_t hk = 0; hk < L.k.shape[1]; ++hk) {
        if (used * row > left) return fail(DataLoss("%s is truncated", path));
        if (auto st = b->upload(hk * head, p, used * row); !st.ok()) return fail(st);
        p += used * row;
        left -= used * row;
      }
    }
    if (auto st = upload_meta(L); !st.ok()) return fail(st);
  }
  if (left != 0) return fail(DataLoss("%s has %d trailing bytes", path, static_cast<int64_t>(left)));
  n_past_ = h.n_past;
  last_block_ = h.last_block;
  return OkStatus();
}

Status KvCache::commit(int64_t pos0, int64_t n, const std::vector<int32_t>& blocks) {
  if (n < 0 || pos0 < 0 || pos0 + n > options_.n_ctx) return InvalidArgument("KV commit of %d rows at %d", n, pos0);
  for (Layer& L : layers_) {
    // The rows land in at most two runs of slots (a ring wraps at most once per ubatch); only
    // those are uploaded, so a decode step costs O(1) here, not O(context).
    for (int64_t i = 0; i < n;) {
      const int64_t s0 = (pos0 + i) % L.slots;
      const int64_t run = std::min(n - i, L.slots - s0);
      for (int64_t k = 0; k < run; ++k) {
        L.pos_host[s0 + k] = static_cast<int32_t>(pos0 + i + k);
        L.block_host[s0 + k] = blocks.empty() ? -1 : blocks[i + k];
      }
      G12_RETURN_IF_ERROR(L.meta_buf->upload(s0 * sizeof(int32_t), &L.pos_host[s0], run * sizeof(int32_t)));
      G12_RETURN_IF_ERROR(L.meta_buf->upload((L.slots + s0) * sizeof(int32_t), &L.block_host[s0], run * sizeof(int32_t)));
      i += run;
    }
  }
  n_past_ = pos0 + n;
  return OkStatus();
}

int64_t KvCache::used_slots(int64_t layer) const {
  const Layer& L = layers_[layer];
  return L.ring ? L.slots : std::min<int64_t>(L.slots, n_past_);
}

}  // namespace gemma12b
