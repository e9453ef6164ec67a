#include "cpu/cpu_kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/quant.h"
#include "cpu/cpu_weights.h"

#if defined(GEMMA12B_WITH_ONEDNN)
#include <dnnl.h>
#else
#include <cblas.h>
#endif

namespace gemma12b::cpu {
namespace {

// Per-thread scratch so kernels do not allocate per row.
thread_local std::vector<float> tls_a, tls_b;

float* scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Row r of t as f32: a direct pointer when t is f32, else converted into `tmp`.
const float* row_f32(const TensorView& t, int64_t r, std::vector<float>& tmp) {
  if (t.dtype == DType::kF32) return reinterpret_cast<const float*>(t.host_row(r));
  float* out = scratch(tmp, t.row_len());
  dequantize_row(t.dtype, t.host_row(r), out, t.row_len());
  return out;
}

float dot(const float* a, const float* b, int64_t n) {
  // Eight independent partial sums let the compiler vectorize without -ffast-math.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

#if defined(GEMMA12B_WITH_ONEDNN)
// oneDNN's matmul primitive on the caller's memory (weights [N, K] row-major read as a K x N
// matrix with strides {1, K}): its brgemm kernels run 9-11% faster than dnnl_sgemm at the
// embedders' shapes (280 x 6912 x 3840: 66.7 vs 74.9 ms, 280 x 3840 x 3840: 38.1 vs 41.8, 2
// threads, Zen 5). Primitives are kept per thread for the last few shapes (creating one JITs
// code); run() returns false when oneDNN cannot make or run one, and the caller falls back to
// dnnl_sgemm.
class MatmulCache {
 public:
  ~MatmulCache() {
    for (Entry& e : entries_) dnnl_primitive_destroy(e.prim);
    if (stream_ != nullptr) dnnl_stream_destroy(stream_);
    if (engine_ != nullptr) dnnl_engine_destroy(engine_);
  }

  bool run(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* w, float* out,
           int64_t ldo) {
    if (stream_ == nullptr) {
      if (engine_ == nullptr && dnnl_engine_create(&engine_, dnnl_cpu, 0) != dnnl_success) {
        engine_ = nullptr;
        return false;
      }
      if (dnnl_stream_create(&stream_, engine_, dnnl_stream_default_flags) != dnnl_success) {
        stream_ = nullptr;
        return false;
      }
    }
    const std::array<int64_t, 5> key = {M, N, K, ldx, ldo};
    Entry* e = nullptr;
    for (Entry& c : entries_) {
      if (c.key == key) e = &c;
    }
    if (e == nullptr) {
      if (entries_.size() == kMaxEntries) {
        dnnl_primitive_destroy(entries_.front().prim);
        entries_.erase(entries_.begin());
      }
      dnnl_memory_desc_t xd, wd, od;
      const dnnl_dims_t xdims = {M, K}, xstr = {ldx, 1}, wdims = {K, N}, wstr = {1, K}, odims = {M, N},
                        ostr = {ldo, 1};
      dnnl_matmul_desc_t md;
      dnnl_primitive_desc_t pd = nullptr;
      dnnl_primitive_t prim = nullptr;
      if (dnnl_memory_desc_init_by_strides(&xd, 2, xdims, dnnl_f32, xstr) != dnnl_success ||
          dnnl_memory_desc_init_by_strides(&wd, 2, wdims, dnnl_f32, wstr) != dnnl_success ||
          dnnl_memory_desc_init_by_strides(&od, 2, odims, dnnl_f32, ostr) != dnnl_success ||
          dnnl_matmul_desc_init(&md, &xd, &wd, nullptr, &od) != dnnl_success ||
          dnnl_primitive_desc_create(&pd, &md, nullptr, engine_, nullptr) != dnnl_success) {
        return false;
      }
      const bool made = dnnl_primitive_create(&prim, pd) == dnnl_success;
      dnnl_primitive_desc_destroy(pd);
      if (!made) return false;
      entries_.push_back(Entry{key, prim, xd, wd, od});
      e = &entries_.back();
    }
    dnnl_memory_t xm = nullptr, wm = nullptr, om = nullptr;
    bool ok = dnnl_memory_create(&xm, &e->xd, engine_, const_cast<float*>(x)) == dnnl_success &&
              dnnl_memory_create(&wm, &e->wd, engine_, const_cast<float*>(w)) == dnnl_success &&
              dnnl_memory_create(&om, &e->od, engine_, out) == dnnl_success;
    if (ok) {
      const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, om}};
      ok = dnnl_primitive_execute(e->prim, stream_, 3, args) == dnnl_success &&
           dnnl_stream_wait(stream_) == dnnl_success;
    }
    for (dnnl_memory_t m : {xm, wm, om}) {
      if (m != nullptr) dnnl_memory_destroy(m);
    }
    return ok;
  }

