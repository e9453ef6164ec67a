// Op conformance: every op of core/op.h run on the reference backend (the oracle, double
// accumulation), on the CPU backend (f32 accumulation; 2 threads and 1 thread) and, when the
// build has it and the machine a device, on the Vulkan backend (f32 shaders; lavapipe on a
// machine without a GPU), with random inputs, edge cases and the validation errors of core/ops.
// GEMMA12B_TEST_TARGETS=vulkan runs only the reference and Vulkan (see op_test_util.h).
//
// Tolerances: the CPU and Vulkan backends use the same (de)quantization rules as the reference
// (core/quant; the Vulkan shaders reproduce them bit for bit), so the only differences are f32
// vs double arithmetic, and the same bounds hold for both. The two deliberate departures, int8
// activations for quantized weights (CPU default; Vulkan with integer dot products) and f16
// arithmetic for f16 weights (Vulkan), have their own bounds in run_matmul. With u = 2^-24:
//  - single IEEE operations (add, mul, scale, get_rows' scaling, copies) must match bit for bit;
//  - matmul: a K-term f32 dot product has error ≲ c·√K·u·Σ|x_k·w_k| (blocked/pairwise summation,
//    random rounding); we allow 4·√K·u·Σ|x_k w_k| per element (≈ 50× the typical error, ≪ the
//    change from one missing or wrong term);
//  - row ops (norms, rope, softcap, geglu, softmax): a handful of roundings per element, so 1e-5
//    relative to the element plus 1e-5 of the tensor's rms (for elements near zero);
//  - attention: see test_op_attention.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/ops.h"
#include "core/quant.h"
#include "cpu/isa.h"
#include "cpu/qdot.h"
#include "op_test_util.h"

