// Quantized dot products of the CPU backend: weight rows in their GGUF block layout (q4_0, q8_0,
// q4_k, q6_k; never repacked) against activation rows quantized to int8 in blocks of 32, the
// scheme llama.cpp uses for these types. Every weight type is read as 64-element chunks of
// unsigned bytes u (with a per-type offset o: the weight is ws·(u − o) in each 4-element lane,
// plus a per-32 "min" term for q4_k), so one integer dot per chunk serves all types:
//
//   Σ w·x ≈ Σ_lanes ws_l · dx_l · (Σ_4 u·q − o·Σ_4 q)  [− Σ_32-blocks wmin · dx · Σ q  for q4_k]
//
// where q are the int8 activations with scale dx per 32-block. The three ISA paths (scalar, AVX2,
// AVX-512 VNNI) compute the same integers; only the order of the f32 accumulation differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"
#include "cpu/isa.h"

namespace gemma12b::cpu {

// One activation row of K values (K a multiple of 64) quantized for the kernels.
struct QRow {
  const int8_t* q;     // [K]    round(x · (1/dx)), in [-127, 127]
  const float* dl;     // [K/4]  dx of each 4-element lane (dx repeated 8 times per 32-block)
  const int32_t* ns4;  // [K/4]  −Σ q over each 4-element lane
  const float* ds;     // [K/32] dx · Σ q over each 32-block (for q4_k's min term)
  const int32_t* ns16; // [K/16] −Σ q over each 16 elements (the GEMM kernel's offset term)
  // The same q in q4_0's nibble order (null unless QActs::resize asked for it), for kernels
  // that read four q4_0 blocks (128 weights) at once: per group of 4 blocks (2 for a last group
  // of 64), first the low halves (elements 0-15) of each block, then the high halves (16-31), so
  // that the low and the high nibbles of the blocks' 64 packed bytes meet their activations in
  // place. Per group 16 lanes of 4 bytes:
  const int8_t* qn;    // [K]          q, nibble order
  const float* dln;    // [16·ceil(K/128)] dx of lane l's block (l / 4); 0 past a short group
  const int32_t* nsn;  // [16·ceil(K/128)] −8·Σ q over lane l of both halves (q4_0's offset 8); 0 likewise
};

// Activations for M rows, quantized once per matmul and read by every thread.
class QActs {
 public:
  // Sizes the buffers for M rows of K values (K % 64 == 0); grows only, so a steady decode
  // loop allocates nothing. nibble_order: also fill QRow::qn/dln/nsn (the AVX-512 q4_0 row kernel reads
  // them); otherwise those pointers are null.
  void resize(int64_t M, int64_t K, bool nibble_order);
  // Quantizes row m from K f32 values; threads may fill different rows.
  void quantize_row(int64_t m, const float* x);
  QRow row(int64_t m) const;
  int64_t rows() const { return M_; }