 private:
  static constexpr size_t kMaxEntries = 8;
  struct Entry {
    std::array<int64_t, 5> key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t xd, wd, od;
  };
  dnnl_engine_t engine_ = nullptr;
  dnnl_stream_t stream_ = nullptr;
  std::vector<Entry> entries_;
};
#endif

void sgemm_nt(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* w,
              float* out, int64_t ldo) {
#if defined(GEMMA12B_WITH_ONEDNN)
  // Row-major: out[M,N] = x[M,K] · w[N,K]^T.
  thread_local MatmulCache cache;
  if (cache.run(M, N, K, x, ldx, w, out, ldo)) return;
  dnnl_sgemm('N', 'T', M, N, K, 1.0f, x, ldx, w, K, 0.0f, out, ldo);
#else
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, ldx, w, K, 0.0f, out, ldo);
#endif
}

// Output rows of the weight matrix handled as one unit: a tile of weight rows stays in L2 while
// every 4-row chunk of activations passes over it.
constexpr int64_t kNTile = 32;
// From this many activation rows on, a quantized matmul uses the ISA's GEMM kernel if it has one.
constexpr int64_t kGemmMinRows = 16;

// This thread's GEMM tile scratch (gemm_scratch_bytes(K)), 64-byte aligned; grows only.
uint8_t* gemm_scratch(int64_t K) {
  thread_local std::vector<uint8_t> s;
  if (s.size() < gemm_scratch_bytes(K) + 64) s.resize(gemm_scratch_bytes(K) + 64);
  return s.data() + (64 - reinterpret_cast<uintptr_t>(s.data()) % 64) % 64;
}

// The int8 matmul over a weight with x16 tiles: item t < n_tiles is tile t (16 rows), the last
// item the rows past the tiles in the file's layout (row stride ldw from w0). Output rows of the
// uniform stride ldo from out.
// `batched`: the tiles go through the x16 GEMM kernel (prefill), and the tail through `gemm`,
// the file layout's GEMM kernel, where the ISA has one (else its row kernel, as without `batched`).
void matmul_x16(DType t16, const uint8_t* tiles, int64_t n_tiles, const uint8_t* w0, size_t ldw, int64_t N,
                int64_t K, const QActs& a, bool batched, GemmFn gemm, float* out, size_t ldo, const Context& ctx) {
  const Kernels& kn = ctx.kernels;
  const X16DotFn dot16 = kn.x16(t16);
  const X16GemmFn gemm16 = kn.gemm_x16(t16);
  const RowDotFn dot = kn.int8(t16);
  const int64_t M = a.rows(), tail0 = n_tiles * kX16Rows;
  const size_t tile_bytes = kX16Rows * ldw;
  const int64_t items = n_tiles + (tail0 < N ? 1 : 0);
  ctx.pool.parallel_for(items, [&](int64_t b, int64_t e, int) {
    uint8_t* scratch = batched ? gemm_scratch(K) : nullptr;
    QRow rows[kMaxRows];
    for (int64_t t = b; t < e; ++t) {
      const bool tail = t == n_tiles;
      const int64_t n0 = t * kX16Rows, nn = tail ? N - tail0 : kX16Rows;
      if (batched && !tail) {
        const int n = t + 1 < e && t + 1 < n_tiles ? 2 : 1;  // two tiles at once where this range has them
        gemm16(tiles + t * tile_bytes, tile_bytes, n, K, a, out + n0, ldo, scratch);
        t += n - 1;
        continue;
      }
      if (batched && gemm != nullptr) {
        gemm(w0 + n0 * ldw, ldw, nn, a, K, out + n0, ldo, scratch);
        continue;
      }
      for (int64_t m0 = 0; m0 < M; m0 += kMaxRows) {
        const int R = static_cast<int>(std::min<int64_t>(kMaxRows, M - m0));
        for (int r = 0; r < R; ++r) rows[r] = a.row(m0 + r);
        if (tail) {
          dot(w0 + n0 * ldw, ldw, nn, rows, R, K, out + m0 * ldo + n0, ldo);
        } else {
          dot16(tiles + t * tile_bytes, K, rows, R, out + m0 * ldo + n0, ldo);
        }
      }
    }
  });
}

