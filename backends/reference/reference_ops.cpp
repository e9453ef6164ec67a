#include "reference/reference_ops.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/quant.h"

namespace gemma12b::reference {
namespace {

// Row r of t as f32 (dequantized/converted as needed).
std::vector<float> read_row(const TensorView& t, int64_t r) {
  std::vector<float> out(t.row_len());
  dequantize_row(t.dtype, t.host_row(r), out.data(), t.row_len());
  return out;
}

void write_row(const TensorView& t, int64_t r, const std::vector<float>& v) {
  quantize_row(t.dtype, v.data(), t.host_row(r), t.row_len());
}

double gelu_tanh(double z) {
  constexpr double kC = 0.7978845608028654;  // sqrt(2/pi)
  return 0.5 * z * (1.0 + std::tanh(kC * (z + 0.044715 * z * z * z)));
}

Status matmul(const Op& op) {
  const TensorView &x = op.src[0], &w = op.src[1], &bias = op.src[2], &d = op.dst;
  const int64_t M = x.n_rows(), N = w.dim(0), K = w.dim(1);
  std::vector<float> b = bias.valid() ? read_row(bias.reshape({N}), 0) : std::vector<float>(N, 0.0f);
  std::vector<std::vector<float>> xs(M);
  for (int64_t m = 0; m < M; ++m) xs[m] = read_row(x, m);
  std::vector<std::vector<float>> out(M, std::vector<float>(N));
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<float> wr = read_row(w, n);
    for (int64_t m = 0; m < M; ++m) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(xs[m][k]) * wr[k];
      out[m][n] = static_cast<float>(acc + b[n]);
    }
  }
  for (int64_t m = 0; m < M; ++m) write_row(d, m, out[m]);
  return OkStatus();
}

Status get_rows(const Op& op) {
  const TensorView &table = op.src[0], &d = op.dst;
  const std::vector<int32_t> ids = read_i32(op.src[1]);
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= table.dim(0)) {
      return InvalidArgument("get_rows: id %d at %d is outside [0, %d)", ids[t], t, table.dim(0));
    }
  }
  for (size_t t = 0; t < ids.size(); ++t) {
    std::vector<float> row = read_row(table, ids[t]);
    for (float& v : row) v *= op.params.scale;
    write_row(d, static_cast<int64_t>(t), row);
  }
  return OkStatus();
}

Status norm(const Op& op, bool layer) {
  const TensorView& x = op.src[0];
  const int64_t D = x.row_len();
  std::vector<float> w = op.src[1].valid() ? read_row(op.src[1].reshape({D}), 0) : std::vector<float>(D, 1.0f);
  std::vector<float> b = op.src[2].valid() ? read_row(op.src[2].reshape({D}), 0) : std::vector<float>(D, 0.0f);
  for (int64_t r = 0; r < x.n_rows(); ++r) {
    std::vector<float> v = read_row(x, r);
    double mean = 0.0;
    if (layer) {
      for (float e : v) mean += e;
      mean /= static_cast<double>(D);
    }
    double ss = 0.0;
    for (float e : v) ss += (e - mean) * (e - mean);
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(D) + op.params.eps);
    for (int64_t i = 0; i < D; ++i) v[i] = static_cast<float>((v[i] - mean) * inv * w[i] + b[i]);
    write_row(op.dst, r, v);
  }
  return OkStatus();
}

Status rope(const Op& op) {
  const TensorView& x = op.src[0];
  const int64_t T = x.dim(0), H = x.dim(1), D = x.dim(2);
  const int64_t n_rot = op.params.n_rot == 0 ? D : op.params.n_rot, half = n_rot / 2;
  const std::vector<int32_t> pos = read_i32(op.src[1]);
  std::vector<float> ff(half, 1.0f);
  if (op.src[2].valid()) {
    std::vector<float> all = read_row(op.src[2].reshape({op.src[2].numel()}), 0);
    std::copy(all.begin(), all.begin() + half, ff.begin());
  }
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      std::vector<float> v = read_row(x, t * H + h);
      for (int64_t i = 0; i < half; ++i) {
        const double inv_freq = std::pow(static_cast<double>(op.params.theta), -2.0 * i / n_rot);
        const double angle = pos[t] * inv_freq / ff[i];
        const double c = std::cos(angle), s = std::sin(angle);
        const double a = v[i], b = v[i + half];
        v[i] = static_cast<float>(a * c - b * s);
        v[i + half] = static_cast<float>(a * s + b * c);
      }
      write_row(op.dst, t * H + h, v);
    }
  }
  return OkStatus();
}

