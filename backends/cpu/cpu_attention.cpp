// CPU attention (core/op.h's rule), flash-decoding style: a work item is one KV head's query rows
// over a range of keys, which it reads in blocks of kKeyBlock with an online softmax. When the
// items are fewer than the threads (decode: one row, 1 or 8 KV heads), the keys are split into
// chunks whose partial (max, sum, accumulator) are merged at the end.
//
// Two item shapes, over the kernels of qdot.h:
//  * lane-major: TG rows x the G heads that share a KV head = R ≥ 8 query rows, 16 per vector
//    (padded with zero queries to a multiple of 16)
//    (full layers: G = 16, so one decode row already fills a vector; verify and prefill rows
//    share each key and value row read). Every key and value row is read once per item.
//  * head-major: one row's G heads, when TG·G < 8 (a sliding layer's decode step, G = 2).
//
// Keys and values of every type (f32, f16, q8_0) are read in place. Over a q8_0 cache, unless
// the device is exact, the int8 path: the queries are rounded per 32-block like int8 activations
// (quantize_block32), as llama.cpp does for a q8_0 K; the scores, lane-major and head-major, are
// then integer dots on AVX-512 VNNI (4 vpdpbusd per 16 f32 FMAs; elsewhere f32 dots of the
// rounded queries); and where the CPU has vdpbf16ps the lane-major value sum takes two keys per
// instruction with its weights rounded to bf16 (the int8 values are exact in bf16; the weights'
// rounding, ≤ 2^-8 relative, is about the values' own). Decode, full layer at 32K keys: f16
// ~6-7 ms, q8_0 ~4.5 ms; sliding layer (1024 keys): f16 ~0.29, q8_0 ~0.25 ms.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "core/quant.h"
#include "cpu/cpu_kernels.h"

