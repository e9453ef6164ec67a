#include "core/ops.h"

#include <array>
#include <string>

namespace gemma12b {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(OpKind::kCount)> kOpNames = {
    "matmul", "get_rows", "rms_norm", "layer_norm", "rope",    "attention",  "geglu",
    "add",    "mul",      "scale",    "softcap",    "softmax", "copy",       "dequantize"};

// Error helper: every message names the op and the offending argument.
template <typename... Args>
Status bad(const Op& op, const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return InvalidArgument("%s: %s", std::string(op_name(op.kind)), absl::StrFormat(fmt, args...));
}

Status need(const Op& op, const TensorView& t, const char* what, DType dtype) {
  if (!t.valid()) return bad(op, "missing %s", what);
  if (t.dtype != dtype) {
    return bad(op, "%s must be %s, got %s", what, std::string(dtype_name(dtype)),
               std::string(dtype_name(t.dtype)));
  }
  return OkStatus();
}

Status need_rank(const Op& op, const TensorView& t, const char* what, int rank) {
  if (t.rank != rank) return bad(op, "%s must have rank %d, has shape %s", what, rank, t.shape_string());
  return OkStatus();
}

bool same_shape(const TensorView& a, const TensorView& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.shape[i] != b.shape[i]) return false;
  }
  return true;
}

// Element-wise ops want the same row structure: equal row length and row count.
Status same_rows(const Op& op, const TensorView& a, const char* an, const TensorView& b,
                 const char* bn) {
  if (a.row_len() != b.row_len() || a.n_rows() != b.n_rows()) {
    return bad(op, "%s %s and %s %s differ in shape", an, a.shape_string(), bn, b.shape_string());
  }
  return OkStatus();
}

Status check_rows_layout(const Op& op, const TensorView& t, const char* what) {
  if (t.rank < 1 || t.rank > kMaxDims) return bad(op, "%s has invalid rank %d", what, t.rank);
  for (int i = 0; i < t.rank; ++i) {
    if (t.shape[i] < 0) return bad(op, "%s has a negative dim in %s", what, t.shape_string());
  }
  if (!row_size_checked(t.dtype, t.row_len())) {
    return bad(op, "%s row length %d is not a multiple of the %s block", what, t.row_len(),
               std::string(dtype_name(t.dtype)));
  }
  if (t.buffer != nullptr) {
    const int64_t rows = t.n_rows();
    if (rows > 0 && t.row_len() > 0) {
      const size_t last = t.row_offset(rows - 1) + t.row_bytes();
      if (t.offset > t.buffer->size() || last > t.buffer->size()) {
        return bad(op, "%s %s reaches past its buffer (%d bytes)", what, t.shape_string(),
                   t.buffer->size());
      }
    }
  }
  return OkStatus();
}

Status broadcastable(const Op& op, const TensorView& a, const TensorView& b) {
  if (b.numel() == 1) return OkStatus();
  if (b.n_rows() == 1 && b.row_len() == a.row_len()) return OkStatus();
  return same_rows(op, a, "src0", b, "src1");
}

}  // namespace

std::string_view op_name(OpKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kOpNames.size() ? kOpNames[i] : std::string_view("invalid");
}