// Matmul with int8 activations for q4_0/q8_0/q4_k/q6_k weights (cpu/qdot.h).
void matmul_int8(const Op& op, const Context& ctx) {
  const TensorView &x = op.src[0], &w = op.src[1], &d = op.dst;
  const int64_t M = x.n_rows(), N = w.dim(0), K = w.dim(1);
  const size_t ldw = w.stride[0], ldo = d.stride[d.rank - 2] / sizeof(float);
  // Several output rows per call need one row stride (any 2-D view, or contiguous).
  const bool uniform = d.rank == 2 || d.is_contiguous();
  const int64_t max_r = uniform ? kMaxRows : 1;
  const uint8_t* w0 = w.host_row(0);
  const GemmFn gemm = ctx.kernels.gemm(w.dtype);
  const bool use_gemm = gemm != nullptr && uniform && M >= kGemmMinRows;
  // q4_0/q8_0/q4_k/q6_k weights the device copied into x16 tiles (cpu_weights.h); rows past the last tile, and
  // every row of a weight without tiles, are read in the file's layout.
  const auto* wb = dynamic_cast<const CpuWeightBuffer*>(w.buffer);
  const uint8_t* x16 = wb != nullptr && uniform ? wb->tiles_for(w) : nullptr;
  const int64_t n_tiles = x16 != nullptr ? wb->full_tiles() : 0;
  thread_local QActs acts;  // the calling thread's; workers only read it
  acts.resize(M, K, /*nibble_order=*/w.dtype == DType::kQ4_0 && !use_gemm && ctx.kernels.q4_0_nibble_order &&
                        N > n_tiles * kX16Rows);
  QActs* a = &acts;
  auto quantize = [&](int64_t b, int64_t e, int) {
    for (int64_t m = b; m < e; ++m) a->quantize_row(m, reinterpret_cast<const float*>(x.host_row(m)));
  };
  if (M >= 8) {
    ctx.pool.parallel_for(M, quantize);
  } else {
    quantize(0, M, 0);
  }
  const RowDotFn dot = ctx.kernels.int8(w.dtype);
  if (x16 != nullptr) {
    const bool batched = uniform && M >= kGemmMinRows && ctx.kernels.gemm_x16(w.dtype) != nullptr;
    matmul_x16(w.dtype, x16, n_tiles, w0, ldw, N, K, *a, batched, gemm, reinterpret_cast<float*>(d.host_row(0)), ldo,
               ctx);
    return;
  }
  if (use_gemm) {
    // Prefill: tiles of 16 weight rows, each repacked once and met by every activation row.
    float* out = reinterpret_cast<float*>(d.host_row(0));
    const int64_t tiles = (N + kGemmTile - 1) / kGemmTile;
    ctx.pool.parallel_for(tiles, [&](int64_t b, int64_t e, int) {
      uint8_t* aligned = gemm_scratch(K);  // this worker's packed tile
      for (int64_t t = b; t < e; ++t) {
        const int64_t n0 = t * kGemmTile;
        gemm(w0 + n0 * ldw, ldw, std::min(kGemmTile, N - n0), *a, K, out + n0, ldo, aligned);
      }
    });
    return;
  }
  ctx.pool.parallel_for(N, [&](int64_t b, int64_t e, int) {
    QRow rows[kMaxRows];
    for (int64_t n0 = b; n0 < e; n0 += kNTile) {
      const int64_t nn = std::min(e - n0, kNTile);
      for (int64_t m0 = 0; m0 < M; m0 += max_r) {
        const int R = static_cast<int>(std::min<int64_t>(max_r, M - m0));
        for (int r = 0; r < R; ++r) rows[r] = a->row(m0 + r);
        dot(w0 + n0 * ldw, ldw, nn, rows, R, K, reinterpret_cast<float*>(d.host_row(m0)) + n0, ldo);
      }
    }
  });
}

