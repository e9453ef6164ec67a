// Op conformance, attention (the rest of the op set is in test_op_conformance.cpp): every
// target of op_test_util.h against the reference and against a naive double-precision
// attention, over GQA/MQA/MHA head groups, K/V dtypes, causal / sliding / bidirectional-block
// masks, the 12B's head shapes over long caches, and odd head groups and dims.
//
// Tolerance (u = 2^-24): score errors (√D·u·Σ|q k|·scale) become relative errors of the softmax
// weights, plus O(S·u) from the f32 denominator; times max|v| since the output is a convex
// combination of v rows.
//
// Over a q8_0 K the CPU backend (unless exact) rounds each query row per 32-block like an int8
// activation (cpu::quantize_block32), as llama.cpp does, and scores in integers where the ISA
// has vpdpbusd (elsewhere in f32; all of its ISA targets run here): its exact result
// is the naive attention of those rounded queries, which is what its output is held to, within
// the same f32 bound (a kernel that drops, repeats or misplaces a block, a lane or the offset of
// the unsigned key bytes is off by far more). Over q8_0 values, where the CPU has vdpbf16ps, the
// value sum rounds each weight p·dv to bf16 (relative error ≤ 2^-8): the output moves by at most
// 2^-8·max|v| more (one dropped key of 40 moves it by ~1/40 of its value).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/ops.h"
#include "cpu/qdot.h"
#include "op_test_util.h"