namespace gemma12b {
namespace {

using namespace optest;

// ================================================================================================
// matmul
// ================================================================================================

struct MatmulCase {
  DType wt;
  int64_t M, K, N;
  bool bias;
  uint32_t seed;
  bool strided = false;        // x and dst are column slices of wider tensors (non-contiguous)
  std::vector<int64_t> xshape;  // optional: rank-3 x with M = product of leading dims
  // The weights as a model loads them (Env::wrap_weight: CPU devices keep q4_0 in x16 tiles);
  // with w_row0 > 0 the matmul reads rows [w_row0, w_row0 + N) of a wrapped (w_row0 + N)-row
  // matrix (a view that is not the whole wrapped matrix).
  bool wrapped = false;
  int64_t w_row0 = 0;
};

void run_matmul(const MatmulCase& c) {
  std::mt19937 rng(c.seed);
  const int64_t M = c.M, K = c.K, N = c.N;
  const std::vector<float> x = random_f32(rng, M * K, -1.0f, 1.0f);
  const std::vector<float> wall = random_f32(rng, (c.w_row0 + N) * K, -1.0f, 1.0f);
  const HostTensor wfull = typed_tensor(c.wt, {c.w_row0 + N, K}, wall);
  const HostTensor w = typed_tensor(c.wt, {N, K}, std::vector<float>(wall.begin() + c.w_row0 * K, wall.end()));
  const std::vector<float> wf = to_f32(w);
  const std::vector<float> b = random_f32(rng, N, -1.0f, 1.0f);

  // The f16-arithmetic path (Target::fp16_matmul, f16 weights): per group of 4 products, x is
  // rounded to f16 (≤ 1 ulp = 2u_h, u_h = 2^-11: Vulkan lets the conversion truncate), the 4
  // products and 3 additions round in f16 (≤ 4u_h relative to Σ|x·w| of the group), and values
  // below the f16 normal range (2^-14) may be flushed: ≤ 2^-14 per converted x (times |w|), per
  // product and per sum. Summed over groups in f32 (the f32 term above covers that):
  //   |err| ≤ 6u_h Σ|x_k w_k| + 2^-14 (Σ|w_k| + 2K) (+ the f32 accumulation term).
  // For these inputs (|x|, |w| ≤ 1, K = 512) that is ~0.45 against a typical |y| ~ sqrt(K)/3 ~ 7.5:
  // a worst case the real error stays far below, yet under what a dropped, repeated or misplaced
  // 32-element chunk costs (~sqrt(32)/3 ~ 1.9).
  const double uh = 1.0 / 2048.0, tiny = 1.0 / 16384.0;
  std::vector<double> tol(M * N), tol16(M * N);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double sum_abs = 0.0, w_abs = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        sum_abs += std::fabs(static_cast<double>(x[m * K + k]) * wf[n * K + k]);
        w_abs += std::fabs(static_cast<double>(wf[n * K + k]));
      }
      tol[m * N + n] = 4.0 * std::sqrt(static_cast<double>(K)) * kU * sum_abs +
                       4.0 * kU * (c.bias ? std::fabs(b[n]) : 0.0);
      tol16[m * N + n] = tol[m * N + n] + 6.0 * uh * sum_abs + tiny * (w_abs + 2.0 * K);
    }
  }
  const std::string what =
      absl::StrFormat("matmul w=%s M=%d K=%d N=%d bias=%d%s%s%s", dname(c.wt), M, K, N, c.bias,
                      c.strided ? " strided" : "", c.xshape.empty() ? "" : " rank3-x",
                      c.wrapped ? absl::StrFormat(" wrapped rows [%d, +%d)", c.w_row0, N) : "");
  int copies = 0;  // targets whose wrapped weight has a device-side copy (x16 tiles)
  Body body = [&](Env& env) {
    TensorView xv, dv, dparent;
    if (c.strided) {
      // x: columns [16, 16 + K) of [M, K + 48]; dst: columns [8, 8 + N) of [M, N + 24].
      std::vector<float> wide((K + 48) * M, 7.0f);
      for (int64_t m = 0; m < M; ++m) std::copy_n(&x[m * K], K, &wide[m * (K + 48) + 16]);
      xv = env.upload(f32_tensor({M, K + 48}, wide)).slice(1, 16, K);
      dv = env.alloc(DType::kF32, {M, N + 24}).slice(1, 8, N);
    } else if (!c.xshape.empty()) {
      xv = env.upload(f32_tensor(c.xshape, x));
      dv = env.alloc(DType::kF32, {c.xshape[0], c.xshape[1], N});
    } else {
      xv = env.upload(f32_tensor({M, K}, x));
      dv = env.alloc(DType::kF32, {M, N});
    }
    TensorView wv;
    if (c.wrapped) {
      wv = env.wrap_weight(wfull);
      if (wv.buffer->holds_copy()) ++copies;
      if (c.w_row0 > 0) wv = wv.slice(0, c.w_row0, N);
    } else {
      wv = env.upload(w);
    }
    const TensorView bv = c.bias ? env.upload(f32_tensor({N}, b)) : TensorView{};
    return env.finish(ops::matmul(env.stream(), dv, xv, wv, bv), dv);
  };
  // The int8 path (quantized weights on a target with int8_matmul: the CPU without exact_matmul,
  // Vulkan with integer dot products; both round like cpu::quantize_block32): its exact result is
  // the same weights times the activations rounded by cpu::quantize_block32, so we rebuild that
  // in double and allow only f32 accumulation error around it (a kernel that drops, repeats or
  // misplaces a block or a lane is off by far more). For q4_k the scale and min parts of a weight
  // can each be larger than the weight, so their magnitude (≤ 3·max|w| for these inputs) is used.
  const bool int8 = cpu::has_int8_kernel(c.wt) && K % 64 == 0;
  std::vector<double> y8(M * N), tol8(M * N);
  if (int8) {
    std::vector<double> xq(M * K);
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t b0 = 0; b0 < K; b0 += 32) {
        int8_t q[32];
        float dx;
        cpu::quantize_block32(&x[m * K + b0], q, &dx);
        for (int j = 0; j < 32; ++j) xq[m * K + b0 + j] = static_cast<double>(q[j]) * dx;
      }
    }
    for (int64_t n = 0; n < N; ++n) {
      double wmax = 0.0;
      for (int64_t k = 0; k < K; ++k) wmax = std::max(wmax, std::fabs(static_cast<double>(wf[n * K + k])));
      for (int64_t m = 0; m < M; ++m) {
        double sum = c.bias ? b[n] : 0.0, mag = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          sum += xq[m * K + k] * wf[n * K + k];
          mag += std::fabs(xq[m * K + k]) * (c.wt == DType::kQ4_K ? 3.0 * wmax : std::fabs(static_cast<double>(wf[n * K + k])));
        }
        y8[m * N + n] = sum;
        tol8[m * N + n] = 4.0 * std::sqrt(static_cast<double>(K)) * kU * mag + 4.0 * kU * std::fabs(sum);
      }
    }
  }
  const std::vector<Outcome> outs = run_all(what, body);
  REQUIRE_MESSAGE(outs[0].status.ok(), what, ": reference failed: ", outs[0].status.ToString());
  // The CPU targets on an ISA with x16 kernels for this type (q4_0, q8_0, q4_k and q6_k on AVX-512
  // and AVX2; when GEMMA12B_TEST_TARGETS keeps any) must have taken the x16 path.
  const bool x16_target = std::any_of(targets().begin(), targets().end(), [&](const Target& t) {
    if (!t.int8_matmul) return false;
    for (cpu::Isa isa : {cpu::Isa::kAvx512, cpu::Isa::kAvx2}) {
      if (t.name.rfind("cpu/" + std::string(cpu::isa_name(isa)) + "/", 0) == 0) {
        return cpu::kernels(isa).x16(c.wt) != nullptr;
      }
    }
    return false;
  });
  if (c.wrapped && c.w_row0 + N >= cpu::kX16Rows && K % 64 == 0 && x16_target) {
    CHECK_MESSAGE(copies > 0, what, ": no CPU target kept an x16 copy");
  }
  const std::vector<float> ref = bytes_to_f32(outs[0].bytes);
  for (size_t k = 1; k < outs.size(); ++k) {
    const Target& t = targets()[k];
    if (!outs[k].status.ok()) {
      FAIL_CHECK(what, " on ", t.name, " failed: ", outs[k].status.ToString());
      continue;
    }
    const std::vector<float> got = bytes_to_f32(outs[k].bytes);
    if (int8 && t.int8_matmul) {
      check_close(what, t.name, got, y8, [&](size_t i, double) { return tol8[i]; });
    } else if (c.wt == DType::kF16 && t.fp16_matmul) {
      check_close(what, t.name, got, std::vector<double>(ref.begin(), ref.end()),
                  [&](size_t i, double r) { return tol16[i] + 2.0 * kU * std::fabs(r); });
    } else {
      check_close(what, t.name, got, std::vector<double>(ref.begin(), ref.end()),
                  [&](size_t i, double r) { return tol[i] + 2.0 * kU * std::fabs(r); });
    }
  }
}