Status attention(const Op& op) {
  const TensorView &q = op.src[0], &k = op.src[1], &v = op.src[2];
  const int64_t T = q.dim(0), Hq = q.dim(1), D = q.dim(2), S = k.dim(0), Hkv = k.dim(1);
  const int64_t Dv = v.dim(2), group = Hq / Hkv;
  const std::vector<int32_t> qpos = read_i32(op.src[3]), kpos = read_i32(op.src[4]);
  std::vector<int32_t> qblock(T, -1), kblock(S, -1);
  if (op.src[5].valid()) {
    qblock = read_i32(op.src[5]);
    kblock = read_i32(op.src[6]);
  }
  const int32_t window = op.params.window;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      const std::vector<float> qr = read_row(q, t * Hq + h);
      std::vector<double> score(S, -std::numeric_limits<double>::infinity());
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t s = 0; s < S; ++s) {
        const bool in_block = qblock[t] >= 0 && qblock[t] == kblock[s];
        const bool visible = kpos[s] >= 0 && (kpos[s] <= qpos[t] || in_block) &&
                             (window <= 0 || qpos[t] - kpos[s] < window);
        if (!visible) continue;
        const std::vector<float> kr = read_row(k, s * Hkv + hk);
        double dot = 0.0;
        for (int64_t i = 0; i < D; ++i) dot += static_cast<double>(qr[i]) * kr[i];
        score[s] = dot * op.params.scale;
        mx = std::max(mx, score[s]);
      }
      std::vector<double> acc(Dv, 0.0);
      double denom = 0.0;
      if (mx != -std::numeric_limits<double>::infinity()) {
        for (int64_t s = 0; s < S; ++s) {
          if (score[s] == -std::numeric_limits<double>::infinity()) continue;
          const double p = std::exp(score[s] - mx);
          denom += p;
          const std::vector<float> vr = read_row(v, s * Hkv + hk);
          for (int64_t i = 0; i < Dv; ++i) acc[i] += p * vr[i];
        }
      }
      std::vector<float> out(Dv, 0.0f);
      for (int64_t i = 0; i < Dv && denom > 0.0; ++i) out[i] = static_cast<float>(acc[i] / denom);
      write_row(op.dst, t * Hq + h, out);
    }
  }
  return OkStatus();
}

// dst = f(src0, src1) with src1 broadcast as in kAdd.
template <typename F>
Status binary(const Op& op, F f) {
  const TensorView &a = op.src[0], &b = op.src[1];
  const int64_t D = a.row_len();
  const bool scalar = b.numel() == 1, row = !scalar && b.n_rows() == 1;
  std::vector<float> bb;
  if (scalar || row) bb = read_row(b.reshape({b.numel()}), 0);
  for (int64_t r = 0; r < a.n_rows(); ++r) {
    std::vector<float> x = read_row(a, r);
    std::vector<float> y = scalar || row ? bb : read_row(b, r);
    for (int64_t i = 0; i < D; ++i) x[i] = f(x[i], y[scalar ? 0 : i]);
    write_row(op.dst, r, x);
  }
  return OkStatus();
}

template <typename F>
Status unary(const Op& op, F f) {
  for (int64_t r = 0; r < op.src[0].n_rows(); ++r) {
    std::vector<float> x = read_row(op.src[0], r);
    for (float& e : x) e = f(e);
    write_row(op.dst, r, x);
  }
  return OkStatus();
}

Status softmax(const Op& op) {
  for (int64_t r = 0; r < op.src[0].n_rows(); ++r) {
    std::vector<float> x = read_row(op.src[0], r);
    double mx = -std::numeric_limits<double>::infinity(), sum = 0.0;
    for (float e : x) mx = std::max(mx, static_cast<double>(e) * op.params.scale);
    std::vector<double> p(x.size());
    for (size_t i = 0; i < x.size(); ++i) sum += p[i] = std::exp(x[i] * static_cast<double>(op.params.scale) - mx);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(p[i] / sum);
    write_row(op.dst, r, x);
  }
  return OkStatus();
}

Status copy(const Op& op) {
  const TensorView &a = op.src[0], &d = op.dst;
  for (int64_t r = 0; r < a.n_rows(); ++r) {
    if (a.dtype == d.dtype) {
      std::memmove(d.host_row(r), a.host_row(r), a.row_bytes());
    } else {
      write_row(d, r, read_row(a, r));
    }
  }
  return OkStatus();
}

}  // namespace

Status execute(const Op& op) {
  switch (op.kind) {
    case OpKind::kMatmul: return matmul(op);
    case OpKind::kGetRows: return get_rows(op);
    case OpKind::kRmsNorm: return norm(op, /*layer=*/false);
    case OpKind::kLayerNorm: return norm(op, /*layer=*/true);
    case OpKind::kRope: return rope(op);
    case OpKind::kAttention: return attention(op);
    case OpKind::kGeglu:
      return binary(op, [](float g, float u) { return static_cast<float>(gelu_tanh(g) * u); });
    case OpKind::kAdd: return binary(op, [](float x, float y) { return x + y; });
    case OpKind::kMul: return binary(op, [](float x, float y) { return x * y; });
    case OpKind::kScale: {
      const float s = op.params.scale;
      return unary(op, [s](float x) { return x * s; });
    }
    case OpKind::kSoftcap: {
      const double cap = op.params.cap;
      return unary(op, [cap](float x) { return static_cast<float>(cap * std::tanh(x / cap)); });
    }
    case OpKind::kSoftmax: return softmax(op);
    case OpKind::kCopy:
    case OpKind::kDequantize: return copy(op);
    case OpKind::kCount: break;
  }
  return InvalidArgument("reference: unknown op %d", static_cast<int>(op.kind));
}

}  // namespace gemma12b::reference
