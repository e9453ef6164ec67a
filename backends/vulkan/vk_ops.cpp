// Op recorders: each op becomes one or a few dispatches of the shaders in shaders/, with push
// constants from shaders/push.h. Tensors are bound as byte ranges (offset aligned down to the
// device's minStorageBufferOffsetAlignment) and addressed by shaders/push.h Rows.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "vulkan/vk_stream.h"
#include "vulkan/shaders/push.h"

namespace gemma12b::vk {
namespace {

static_assert(sizeof(Rows) == 16);
static_assert(sizeof(MatmulPush) <= kPushBytes && sizeof(RowsPush) <= kPushBytes);
static_assert(sizeof(QuantPush) <= kPushBytes && sizeof(MatmulInt8Push) <= kPushBytes);
static_assert(sizeof(NormPush) <= kPushBytes && sizeof(RopePush) <= kPushBytes);
static_assert(sizeof(AttnPush) <= kPushBytes && sizeof(EltPush) <= kPushBytes);
static_assert(sizeof(SoftmaxPush) <= kPushBytes && sizeof(CopyPush) <= kPushBytes);
static_assert(static_cast<int>(DType::kQ6_K) == G12_Q6_K && static_cast<int>(DType::kI32) == G12_I32);

constexpr uint32_t kMaxGroups = 65535;

struct Bound {
  Binding binding;
  Rows rows{};
};

const char* type_suffix(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kQ4_0: return "q4_0";
    case DType::kQ4_K: return "q4_k";
    case DType::kQ6_K: return "q6_k";
    default: return "?";
  }
}

// Row addressing of t's leading dims (rank 4 only when two leading dims merge).
bool rows_of(const TensorView& t, Rows* out) {
  int64_t d1 = 1;
  size_t s0 = 0, s1 = 0;
  switch (t.rank) {
    case 1: break;
    case 2: s0 = t.stride[0]; break;
    case 3: d1 = t.shape[1]; s0 = t.stride[0]; s1 = t.stride[1]; break;
    case 4:
      if (t.stride[0] == static_cast<size_t>(t.shape[1]) * t.stride[1]) {
        d1 = t.shape[2]; s0 = t.stride[1]; s1 = t.stride[2];
      } else if (t.stride[1] == static_cast<size_t>(t.shape[2]) * t.stride[2]) {
        d1 = t.shape[1] * t.shape[2]; s0 = t.stride[0]; s1 = t.stride[2];
      } else {
        return false;
      }
      break;
    default: return false;
  }
  if (d1 <= 0 || d1 > UINT32_MAX || s0 > UINT32_MAX || s1 > UINT32_MAX) return false;
  *out = Rows{0, static_cast<uint32_t>(d1), static_cast<uint32_t>(s0), static_cast<uint32_t>(s1)};
  return true;
}

// Binds the bytes t spans. Unimplemented when the span is larger than one storage-buffer binding
// may be, or the view cannot be addressed.
StatusOr<Bound> bind(const Context& c, const TensorView& t) {
  Bound b;
  if (!rows_of(t, &b.rows)) return Unimplemented("the view %s cannot be addressed by the shaders", t.shape_string());
  const auto* buf = static_cast<const VulkanBuffer*>(t.buffer);
  const size_t lo = t.offset;
  const size_t hi = t.n_rows() > 0 ? t.row_offset(t.n_rows() - 1) + t.row_bytes() : lo;
  const size_t align = std::max<size_t>(4, c.props.limits.minStorageBufferOffsetAlignment);
  const size_t at = lo / align * align;
  size_t range = (hi - at + 3) & ~size_t{3};
  range = std::min<size_t>(range, buf->memory().size - at);
  if (range > c.props.limits.maxStorageBufferRange) {
    return Unimplemented("a tensor spans %d bytes, more than one binding (%d)", range, c.props.limits.maxStorageBufferRange);
  }
  b.binding = Binding{buf->memory().buffer, at, std::max<size_t>(range, 4)};
  b.rows.base = static_cast<uint32_t>(lo - at);
  return b;
}

// Rows of a table per binding window (at least one).
int64_t window_rows(const Context& c, const TensorView& t) {
  const size_t align = std::max<size_t>(4, c.props.limits.minStorageBufferOffsetAlignment);
  const size_t step = t.rank >= 2 ? t.stride[0] : t.row_bytes();
  const size_t limit = c.props.limits.maxStorageBufferRange - 2 * align;
  return std::max<int64_t>(1, static_cast<int64_t>((limit - t.row_bytes()) / std::max<size_t>(step, 1)) + 1);
}

void linear_groups(uint64_t groups, uint32_t* gx, uint32_t* gy) {
  *gx = static_cast<uint32_t>(std::min<uint64_t>(groups, kMaxGroups));
  *gy = static_cast<uint32_t>((groups + *gx - 1) / std::max<uint32_t>(*gx, 1));
}

template <typename P>
Status run(VulkanStream& s, const char* shader, const P& push, const std::array<Binding, kBindings>& b,
           uint64_t groups, uint32_t gz = 1) {
  if (groups == 0) return OkStatus();
  uint32_t gx, gy;
  linear_groups(groups, &gx, &gy);
  if (gy > kMaxGroups) return Unimplemented("%d work groups exceed one dispatch", groups);
  return s.dispatch(shader, &push, sizeof(P), b, gx, gy, gz);
}

// Runs `shader` once per window of w's rows that fits one binding (the 12B's 262144 x 3840
// embedding exceeds lavapipe's 128 MiB), filling the push fields every matmul variant shares.
template <typename P>
Status matmul_windows(VulkanStream& s, const Op& op, const char* shader, P p, const Binding& x_or_scratch,
                      const Bound& bd, const Bound& bb) {
  Context& c = s.ctx();
  const TensorView &x = op.src[0], &w = op.src[1], &bias = op.src[2];
  const int64_t M = x.n_rows(), N = w.dim(0), per = window_rows(c, w);
  p.dst = bd.rows;
  p.M = static_cast<uint32_t>(M);
  p.K = static_cast<uint32_t>(w.dim(1));
  p.has_bias = bias.valid() ? 1u : 0u;
  p.bias_base = bb.rows.base;
  for (int64_t n0 = 0; n0 < N; n0 += per) {
    const int64_t cnt = std::min(per, N - n0);
    G12_ASSIGN_OR_RETURN(Bound bw, bind(c, w.slice(0, n0, cnt)));
    p.w = bw.rows;
    p.N = static_cast<uint32_t>(cnt);
    p.n0 = static_cast<uint32_t>(n0);
    G12_RETURN_IF_ERROR(run(s, shader, p, {x_or_scratch, bw.binding, bd.binding, bb.binding}, cnt,
                            static_cast<uint32_t>((M + 7) / 8)));
  }
  return OkStatus();
}

// matmul with int8 activations: quant_q8 writes them to the stream's scratch buffer, then
// matmul_int8_<type> takes integer dot products with the weight blocks.
Status matmul_int8(VulkanStream& s, const Op& op, const Bound& bx, const Bound& bd, const Bound& bb,
                   const char* sg) {
  const TensorView &x = op.src[0], &w = op.src[1];
  const int64_t M = x.n_rows(), K = w.dim(1);
  const uint64_t blocks = static_cast<uint64_t>(M) * (K / 32);
  if (blocks * 10 > UINT32_MAX) return Unimplemented("%d x %d activations exceed the scratch addressing", M, K);
  G12_ASSIGN_OR_RETURN(Binding scratch, s.scratch(blocks * 10 * 4));
  QuantPush q{};
  q.x = bx.rows;
  q.rows = static_cast<uint32_t>(M);
  q.K = static_cast<uint32_t>(K);
  q.q_base = 0;
  q.d_base = static_cast<uint32_t>(blocks * 8);
  q.s_base = static_cast<uint32_t>(blocks * 9);
  G12_RETURN_IF_ERROR(run(s, "quant_q8", q, {bx.binding, scratch}, (blocks + 63) / 64));
  const std::string shader = std::string("matmul_int8_") + type_suffix(w.dtype) + sg;
  MatmulInt8Push p{};
  p.q_base = q.q_base;
  p.d_base = q.d_base;
  p.s_base = q.s_base;
  return matmul_windows(s, op, shader.c_str(), p, scratch, bd, bb);
}

Status matmul(VulkanStream& s, const Op& op) {
  Context& c = s.ctx();
  const TensorView &x = op.src[0], &w = op.src[1], &bias = op.src[2], &d = op.dst;
  const int64_t M = x.n_rows(), N = w.dim(0), K = w.dim(1);
  if (M == 0 || N == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(Bound bx, bind(c, x));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, d));
  Bound bb;
  if (bias.valid()) {
    G12_ASSIGN_OR_RETURN(bb, bind(c, bias));
  }
  const uint64_t mtiles = (M + 7) / 8;
  if (mtiles > kMaxGroups) return Unimplemented("%d rows exceed one dispatch", M);
  const char* sg = c.subgroups ? "_sg" : "";
  // The fast paths (vk_context.h), never in exact mode. The int8 one takes the CPU backend's
  // condition (K a multiple of 64), so both backends' default paths compute the same thing.
  // Its activations (40 bytes per 32-block) must fit one scratch binding; else f32 below.
  const uint64_t act_bytes = static_cast<uint64_t>(M) * (K / 32) * 40;
  const bool int8 = !c.exact && c.int_dot && K % 64 == 0 && act_bytes <= c.props.limits.maxStorageBufferRange &&
                    (w.dtype == DType::kQ8_0 || w.dtype == DType::kQ4_0 || w.dtype == DType::kQ4_K ||
                     w.dtype == DType::kQ6_K);
  if (int8) return matmul_int8(s, op, bx, bd, bb, sg);
  const bool fp16 = !c.exact && c.fp16 && w.dtype == DType::kF16;
  const std::string shader = std::string("matmul_") + type_suffix(w.dtype) + (fp16 ? "_fp16" : "") + sg;
  MatmulPush p{};
  p.x = bx.rows;
  return matmul_windows(s, op, shader.c_str(), p, bx.binding, bd, bb);
}