// Matmul for f32/f16/bf16 weights with few activation rows: SIMD dots, no weight conversion.
void matmul_float_rows(const Op& op, const Context& ctx) {
  const TensorView &x = op.src[0], &w = op.src[1], &d = op.dst;
  const int64_t M = x.n_rows(), N = w.dim(0), K = w.dim(1);
  const FloatDotFn dot = ctx.kernels.fp(w.dtype);
  const size_t ldw = w.stride[0], ldo = d.stride[d.rank - 2] / sizeof(float);
  // Several output rows per call need one row stride (any 2-D view, or contiguous).
  const int64_t max_r = d.rank == 2 || d.is_contiguous() ? kMaxRows : 1;
  const uint8_t* w0 = w.host_row(0);
  ctx.pool.parallel_for(N, [&](int64_t b, int64_t e, int) {
    const float* rows[kMaxRows];
    for (int64_t n0 = b; n0 < e; n0 += kNTile) {
      const int64_t nn = std::min(e - n0, kNTile);
      for (int64_t m0 = 0; m0 < M; m0 += max_r) {
        const int R = static_cast<int>(std::min<int64_t>(max_r, M - m0));
        for (int r = 0; r < R; ++r) rows[r] = reinterpret_cast<const float*>(x.host_row(m0 + r));
        dot(w0 + n0 * ldw, ldw, nn, rows, R, K, reinterpret_cast<float*>(d.host_row(m0)) + n0, ldo);
      }
    }
  });
}