TEST_CASE("op: matmul, every weight dtype, every CPU path") {
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};
  uint32_t seed = 1;
  for (DType wt : types) {
    const int64_t block = dtype_traits(wt).block_size;
    // K = 96: a q4_0/q8_0 row that is not a whole number of 64-element chunks (no int8 path);
    // K = 37 and 200: float rows with a tail past the last full vector (8 and 16 elements).
    for (int64_t K : {37, 64, 96, 192, 200, 256, 512}) {
      if (K % block != 0) continue;  // k-quants need K % 256 == 0
      // M covers every remainder of the 4-row chunks the int8 and float row kernels take.
      for (int64_t M : {1, 2, 3, 5, 8, 37}) {
        for (bool bias : {false, true}) {
          // N odd (not a multiple of the thread count) and not a multiple of 8 or 16.
          run_matmul({wt, M, K, /*N=*/(M == 37 ? 45 : 67), bias, seed++});
        }
      }
    }
  }
}

TEST_CASE("op: matmul, q4_0, q8_0, q4_k and q6_k weights wrapped as a model loads them (x16 tiles)") {
  uint32_t seed = 200;
  // N: one tile; tiles plus a ragged tail of 13 rows; fewer rows than a tile (no copy). M: the
  // 1-4 row kernels, a 5-row remainder, the GEMM path (16 and more rows).
  for (DType wt : {DType::kQ4_0, DType::kQ8_0}) {
    for (int64_t K : {64, 192, 512}) {
      for (int64_t N : {16, 45, 7}) {
        for (int64_t M : {1, 2, 3, 4, 5, 16, 37}) run_matmul({wt, M, K, N, M == 3, seed++, false, {}, true});
      }
    }
  }
  for (DType wt : {DType::kQ4_K, DType::kQ6_K}) {
    for (int64_t K : {256, 512}) {
      for (int64_t N : {16, 45, 7}) {
        for (int64_t M : {1, 2, 3, 4, 5, 16, 37}) run_matmul({wt, M, K, N, M == 3, seed++, false, {}, true});
      }
    }
  }
  // Prefill over 5 tiles: the GEMM takes them two at a time where a thread's range has two, and
  // passes over 4 activation rows at a time (19 = 4 · 4 + 3).
  uint32_t seed_pairs = 250;
  for (DType wt : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    run_matmul({wt, 19, 512, 80, false, seed_pairs++, false, {}, true});
  }
  run_matmul({DType::kQ4_K, 4, 3840, 32, false, 240, false, {}, true});
  run_matmul({DType::kQ4_K, 20, 512, 45, true, 241, false, {}, true, 5});  // rows [5, 50): no tiles
  run_matmul({DType::kQ6_K, 4, 3840, 32, false, 242, false, {}, true});
  run_matmul({DType::kQ6_K, 1, 3840, 16, false, 243, false, {}, true});
  run_matmul({DType::kQ6_K, 20, 512, 45, true, 244, false, {}, true, 5});
  run_matmul({DType::kQ8_0, 4, 3840, 32, false, 238, false, {}, true});
  run_matmul({DType::kQ8_0, 20, 128, 45, true, 239, false, {}, true, 5});
  // Views that are not the whole wrapped matrix read the file's layout: rows [16, 61) and
  // [5, 50) of wrapped matrices; strided x/dst; a rank-3 x.
  run_matmul({DType::kQ4_0, 1, 128, 45, false, 230, false, {}, true, 16});
  run_matmul({DType::kQ4_0, 20, 128, 45, true, 231, false, {}, true, 5});
  run_matmul({DType::kQ4_0, 3, 128, 33, true, 232, /*strided=*/true, {}, true});
  run_matmul({DType::kQ4_0, 6, 128, 48, false, 233, false, {2, 3, 128}, true});
  // The tiny golden model's LM head (373 rows: 23 tiles and 5) and FFN down projection.
  run_matmul({DType::kQ4_0, 1, 256, 373, false, 236, false, {}, true});
  run_matmul({DType::kQ4_0, 1, 512, 256, false, 237, false, {}, true});
  // The 12B's K with several tiles.
  run_matmul({DType::kQ4_0, 1, 3840, 64, false, 234, false, {}, true});
  run_matmul({DType::kQ4_0, 4, 3840, 32, false, 235, false, {}, true});
}

TEST_CASE("op: a wrapped weight is read-only") {
  std::mt19937 rng(7);
  const HostTensor w = typed_tensor(DType::kQ4_0, {32, 64}, random_f32(rng, 32 * 64, -1.0f, 1.0f));
  for (const Target& t : targets()) {
    if (!t.device->caps().host_memory) continue;
    Env env(t);
    const TensorView wv = env.wrap_weight(w);
    std::vector<uint8_t> back(w.bytes.size());
    REQUIRE(wv.buffer->download(0, back.data(), back.size()).ok());
    CHECK_MESSAGE(back == w.bytes, t.name, ": a wrapped weight must read back as the file's bytes");
    if (wv.buffer->holds_copy()) {
      CHECK_MESSAGE(!wv.buffer->upload(0, back.data(), 16).ok(), t.name, ": upload into a weight with a copy");
    }
  }
}

TEST_CASE("op: matmul, non-contiguous x/dst, rank-3 x, several weight panels") {
  // M >= 8 with strided x/dst must fall back to (or correctly handle) the row-wise path.
  run_matmul({DType::kF32, 9, 64, 33, true, 101, /*strided=*/true});
  run_matmul({DType::kQ8_0, 12, 256, 21, false, 102, /*strided=*/true});
  run_matmul({DType::kQ4_0, 3, 64, 19, true, 103, /*strided=*/true});
  // x [2, 5, K]: M = 10 rows.
  run_matmul({DType::kQ6_K, 10, 256, 27, true, 104, false, {2, 5, 256}});
  run_matmul({DType::kF16, 2, 64, 27, false, 105, false, {2, 1, 64}});
  // N·K > 4M floats: the sgemm path converts weights in panels of (1 << 22) / K rows; N here
  // spans two panels with a ragged tail.
  run_matmul({DType::kQ8_0, 8, 256, 16384 + 77, true, 106});
}