// get_rows (ids given) and dequantize / copy-to-f32 (ids == nullptr: row t of the table).
Status rows(VulkanStream& s, const TensorView& table, const TensorView* ids, const TensorView& d, float scale,
            bool use_scale) {
  Context& c = s.ctx();
  const int64_t T = d.n_rows(), V = ids != nullptr ? table.dim(0) : table.n_rows();
  if (T == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, d));
  Bound bi;
  if (ids != nullptr) {
    G12_ASSIGN_OR_RETURN(bi, bind(c, *ids));
  }
  const std::string shader = std::string("rows_") + type_suffix(table.dtype);
  // Tables are walked in windows of rows that fit one binding. A table of rank > 2 (dequantize
  // of a [A, B, D] tensor) is addressed through its own Rows in one window.
  const bool flat = table.rank <= 2;
  const int64_t per = flat ? window_rows(c, table) : V;
  for (int64_t r0 = 0; r0 < V; r0 += per) {
    const int64_t cnt = std::min(per, V - r0);
    G12_ASSIGN_OR_RETURN(Bound bt, bind(c, flat && table.rank == 2 ? table.slice(0, r0, cnt) : table));
    RowsPush p{};
    p.table = bt.rows;
    p.dst = bd.rows;
    p.T = static_cast<uint32_t>(T);
    p.D = static_cast<uint32_t>(table.row_len());
    p.ids_base = ids != nullptr ? bi.rows.base : 0xFFFFFFFFu;
    p.row_lo = static_cast<uint32_t>(r0);
    p.row_hi = static_cast<uint32_t>(r0 + cnt);
    p.V = static_cast<uint32_t>(V);
    p.check = r0 == 0 ? 1u : 0u;
    p.use_scale = use_scale ? 1u : 0u;
    p.scale = scale;
    G12_RETURN_IF_ERROR(run(s, shader.c_str(), p, {bt.binding, bi.binding, bd.binding, s.error_binding()}, T));
  }
  return OkStatus();
}