Status matmul(const Op& op, const Context& ctx) {
  ThreadPool& pool = ctx.pool;
  const TensorView &x = op.src[0], &w = op.src[1], &bias = op.src[2], &d = op.dst;
  const int64_t M = x.n_rows(), N = w.dim(0), K = w.dim(1);
  const bool contiguous = x.is_contiguous() && d.is_contiguous();
  const bool float_w = w.dtype == DType::kF32 || w.dtype == DType::kF16 || w.dtype == DType::kBF16;
  if (!ctx.exact_matmul && has_int8_kernel(w.dtype) && K % 64 == 0) {
    matmul_int8(op, ctx);
  } else if (float_w && (M < 8 || !contiguous)) {
    matmul_float_rows(op, ctx);
  } else if (M >= 8 && contiguous) {
    // Batched: convert weight panels to f32 (in parallel) and hand them to sgemm.
    const auto* xs = reinterpret_cast<const float*>(x.host_data());
    auto* out = reinterpret_cast<float*>(d.host_data());
    // f32 weights are read in place, all rows at once; others are converted a panel at a time.
    const bool in_place = w.dtype == DType::kF32 && w.is_contiguous();
    const int64_t panel =
        in_place ? N : std::max<int64_t>(16, std::min<int64_t>(N, (1 << 22) / std::max<int64_t>(K, 1)));
    std::vector<float> wbuf(in_place ? 0 : panel * K);
    for (int64_t n0 = 0; n0 < N; n0 += panel) {
      const int64_t nn = std::min(panel, N - n0);
      const float* wp;
      if (in_place) {
        wp = reinterpret_cast<const float*>(w.host_row(n0));
      } else {
        if (wbuf.empty()) wbuf.resize(panel * K);
        pool.parallel_for(nn, [&](int64_t b, int64_t e, int) {
          for (int64_t n = b; n < e; ++n) dequantize_row(w.dtype, w.host_row(n0 + n), &wbuf[n * K], K);
        });
        wp = wbuf.data();
      }
      sgemm_nt(M, nn, K, xs, K, wp, out + n0, N);
    }
  } else {
    // Quantized weights with exact (f32) activations and few rows: dequantize each row once.
    pool.parallel_for(N, [&](int64_t b, int64_t e, int) {
      for (int64_t n = b; n < e; ++n) {
        const float* wr = row_f32(w, n, tls_a);
        for (int64_t m = 0; m < M; ++m) {
          const float* xr = reinterpret_cast<const float*>(x.host_row(m));
          reinterpret_cast<float*>(d.host_row(m))[n] = dot(xr, wr, K);
        }
      }
    });
  }
  if (bias.valid()) {
    const auto* bv = reinterpret_cast<const float*>(bias.host_data());
    for (int64_t m = 0; m < M; ++m) {
      float* o = reinterpret_cast<float*>(d.host_row(m));
      for (int64_t n = 0; n < N; ++n) o[n] += bv[n];
    }
  }
  return OkStatus();
}

Status get_rows(const Op& op, ThreadPool& pool) {
  const TensorView &table = op.src[0], &d = op.dst;
  std::vector<int32_t> tmp;
  const int32_t* ids = i32_data(op.src[1], tmp);
  const int64_t n_ids = op.src[1].numel();
  for (int64_t t = 0; t < n_ids; ++t) {
    if (ids[t] < 0 || ids[t] >= table.dim(0)) {
      return InvalidArgument("get_rows: id %d at %d is outside [0, %d)", ids[t], t, table.dim(0));
    }
  }
  const int64_t D = table.dim(1);
  const float s = op.params.scale;
  // A weight the device copied into x16 tiles (the tied embedding) is read from the copy: the
  // file's pages were let go after the copy and stay out of resident memory.
  const auto* wb = dynamic_cast<const CpuWeightBuffer*>(table.buffer);
  if (wb != nullptr && wb->tiles_for(table) == nullptr) wb = nullptr;
  pool.parallel_for(n_ids, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<uint8_t> scratch;  // one unpacked row; grows once, not per decode step
    if (wb != nullptr && scratch.size() < table.row_bytes()) scratch.resize(table.row_bytes());
    for (int64_t t = b; t < e; ++t) {
      auto* o = reinterpret_cast<float*>(d.host_row(t));
      dequantize_row(table.dtype, wb != nullptr ? wb->row(ids[t], scratch.data()) : table.host_row(ids[t]), o,
                     D);
      for (int64_t i = 0; i < D; ++i) o[i] *= s;
    }
  });
  return OkStatus();
}

// Runs fn(src_row_ptrs..., dst_row, r) over rows in parallel. All operands are f32.
template <typename F>
void for_rows(ThreadPool& pool, int64_t rows, F fn) {
  pool.parallel_for(rows, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) fn(r);
  });
}

Status norm(const Op& op, ThreadPool& pool, bool layer) {
  const TensorView& x = op.src[0];
  const int64_t D = x.row_len();
  const float* w = op.src[1].valid() ? reinterpret_cast<const float*>(op.src[1].host_data()) : nullptr;
  const float* bias = op.src[2].valid() ? reinterpret_cast<const float*>(op.src[2].host_data()) : nullptr;
  const float eps = op.params.eps;
  for_rows(pool, x.n_rows(), [&](int64_t r) {
    const float* in = f32_row(x, r);
    float* out = f32_row_mut(op.dst, r);
    float mean = 0.0f;
    if (layer) {
      double s = 0.0;
      for (int64_t i = 0; i < D; ++i) s += in[i];
      mean = static_cast<float>(s / D);
    }
    double ss = 0.0;
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(in[i] - mean) * (in[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / D + eps));
    for (int64_t i = 0; i < D; ++i) {
      float v = (in[i] - mean) * inv;
      if (w) v *= w[i];
      if (bias) v += bias[i];
      out[i] = v;
    }
  });
  return OkStatus();
}

