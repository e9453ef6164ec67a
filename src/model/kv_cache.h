// KV cache of one decoding sequence. K and V are stored separately on every layer (V differs from
// K even on full layers: K is normed+roped, V only normed). Sliding layers keep a ring of
// `window + max_ubatch` slots (a ubatch of T new rows at positions p.. needs the keys of
// p - window + 1 .. p + T - 1); full layers keep the whole context. Each slot records its
// position (-1 = empty) and its bidirectional block id (-1 = none); the attention op masks by
// those, so the cache never needs to be compacted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"
#include "model/config.h"

namespace gemma12b {

struct KvCacheOptions {
  int64_t n_ctx = 4096;        // positions the sequence may use (<= the model's max_context)
  int64_t max_ubatch = 512;    // most rows written in one forward step
  DType dtype = DType::kF16;   // f32, f16 or q8_0
};

class KvCache {
 public:
  static StatusOr<std::unique_ptr<KvCache>> create(const ModelConfig& c, Device& device,
                                                   const KvCacheOptions& options);

  const KvCacheOptions& options() const { return options_; }
  int64_t n_ctx() const { return options_.n_ctx; }
  // Positions [0, n_past) are in the cache; the next row goes to position n_past.
  int64_t n_past() const { return n_past_; }
  int64_t n_slots(int64_t layer) const { return layers_[layer].slots; }
  size_t bytes() const { return bytes_; }

  // The view [slots, n_kv, head_dim] of a K or V buffer as the cache stores it: head-major,
  // [n_kv, slots, head_dim] in memory, so each KV head's rows are contiguous and a decode step
  // streams a head's keys and values as one run. (Slot-major storage put a sliding layer's
  // consecutive keys of one head 4 KB apart, a page per key: `gemma12b-bench --ops --op
  // attention`, sliding decode step about 0.5-0.6 -> 0.3-0.4 ms on a Zen 5.)
  static TensorView kv_view(Buffer* buffer, DType dtype, int64_t slots, int64_t n_kv, int64_t head_dim);

  // Forgets everything.
  Status clear();
  // Keeps positions [0, n) only. On sliding layers the ring must still hold the last `window`
  // positions before n: truncating back by at most max_ubatch positions always works.
  Status truncate(int64_t n);
  // Makes this cache a copy of `other` (same model and options).
  Status copy_from(const KvCache& other);
  // Writes the sequence (positions, block ids, K and V of the slots in use) to `path`, tagged
  // with `model_id` (a fingerprint of the model). load() accepts only a file written by a cache
  // of the same shape, type and model_id; on any error the cache is left cleared.
  Status save(const std::string& path, uint64_t model_id) const;
  Status load(const std::string& path, uint64_t model_id);
  // An id for a new bidirectional block, distinct from every block id the cache holds.
  int32_t new_block_id() { return ++last_block_; }

  // ---- used by the decoder ----
  int64_t slot_of(int64_t layer, int64_t pos) const {
    return pos % layers_[layer].slots;
  }
  // Whole-cache views [slots, n_kv, head_dim] of K and V (see kv_view), and the i32 [slots]
  // position/block arrays.
  TensorView k(int64_t layer) const { return layers_[layer].k; }
  TensorView v(int64_t layer) const { return layers_[layer].v; }
  TensorView kpos(int64_t layer) const { return layers_[layer].kpos; }
  TensorView kblock(int64_t layer) const { return layers_[layer].kblock; }
  // Records rows at positions [pos0, pos0 + n) with block id `block` (-1 = none) in the slot
  // bookkeeping of every layer, then sets n_past = pos0 + n. K/V data is written by the caller.
  Status commit(int64_t pos0, int64_t n, const std::vector<int32_t>& blocks);
  // Highest slot index in use + 1 on a full layer (bounds the attention scan).
  int64_t used_slots(int64_t layer) const;

 private:
  struct Layer {
    int64_t slots = 0;
    bool ring = false;
    std::unique_ptr<Buffer> k_buf, v_buf, meta_buf;
    TensorView k, v, kpos, kblock;
    std::vector<int32_t> pos_host, block_host;
  };
  Status upload_meta(Layer& l);

  KvCacheOptions options_;
  std::vector<Layer> layers_;
  int64_t n_past_ = 0;
  int32_t last_block_ = -1;
  size_t bytes_ = 0;
};

}  // namespace gemma12b