Status norm(VulkanStream& s, const Op& op, bool layer) {
  Context& c = s.ctx();
  const TensorView& x = op.src[0];
  if (x.n_rows() == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(Bound bx, bind(c, x));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, op.dst));
  Bound bw, bb;
  if (op.src[1].valid()) {
    G12_ASSIGN_OR_RETURN(bw, bind(c, op.src[1]));
  }
  if (op.src[2].valid()) {
    G12_ASSIGN_OR_RETURN(bb, bind(c, op.src[2]));
  }
  NormPush p{};
  p.x = bx.rows;
  p.dst = bd.rows;
  p.rows = static_cast<uint32_t>(x.n_rows());
  p.D = static_cast<uint32_t>(x.row_len());
  p.w_base = bw.rows.base;
  p.b_base = bb.rows.base;
  p.has_w = op.src[1].valid() ? 1u : 0u;
  p.has_b = layer && op.src[2].valid() ? 1u : 0u;
  p.layer = layer ? 1u : 0u;
  p.eps = op.params.eps;
  return run(s, "norm", p, {bx.binding, bd.binding, bw.binding, bb.binding}, x.n_rows());
}

Status rope(VulkanStream& s, const Op& op) {
  Context& c = s.ctx();
  const TensorView& x = op.src[0];
  const int64_t T = x.dim(0), H = x.dim(1), D = x.dim(2);
  const int64_t n_rot = op.params.n_rot == 0 ? D : op.params.n_rot, half = n_rot / 2;
  if (T * H == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(Bound bx, bind(c, x));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, op.dst));
  G12_ASSIGN_OR_RETURN(Bound bp, bind(c, op.src[1]));
  Bound bf;
  if (op.src[2].valid()) {
    G12_ASSIGN_OR_RETURN(bf, bind(c, op.src[2]));
  }
  // theta^(-2i/n_rot) in double, handed over as (hi, lo) float pairs, written straight into the
  // stream's arena (no host allocation per op).
  G12_ASSIGN_OR_RETURN(VulkanStream::Staged tab, s.reserve(2 * half * sizeof(float)));
  auto* pairs = static_cast<float*>(tab.host);
  for (int64_t i = 0; i < half; ++i) {
    const double inv = std::pow(static_cast<double>(op.params.theta), -2.0 * static_cast<double>(i) / n_rot);
    pairs[2 * i] = static_cast<float>(inv);
    pairs[2 * i + 1] = static_cast<float>(inv - static_cast<double>(pairs[2 * i]));
  }
  RopePush p{};
  p.x = bx.rows;
  p.dst = bd.rows;
  p.T = static_cast<uint32_t>(T);
  p.H = static_cast<uint32_t>(H);
  p.D = static_cast<uint32_t>(D);
  p.n_rot = static_cast<uint32_t>(n_rot);
  p.pos_base = bp.rows.base;
  p.ff_base = bf.rows.base;
  p.has_ff = op.src[2].valid() ? 1u : 0u;
  return run(s, "rope", p, {bx.binding, bd.binding, bp.binding, bf.binding, tab.binding}, T * H);
}