 private:
  int64_t M_ = 0, K_ = 0;
  bool nibble_ = false;
  std::vector<int8_t> q_;
  std::vector<int8_t> qn_;
  std::vector<float> dl_, ds_, dln_;
  std::vector<int32_t> ns4_, ns16_, nsn_;
};

// The scale dx = max|x| / 127 and q = round-to-nearest-even(x · (1/dx)) (0 for an all-zero
// block) of one 32-block: the one definition every path uses (tests rebuild expectations from it).
void quantize_block32(const float* x, int8_t* q, float* dx);

// Scales d·sc_j and mins dmin·m_j of the 8 sub-blocks of one q4_k super-block (a BlockQ4_K):
// one out-of-line definition for every ISA path.
void q4_k_scales(const void* block, float* dsc, float* dmn);

// Weight types with an int8 path.
bool has_int8_kernel(DType t);

// out[r·ldo + j] = Σ_k w_j[k] · x_r[k] for n weight rows w_j = w + j·ldw (K elements of type t
// each) and R ≤ kMaxRows activation rows. A q4_0 kernel whose table sets q4_0_nibble_order
// reads the rows' nibble-order fields, so its activations come from QActs::resize(M, K, true).
constexpr int kMaxRows = 4;
using RowDotFn = void (*)(const uint8_t* w, size_t ldw, int64_t n, const QRow* x, int R, int64_t K,
                          float* out, size_t ldo);

// The same with f32 activation rows x[r], for float weight types (f32, f16, bf16).
using FloatDotFn = void (*)(const uint8_t* w, size_t ldw, int64_t n, const float* const* x, int R,
                            int64_t K, float* out, size_t ldo);

// Many activation rows (prefill): out[m·ldo + j] for all M rows of x and n ≤ kGemmTile weight
// rows from w (row stride ldw). The kernel first repacks the n rows into `scratch`
// (gemm_scratch_bytes(K), per thread) so 16 rows' bytes sit side by side in each vector, then
// streams every activation row past them.
constexpr int64_t kGemmTile = 16;
using GemmFn = void (*)(const uint8_t* w, size_t ldw, int64_t n, const QActs& x, int64_t K, float* out,
                        size_t ldo, uint8_t* scratch);
size_t gemm_scratch_bytes(int64_t K);

// q4_0 weights repacked 16 rows at a time ("x16 tiles"; CpuWeightBuffer makes them once, at load).
// A tile takes exactly the bytes of its 16 rows in the file (16 · K/32 · 18) and stores, per pair
// of 32-blocks (b, b + 1), 576 bytes: the 16 rows' f16 scales of b (32 bytes), those of b + 1,
// then the nibbles of b as 4 vectors of 64 bytes (vector c, dword j: row j's qs[4c..4c+3]) and
// those of b + 1. A vector's low nibbles are elements 4c..4c+3 and its high nibbles 16+4c..19+4c
// of all 16 rows, so one vpdpbusd against a broadcast activation dword advances 16 rows' dots,
// and the 16 rows' scales convert with one instruction: per 32 weights of a row about half the
// work of reading the file's layout, where each row's blocks stand apart. Needs K % 64 == 0.
constexpr int64_t kX16Rows = 16;
constexpr int64_t kX16PairBytes = 2 * 32 + 2 * 256;  // 576
void pack_q4_0_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile);
// q8_0 the same way (16 · K/32 · 34 bytes per tile): per pair of 32-blocks, 1088 bytes,
// the 16 rows' f16 scales of b, those of b + 1, then the int8 weights of b as 8 vectors of 64
// bytes (vector c, dword j: row j's qs[4c..4c+3]) and those of b + 1.
constexpr int64_t kX16PairBytesQ8 = 2 * 32 + 2 * 512;  // 1088
void pack_q8_0_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile);
// q4_k the same way (16 · K/256 · 144 bytes per tile, the rows' bytes in the file): per
// 256-element super-block, 2304 bytes: the 16 rows' f16 d (32 bytes), their f16 dmin (32), their
// 12 scale bytes as three arrays of 16 little-endian words (bytes 0-3, 4-7, 8-11 of each row's
// scales; 192), then the 8 sub-blocks of 32 weights, each as q4_0's nibbles are stored: 4 vectors
// of 64 bytes (vector c, dword j: row j's elements 4c..4c+3 of the sub-block in the low nibbles and
// 16+4c..19+4c in the high ones). The scales stay packed, as in the file: the kernels unpack 8
// rows' at a time with vector masks and shifts, where unpacked copies would add bytes to every
// decode step.
constexpr int64_t kX16SuperBytesQ4K = 2304;
void pack_q4_k_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile);
// q6_k likewise (16 · K/256 · 210 bytes per tile): per 256-element super-block, 3360
// bytes: the 16 rows' f16 d (32 bytes), their 16 int8 scales as 16 arrays of 16 bytes (scale g of
// row j at 16·g + j; 256), then the 8 sub-blocks of 32 weights, each 384 bytes: the low 4 bits of
// the 6-bit weights as q4_0's nibbles are stored (4 vectors of 64 bytes: vector c, dword j: row
// j's elements 4c..4c+3 of the sub-block in the low nibbles and 16+4c..19+4c in the high ones),
// then their top 2 bits as 4 vectors of 32 bytes, one per (rows 0-7 | rows 8-15) x (elements
// 0-15 | 16-31): dword r, byte i holds in bits 2c, 2c + 1 those of element 4c + i (+ 16) of row
// r (+ 8), so that one shift and mask put them above the nibbles of vector c.
constexpr int64_t kX16SuperBytesQ6K = 3360;
void pack_q6_k_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile);
// The pack function of an x16 type (q4_0, q8_0, q4_k, q6_k); nullptr for any other.
using X16PackFn = void (*)(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile);
X16PackFn x16_pack(DType t);
// Row j (< 16) of a tile of K columns back into the file's layout (row_size(t, K) bytes at row):
// how get_rows and Buffer::download read a packed weight once the file's pages are let go.
using X16UnpackFn = void (*)(const uint8_t* tile, int64_t K, int j, uint8_t* row);
X16UnpackFn x16_unpack(DType t);
// out[r·ldo + j] = row j of the tile · x[r], for R ≤ kMaxRows activation rows and all 16 rows.
using X16DotFn = void (*)(const uint8_t* tile, int64_t K, const QRow* x, int R, float* out, size_t ldo);
// The same for all rows of x (prefill), through the GEMM kernel's scratch (gemm_scratch_bytes), for
// n ≤ 2 consecutive tiles (tile i at tile + i·tile_bytes, its results at out + 16·i): a kernel may
// take two at once, so that each activation byte it loads meets 32 weight rows.
using X16GemmFn = void (*)(const uint8_t* tile, size_t tile_bytes, int n, int64_t K, const QActs& x, float* out,
                           size_t ldo, uint8_t* scratch);