namespace gemma12b {
namespace {

using namespace optest;

// ================================================================================================
// attention
// ================================================================================================

struct AttnCase {
  int64_t T, S, Hq, Hkv, D, Dv;
  DType kv;
  int32_t window;
  bool blocks;
  float scale;
  uint32_t seed;
};

struct AttnInputs {
  std::vector<float> q;
  HostTensor k, v;
  std::vector<int32_t> qpos, kpos, qblock, kblock;
};

AttnInputs make_attention_inputs(const AttnCase& c) {
  std::mt19937 rng(c.seed);
  AttnInputs in;
  in.q = random_f32(rng, c.T * c.Hq * c.D, -1.0f, 1.0f);
  in.k = typed_tensor(c.kv, {c.S, c.Hkv, c.D}, random_f32(rng, c.S * c.Hkv * c.D, -1.0f, 1.0f));
  in.v = typed_tensor(c.kv, {c.S, c.Hkv, c.Dv}, random_f32(rng, c.S * c.Hkv * c.Dv, -1.0f, 1.0f));
  // Queries are the newest T positions up to qmax; the cache holds S slots in shuffled (ring-like)
  // order: two future positions (qmax+1, qmax+2), the S-2 most recent ones, and some empty slots.
  const int32_t qmax = std::max<int32_t>(70, static_cast<int32_t>(c.S) + 10);  // every slot can hold a position
  for (int64_t t = 0; t < c.T; ++t) in.qpos.push_back(qmax - static_cast<int32_t>(c.T) + 1 + static_cast<int32_t>(t));
  in.kpos = {qmax + 1, qmax + 2};
  for (int64_t s = 0; static_cast<int64_t>(in.kpos.size()) < c.S; ++s) in.kpos.push_back(qmax - static_cast<int32_t>(s));
  std::shuffle(in.kpos.begin(), in.kpos.end(), rng);
  for (int64_t s = 0; s < c.S; ++s) {
    if (in.kpos[s] != qmax && rng() % 6 == 0) in.kpos[s] = -1;
  }
  if (c.blocks) {
    // Block 7 spans positions [qmax-2, qmax+1]: queries in it see keys of the block at later
    // positions. Block 3 is every even position below qmax-2; query 0 (if T > 1) belongs to it.
    for (int64_t t = 0; t < c.T; ++t) {
      in.qblock.push_back(in.qpos[t] >= qmax - 2 ? 7 : (t == 0 ? 3 : -1));
    }
    for (int32_t p : in.kpos) {
      const bool in7 = p >= qmax - 2 && p <= qmax + 1;
      in.kblock.push_back(in7 ? 7 : (p >= 0 && p % 2 == 0 ? 3 : -1));
    }
  }
  return in;
}

Outcome run_attention(Env& env, const AttnCase& c, const AttnInputs& in) {
  ops::AttentionArgs a;
  a.q = env.upload(f32_tensor({c.T, c.Hq, c.D}, in.q));
  a.k = env.upload(in.k);
  a.v = env.upload(in.v);
  a.qpos = env.upload(i32_tensor({c.T}, in.qpos));
  a.kpos = env.upload(i32_tensor({c.S}, in.kpos));
  if (!in.qblock.empty()) {
    a.qblock = env.upload(i32_tensor({c.T}, in.qblock));
    a.kblock = env.upload(i32_tensor({c.S}, in.kblock));
  }
  a.scale = c.scale;
  a.window = c.window;
  const TensorView dv = env.alloc(DType::kF32, {c.T, c.Hq, c.Dv});
  return env.finish(ops::attention(env.stream(), dv, a), dv);
}

// Tolerance per the header comment: max|v|·(8·√D·u·max Σ|q_i k_i|·|scale| + 16·S·u).
double attention_tol(const AttnCase& c, const AttnInputs& in) {
  const std::vector<float> k = to_f32(in.k), v = to_f32(in.v);
  double dot_abs = 0.0;
  for (int64_t t = 0; t < c.T; ++t) {
    for (int64_t h = 0; h < c.Hq; ++h) {
      const int64_t hk = h / (c.Hq / c.Hkv);
      for (int64_t s = 0; s < c.S; ++s) {
        double d = 0.0;
        for (int64_t i = 0; i < c.D; ++i) {
          d += std::fabs(static_cast<double>(in.q[(t * c.Hq + h) * c.D + i]) * k[(s * c.Hkv + hk) * c.D + i]);
        }
        dot_abs = std::max(dot_abs, d * std::fabs(c.scale));
      }
    }
  }
  return max_abs(v) * (8.0 * std::sqrt(static_cast<double>(c.D)) * kU * dot_abs +
                       16.0 * static_cast<double>(c.S) * kU);
}

std::string attn_name(const AttnCase& c) {
  return absl::StrFormat("attention T=%d S=%d Hq=%d Hkv=%d D=%d Dv=%d kv=%s window=%d blocks=%d "
                         "scale=%g",
                         c.T, c.S, c.Hq, c.Hkv, c.D, c.Dv, dname(c.kv), c.window, c.blocks, c.scale);
}

// Mask kinds met by the grid, to prove it exercises every clause of the visibility rule.
struct MaskCoverage {
  int64_t empty_slot = 0, future_hidden = 0, window_hidden = 0, future_in_block = 0, visible = 0;
  int64_t no_visible_query = 0;
};

// The visibility rule of op.h, written independently of both backends.
bool visible(const AttnCase& c, const AttnInputs& in, int64_t t, int64_t s, MaskCoverage* cov) {
  const int32_t kp = in.kpos[s], qp = in.qpos[t];
  const bool in_block = !in.qblock.empty() && in.qblock[t] >= 0 && in.qblock[t] == in.kblock[s];
  bool vis = true;
  if (kp < 0) {
    vis = false;
    if (cov) ++cov->empty_slot;
  } else if (kp > qp && !in_block) {
    vis = false;
    if (cov) ++cov->future_hidden;
  } else if (c.window > 0 && qp - kp >= c.window) {
    vis = false;
    if (cov) ++cov->window_hidden;
  }
  if (cov && vis) {
    ++cov->visible;
    if (kp > qp) ++cov->future_in_block;
  }
  return vis;
}

// The queries as the CPU's int8 attention sees them: each (row, head) rounded per 32-block by
// cpu::quantize_block32, as the f32 values q·d.
std::vector<float> rounded_queries(const std::vector<float>& q) {
  std::vector<float> out(q.size());
  for (size_t b0 = 0; b0 < q.size(); b0 += 32) {
    int8_t qi[32];
    float d;
    cpu::quantize_block32(&q[b0], qi, &d);
    for (int i = 0; i < 32; ++i) out[b0 + i] = static_cast<float>(static_cast<double>(qi[i]) * d);
  }
  return out;
}

// A direct double-precision evaluation of the contract, to check the oracle itself (and, with
// rounded queries, the expected result of the int8 path).
std::vector<double> naive_attention(const AttnCase& c, const AttnInputs& in, MaskCoverage* cov) {
  const std::vector<float> k = to_f32(in.k), v = to_f32(in.v);
  std::vector<double> out(c.T * c.Hq * c.Dv, 0.0);
  for (int64_t t = 0; t < c.T; ++t) {
    int64_t n_vis = 0;
    for (int64_t s = 0; s < c.S; ++s) n_vis += visible(c, in, t, s, cov);
    if (cov && n_vis == 0) ++cov->no_visible_query;
    for (int64_t h = 0; h < c.Hq; ++h) {
      const int64_t hk = h / (c.Hq / c.Hkv);
      std::vector<double> sc(c.S, -INFINITY);
      double mx = -INFINITY;
      for (int64_t s = 0; s < c.S; ++s) {
        if (!visible(c, in, t, s, nullptr)) continue;
        double d = 0.0;
        for (int64_t i = 0; i < c.D; ++i) d += static_cast<double>(in.q[(t * c.Hq + h) * c.D + i]) * k[(s * c.Hkv + hk) * c.D + i];
        sc[s] = d * c.scale;
        mx = std::max(mx, sc[s]);
      }
      if (mx == -INFINITY) continue;
      double den = 0.0;
      std::vector<double> acc(c.Dv, 0.0);
      for (int64_t s = 0; s < c.S; ++s) {
        if (sc[s] == -INFINITY) continue;
        const double p = std::exp(sc[s] - mx);
        den += p;
        for (int64_t i = 0; i < c.Dv; ++i) acc[i] += p * v[(s * c.Hkv + hk) * c.Dv + i];
      }
      for (int64_t i = 0; i < c.Dv; ++i) out[(t * c.Hq + h) * c.Dv + i] = acc[i] / den;
    }
  }
  return out;
}

void check_attention(const AttnCase& c, MaskCoverage* cov = nullptr) {
  const AttnInputs in = make_attention_inputs(c);
  const double tol = attention_tol(c, in);
  const TolFn tol_fn = [tol](size_t, double r) { return tol + 4.0 * kU * std::fabs(r); };
  const Body body = [&](Env& env) { return run_attention(env, c, in); };
  std::vector<float> ref;
  if (c.kv != DType::kQ8_0) {
    ref = expect_close(attn_name(c), body, tol_fn);
  } else {
    AttnInputs rounded = in;
    rounded.q = rounded_queries(in.q);
    const std::vector<double> int8_expect = naive_attention(c, rounded, nullptr);
    const double tol8 = attention_tol(c, rounded) + std::ldexp(max_abs(to_f32(in.v)), -8);
    const std::vector<Outcome> outs = run_all(attn_name(c), body);
    REQUIRE_MESSAGE(outs[0].status.ok(), attn_name(c), ": reference failed: ", outs[0].status.ToString());
    ref = bytes_to_f32(outs[0].bytes);
    for (size_t t = 1; t < outs.size(); ++t) {
      const Target& tg = targets()[t];
      if (!outs[t].status.ok()) {
        FAIL_CHECK(attn_name(c), " on ", tg.name, " failed: ", outs[t].status.ToString());
        continue;
      }
      const std::vector<float> got = bytes_to_f32(outs[t].bytes);
      if (tg.int8_attention) {
        check_close(attn_name(c), tg.name, got, int8_expect,
                    [tol8](size_t, double r) { return tol8 + 4.0 * kU * std::fabs(r); });
      } else {
        check_close(attn_name(c), tg.name, got, std::vector<double>(ref.begin(), ref.end()), tol_fn);
      }
    }
  }
  const std::vector<double> naive = naive_attention(c, in, cov);
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(ref[i] - naive[i]));
  CHECK_MESSAGE(worst <= 1e-6, attn_name(c), ": reference differs from the op.h rule by ", worst);
}

TEST_CASE("op: attention grid (GQA/MQA/MHA, k/v dtypes, masks, windows, blocks)") {
  uint32_t seed = 500;
  MaskCoverage cov;
  for (DType kv : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t D : {64, 128}) {
      for (auto [Hq, Hkv] : {std::pair<int64_t, int64_t>{4, 2}, {4, 1}, {4, 4}}) {
        for (int64_t T : {1, 5}) {
          for (int64_t S : {7, 40}) {
            for (int32_t window : {0, 16}) {
              for (bool blocks : {false, true}) {
                const float scale = (seed % 3 == 0) ? 1.0f : 1.0f / std::sqrt(static_cast<float>(D));
                check_attention({T, S, Hq, Hkv, D, D, kv, window, blocks, scale, seed++}, &cov);
              }
            }
          }
        }
      }
    }
  }
  CHECK(cov.empty_slot > 0);
  CHECK(cov.future_hidden > 0);
  CHECK(cov.window_hidden > 0);
  CHECK(cov.future_in_block > 0);
}