Status attention(VulkanStream& s, const Op& op) {
  Context& c = s.ctx();
  const TensorView &q = op.src[0], &k = op.src[1], &v = op.src[2];
  const int64_t T = q.dim(0), Hq = q.dim(1), D = q.dim(2), S = k.dim(0), Hkv = k.dim(1), Dv = v.dim(2);
  if (D > 1024 || Dv > 1024) return Unimplemented("head dims above 1024");
  if (T * Hq == 0) return OkStatus();
  std::array<Binding, kBindings> b{};
  AttnPush p{};
  Bound t;
  G12_ASSIGN_OR_RETURN(t, bind(c, q));
  b[0] = t.binding;
  p.q = t.rows;
  if (S > 0) {
    G12_ASSIGN_OR_RETURN(t, bind(c, k));
    b[1] = t.binding;
    p.k = t.rows;
    G12_ASSIGN_OR_RETURN(t, bind(c, v));
    b[2] = t.binding;
    p.v = t.rows;
    G12_ASSIGN_OR_RETURN(t, bind(c, op.src[4]));
    b[5] = t.binding;
    p.kpos_base = t.rows.base;
  }
  G12_ASSIGN_OR_RETURN(t, bind(c, op.dst));
  b[3] = t.binding;
  p.dst = t.rows;
  G12_ASSIGN_OR_RETURN(t, bind(c, op.src[3]));
  b[4] = t.binding;
  p.qpos_base = t.rows.base;
  if (op.src[5].valid() && S > 0) {
    G12_ASSIGN_OR_RETURN(t, bind(c, op.src[5]));
    b[6] = t.binding;
    p.qblock_base = t.rows.base;
    G12_ASSIGN_OR_RETURN(t, bind(c, op.src[6]));
    b[7] = t.binding;
    p.kblock_base = t.rows.base;
    p.has_block = 1;
  }
  p.T = static_cast<uint32_t>(T);
  p.S = static_cast<uint32_t>(S);
  p.Hq = static_cast<uint32_t>(Hq);
  p.Hkv = static_cast<uint32_t>(Hkv);
  p.D = static_cast<uint32_t>(D);
  p.Dv = static_cast<uint32_t>(Dv);
  p.kv_types = static_cast<uint32_t>(k.dtype) | (static_cast<uint32_t>(v.dtype) << 8);
  p.window = op.params.window;
  p.scale = op.params.scale;
  return run(s, "attention", p, b, T * Hq);
}