// Attention pieces (cpu_kernels.cpp's attention is built from these), over a block of n ≤ 64
// key/value rows k[j], v[j] (f32, f16 or q8_0, D elements each) and the G query heads that share them:
//   attn_dot:  s[g·lds + j] = q_g · k[j] for the G query rows q_g = q + g·D
//   attn_axpy: acc_g += Σ_j p[g·ldp + j] · v[j] for the G accumulator rows acc_g = acc + g·D
//   exp_sum:   x[i] = exp(x[i] − m) for i < n (x[i] = −inf gives 0); returns Σ x[i]
// (pf: rows to pull toward L2 meanwhile, see AttnPrefetch below.)
// Block-wise so a kernel can keep a tile of heads × keys (scores) or heads × dims (accumulators)
// in registers across the block instead of streaming all G rows through memory per key.
constexpr int kAttnBlock = 64;

// Rows an attention kernel pulls toward L2 while it computes: the caller names the rows it reads
// next (this block's values while it scores, the next block's keys while it accumulates). A
// block's rows lie 0.5-4 KB apart and the kernels read them a few vectors at a time across the
// block, a pattern the hardware prefetchers do not follow: from DRAM the lane kernels ran at half
// their in-cache speed (16 query rows x 512 dims, a 64-key block: 35 µs from DRAM, 17.5 µs in
// cache, 21-22 µs with these prefetches). Empty (n = 0) when the rows are likely cached.
struct AttnPrefetch {
  const void* const* rows = nullptr;
  int n = 0;
  int64_t bytes = 0;  // of each row
};

// Spreads an AttnPrefetch over a kernel's inner loop: step() issues the next few cache lines,
// sized so that `calls` steps cover all rows; finish() issues whatever is left.
class RowPrefetcher {
 public:
  RowPrefetcher(const AttnPrefetch& p, int64_t calls)
      : rows_(p.rows), n_(p.n), lines_((p.bytes + 63) / 64),
        per_(calls > 0 ? static_cast<int>((p.n * lines_ + calls - 1) / calls) : 0) {}
  void step() { issue(per_); }
  void finish() { issue(n_ * lines_); }

 private:
  void issue(int64_t count) {
    for (; count > 0 && row_ < n_; --count) {
      __builtin_prefetch(static_cast<const char*>(rows_[row_]) + 64 * line_, 0, 2);  // to L2
      if (++line_ == lines_) {
        line_ = 0;
        ++row_;
      }
    }
  }
  const void* const* rows_;
  int n_;
  int64_t lines_;
  int per_;
  int row_ = 0;
  int64_t line_ = 0;
};

// How a K/V row stores its elements: f32, f16, or q8_0 blocks (BlockQ8_0: an f16 scale and 32
// int8; element i is scale·q[i]).
enum class KvRow : uint8_t { kF32, kF16, kQ8_0 };