TEST_CASE("op: attention at the 12B's head shapes over long caches (key blocks, split keys)") {
  // One query row (decode) and four (verify) over 700 / 1500 keys: the CPU backend splits the keys
  // across threads and processes them in blocks of 64 with an online softmax; sliding layers
  // (8 KV heads, D 256, window 1024) and full layers (1 KV head shared by 16, D 512).
  uint32_t seed = 900;
  for (DType kv : {DType::kF16, DType::kF32, DType::kQ8_0}) {
    for (int64_t T : {1, 4}) {
      check_attention({T, 700, 16, 8, 256, 256, kv, 1024, false, 1.0f, seed++});
      check_attention({T, 1500, 16, 1, 512, 512, kv, 0, false, 1.0f, seed++});
      check_attention({T, 1500, 16, 8, 256, 256, kv, 1024, true, 1.0f, seed++});
    }
  }
}

TEST_CASE("op: attention with Dv != D and a longer cache") {
  check_attention({3, 40, 4, 2, 128, 64, DType::kF32, 0, false, 0.0883883f, 601});
  check_attention({5, 40, 8, 2, 64, 128, DType::kQ8_0, 16, true, 0.125f, 602});
  check_attention({2, 300, 4, 1, 64, 64, DType::kF16, 0, false, 1.0f, 603});
  // Head groups the vector kernels split into tiles of 4/2/1 (scores) and 8/2/1 (accumulators)
  // heads, with dims that are not a multiple of 16 (masked tails) and key blocks whose length is
  // not a multiple of the 4- or 8-key score tiles.
  check_attention({3, 83, 6, 2, 72, 40, DType::kF16, 0, false, 0.11f, 604});     // G = 3
  check_attention({2, 130, 10, 1, 40, 88, DType::kF32, 50, false, 0.15f, 605});  // G = 10
  check_attention({4, 71, 11, 1, 96, 64, DType::kQ8_0, 0, true, 0.2f, 606});     // G = 11
  // The lane-major kernels (16 heads on one KV head) with dims that are not a multiple of 8 (the
  // AVX2 kernels' staged tails) nor of their 6-wide tiles.
  check_attention({1, 83, 16, 1, 36, 21, DType::kF16, 0, false, 0.13f, 607});
  check_attention({3, 70, 16, 1, 21, 43, DType::kF32, 0, false, 0.17f, 608});
  // The head-major kernels (a decode row, 2 heads per KV head) with dims past the last multiple
  // of 8 (added one by one).
  check_attention({1, 50, 4, 2, 20, 12, DType::kF16, 0, false, 0.21f, 609});
  check_attention({1, 90, 6, 2, 13, 29, DType::kF32, 0, false, 0.19f, 610});
  // Their int8 scores over a q8_0 K (two blocks per vector): an odd block count (a lone last
  // block in the low half), head groups of 3 (tiles of 2 and 1) and 5 (4 and 1), a single block.
  check_attention({1, 70, 6, 2, 96, 160, DType::kQ8_0, 0, false, 0.11f, 615});
  check_attention({1, 45, 5, 1, 160, 64, DType::kQ8_0, 20, false, 0.16f, 616});
  check_attention({2, 39, 4, 4, 32, 32, DType::kQ8_0, 16, true, 0.23f, 617});
  // Lane-major row groups padded with zero query rows to a multiple of 16: R = 8 (a 4-row verify
  // step on 2 heads per KV head), 24 and 56 (the 32-, 16-row tiles and the padded tail), with dims
  // past the tiles' multiples.
  check_attention({4, 90, 4, 2, 40, 24, DType::kF16, 0, false, 0.2f, 611});
  check_attention({12, 60, 4, 2, 72, 20, DType::kF32, 16, true, 0.15f, 612});
  check_attention({8, 77, 7, 1, 64, 32, DType::kQ8_0, 0, false, 0.12f, 613});
  check_attention({8, 50, 7, 1, 37, 19, DType::kF16, 24, false, 0.18f, 614});
}