Status eltwise(VulkanStream& s, const Op& op, uint32_t code, float param) {
  Context& c = s.ctx();
  const TensorView &a = op.src[0], &d = op.dst;
  const uint64_t n = static_cast<uint64_t>(a.n_rows()) * a.row_len();
  if (n == 0) return OkStatus();
  if (n > UINT32_MAX) return Unimplemented("more than 2^32 elements");
  G12_ASSIGN_OR_RETURN(Bound ba, bind(c, a));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, d));
  Bound bb;
  EltPush p{};
  if (code <= G12_ELT_GEGLU) {
    const TensorView& b = op.src[1];
    G12_ASSIGN_OR_RETURN(bb, bind(c, b));
    p.bmode = code == G12_ELT_GEGLU ? 0u : (b.numel() == 1 ? 2u : (b.n_rows() == 1 ? 1u : 0u));
  }
  p.a = ba.rows;
  p.b = bb.rows;
  p.dst = bd.rows;
  p.rows = static_cast<uint32_t>(a.n_rows());
  p.D = static_cast<uint32_t>(a.row_len());
  p.op = code;
  p.param = param;
  return run(s, "eltwise", p, {ba.binding, bb.binding, bd.binding}, (n + 255) / 256);
}

Status softmax(VulkanStream& s, const Op& op) {
  Context& c = s.ctx();
  const TensorView& x = op.src[0];
  if (x.n_rows() == 0) return OkStatus();
  G12_ASSIGN_OR_RETURN(Bound bx, bind(c, x));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, op.dst));
  SoftmaxPush p{};
  p.x = bx.rows;
  p.dst = bd.rows;
  p.rows = static_cast<uint32_t>(x.n_rows());
  p.D = static_cast<uint32_t>(x.row_len());
  p.scale = op.params.scale;
  return run(s, "softmax", p, {bx.binding, bd.binding}, x.n_rows());
}

Status copy(VulkanStream& s, const Op& op) {
  Context& c = s.ctx();
  const TensorView &a = op.src[0], &d = op.dst;
  if (a.n_rows() == 0) return OkStatus();
  if (d.dtype == DType::kF32 && a.dtype != DType::kF32) return rows(s, a, nullptr, d, 1.0f, false);
  G12_ASSIGN_OR_RETURN(Bound ba, bind(c, a));
  G12_ASSIGN_OR_RETURN(Bound bd, bind(c, d));
  CopyPush p{};
  p.src = ba.rows;
  p.dst = bd.rows;
  p.rows = static_cast<uint32_t>(a.n_rows());
  std::string shader;
  if (a.dtype == d.dtype) {
    shader = "copy_bytes";
    p.units = static_cast<uint32_t>(a.row_bytes() / 2);
  } else {
    shader = std::string("copy_to_") + type_suffix(d.dtype);
    p.units = static_cast<uint32_t>(d.row_len() / dtype_traits(d.dtype).block_size);
  }
  const uint64_t n = static_cast<uint64_t>(p.rows) * p.units;
  if (n > UINT32_MAX) return Unimplemented("more than 2^32 elements");
  return run(s, shader.c_str(), p, {ba.binding, bd.binding}, (n + 63) / 64);
}

}  // namespace

Status record_op(VulkanStream& s, const Op& op) {
  switch (op.kind) {
    case OpKind::kMatmul: return matmul(s, op);
    case OpKind::kGetRows: return rows(s, op.src[0], &op.src[1], op.dst, op.params.scale, true);
    case OpKind::kRmsNorm: return norm(s, op, false);
    case OpKind::kLayerNorm: return norm(s, op, true);
    case OpKind::kRope: return rope(s, op);
    case OpKind::kAttention: return attention(s, op);
    case OpKind::kGeglu: return eltwise(s, op, G12_ELT_GEGLU, 0.0f);
    case OpKind::kAdd: return eltwise(s, op, G12_ELT_ADD, 0.0f);
    case OpKind::kMul: return eltwise(s, op, G12_ELT_MUL, 0.0f);
    case OpKind::kScale: return eltwise(s, op, G12_ELT_SCALE, op.params.scale);
    case OpKind::kSoftcap: return eltwise(s, op, G12_ELT_SOFTCAP, op.params.cap);
    case OpKind::kSoftmax: return softmax(s, op);
    case OpKind::kCopy: return copy(s, op);
    case OpKind::kDequantize: return rows(s, op.src[0], nullptr, op.dst, 1.0f, false);
    case OpKind::kCount: break;
  }
  return InvalidArgument("vulkan: unknown op %d", static_cast<int>(op.kind));
}

bool can_record(const Op& op) {
  if (op.kind >= OpKind::kCount) return false;
  for (const TensorView* t : {&op.dst, &op.src[0], &op.src[1], &op.src[2], &op.src[3], &op.src[4], &op.src[5], &op.src[6]}) {
    Rows r;
    if (t->valid() && !rows_of(*t, &r)) return false;
  }
  if (op.kind == OpKind::kAttention && (op.src[0].dim(-1) > 1024 || op.src[2].dim(-1) > 1024)) return false;
  return true;
}

}  // namespace gemma12b::vk