// Block b of a q8_0 K/V row, and element i of the row as f32: its block's scale times its int8,
// the product dequantize_row forms (the kernels' vector loads form the same products).
inline const BlockQ8_0& q8_0_block(const void* row, int64_t b) { return static_cast<const BlockQ8_0*>(row)[b]; }
inline float q8_0_at(const void* row, int64_t i) {
  const BlockQ8_0& blk = q8_0_block(row, i / kQK8_0);
  return f16_to_f32(blk.d) * static_cast<float>(blk.qs[i % kQK8_0]);
}
using AttnDotFn = void (*)(const float* q, int G, int64_t D, const void* const* k, int n, KvRow kt, float* s,
                           int lds, const AttnPrefetch& pf);
using AttnAxpyFn = void (*)(float* acc, int G, int64_t D, const float* p, int ldp, const void* const* v, int n,
                            KvRow vt, const AttnPrefetch& pf);
using ExpSumFn = float (*)(float* x, int64_t n, float m);

// Lane-major attention ("query rows in lanes"), for R query rows that share one KV head (the G
// heads of one or more rows), R a multiple of kAttnLanes; padding lanes carry zero queries. The
// queries are stored transposed, qt[i·R + r]; scores and weights s[j·R + r]; the accumulator
// transposed, acc[i·R + r]; keys and values are rows k[j], v[j] as for attn_dot. A key element
// is broadcast against a vector of 16 query rows, so there are no horizontal sums and the
// softmax runs on whole vectors.
//   attn_dot_lanes:     s[j·R + r] = Σ_i qt[i·R + r] · k[j][i]  (k[j] f32, f16 or q8_0)
//   attn_softmax_lanes: per lane r, the online-softmax step over the block: m' = max(m[r], max_j s);
//                       with μ = m' (0 when m' = −inf): s = exp(s − μ) (−inf gives 0),
//                       f[r] = exp(m[r] − μ) (0 when m[r] = −inf), l[r] = l[r]·f[r] + Σ_j s, m[r] = m'
//   attn_axpy_lanes:    acc[i·R + r] = acc[i·R + r]·f[r] + Σ_j s[j·R + r] · v[j][i]  (v[j] f32, f16 or q8_0)
constexpr int kAttnLanes = 16;
using AttnDotLanesFn = void (*)(const float* qt, int R, int64_t D, const void* const* k, KvRow kt, int n, float* s,
                                const AttnPrefetch& pf);
using AttnSoftmaxLanesFn = void (*)(float* s, int n, int R, float* m, float* l, float* f);
using AttnAxpyLanesFn = void (*)(float* acc, int R, int64_t D, const float* f, const float* s, const void* const* v,
                                 KvRow vt, int n, const AttnPrefetch& pf);

// Lane-major scores over q8_0 key rows in integer arithmetic (llama.cpp's scheme for a q8_0 K
// cache; AVX-512 VNNI only, null elsewhere): each query row is rounded per 32-block like an int8
// activation (quantize_block32), and per block the 32 products are summed exactly in int32
// before one f32 scaling:
//   attn_dot_lanes_q8: s[j·R + r] = Σ_b float(Σ_{i in b} q[r][i]·k_j[i]) · (d[b][r]·dk_j[b])
// (blocks in order, each a single fma into the running f32 sum).
// Layout, for D/32 blocks b and R lanes r (padding lanes all zero):
struct QLanes8 {
  const int8_t* q;   // [D/32][8][R][4]: q[b][g][r][e] = query row r's rounded element 32b + 4g + e
  const float* d;    // [D/32][R]: row r's block scale times the op's scale
  const int32_t* c;  // [D/32][R]: −128·Σ q over the block (the kernel reads the keys' bytes as
                     // unsigned, k + 128, as vpdpbusd wants)
};
using AttnDotLanesQ8Fn = void (*)(const QLanes8& q, int R, int64_t D, const void* const* k, int n, float* s,
                                  const AttnPrefetch& pf);

// The head-major counterpart (attn_dot's layout: s[g·lds + j]) for G rounded query heads, with
// the per-block integer sums of attn_dot_lanes_q8 (their f32 sum in an order of the kernel's):
//   attn_dot_q8: s[g·lds + j] = Σ_b float(Σ_{i in b} q[g][i]·k_j[i]) · (d[g][b]·dk_j[b])
struct QHeads8 {
  const int8_t* q;   // [G][D]: head g's rounded elements
  const float* d;    // [G][D/32]: block scales times the op's scale
  const int32_t* c;  // [G][D/32]: −128·Σ q over the block (as in QLanes8)
};
using AttnDotQ8Fn = void (*)(const QHeads8& q, int G, int64_t D, const void* const* k, int n, float* s, int lds,
                             const AttnPrefetch& pf);