// ================================================================================================
// get_rows
// ================================================================================================

TEST_CASE("op: get_rows on every table dtype, with scale") {
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};
  const int64_t V = 50, D = 256;
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23, 1, 48, 0, 31};
  uint32_t seed = 200;
  for (DType dt : types) {
    std::mt19937 rng(seed++);
    const HostTensor table = typed_tensor(dt, {V, D}, random_f32(rng, V * D, -2.0f, 2.0f));
    const std::vector<float> tf = to_f32(table);
    for (float scale : {1.0f, 16.0f, -0.37f}) {
      const std::string what = absl::StrFormat("get_rows %s scale=%g", dname(dt), scale);
      // Each output is one f32 multiply of the same dequantized value: bit-exact.
      const std::vector<uint8_t> ref = expect_bytes_equal(what, [&](Env& env) {
        const TensorView tv = env.upload(table);
        const TensorView iv = env.upload(i32_tensor({static_cast<int64_t>(ids.size())}, ids));
        const TensorView dv = env.alloc(DType::kF32, {static_cast<int64_t>(ids.size()), D});
        return env.finish(ops::get_rows(env.stream(), dv, tv, iv, scale), dv);
      });
      // And the oracle itself picks the right rows.
      const std::vector<float> rf = bytes_to_f32(ref);
      bool rows_ok = true;
      for (size_t t = 0; t < ids.size(); ++t) {
        for (int64_t i = 0; i < D; ++i) rows_ok &= rf[t * D + i] == tf[ids[t] * D + i] * scale;
      }
      CHECK_MESSAGE(rows_ok, what, ": reference rows differ from the table");
    }
  }
}

TEST_CASE("op: get_rows and download of a wrapped weight read its copy, not the released file bytes") {
  // The 12B's token embedding is also its LM head, so a CPU device copies it into x16 tiles and
  // the model lets the file's pages go; a lookup that read the file would fault them back in (a 2
  // MB folio per token on this kernel: 176 MB of RSS after a few hundred random tokens). Rows: 3
  // tiles and a tail of 5 in the file's layout.
  const int64_t V = 53;
  const std::vector<int32_t> ids = {0, 15, 16, 47, 48, 52, 31, 0, 33};
  uint32_t seed = 260;
  for (DType dt : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    for (int64_t D : {256, 768}) {
      std::mt19937 rng(seed++);
      const HostTensor table = typed_tensor(dt, {V, D}, random_f32(rng, V * D, -2.0f, 2.0f));
      const std::vector<float> tf = to_f32(table);
      for (const Target& t : targets()) {
        if (!t.device->caps().host_memory) continue;
        Env env(t);
        const TensorView tv = env.wrap_weight(table, /*scribble_copied=*/true);
        const TensorView iv = env.upload(i32_tensor({static_cast<int64_t>(ids.size())}, ids));
        const TensorView dv = env.alloc(DType::kF32, {static_cast<int64_t>(ids.size()), D});
        const Outcome out = env.finish(ops::get_rows(env.stream(), dv, tv, iv, 0.5f), dv);
        REQUIRE_MESSAGE(out.status.ok(), out.status.ToString());
        const std::vector<float> got = bytes_to_f32(out.bytes);
        int64_t bad = 0;
        for (size_t k = 0; k < ids.size(); ++k) {
          for (int64_t i = 0; i < D; ++i) bad += got[k * D + i] != tf[ids[k] * D + i] * 0.5f;
        }
        CHECK_MESSAGE(bad == 0, t.name, " ", dname(dt), " D=", D, ": ", bad,
                      " values differ from the table's rows");
        if (tv.buffer->holds_copy()) {
          // Every byte, and a range that starts and ends inside rows and crosses into the tail.
          std::vector<uint8_t> back(table.bytes.size());
          REQUIRE(tv.buffer->download(0, back.data(), back.size()).ok());
          CHECK_MESSAGE(back == table.bytes, t.name, " ", dname(dt),
                        ": download differs from the file's bytes");
          const size_t rb = row_size(dt, D), from = 46 * rb + 7, n = 3 * rb + 11;
          std::vector<uint8_t> part(n);
          REQUIRE(tv.buffer->download(from, part.data(), n).ok());
          CHECK_MESSAGE(std::equal(part.begin(), part.end(), table.bytes.begin() + from), t.name, " ",
                        dname(dt), ": a partial download differs");
        }
      }
    }
  }
}

TEST_CASE("op: get_rows rejects out-of-range ids") {
  const int64_t V = 10, D = 64;
  std::mt19937 rng(250);
  const std::vector<float> vals = random_f32(rng, V * D, -1.0f, 1.0f);
  for (DType dt : {DType::kF32, DType::kQ8_0}) {
    const HostTensor table = typed_tensor(dt, {V, D}, vals);
    for (int32_t bad : {10, -1, 1 << 30}) {
      const std::vector<int32_t> ids = {1, bad, 2};
      expect_error(absl::StrFormat("get_rows %s id %d", dname(dt), bad), [&](Env& env) {
        const TensorView dv = env.alloc(DType::kF32, {3, D});
        return env.finish(ops::get_rows(env.stream(), dv, env.upload(table),
                                        env.upload(i32_tensor({3}, ids)), 1.0f),
                          dv);
      });
    }
  }
}

// ================================================================================================
// rms_norm, layer_norm
// ================================================================================================