Status rope(const Op& op, ThreadPool& pool) {
  const TensorView& x = op.src[0];
  const int64_t T = x.dim(0), H = x.dim(1), D = x.dim(2);
  const int64_t n_rot = op.params.n_rot == 0 ? D : op.params.n_rot, half = n_rot / 2;
  std::vector<int32_t> tmp;
  const int32_t* pos = i32_data(op.src[1], tmp);
  // The caller's scratch; workers read it through a plain pointer (naming a thread_local inside
  // the lambda would give each worker its own, empty, instance).
  thread_local std::vector<double> inv_freq_scratch;
  inv_freq_scratch.resize(half);
  double* inv_freq = inv_freq_scratch.data();
  const float* ff = op.src[2].valid() ? reinterpret_cast<const float*>(op.src[2].host_data()) : nullptr;
  for (int64_t i = 0; i < half; ++i) {
    inv_freq[i] = std::pow(static_cast<double>(op.params.theta), -2.0 * i / n_rot) / (ff ? ff[i] : 1.0);
  }
  for_rows(pool, T, [&](int64_t t) {
    std::vector<float>& cs = tls_b;
    scratch(cs, 2 * half);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos[t] * inv_freq[i];
      cs[2 * i] = static_cast<float>(std::cos(angle));
      cs[2 * i + 1] = static_cast<float>(std::sin(angle));
    }
    for (int64_t h = 0; h < H; ++h) {
      const float* in = f32_row(x, t * H + h);
      float* out = f32_row_mut(op.dst, t * H + h);
      for (int64_t i = 0; i < half; ++i) {
        const float a = in[i], b = in[i + half], c = cs[2 * i], s = cs[2 * i + 1];
        out[i] = a * c - b * s;
        out[i + half] = a * s + b * c;
      }
      if (out != in) std::memcpy(out + n_rot, in + n_rot, (D - n_rot) * sizeof(float));
    }
  });
  return OkStatus();
}

template <typename F>
Status binary(const Op& op, ThreadPool& pool, F f) {
  const TensorView &a = op.src[0], &b = op.src[1];
  const int64_t D = a.row_len();
  const bool scalar = b.numel() == 1, row = !scalar && b.n_rows() == 1;
  for_rows(pool, a.n_rows(), [&](int64_t r) {
    const float* x = f32_row(a, r);
    const float* y = f32_row(b, scalar || row ? 0 : r);
    float* out = f32_row_mut(op.dst, r);
    if (scalar) {
      for (int64_t i = 0; i < D; ++i) out[i] = f(x[i], y[0]);
    } else {
      for (int64_t i = 0; i < D; ++i) out[i] = f(x[i], y[i]);
    }
  });
  return OkStatus();
}

template <typename F>
Status unary(const Op& op, ThreadPool& pool, F f) {
  const int64_t D = op.src[0].row_len();
  for_rows(pool, op.src[0].n_rows(), [&](int64_t r) {
    const float* x = f32_row(op.src[0], r);
    float* out = f32_row_mut(op.dst, r);
    for (int64_t i = 0; i < D; ++i) out[i] = f(x[i]);
  });
  return OkStatus();
}