TEST_CASE("op: attention query with no visible key gives zeros") {
  // Query 0 at position 10 sees only empty slots and keys in its future; query 1 (position 100,
  // window 16) sees nothing within its window either except slot 3 (position 90); query 2 at
  // position 200 sees nothing inside its window; query 3 at position 5 (blocks) sees key 4 (block
  // 9, position 60) only. Over 2 KV heads: 2 query heads (the CPU backend's head-major path),
  // 4 and 16 (its lane-major path: 4 rows x 2 heads padded to 16 lanes, 4 x 8 in 32 lanes).
  for (int64_t Hq : {2, 4, 16}) {
    CAPTURE(Hq);
    const AttnCase c{4, 6, Hq, 2, 64, 64, DType::kF32, 16, true, 0.125f, static_cast<uint32_t>(700 + Hq)};
    AttnInputs in = make_attention_inputs(c);
    in.qpos = {10, 100, 200, 5};
    in.kpos = {-1, 11, 50, 90, 60, -1};
    in.qblock = {-1, -1, -1, 9};
    in.kblock = {-1, 2, -1, -1, 9, 9};
    const double tol = attention_tol(c, in);
    const std::vector<float> ref =
        expect_close("attention with empty queries", [&](Env& env) { return run_attention(env, c, in); },
                     [tol](size_t, double r) { return tol + 4.0 * kU * std::fabs(r); });
    const int64_t row = c.Hq * c.Dv;
    auto all_zero = [&](int64_t t) {
      return std::all_of(ref.begin() + t * row, ref.begin() + (t + 1) * row, [](float e) { return e == 0.0f; });
    };
    CHECK(all_zero(0));
    CHECK_FALSE(all_zero(1));
    CHECK(all_zero(2));
    CHECK_FALSE(all_zero(3));
    // Every backend's results for the empty queries must be exact zeros, not NaN or garbage.
    const std::vector<Outcome> outs = run_all("attention empty queries (exact zeros)",
                                              [&](Env& env) { return run_attention(env, c, in); });
    for (size_t k = 0; k < outs.size(); ++k) {
      REQUIRE(outs[k].status.ok());
      const std::vector<float> got = bytes_to_f32(outs[k].bytes);
      for (int64_t t : {0, 2}) {
        CHECK_MESSAGE(std::all_of(got.begin() + t * row, got.begin() + (t + 1) * row,
                                  [](float e) { return e == 0.0f; }),
                      targets()[k].name, ": query ", t, " must be all zeros");
      }
    }
  }
}

}  // namespace
}  // namespace gemma12b