TEST_CASE("op: rms_norm with/without weight, in place and out of place") {
  uint32_t seed = 300;
  for (int64_t D : {256, 100, 3840}) {
    for (bool weighted : {false, true}) {
      for (bool in_place : {false, true}) {
        std::mt19937 rng(seed++);
        const int64_t R = D > 1000 ? 3 : 15;
        std::vector<float> x = random_f32(rng, R * D, -3.0f, 3.0f);
        for (int64_t i = 0; i < D; ++i) x[i] *= 1e-3f;  // a row of small values
        const std::vector<float> w = random_f32(rng, D, -2.0f, 2.0f);
        const float eps = D == 100 ? 1e-2f : 1e-6f;
        const std::string what =
            absl::StrFormat("rms_norm D=%d weight=%d in_place=%d", D, weighted, in_place);
        expect_close(what,
                     [&](Env& env) {
                       const TensorView xv = env.upload(f32_tensor({R / 3 > 0 ? 3 : 1, R / 3, D}, x));
                       const TensorView wv = weighted ? env.upload(f32_tensor({D}, w)) : TensorView{};
                       const TensorView dv = in_place ? xv : env.alloc(DType::kF32, {R, D});
                       return env.finish(ops::rms_norm(env.stream(), dv, xv, wv, eps), dv);
                     },
                     rel_tol(1e-5, 1e-5 * (weighted ? 2.0 : 1.0)));
      }
    }
  }
}

TEST_CASE("op: layer_norm, in place and out of place") {
  uint32_t seed = 350;
  for (int64_t D : {96, 1152}) {
    for (bool in_place : {false, true}) {
      std::mt19937 rng(seed++);
      const int64_t R = 7;
      std::vector<float> x = random_f32(rng, R * D, -2.0f, 2.0f);
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t i = 0; i < D; ++i) x[r * D + i] += static_cast<float>(r) - 3.0f;  // row means
      }
      const std::vector<float> w = random_f32(rng, D, -2.0f, 2.0f);
      const std::vector<float> b = random_f32(rng, D, -1.0f, 1.0f);
      expect_close(absl::StrFormat("layer_norm D=%d in_place=%d", D, in_place),
                   [&](Env& env) {
                     const TensorView xv = env.upload(f32_tensor({R, D}, x));
                     const TensorView dv = in_place ? xv : env.alloc(DType::kF32, {R, D});
                     return env.finish(ops::layer_norm(env.stream(), dv, xv,
                                                       env.upload(f32_tensor({D}, w)),
                                                       env.upload(f32_tensor({1, D}, b)), 1e-5f),
                                       dv);
                   },
                   rel_tol(1e-5, 2e-5));
    }
  }
}

// ================================================================================================
// rope
// ================================================================================================

TEST_CASE("op: rope, full and partial rotation, frequency factors, large positions") {
  struct Case {
    int64_t T, H, D, n_rot;
    float theta;
    bool ff;
    bool in_place;
  };
  const Case cases[] = {
      {5, 3, 128, 0, 10000.0f, false, false},   {5, 3, 128, 128, 1e6f, true, false},
      {5, 2, 256, 64, 10000.0f, false, true},   {5, 2, 256, 128, 1e6f, true, false},
      {1, 8, 64, 32, 10000.0f, true, true},     {5, 4, 512, 0, 1e6f, true, true},
  };
  const std::vector<int32_t> all_pos = {0, 1, 17, 4095, 100000};
  uint32_t seed = 400;
  for (const Case& c : cases) {
    std::mt19937 rng(seed++);
    const int64_t n_rot = c.n_rot == 0 ? c.D : c.n_rot, half = n_rot / 2;
    const std::vector<float> x = random_f32(rng, c.T * c.H * c.D, -2.0f, 2.0f);
    std::vector<int32_t> pos(all_pos.end() - c.T, all_pos.end());
    std::vector<float> ff = random_f32(rng, half + 3, 1.0f, 8.0f);  // extra entries are ignored
    std::vector<bool> frozen(half, false);
    for (int64_t i = half / 2; i < half; i += 3) {
      ff[i] = 1e30f;  // this pair must not rotate
      frozen[i] = true;
    }
    const std::string what = absl::StrFormat("rope T=%d H=%d D=%d n_rot=%d theta=%g ff=%d in_place=%d",
                                             c.T, c.H, c.D, c.n_rot, c.theta, c.ff, c.in_place);
    const std::vector<float> ref = expect_close(
        what,
        [&](Env& env) {
          const TensorView xv = env.upload(f32_tensor({c.T, c.H, c.D}, x));
          const TensorView dv = c.in_place ? xv : env.alloc(DType::kF32, {c.T, c.H, c.D});
          const TensorView fv = c.ff ? env.upload(f32_tensor({half + 3}, ff)) : TensorView{};
          return env.finish(ops::rope(env.stream(), dv, xv, env.upload(i32_tensor({c.T}, pos)), fv,
                                      c.theta, static_cast<int32_t>(c.n_rot)),
                            dv);
        },
        rel_tol(1e-5, 1e-5 * rms(x)));
    // Oracle sanity: dims >= n_rot pass through, frozen pairs (and position 0) do not rotate.
    bool passthrough_ok = true;
    for (int64_t r = 0; r < c.T * c.H; ++r) {
      const int64_t t = r / c.H;
      for (int64_t i = 0; i < c.D; ++i) {
        const bool fixed = i >= n_rot || pos[t] == 0 || (c.ff && frozen[i % half]);
        if (fixed) passthrough_ok &= std::fabs(ref[r * c.D + i] - x[r * c.D + i]) <= 1e-6f;
      }
    }
    CHECK_MESSAGE(passthrough_ok, what, ": reference changed a dim that must pass through");
  }
}

// ================================================================================================
// element-wise and row-wise ops
// ================================================================================================