Status validate_op(const Op& op) {
  if (static_cast<int>(op.kind) < 0 || op.kind >= OpKind::kCount) {
    return InvalidArgument("unknown op kind %d", static_cast<int>(op.kind));
  }
  if (!op.dst.valid()) return bad(op, "missing dst");
  G12_RETURN_IF_ERROR(check_rows_layout(op, op.dst, "dst"));
  for (int i = 0; i < kMaxOpSrc; ++i) {
    if (op.src[i].valid()) G12_RETURN_IF_ERROR(check_rows_layout(op, op.src[i], "src"));
  }
  const TensorView& d = op.dst;
  const TensorView& a = op.src[0];
  const TensorView& b = op.src[1];
  switch (op.kind) {
    case OpKind::kMatmul: {
      G12_RETURN_IF_ERROR(need(op, a, "x", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      if (!b.valid()) return bad(op, "missing weights");
      if (b.dtype == DType::kI32) return bad(op, "weights cannot be i32");
      G12_RETURN_IF_ERROR(need_rank(op, b, "weights", 2));
      if (a.row_len() != b.dim(1)) {
        return bad(op, "x %s and weights %s disagree on K", a.shape_string(), b.shape_string());
      }
      if (d.row_len() != b.dim(0) || d.n_rows() != a.n_rows()) {
        return bad(op, "dst %s should be [%d, %d]", d.shape_string(), a.n_rows(), b.dim(0));
      }
      if (op.src[2].valid()) {
        G12_RETURN_IF_ERROR(need(op, op.src[2], "bias", DType::kF32));
        if (op.src[2].numel() != b.dim(0)) return bad(op, "bias %s should have %d elements", op.src[2].shape_string(), b.dim(0));
      }
      return OkStatus();
    }
    case OpKind::kGetRows: {
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      if (!a.valid() || a.dtype == DType::kI32) return bad(op, "table must be a non-i32 tensor");
      G12_RETURN_IF_ERROR(need_rank(op, a, "table", 2));
      G12_RETURN_IF_ERROR(need(op, b, "ids", DType::kI32));
      if (d.row_len() != a.dim(1) || d.n_rows() != b.numel()) {
        return bad(op, "dst %s should be [%d, %d]", d.shape_string(), b.numel(), a.dim(1));
      }
      return OkStatus();  // id range is checked by the backend (it reads the ids)
    }
    case OpKind::kRmsNorm:
    case OpKind::kLayerNorm: {
      G12_RETURN_IF_ERROR(need(op, a, "x", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      G12_RETURN_IF_ERROR(same_rows(op, a, "x", d, "dst"));
      const int n_params = op.kind == OpKind::kLayerNorm ? 2 : 1;
      for (int i = 1; i <= n_params; ++i) {
        const TensorView& w = op.src[i];
        if (!w.valid()) {
          if (op.kind == OpKind::kLayerNorm) return bad(op, "missing weight or bias");
          continue;
        }
        G12_RETURN_IF_ERROR(need(op, w, "weight", DType::kF32));
        if (w.numel() != a.row_len()) return bad(op, "weight %s should have %d elements", w.shape_string(), a.row_len());
      }
      if (!(op.params.eps >= 0.0f)) return bad(op, "eps must be >= 0");
      return OkStatus();
    }
    case OpKind::kRope: {
      G12_RETURN_IF_ERROR(need(op, a, "x", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      G12_RETURN_IF_ERROR(need_rank(op, a, "x", 3));
      if (!same_shape(a, d)) return bad(op, "dst %s differs from x %s", d.shape_string(), a.shape_string());
      G12_RETURN_IF_ERROR(need(op, b, "positions", DType::kI32));
      if (b.numel() != a.dim(0)) return bad(op, "positions %s should have %d entries", b.shape_string(), a.dim(0));
      const int64_t n_rot = op.params.n_rot == 0 ? a.dim(2) : op.params.n_rot;
      if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > a.dim(2)) return bad(op, "n_rot %d invalid for head dim %d", n_rot, a.dim(2));
      if (op.src[2].valid()) {
        G12_RETURN_IF_ERROR(need(op, op.src[2], "freq_factors", DType::kF32));
        if (op.src[2].numel() < n_rot / 2) return bad(op, "freq_factors needs %d entries", n_rot / 2);
      }
      if (!(op.params.theta > 0.0f)) return bad(op, "theta must be > 0");
      return OkStatus();
    }
    case OpKind::kAttention: {
      const TensorView& k = op.src[1];
      const TensorView& v = op.src[2];
      G12_RETURN_IF_ERROR(need(op, a, "q", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      G12_RETURN_IF_ERROR(need_rank(op, a, "q", 3));
      G12_RETURN_IF_ERROR(need_rank(op, k, "k", 3));
      G12_RETURN_IF_ERROR(need_rank(op, v, "v", 3));
      G12_RETURN_IF_ERROR(need_rank(op, d, "dst", 3));
      for (const TensorView* t : {&k, &v}) {
        if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kQ8_0) {
          return bad(op, "k/v must be f32, f16 or q8_0, got %s", std::string(dtype_name(t->dtype)));
        }
      }
      const int64_t T = a.dim(0), Hq = a.dim(1), D = a.dim(2), S = k.dim(0), Hkv = k.dim(1);
      if (k.dim(2) != D) return bad(op, "k head dim %d != q head dim %d", k.dim(2), D);
      if (v.dim(0) != S || v.dim(1) != Hkv) return bad(op, "v %s does not match k %s", v.shape_string(), k.shape_string());
      if (Hkv <= 0 || Hq % Hkv != 0) return bad(op, "%d query heads not divisible by %d kv heads", Hq, Hkv);
      if (d.dim(0) != T || d.dim(1) != Hq || d.dim(2) != v.dim(2)) return bad(op, "dst %s should be [%d, %d, %d]", d.shape_string(), T, Hq, v.dim(2));
      G12_RETURN_IF_ERROR(need(op, op.src[3], "qpos", DType::kI32));
      G12_RETURN_IF_ERROR(need(op, op.src[4], "kpos", DType::kI32));
      if (op.src[3].numel() != T) return bad(op, "qpos needs %d entries", T);
      if (op.src[4].numel() != S) return bad(op, "kpos needs %d entries", S);
      if (op.src[5].valid() != op.src[6].valid()) return bad(op, "qblock and kblock come together");
      if (op.src[5].valid()) {
        G12_RETURN_IF_ERROR(need(op, op.src[5], "qblock", DType::kI32));
        G12_RETURN_IF_ERROR(need(op, op.src[6], "kblock", DType::kI32));
        if (op.src[5].numel() != T || op.src[6].numel() != S) return bad(op, "block id arrays have wrong sizes");
      }
      return OkStatus();
    }
    case OpKind::kGeglu:
      G12_RETURN_IF_ERROR(need(op, a, "gate", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, b, "up", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      G12_RETURN_IF_ERROR(same_rows(op, a, "gate", b, "up"));
      return same_rows(op, a, "gate", d, "dst");
    case OpKind::kAdd:
    case OpKind::kMul:
      G12_RETURN_IF_ERROR(need(op, a, "src0", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, b, "src1", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      G12_RETURN_IF_ERROR(same_rows(op, a, "src0", d, "dst"));
      return broadcastable(op, a, b);
    case OpKind::kScale:
    case OpKind::kSoftmax:
      G12_RETURN_IF_ERROR(need(op, a, "x", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      return same_rows(op, a, "x", d, "dst");
    case OpKind::kSoftcap:
      G12_RETURN_IF_ERROR(need(op, a, "x", DType::kF32));
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      if (!(op.params.cap > 0.0f)) return bad(op, "cap must be > 0");
      return same_rows(op, a, "x", d, "dst");
    case OpKind::kCopy: {
      if (!a.valid()) return bad(op, "missing src");
      const bool ok_types = (a.dtype == DType::kF32 && d.dtype != DType::kI32 &&
                             d.dtype != DType::kQ4_K && d.dtype != DType::kQ6_K) ||
                            (d.dtype == DType::kF32 && a.dtype != DType::kI32) ||
                            (a.dtype == DType::kI32 && d.dtype == DType::kI32);
      if (!ok_types) {
        return bad(op, "cannot copy %s to %s", std::string(dtype_name(a.dtype)), std::string(dtype_name(d.dtype)));
      }
      return same_rows(op, a, "src", d, "dst");
    }
    case OpKind::kDequantize:
      if (!a.valid() || a.dtype == DType::kI32) return bad(op, "src must be a non-i32 tensor");
      G12_RETURN_IF_ERROR(need(op, d, "dst", DType::kF32));
      return same_rows(op, a, "src", d, "dst");
    case OpKind::kCount:
      break;
  }
  return bad(op, "unknown op");
}

namespace ops {
namespace {

Status run(Stream& s, Op& op) {
  G12_RETURN_IF_ERROR(validate_op(op));
  return s.execute(op);
}

}  // namespace

Status matmul(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& w,
              const TensorView& bias) {
  Op op{OpKind::kMatmul, dst, {x, w, bias}, {}};
  return run(s, op);
}

Status get_rows(Stream& s, const TensorView& dst, const TensorView& table, const TensorView& ids,
                float scale) {
  Op op{OpKind::kGetRows, dst, {table, ids}, {}};
  op.params.scale = scale;
  return run(s, op);
}

Status rms_norm(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& weight,
                float eps) {
  Op op{OpKind::kRmsNorm, dst, {x, weight}, {}};
  op.params.eps = eps;
  return run(s, op);
}

Status layer_norm(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& weight,
                  const TensorView& bias, float eps) {
  Op op{OpKind::kLayerNorm, dst, {x, weight, bias}, {}};
  op.params.eps = eps;
  return run(s, op);
}

Status rope(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& positions,
            const TensorView& freq_factors, float theta, int32_t n_rot) {
  Op op{OpKind::kRope, dst, {x, positions, freq_factors}, {}};
  op.params.theta = theta;
  op.params.n_rot = n_rot;
  return run(s, op);
}

Status attention(Stream& s, const TensorView& dst, const AttentionArgs& a) {
  Op op{OpKind::kAttention, dst, {a.q, a.k, a.v, a.qpos, a.kpos, a.qblock, a.kblock}, {}};
  op.params.scale = a.scale;
  op.params.window = a.window;
  return run(s, op);
}

Status geglu(Stream& s, const TensorView& dst, const TensorView& gate, const TensorView& up) {
  Op op{OpKind::kGeglu, dst, {gate, up}, {}};
  return run(s, op);
}

Status add(Stream& s, const TensorView& dst, const TensorView& a, const TensorView& b) {
  Op op{OpKind::kAdd, dst, {a, b}, {}};
  return run(s, op);
}

Status mul(Stream& s, const TensorView& dst, const TensorView& a, const TensorView& b) {
  Op op{OpKind::kMul, dst, {a, b}, {}};
  return run(s, op);
}

Status scale(Stream& s, const TensorView& dst, const TensorView& x, float factor) {
  Op op{OpKind::kScale, dst, {x}, {}};
  op.params.scale = factor;
  return run(s, op);
}

Status softcap(Stream& s, const TensorView& dst, const TensorView& x, float cap) {
  Op op{OpKind::kSoftcap, dst, {x}, {}};
  op.params.cap = cap;
  return run(s, op);
}

Status softmax(Stream& s, const TensorView& dst, const TensorView& x, float scale) {
  Op op{OpKind::kSoftmax, dst, {x}, {}};
  op.params.scale = scale;
  return run(s, op);
}

Status copy(Stream& s, const TensorView& dst, const TensorView& src) {
  Op op{OpKind::kCopy, dst, {src}, {}};
  return run(s, op);
}

Status dequantize(Stream& s, const TensorView& dst, const TensorView& src) {
  Op op{OpKind::kDequantize, dst, {src}, {}};
  return run(s, op);
}

}  // namespace ops
}  // namespace gemma12b