namespace gemma12b::cpu {
namespace {

constexpr int64_t kKeyBlock = kAttnBlock;
// Query rows a lane-major item takes at most: 4 rows of 16 heads, 32 of 2.
constexpr int64_t kLaneRows = 64;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// op.h's visibility rule: key slot s is seen by query row t when the slot is filled and the key is
// not in t's future (or shares t's bidirectional block) and lies within the window.
struct Visibility {
  const int32_t *qpos, *kpos, *qblock, *kblock;
  int32_t window;
  bool operator()(int64_t t, int64_t s) const {
    if (kpos[s] < 0) return false;
    const bool in_block = qblock != nullptr && qblock[t] >= 0 && qblock[t] == kblock[s];
    return (kpos[s] <= qpos[t] || in_block) && (window <= 0 || qpos[t] - kpos[s] < window);
  }
};

// The rows of a K or V view [S, Hkv, D] by (slot, KV head), through the view's strides
// (TensorView::host_row divides per call, and the kernels take up to four row addresses per key).
struct KvRows {
  const uint8_t* base;
  size_t slot_stride, head_stride, bytes;
  DType dtype;
  explicit KvRows(const TensorView& kv)
      : base(kv.host_data()), slot_stride(kv.stride[0]), head_stride(kv.stride[1]), bytes(kv.row_bytes()),
        dtype(kv.dtype) {}
  const uint8_t* row(int64_t slot, int64_t hk) const { return base + slot * slot_stride + hk * head_stride; }
  // out[j] = KV head hk's row of slot idx[j], for j < n (the kernels' row arguments, read in place).
  void rows(const int32_t* idx, int n, int64_t hk, const void** out) const {
    for (int j = 0; j < n; ++j) out[j] = row(idx[j], hk);
  }
};

// The stored rows (quantized ones as they are) of the n slots idx of KV head hk, for AttnPrefetch.
AttnPrefetch stored_rows(const KvRows& kv, const int32_t* idx, int n, int64_t hk, const void** rows) {
  kv.rows(idx, n, hk, rows);
  return {rows, n, static_cast<int64_t>(kv.bytes)};
}

// The op's K and V.
struct Kv {
  KvRows k, v;
};

struct Shape {
  int64_t T, Hq, Hkv, G, D, Dv, S, chunks;
  bool prefetch;  // each key and value row is read once (decode, verify): pull them ahead into L2
  // A q8_0 K meets int8 queries (unless the device is exact): each (row, head) of q is rounded per
  // 32-block by quantize_block32, as activations are for quantized weights (integer dots where
  // the ISA has vpdpbusd).
  bool int8_keys;
  // Over q8_0 values (unless exact) the lane-major value sum rounds its weights p·dv to bf16 where
  // the CPU has vdpbf16ps (Kernels::attn_axpy_lanes_q8_bf16): relative error ≤ 2^-8 per weight.
  bool bf16_weights;
};

KvRow row_type(DType t) {
  return t == DType::kQ8_0 ? KvRow::kQ8_0 : t == DType::kF16 ? KvRow::kF16 : KvRow::kF32;
}

// Query block x (32 values) rounded like an int8 activation for integer scores: its int8s into
// qi; returned, its scale times the op's scale and −128·Σq (QLanes8's and QHeads8's offset for
// the keys' bytes read as unsigned).
struct QBlock8 {
  float d;
  int32_t c;
};
QBlock8 quantize_query_block(const float* x, float scale, int8_t* qi) {
  float d;
  quantize_block32(x, qi, &d);
  int32_t sum = 0;
  for (int i = 0; i < 32; ++i) sum += qi[i];
  return {d * scale, -128 * sum};
}

// Query row qr (D elements) rounded per 32-block like an int8 activation, then dequantized and
// scaled: the values the int8 scores multiply the keys by.
void rounded_query(const float* qr, int64_t D, float scale, float* out) {
  for (int64_t b = 0; b < D; b += 32) {
    int8_t qi[32];
    const float d = quantize_query_block(qr + b, scale, qi).d;
    for (int i = 0; i < 32; ++i) out[b + i] = static_cast<float>(qi[i]) * d;
  }
}

// What the kernels prefetch for the block of keys [sb, sb + kKeyBlock) of an item over [s0, s1):
// while scoring, this block's values (the n visible slots idx); while accumulating, the next
// block's keys (all its slots; the invisible ones are few).
struct BlockPrefetch {
  AttnPrefetch values, keys;
  int32_t next[kKeyBlock];
  const void* rows[2][kKeyBlock];
  BlockPrefetch(const Kv& kv, const Shape& sh, int64_t hk, const int32_t* idx, int n, int64_t sb, int64_t s1) {
    if (!sh.prefetch) return;
    values = stored_rows(kv.v, idx, n, hk, rows[0]);
    const int nn = static_cast<int>(std::clamp<int64_t>(s1 - sb - kKeyBlock, 0, kKeyBlock));
    for (int j = 0; j < nn; ++j) next[j] = static_cast<int32_t>(sb + kKeyBlock + j);
    keys = stored_rows(kv.k, next, nn, hk, rows[1]);
  }
};

// Where one (row t, head h) result goes: straight to the output when the keys are not split,
// else to its chunk's partial record [m, l, acc[Dv]] for the merge. acc[i·stride] is the
// accumulator (stride 1 head-major, R lane-major).
struct Sink {
  const TensorView& dst;
  const Shape& sh;
  float* partials;
  void put(int64_t t, int64_t h, int64_t c, float m, float l, const float* acc, int64_t stride) const {
    if (sh.chunks == 1) {
      float* o = f32_row_mut(dst, t * sh.Hq + h);
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      for (int64_t i = 0; i < sh.Dv; ++i) o[i] = acc[i * stride] * inv;
      return;
    }
    float* rec = partials + ((t * sh.Hq + h) * sh.chunks + c) * (sh.Dv + 2);
    rec[0] = m;
    rec[1] = l;
    for (int64_t i = 0; i < sh.Dv; ++i) rec[2 + i] = acc[i * stride];
  }
};

// Head-major item: row t's G heads of KV head hk over keys [s0, s1).
void head_item(const Op& op, const Kv& kv, const Shape& sh, const Visibility& vis, const Kernels& kn, const Sink& sink,
               int64_t t, int64_t hk, int64_t c, int64_t s0, int64_t s1) {
  const TensorView& q = op.src[0];
  const int64_t G = sh.G, D = sh.D, Dv = sh.Dv;
  // Integer scores where the ISA has them (as in lane_item).
  const bool int8_dots = sh.int8_keys && kn.attn_dot_q8 != nullptr;
  thread_local std::vector<float> qbuf, sc, acc, ml, q8d;
  thread_local std::vector<int8_t> q8;
  thread_local std::vector<int32_t> q8c;
  const int64_t nb = D / 32;
  if (int8_dots) {
    q8.resize(G * D);
    q8d.resize(G * nb);
    q8c.resize(G * nb);
  } else {
    qbuf.resize(G * D);
  }
  sc.resize(G * kKeyBlock);
  acc.assign(G * Dv, 0.0f);
  ml.resize(2 * G);
  float *m = ml.data(), *l = ml.data() + G;
  int32_t idx[kKeyBlock];
  const void* rows[kKeyBlock];
  const float scale = op.params.scale;
  for (int64_t g = 0; g < G; ++g) {  // the G query rows, pre-scaled
    const float* qr = f32_row(q, t * sh.Hq + hk * G + g);
    if (int8_dots) {
      for (int64_t b = 0; b < nb; ++b) {
        const QBlock8 qb = quantize_query_block(qr + 32 * b, scale, &q8[g * D + 32 * b]);
        q8d[g * nb + b] = qb.d;
        q8c[g * nb + b] = qb.c;
      }
    } else if (sh.int8_keys) {
      rounded_query(qr, D, scale, &qbuf[g * D]);
    } else {
      for (int64_t i = 0; i < D; ++i) qbuf[g * D + i] = qr[i] * scale;
    }
    m[g] = kNegInf;
    l[g] = 0.0f;
  }
  for (int64_t sb = s0; sb < s1; sb += kKeyBlock) {
    int n = 0;
    for (int64_t s = sb; s < std::min(s1, sb + kKeyBlock); ++s) {
      if (vis(t, s)) idx[n++] = static_cast<int32_t>(s);
    }
    if (n == 0) continue;
    const BlockPrefetch pf(kv, sh, hk, idx, n, sb, s1);
    // Scores sc[g][j] of the visible keys.
    kv.k.rows(idx, n, hk, rows);
    if (int8_dots) {
      kn.attn_dot_q8(QHeads8{q8.data(), q8d.data(), q8c.data()}, static_cast<int>(G), D, rows, n, sc.data(),
                     static_cast<int>(kKeyBlock), pf.values);
    } else {
      kn.attn_dot(qbuf.data(), static_cast<int>(G), D, rows, n, row_type(kv.k.dtype), sc.data(),
                  static_cast<int>(kKeyBlock), pf.values);
    }
    // Online softmax: raise each head's running max, rescale its sums, exponentiate.
    for (int64_t g = 0; g < G; ++g) {
      float* sg = &sc[g * kKeyBlock];
      float mx = m[g];
      for (int j = 0; j < n; ++j) mx = std::max(mx, sg[j]);
      if (mx > m[g]) {
        const float f = std::exp(m[g] - mx);  // 0 when the old max is -inf
        l[g] *= f;
        for (int64_t i = 0; i < Dv; ++i) acc[g * Dv + i] *= f;
        m[g] = mx;
      }
      l[g] += kn.exp_sum(sg, n, mx);
    }
    kv.v.rows(idx, n, hk, rows);
    kn.attn_axpy(acc.data(), static_cast<int>(G), Dv, sc.data(), static_cast<int>(kKeyBlock), rows, n,
                 row_type(kv.v.dtype), pf.keys);
  }
  for (int64_t g = 0; g < G; ++g) sink.put(t, hk * G + g, c, m[g], l[g], &acc[g * Dv], 1);
}

// Lane-major item: rows [t0, t1) x the G heads of KV head hk over keys [s0, s1). Query row
// r = (t − t0)·G + g is lane r of R, padded to Rp lanes with zero queries.
void lane_item(const Op& op, const Kv& kv, const Shape& sh, const Visibility& vis, const Kernels& kn, const Sink& sink,
               int64_t t0, int64_t t1, int64_t hk, int64_t c, int64_t s0, int64_t s1) {
  const TensorView& q = op.src[0];
  const int64_t G = sh.G, D = sh.D, Dv = sh.Dv, nt = t1 - t0;
  const int64_t R = nt * G, Rp = (R + kAttnLanes - 1) / kAttnLanes * kAttnLanes;
  // Integer scores where the ISA has them (AVX-512 VNNI); elsewhere the rounded queries are
  // scored in f32 (the same values; the kernels that would replace these FMAs without vpdpbusd
  // take as many instructions).
  const bool int8_dots = sh.int8_keys && kn.attn_dot_lanes_q8 != nullptr;
  thread_local std::vector<float> qt, sc, acc, mlf;
  if (!int8_dots) qt.assign(D * Rp, 0.0f);
  sc.resize(kKeyBlock * Rp);
  acc.assign(Dv * Rp, 0.0f);
  mlf.resize(3 * Rp);
  float *m = mlf.data(), *l = m + Rp, *f = l + Rp;
  std::fill(m, m + Rp, kNegInf);
  std::fill(l, l + Rp, 0.0f);
  const float scale = op.params.scale;
  // The queries: qt[i][r] transposed and pre-scaled (rounded first for int8 keys), or for
  // integer scores rounded per block in QLanes8's layout (padding lanes zero).
  thread_local std::vector<int8_t> q8;
  thread_local std::vector<float> q8d, qround;
  thread_local std::vector<int32_t> q8c;
  const int64_t nb = D / 32;
  if (int8_dots) {
    q8.assign(D * Rp, 0);
    q8d.assign(nb * Rp, 0.0f);
    q8c.assign(nb * Rp, 0);
  }
  for (int64_t r = 0; r < R; ++r) {
    const float* qr = f32_row(q, (t0 + r / G) * sh.Hq + hk * G + r % G);
    if (!int8_dots) {
      if (sh.int8_keys) {
        qround.resize(D);
        rounded_query(qr, D, scale, qround.data());
        for (int64_t i = 0; i < D; ++i) qt[i * Rp + r] = qround[i];
      } else {
        for (int64_t i = 0; i < D; ++i) qt[i * Rp + r] = qr[i] * scale;
      }
      continue;
    }
    for (int64_t b = 0; b < nb; ++b) {
      int8_t qi[32];
      const QBlock8 qb = quantize_query_block(qr + 32 * b, scale, qi);
      for (int i = 0; i < 32; ++i) q8[((b * 8 + i / 4) * Rp + r) * 4 + i % 4] = qi[i];
      q8d[b * Rp + r] = qb.d;
      q8c[b * Rp + r] = qb.c;
    }
  }
  const QLanes8 ql{q8.data(), q8d.data(), q8c.data()};
  const uint64_t all_rows = nt == 64 ? ~uint64_t{0} : (uint64_t{1} << nt) - 1;
  int32_t idx[kKeyBlock];
  const void* rows[kKeyBlock];
  uint64_t seen_by[kKeyBlock];  // bit tl: row t0 + tl sees key idx[j]
  const int iRp = static_cast<int>(Rp);
  for (int64_t sb = s0; sb < s1; sb += kKeyBlock) {
    // The keys any of the rows sees; the others' scores are masked below.
    int n = 0;
    for (int64_t s = sb; s < std::min(s1, sb + kKeyBlock); ++s) {
      uint64_t bits = 0;
      for (int64_t tl = 0; tl < nt; ++tl) bits |= static_cast<uint64_t>(vis(t0 + tl, s)) << tl;
      if (bits != 0) {
        idx[n] = static_cast<int32_t>(s);
        seen_by[n++] = bits;
      }
    }
    if (n == 0) continue;
    const BlockPrefetch pf(kv, sh, hk, idx, n, sb, s1);
    kv.k.rows(idx, n, hk, rows);
    if (int8_dots) {
      kn.attn_dot_lanes_q8(ql, iRp, D, rows, n, sc.data(), pf.values);
    } else {
      kn.attn_dot_lanes(qt.data(), iRp, D, rows, row_type(kv.k.dtype), n, sc.data(), pf.values);
    }
    for (int j = 0; j < n; ++j) {
      if (seen_by[j] == all_rows) continue;
      for (int64_t tl = 0; tl < nt; ++tl) {
        if ((seen_by[j] >> tl & 1) == 0) std::fill_n(&sc[j * Rp + tl * G], G, kNegInf);
      }
    }
    kn.attn_softmax_lanes(sc.data(), n, iRp, m, l, f);
    kv.v.rows(idx, n, hk, rows);
    const AttnAxpyLanesFn axpy = sh.bf16_weights ? kn.attn_axpy_lanes_q8_bf16 : kn.attn_axpy_lanes;
    axpy(acc.data(), iRp, Dv, f, sc.data(), rows, row_type(kv.v.dtype), n, pf.keys);
  }
  for (int64_t r = 0; r < R; ++r) sink.put(t0 + r / G, hk * G + r % G, c, m[r], l[r], &acc[r], Rp);
}

}  // namespace

Status attention(const Op& op, const Context& ctx) {
  const TensorView &q = op.src[0], &k = op.src[1], &v = op.src[2];
  Shape sh{q.dim(0), q.dim(1), k.dim(1), 0, q.dim(2), v.dim(2), k.dim(0), 1, false,
           k.dtype == DType::kQ8_0 && !ctx.exact_matmul,
           v.dtype == DType::kQ8_0 && !ctx.exact_matmul && ctx.kernels.attn_axpy_lanes_q8_bf16 != nullptr};
  sh.G = sh.Hq / sh.Hkv;
  const Kv kv{KvRows(k), KvRows(v)};
  std::vector<int32_t> t3, t4, t5, t6;
  const bool blocks = op.src[5].valid();
  const Visibility vis{i32_data(op.src[3], t3), i32_data(op.src[4], t4), blocks ? i32_data(op.src[5], t5) : nullptr,
                       blocks ? i32_data(op.src[6], t6) : nullptr, op.params.window};
  const Kernels& kn = ctx.kernels;
  const int threads = ctx.pool.n_threads();
  // Rows per item: as many as fill kLaneRows query rows when they fill at least half a vector (padding the rest beats the head-major kernels there:
  // sliding 4-row verify 2.4 -> 1.4 ms); else one.
  const int64_t tg = std::min<int64_t>(sh.T, std::max<int64_t>(1, kLaneRows / sh.G));
  const bool lanes = 2 * tg * sh.G >= kAttnLanes;
  const int64_t rows = lanes ? tg : 1;
  const int64_t groups = (sh.T + rows - 1) / rows, items = groups * sh.Hkv;
  // One row group reads each key and value row once, cold from DRAM at depth (the hardware
  // prefetchers do not follow a block's rows). Several groups (prefill) re-read the same rows
  // from cache, where the prefetch instructions would only cost.
  sh.prefetch = groups == 1;
  sh.chunks = items >= 2 * threads
                  ? 1
                  : std::clamp<int64_t>((2 * threads + items - 1) / items, 1, std::max<int64_t>(1, sh.S / 256));
  // Partial results of chunked items (the caller's scratch; workers write disjoint records).
  thread_local std::vector<float> partial_scratch;
  if (sh.chunks > 1) partial_scratch.resize(sh.T * sh.Hq * sh.chunks * (sh.Dv + 2));
  const Sink sink{op.dst, sh, partial_scratch.data()};

  ctx.pool.parallel_for(items * sh.chunks, [&](int64_t b, int64_t e, int) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t item = it / sh.chunks, c = it % sh.chunks;
      const int64_t grp = item / sh.Hkv, hk = item % sh.Hkv;
      const int64_t s0 = sh.S * c / sh.chunks, s1 = sh.S * (c + 1) / sh.chunks;
      const int64_t t0 = grp * rows, t1 = std::min(sh.T, t0 + rows);
      if (lanes) {
        lane_item(op, kv, sh, vis, kn, sink, t0, t1, hk, c, s0, s1);
      } else {
        head_item(op, kv, sh, vis, kn, sink, t0, hk, c, s0, s1);
      }
    }
  });
  if (sh.chunks > 1) {
    // Merge the chunks of each (row, head): weights exp(m_c − max_c m_c).
    const float* partials = partial_scratch.data();
    ctx.pool.parallel_for(sh.T * sh.Hq, [&](int64_t b, int64_t e, int) {
      for (int64_t th = b; th < e; ++th) {
        const float* recs = partials + th * sh.chunks * (sh.Dv + 2);
        float mx = kNegInf;
        for (int64_t c = 0; c < sh.chunks; ++c) mx = std::max(mx, recs[c * (sh.Dv + 2)]);
        float* o = f32_row_mut(op.dst, th);
        std::fill(o, o + sh.Dv, 0.0f);
        float den = 0.0f;
        if (mx != kNegInf) {
          for (int64_t c = 0; c < sh.chunks; ++c) {
            const float* rec = recs + c * (sh.Dv + 2);
            if (rec[0] == kNegInf) continue;
            const float w = std::exp(rec[0] - mx);
            den += rec[1] * w;
            for (int64_t i = 0; i < sh.Dv; ++i) o[i] += rec[2 + i] * w;
          }
        }
        const float inv = den > 0.0f ? 1.0f / den : 0.0f;
        for (int64_t i = 0; i < sh.Dv; ++i) o[i] *= inv;
      }
    });
  }
  return OkStatus();
}

}  // namespace gemma12b::cpu