TEST_CASE("op: geglu") {
  std::mt19937 rng(800);
  // 6 short rows (a rank-3 gate), and one long row that the CPU backend splits between threads
  // (a decode step's shape).
  for (auto [R, D] : {std::pair<int64_t, int64_t>{6, 200}, {1, 9001}}) {
    for (bool in_place : {false, true}) {
      const std::vector<float> g = random_f32(rng, R * D, -5.0f, 5.0f);
      const std::vector<float> u = random_f32(rng, R * D, -2.0f, 2.0f);
      const std::vector<int64_t> gshape = R == 6 ? std::vector<int64_t>{2, 3, D} : std::vector<int64_t>{R, D};
      expect_close(absl::StrFormat("geglu %dx%d in_place=%d", R, D, in_place),
                   [&](Env& env) {
                     const TensorView gv = env.upload(f32_tensor(gshape, g));
                     const TensorView dv = in_place ? gv : env.alloc(DType::kF32, {R, D});
                     return env.finish(ops::geglu(env.stream(), dv, gv, env.upload(f32_tensor({R, D}, u))), dv);
                   },
                   rel_tol(1e-5, 1e-5 * rms(u)));
    }
  }
}

TEST_CASE("op: add and mul with the three broadcast forms") {
  std::mt19937 rng(900);
  const int64_t A = 3, B = 4, D = 40;
  const std::vector<float> a = random_f32(rng, A * B * D, -4.0f, 4.0f);
  struct Form {
    const char* name;
    std::vector<int64_t> shape;
  };
  const Form forms[] = {{"same", {A, B, D}}, {"same-2d", {A * B, D}}, {"row", {D}},
                        {"row-1xD", {1, D}}, {"scalar", {1}}, {"scalar-1x1", {1, 1}}};
  for (int op = 0; op < 2; ++op) {
    for (const Form& f : forms) {
      for (bool in_place : {false, true}) {
        int64_t n = 1;
        for (int64_t d : f.shape) n *= d;
        const std::vector<float> b = random_f32(rng, n, -4.0f, 4.0f);
        const std::string what =
            absl::StrFormat("%s %s in_place=%d", op == 0 ? "add" : "mul", f.name, in_place);
        // One IEEE operation per element: bit-exact.
        const std::vector<uint8_t> ref = expect_bytes_equal(what, [&](Env& env) {
          const TensorView av = env.upload(f32_tensor({A, B, D}, a));
          const TensorView bv = env.upload(f32_tensor(f.shape, b));
          const TensorView dv = in_place ? av : env.alloc(DType::kF32, {A * B, D});
          return env.finish(op == 0 ? ops::add(env.stream(), dv, av, bv) : ops::mul(env.stream(), dv, av, bv), dv);
        });
        const std::vector<float> rf = bytes_to_f32(ref);
        bool ok = true;
        for (int64_t i = 0; i < A * B * D; ++i) {
          const float y = n == 1 ? b[0] : (n == D ? b[i % D] : b[i]);
          ok &= rf[i] == (op == 0 ? a[i] + y : a[i] * y);
        }
        CHECK_MESSAGE(ok, what, ": reference broadcast is wrong");
      }
    }
  }
}

TEST_CASE("op: softcap on one long row (split between threads), both tanh ranges") {
  std::mt19937 rng(1001);
  const int64_t D = 9001;
  const std::vector<float> x = random_f32(rng, D, -60.0f, 60.0f);  // x / 30 in [-2, 2]
  expect_close("softcap 30 1x9001",
               [&](Env& env) {
                 const TensorView xv = env.upload(f32_tensor({1, D}, x));
                 const TensorView dv = env.alloc(DType::kF32, {1, D});
                 return env.finish(ops::softcap(env.stream(), dv, xv, 30.0f), dv);
               },
               rel_tol(1e-5, 1e-6 * 30.0f));
}