Status softmax(const Op& op, ThreadPool& pool) {
  const int64_t D = op.src[0].row_len();
  const float sc = op.params.scale;
  for_rows(pool, op.src[0].n_rows(), [&](int64_t r) {
    const float* x = f32_row(op.src[0], r);
    float* out = f32_row_mut(op.dst, r);
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < D; ++i) mx = std::max(mx, x[i] * sc);
    double sum = 0.0;
    for (int64_t i = 0; i < D; ++i) sum += out[i] = std::exp(x[i] * sc - mx);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < D; ++i) out[i] *= inv;
  });
  return OkStatus();
}

Status copy(const Op& op, ThreadPool& pool) {
  const TensorView &a = op.src[0], &d = op.dst;
  const int64_t D = a.row_len();
  for_rows(pool, a.n_rows(), [&](int64_t r) {
    if (a.dtype == d.dtype) {
      std::memmove(d.host_row(r), a.host_row(r), a.row_bytes());
    } else if (d.dtype == DType::kF32) {
      dequantize_row(a.dtype, a.host_row(r), f32_row_mut(d, r), D);
    } else {
      quantize_row(d.dtype, f32_row(a, r), d.host_row(r), D);
    }
  });
  return OkStatus();
}

// Element ops row by row in pieces of kPiece values, so that one long row (a decode step's
// 15,360 FFN values or 262,144 logits) is shared by all threads: fn(r, begin, end).
constexpr int64_t kPiece = 4096;

template <typename F>
void for_pieces(ThreadPool& pool, int64_t rows, int64_t D, F fn) {
  const int64_t per_row = (D + kPiece - 1) / kPiece;
  pool.parallel_for(rows * per_row, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / per_row, i0 = (t % per_row) * kPiece;
      fn(r, i0, std::min(D, i0 + kPiece));
    }
  });
}

Status geglu(const Op& op, const Context& ctx) {
  const TensorView &g = op.src[0], &u = op.src[1];
  for_pieces(ctx.pool, g.n_rows(), g.row_len(), [&](int64_t r, int64_t b, int64_t e) {
    ctx.kernels.geglu(f32_row(g, r) + b, f32_row(u, r) + b, f32_row_mut(op.dst, r) + b, e - b);
  });
  return OkStatus();
}

Status softcap(const Op& op, const Context& ctx) {
  const TensorView& x = op.src[0];
  for_pieces(ctx.pool, x.n_rows(), x.row_len(), [&](int64_t r, int64_t b, int64_t e) {
    ctx.kernels.softcap(f32_row(x, r) + b, f32_row_mut(op.dst, r) + b, e - b, op.params.cap);
  });
  return OkStatus();
}

}  // namespace

const int32_t* i32_data(const TensorView& t, std::vector<int32_t>& fallback) {
  if (t.is_contiguous()) return t.data<int32_t>();
  fallback = read_i32(t);
  return fallback.data();
}

Status execute(const Op& op, const Context& ctx) {
  ThreadPool& pool = ctx.pool;
  switch (op.kind) {
    case OpKind::kMatmul: return matmul(op, ctx);
    case OpKind::kGetRows: return get_rows(op, pool);
    case OpKind::kRmsNorm: return norm(op, pool, /*layer=*/false);
    case OpKind::kLayerNorm: return norm(op, pool, /*layer=*/true);
    case OpKind::kRope: return rope(op, pool);
    case OpKind::kAttention: return attention(op, ctx);
    case OpKind::kGeglu: return geglu(op, ctx);
    case OpKind::kAdd: return binary(op, pool, [](float x, float y) { return x + y; });
    case OpKind::kMul: return binary(op, pool, [](float x, float y) { return x * y; });
    case OpKind::kScale: {
      const float s = op.params.scale;
      return unary(op, pool, [s](float x) { return x * s; });
    }
    case OpKind::kSoftcap: return softcap(op, ctx);
    case OpKind::kSoftmax: return softmax(op, pool);
    case OpKind::kCopy:
    case OpKind::kDequantize: return copy(op, pool);
    case OpKind::kCount: break;
  }
  return InvalidArgument("cpu: unknown op %d", static_cast<int>(op.kind));
}

}  // namespace gemma12b::cpu