// Element-wise activations over n values (out may alias the inputs), tanh to within a few ulp
// (the scalar path calls std::tanh):
//   geglu:   out[i] = gelu_tanh(g[i]) · u[i], gelu_tanh(z) = 0.5 z (1 + tanh(√(2/π)(z + 0.044715 z³)))
//   softcap: out[i] = cap · tanh(x[i] / cap)
using GegluFn = void (*)(const float* g, const float* u, float* out, int64_t n);
using SoftcapFn = void (*)(const float* x, float* out, int64_t n, float cap);

struct Kernels {
  Isa isa;
  RowDotFn q4_0, q8_0, q4_k, q6_k;
  FloatDotFn f32, f16, bf16;
  AttnDotFn attn_dot;
  AttnAxpyFn attn_axpy;
  ExpSumFn exp_sum;
  GegluFn geglu;
  SoftcapFn softcap;
  GemmFn gemm_q4_0 = nullptr, gemm_q8_0 = nullptr, gemm_q4_k = nullptr, gemm_q6_k = nullptr;
  // The q4_0 row kernel reads QRow::qn/dln/nsn (QActs::resize(..., nibble_order=true)).
  bool q4_0_nibble_order = false;
  // Set by every table (after the positional initializers above).
  AttnDotLanesFn attn_dot_lanes = nullptr;
  AttnSoftmaxLanesFn attn_softmax_lanes = nullptr;
  AttnAxpyLanesFn attn_axpy_lanes = nullptr;
  AttnDotLanesQ8Fn attn_dot_lanes_q8 = nullptr;
  AttnDotQ8Fn attn_dot_q8 = nullptr;  // AVX-512 VNNI only, like attn_dot_lanes_q8
  // attn_axpy_lanes over q8_0 value rows with each weight s[j·R + r]·dv_j (dv_j: the value block's
  // scale) rounded to bf16 and two keys per vdpbf16ps (AVX-512 BF16 CPUs only; null elsewhere).
  // The int8 path's value sum (cpu_attention.cpp): relative error ≤ 2^-8 per weight (bf16's unit
  // roundoff), about the q8_0 values' own rounding (≤ 2^-8 of their block's largest).
  AttnAxpyLanesFn attn_axpy_lanes_q8_bf16 = nullptr;
  // q4_0, q8_0, q4_k and q6_k on x16 tiles (null where this ISA has none: such devices keep the file's layout).
  X16DotFn q4_0_x16 = nullptr, q8_0_x16 = nullptr, q4_k_x16 = nullptr, q6_k_x16 = nullptr;
  X16GemmFn gemm_q4_0_x16 = nullptr, gemm_q8_0_x16 = nullptr, gemm_q4_k_x16 = nullptr, gemm_q6_k_x16 = nullptr;
  X16DotFn x16(DType t) const;        // nullptr where this ISA has no x16 kernels for t
  X16GemmFn gemm_x16(DType t) const;  // likewise
  RowDotFn int8(DType t) const;
  FloatDotFn fp(DType t) const;
  GemmFn gemm(DType t) const;  // nullptr where this ISA has none
};

const Kernels& kernels(Isa isa);

// Per-ISA tables (defined in qdot_<isa>.cpp; the x86 ones only in x86 builds).
const Kernels& kernels_scalar();
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();
// Fills the attention entries of the AVX-512 table (attn_avx512.cpp).
void set_attention_avx512(Kernels* k);
// Fills attn_axpy_lanes_q8_bf16 (attn_avx512bf16.cpp; call only on a CPU with AVX-512 BF16).
void set_attention_avx512_bf16(Kernels* k);
// Fills the lane-major attention entries of the AVX2 table (attn_avx2.cpp).
void set_attention_avx2(Kernels* k);
// Fills the x16 entries of the AVX2 table (x16_avx2.cpp).
void set_x16_avx2(Kernels* k);
// Fills the x16 entries of the AVX-512 table (x16_avx512.cpp).
void set_x16_avx512(Kernels* k);

}  // namespace gemma12b::cpu