TEST_CASE("op: scale, softcap, softmax") {
  std::mt19937 rng(1000);
  const int64_t R = 10, D = 333;
  for (bool in_place : {false, true}) {
    const std::vector<float> x = random_f32(rng, R * D, -60.0f, 60.0f);
    for (float factor : {0.5f, -3.7f, 0.0f}) {
      expect_bytes_equal(absl::StrFormat("scale %g in_place=%d", factor, in_place), [&](Env& env) {
        const TensorView xv = env.upload(f32_tensor({R, D}, x));
        const TensorView dv = in_place ? xv : env.alloc(DType::kF32, {R, D});
        return env.finish(ops::scale(env.stream(), dv, xv, factor), dv);
      });
    }
    for (float cap : {30.0f, 50.0f, 1e-3f}) {
      expect_close(absl::StrFormat("softcap %g in_place=%d", cap, in_place),
                   [&](Env& env) {
                     const TensorView xv = env.upload(f32_tensor({R, D}, x));
                     const TensorView dv = in_place ? xv : env.alloc(DType::kF32, {R, D});
                     return env.finish(ops::softcap(env.stream(), dv, xv, cap), dv);
                   },
                   rel_tol(1e-5, 1e-6 * cap));
    }
    for (float sc : {1.0f, 0.125f, 2.0f}) {
      // Softmax outputs carry relative errors ≈ u·|x·scale − max| (exp of a rounded argument);
      // |x·scale − max| ≤ 240 here, so ≤ 3e-5 relative, plus an absolute floor for underflow.
      const std::vector<float> ref = expect_close(
          absl::StrFormat("softmax scale=%g in_place=%d", sc, in_place),
          [&](Env& env) {
            const TensorView xv = env.upload(f32_tensor({2, R / 2, D}, x));
            const TensorView dv = in_place ? xv : env.alloc(DType::kF32, {R, D});
            return env.finish(ops::softmax(env.stream(), dv, xv, sc), dv);
          },
          rel_tol(4e-6 + 1.2e-7 * 120.0 * sc, 1e-30));
      for (int64_t r = 0; r < R; ++r) {
        const double sum = std::accumulate(ref.begin() + r * D, ref.begin() + (r + 1) * D, 0.0);
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("op: softmax rows with -inf entries (masked logits)") {
  std::mt19937 rng(1050);
  const int64_t R = 4, D = 70;
  std::vector<float> x = random_f32(rng, R * D, -8.0f, 8.0f);
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t i = r; i < D; i += 3) x[r * D + i] = -INFINITY;
  }
  const std::vector<float> ref = expect_close("softmax with -inf", [&](Env& env) {
    const TensorView xv = env.upload(f32_tensor({R, D}, x));
    const TensorView dv = env.alloc(DType::kF32, {R, D});
    return env.finish(ops::softmax(env.stream(), dv, xv, 1.0f), dv);
  }, rel_tol(1e-5, 1e-30));
  for (int64_t i = 0; i < R * D; ++i) {
    if (std::isinf(x[i])) CHECK(ref[i] == 0.0f);
  }
}

// ================================================================================================
// copy, dequantize
// ================================================================================================

TEST_CASE("op: copy f32 -> f16/bf16/q8_0/q4_0 and back") {
  std::mt19937 rng(1100);
  const int64_t R = 6, D = 128;
  const std::vector<float> x = random_f32(rng, R * D, -3.0f, 3.0f);
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    // f32 -> dt: same quantizer on every backend, so the bytes must match exactly.
    const std::vector<uint8_t> packed = expect_bytes_equal(
        absl::StrFormat("copy f32->%s", dname(dt)), [&](Env& env) {
          const TensorView dv = env.alloc(dt, {R, D}, 0x5A);
          return env.finish(ops::copy(env.stream(), dv, env.upload(f32_tensor({R, D}, x))), dv);
        });
    HostTensor expect = typed_tensor(dt, {R, D}, x);
    CHECK_MESSAGE(packed == expect.bytes, "copy f32->", dname(dt), ": reference differs from quantize_row");
    // dt -> f32.
    const HostTensor src{dt, {R, D}, packed};
    const std::vector<uint8_t> back = expect_bytes_equal(
        absl::StrFormat("copy %s->f32", dname(dt)), [&](Env& env) {
          const TensorView dv = env.alloc(DType::kF32, {R, D});
          return env.finish(ops::copy(env.stream(), dv, env.upload(src)), dv);
        });
    CHECK(bytes_to_f32(back) == to_f32(src));
    // Writing rows into a slot range of a larger cache (KV-cache style): only those rows change.
    expect_bytes_equal(absl::StrFormat("copy f32->%s into cache rows [3, 9)", dname(dt)), [&](Env& env) {
      const TensorView cache = env.alloc(dt, {16, 2, D / 2 >= 32 ? D / 2 : D}, 0x11);
      const TensorView rows = cache.slice(0, 3, R);
      const TensorView xv = env.upload(f32_tensor({R, 2, D / 2}, x));
      return env.finish(ops::copy(env.stream(), rows, xv), cache);
    });
  }
  // i32 -> i32 is a plain copy.
  std::vector<int32_t> ids(64);
  std::iota(ids.begin(), ids.end(), -5);
  expect_bytes_equal("copy i32->i32", [&](Env& env) {
    const TensorView dv = env.alloc(DType::kI32, {4, 16});
    return env.finish(ops::copy(env.stream(), dv, env.upload(i32_tensor({4, 16}, ids))), dv);
  });
}

TEST_CASE("op: dequantize of every dtype") {
  std::mt19937 rng(1200);
  const int64_t R = 5, D = 512;
  const std::vector<float> x = random_f32(rng, R * D, -2.0f, 2.0f);
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                   DType::kQ4_K, DType::kQ6_K}) {
    const HostTensor src = typed_tensor(dt, {R, D}, x);
    const std::vector<uint8_t> out = expect_bytes_equal(
        absl::StrFormat("dequantize %s", dname(dt)), [&](Env& env) {
          const TensorView dv = env.alloc(DType::kF32, {R, D});
          return env.finish(ops::dequantize(env.stream(), dv, env.upload(src)), dv);
        });
    CHECK(bytes_to_f32(out) == to_f32(src));
  }
}

// ================================================================================================
// validation
// ================================================================================================

// Runs one invalid op on every target; each must answer InvalidArgument (and not crash).
void expect_invalid(const std::string& what, const std::function<Status(Env&)>& fn) {
  expect_error(what, [&](Env& env) { return Outcome{fn(env), {}}; },
               absl::StatusCode::kInvalidArgument);
}

