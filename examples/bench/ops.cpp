#include "ops.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/str_format.h"
#include "bench.h"
#include "core/backend.h"
#include "core/ops.h"
#include "core/quant.h"
#include "model/kv_cache.h"

namespace gemma12b::bench {
namespace {

struct Shape {
  const char* what;
  int64_t N, K;
};
// Gemma 4 12B: the FFN's up/gate (N 15360, K 3840) and down (3840, 15360) projections.
constexpr Shape kShapes[] = {{"ffn_up", 15360, 3840}, {"ffn_down", 3840, 15360}};
// Enough distinct weight copies that a pass never finds the previous one in cache.
constexpr size_t kRotateBytes = size_t{512} << 20;

int op_failed(const Status& st) {
  std::fprintf(stderr, "gemma12b-bench: %s\n", std::string(st.message()).c_str());
  return 1;
}

int matmul_table(Device& dev, Stream& stream, const OpsOptions& o, std::mt19937& rng) {
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::printf("| %-6s | %-9s | %-12s | %4s | %18s | %10s | %10s |\n", "type", "shape", "N x K", "M", "ms", "GB/s (w)", "GOP/s");
  std::printf("|--------|-----------|--------------|------|--------------------|------------|------------|\n");
  for (DType t : o.types) {
    for (const Shape& s : kShapes) {
      const size_t wbytes = row_size(t, s.K) * s.N;
      const int copies = static_cast<int>(std::max<size_t>(2, kRotateBytes / wbytes + 1));
      std::vector<std::unique_ptr<Buffer>> ws;
      std::vector<std::vector<uint8_t>> hosts(copies);
      std::vector<float> row(s.K);
      std::vector<uint8_t> qrow(row_size(t, s.K));
      for (int c = 0; c < copies; ++c) {
        // One random row quantized and repeated: the kernels' speed does not depend on values.
        for (float& v : row) v = uni(rng);
        quantize_row(t, row.data(), qrow.data(), s.K);
        hosts[c].resize(wbytes);
        for (int64_t n = 0; n < s.N; ++n) std::copy(qrow.begin(), qrow.end(), hosts[c].data() + n * qrow.size());
        // Wrapped as a model's weights are (the CPU device's x16 tiles for q4_0 included).
        auto b = dev.caps().host_memory ? dev.wrap_weight(hosts[c].data(), wbytes, t, s.N, s.K)
                                        : dev.create_buffer(wbytes);
        if (!b.ok()) return op_failed(b.status());
        if (!dev.caps().host_memory) {
          const Status st = (*b)->upload(0, hosts[c].data(), wbytes);
          if (!st.ok()) return op_failed(st);
        }
        ws.push_back(std::move(*b));
      }
      for (int64_t M : o.rows) {
        auto xb = dev.create_buffer(M * s.K * sizeof(float));
        auto db = dev.create_buffer(M * s.N * sizeof(float));
        if (!xb.ok() || !db.ok()) return 1;
        float* x = static_cast<float*>((*xb)->map());
        for (int64_t i = 0; i < M * s.K; ++i) x[i] = uni(rng);
        const TensorView xv = TensorView::contiguous(xb->get(), 0, DType::kF32, {M, s.K});
        const TensorView dv = TensorView::contiguous(db->get(), 0, DType::kF32, {M, s.N});
        Stat ms;
        // Large M runs fewer times (seconds each); one untimed warm-up call per configuration.
        const int reps = M >= 64 ? std::max(1, o.reps / 2) : o.reps * 4;
        for (int r = -1; r < reps; ++r) {
          const TensorView wv = TensorView::contiguous(ws[(r + 1) % copies].get(), 0, t, {s.N, s.K});
          const auto t0 = std::chrono::steady_clock::now();
          Status st = ops::matmul(stream, dv, xv, wv);
          if (st.ok()) st = stream.synchronize();
          const auto t1 = std::chrono::steady_clock::now();
          if (!st.ok()) return op_failed(st);
          if (r >= 0) ms.v.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        const double sec = ms.mean() / 1e3;
        std::printf("| %-6s | %-9s | %5lld x %-5lld | %4lld | %18s | %10.1f | %10.1f |\n",
                    std::string(dtype_name(t)).c_str(), s.what, static_cast<long long>(s.N),
                    static_cast<long long>(s.K), static_cast<long long>(M),
                    absl::StrFormat("%.3f ± %.3f", ms.mean(), ms.sd()).c_str(), wbytes / sec / 1e9,
                    2.0 * M * s.N * s.K / sec / 1e9);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

struct AttnShape {
  const char* what;
  int64_t T, Hq, Hkv, D, S;
  int32_t window;
};
// The 12B's attention at decode (T 1) and a 4-row verify step: full layers (16 query heads on one
// 512-wide KV head, every position visible) at 4K and 32K keys; sliding layers (8 KV heads of 256,
// window 1024) on their ring of window + ubatch slots. Like the weights, the K/V rotate through
// copies that together outgrow the caches: decode finds a layer's K/V evicted by the weights
// streamed since its last step.
constexpr AttnShape kAttnShapes[] = {
    {"full", 1, 16, 1, 512, 4096, 0},        {"full", 1, 16, 1, 512, 32768, 0},
    {"full", 4, 16, 1, 512, 32768, 0},       {"sliding", 1, 16, 8, 256, 1536, 1024},
    {"sliding", 4, 16, 8, 256, 1536, 1024},
};

// One row of the attention table: shape a over a cache of type kvt.
int attention_row(Device& dev, Stream& stream, const OpsOptions& o, std::mt19937& rng, const AttnShape& a,
                  DType kvt) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t kv_elems = a.S * a.Hkv * a.D;
  const size_t kv_bytes = a.S * a.Hkv * row_size(kvt, a.D);
  auto qb = dev.create_buffer(a.T * a.Hq * a.D * sizeof(float));
  auto ob = dev.create_buffer(a.T * a.Hq * a.D * sizeof(float));
  auto qpb = dev.create_buffer(a.T * sizeof(int32_t));
  auto kpb = dev.create_buffer(a.S * sizeof(int32_t));
  if (!qb.ok() || !ob.ok() || !qpb.ok() || !kpb.ok()) return 1;
  float* q = static_cast<float*>((*qb)->map());
  for (int64_t i = 0; i < a.T * a.Hq * a.D; ++i) q[i] = nd(rng);
  // K and V buffers of each copy: one random K and V, repeated (speed does not depend on values).
  const int copies = static_cast<int>(std::max<size_t>(2, kRotateBytes / (2 * kv_bytes) + 1));
  std::vector<std::unique_ptr<Buffer>> kvs;
  for (int c = 0; c < 2 * copies; ++c) {
    auto b = dev.create_buffer(kv_bytes);
    if (!b.ok()) return 1;
    uint8_t* p = static_cast<uint8_t*>((*b)->map());
    if (c < 2) {
      std::vector<float> vals(kv_elems);
      for (float& x : vals) x = nd(rng);
      for (int64_t r = 0; r < a.S * a.Hkv; ++r) {
        quantize_row(kvt, &vals[r * a.D], p + r * row_size(kvt, a.D), a.D);
      }
    } else {
      std::memcpy(p, kvs[c % 2]->map(), kv_bytes);
    }
    kvs.push_back(std::move(*b));
  }
  // Keys hold positions 0 .. S-1 (a ring in position order); the queries are the next T positions.
  int32_t* kp = static_cast<int32_t*>((*kpb)->map());
  for (int64_t s = 0; s < a.S; ++s) kp[s] = static_cast<int32_t>(s);
  int32_t* qp = static_cast<int32_t*>((*qpb)->map());
  for (int64_t t = 0; t < a.T; ++t) qp[t] = static_cast<int32_t>(a.S + t);
  ops::AttentionArgs args;
  args.q = TensorView::contiguous(qb->get(), 0, DType::kF32, {a.T, a.Hq, a.D});
  args.qpos = TensorView::contiguous(qpb->get(), 0, DType::kI32, {a.T});
  args.kpos = TensorView::contiguous(kpb->get(), 0, DType::kI32, {a.S});
  args.scale = 1.0f;
  args.window = a.window;
  const TensorView out = TensorView::contiguous(ob->get(), 0, DType::kF32, {a.T, a.Hq, a.D});
  Stat ms;
  for (int r = -1; r < o.reps * 4; ++r) {
    const int c = (r + copies) % copies;
    args.k = KvCache::kv_view(kvs[2 * c].get(), kvt, a.S, a.Hkv, a.D);  // the cache's layout
    args.v = KvCache::kv_view(kvs[2 * c + 1].get(), kvt, a.S, a.Hkv, a.D);
    const auto t0 = std::chrono::steady_clock::now();
    Status st = ops::attention(stream, out, args);
    if (st.ok()) st = stream.synchronize();
    const auto t1 = std::chrono::steady_clock::now();
    if (!st.ok()) return op_failed(st);
    if (r >= 0) ms.v.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  // Keys each query row sees (the window bounds sliding rows): their K and V rows are what is read,
  // two multiply-adds per head and dim.
  const int64_t seen = a.window > 0 ? std::min<int64_t>(a.window, a.S) : a.S;
  const double sec = ms.mean() / 1e3;
  std::printf("| %-7s | %2lld | %2lld/%lld x %-4lld | %6lld | %-4s | %18s | %10.1f | %10.1f |\n", a.what,
              static_cast<long long>(a.T), static_cast<long long>(a.Hq), static_cast<long long>(a.Hkv),
              static_cast<long long>(a.D), static_cast<long long>(a.S), std::string(dtype_name(kvt)).c_str(),
              absl::StrFormat("%.3f ± %.3f", ms.mean(), ms.sd()).c_str(),
              2.0 * seen * a.Hkv * row_size(kvt, a.D) / sec / 1e9, 4.0 * a.T * a.Hq * seen * a.D / sec / 1e9);
  std::fflush(stdout);
  return 0;
}

int attention_table(Device& dev, Stream& stream, const OpsOptions& o, std::mt19937& rng) {
  std::printf("\n| %-7s | %2s | %-12s | %6s | %-4s | %18s | %10s | %10s |\n", "attn", "T", "Hq/Hkv x D", "keys", "kv",
              "ms", "GB/s (kv)", "GFLOP/s");
  std::printf("|---------|----|--------------|--------|------|--------------------|------------|------------|\n");
  // The cache's default f16 and its q8_0 option (scores in int8 on the CPU, see cpu_attention.cpp).
  for (DType kvt : {DType::kF16, DType::kQ8_0}) {
    for (const AttnShape& a : kAttnShapes) {
      if (int rc = attention_row(dev, stream, o, rng, a, kvt)) return rc;
    }
  }
  return 0;
}

}  // namespace

int run_ops_bench(const OpsOptions& o) {
  DeviceOptions dopt;
  dopt.n_threads = o.threads;
  dopt.cpu_file_layout = o.file_layout;
  auto dev = create_device("cpu", dopt);
  if (!dev.ok()) return op_failed(dev.status());
  auto stream = (*dev)->create_stream();
  if (!stream.ok()) return op_failed(stream.status());
  std::mt19937 rng(1);
  if (o.matmul) {
    if (int rc = matmul_table(**dev, **stream, o, rng)) return rc;
  }
  if (o.attention) return attention_table(**dev, **stream, o, rng);
  return 0;
}

}  // namespace gemma12b::bench