TEST_CASE("op: validation rejects malformed ops with InvalidArgument") {
  std::mt19937 rng(1300);
  const std::vector<float> v64 = random_f32(rng, 64 * 64, -1.0f, 1.0f);
  auto f32 = [&](Env& env, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return env.upload(f32_tensor(shape, std::vector<float>(v64.begin(), v64.begin() + n)));
  };

  expect_invalid("matmul K mismatch", [&](Env& env) {
    return ops::matmul(env.stream(), f32(env, {4, 8}), f32(env, {4, 64}), f32(env, {8, 32}));
  });
  expect_invalid("matmul dst shape", [&](Env& env) {
    return ops::matmul(env.stream(), f32(env, {4, 9}), f32(env, {4, 64}), f32(env, {8, 64}));
  });
  expect_invalid("matmul f16 activations", [&](Env& env) {
    const TensorView x = env.upload(typed_tensor(DType::kF16, {4, 64}, std::vector<float>(256, 1.0f)));
    return ops::matmul(env.stream(), f32(env, {4, 8}), x, f32(env, {8, 64}));
  });
  expect_invalid("matmul bias size", [&](Env& env) {
    return ops::matmul(env.stream(), f32(env, {4, 8}), f32(env, {4, 64}), f32(env, {8, 64}), f32(env, {7}));
  });
  expect_invalid("add incompatible shapes", [&](Env& env) {
    return ops::add(env.stream(), f32(env, {4, 8}), f32(env, {4, 8}), f32(env, {3, 8}));
  });
  expect_invalid("mul i32 operand", [&](Env& env) {
    const TensorView b = env.upload(i32_tensor({8}, std::vector<int32_t>(8, 1)));
    return ops::mul(env.stream(), f32(env, {4, 8}), f32(env, {4, 8}), b);
  });
  expect_invalid("get_rows f32 ids", [&](Env& env) {
    return ops::get_rows(env.stream(), f32(env, {2, 64}), f32(env, {8, 64}), f32(env, {2}), 1.0f);
  });
  expect_invalid("rope odd n_rot", [&](Env& env) {
    const TensorView x = f32(env, {2, 2, 64});
    return ops::rope(env.stream(), x, x, env.upload(i32_tensor({2}, {0, 1})), {}, 10000.0f, 63);
  });
  expect_invalid("rope n_rot > D", [&](Env& env) {
    const TensorView x = f32(env, {2, 2, 64});
    return ops::rope(env.stream(), x, x, env.upload(i32_tensor({2}, {0, 1})), {}, 10000.0f, 128);
  });
  expect_invalid("attention Hq not divisible by Hkv", [&](Env& env) {
    ops::AttentionArgs a;
    a.q = f32(env, {1, 3, 64});
    a.k = f32(env, {4, 2, 64});
    a.v = f32(env, {4, 2, 64});
    a.qpos = env.upload(i32_tensor({1}, {3}));
    a.kpos = env.upload(i32_tensor({4}, {0, 1, 2, 3}));
    return ops::attention(env.stream(), f32(env, {1, 3, 64}), a);
  });
  expect_invalid("attention q4_0 k", [&](Env& env) {
    ops::AttentionArgs a;
    a.q = f32(env, {1, 2, 64});
    a.k = env.upload(typed_tensor(DType::kQ4_0, {4, 2, 64}, std::vector<float>(512, 0.5f)));
    a.v = f32(env, {4, 2, 64});
    a.qpos = env.upload(i32_tensor({1}, {3}));
    a.kpos = env.upload(i32_tensor({4}, {0, 1, 2, 3}));
    return ops::attention(env.stream(), f32(env, {1, 2, 64}), a);
  });
  expect_invalid("softcap cap = 0", [&](Env& env) {
    return ops::softcap(env.stream(), f32(env, {2, 8}), f32(env, {2, 8}), 0.0f);
  });
  expect_invalid("copy f32 -> q4_k", [&](Env& env) {
    const TensorView d = env.alloc(DType::kQ4_K, {1, 256});
    return ops::copy(env.stream(), d, f32(env, {1, 256}));
  });
  expect_invalid("dequantize q8_0 row not a block multiple", [&](Env& env) {
    TensorView src = env.upload(typed_tensor(DType::kQ8_0, {2, 64}, std::vector<float>(128, 1.0f)));
    src.shape[1] = 40;  // 40 is not a multiple of 32
    return ops::dequantize(env.stream(), f32(env, {2, 40}), src);
  });
  expect_invalid("view past the end of its buffer (rows)", [&](Env& env) {
    TensorView x = f32(env, {4, 8});
    x = TensorView::contiguous(x.buffer, x.offset, DType::kF32, {64, 8});  // buffer holds 4 rows + guards
    return ops::scale(env.stream(), x, x, 2.0f);
  });
  expect_invalid("view past the end of its buffer (offset)", [&](Env& env) {
    TensorView x = f32(env, {4, 8});
    x.offset = x.buffer->size() + 4096;
    return ops::softmax(env.stream(), f32(env, {4, 8}), x, 1.0f);
  });
  expect_invalid("matmul weights past the end of their buffer", [&](Env& env) {
    TensorView w = env.upload(typed_tensor(DType::kQ4_0, {8, 64}, std::vector<float>(512, 0.25f)));
    w.shape[0] = 800;
    return ops::matmul(env.stream(), f32(env, {1, 800}), f32(env, {1, 64}), w);
  });
}

TEST_CASE("op: backends validate ops handed straight to Stream::execute") {
  // A backend must not trust its caller: an op that skips ops::* is still checked.
  for (const Target& t : targets()) {
    Env env(t);
    const TensorView x = env.upload(f32_tensor({4, 64}, std::vector<float>(256, 1.0f)));
    const TensorView w = env.upload(f32_tensor({8, 32}, std::vector<float>(256, 1.0f)));
    const TensorView d = env.alloc(DType::kF32, {4, 8});
    Op op{OpKind::kMatmul, d, {x, w}, {}};
    const Status st = t.stream->execute(op);
    CHECK_MESSAGE(st.code() == absl::StatusCode::kInvalidArgument, t.name, ": ", st.ToString());
    Op bad_kind{OpKind::kCount, d, {x}, {}};
    CHECK_MESSAGE(!t.stream->execute(bad_kind).ok(), t.name, ": unknown op kind accepted");
    CHECK_MESSAGE(env.guard_damage().empty(), t.name);
  }
}

}  // namespace
}  // namespace gemma12b
