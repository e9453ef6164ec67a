// The measurements of gemma12b-bench (llama-bench style), run through the internal model API
// (Model, KvCache, Decoder, Embedders) on one device:
//   pp<P>   prefill of P random tokens into an empty cache (one forward in ubatches), tokens/s
//   tg<N>   N single-token decode steps from an empty cache, tokens/s
//   depth D single-token decode steps after a cache holding D positions. The cache is filled
//           synthetically: every layer's slot bookkeeping is committed for positions 0..D-1 and
//           K/V get random normed-scale values (the decoder reads exactly what a real prefill
//           would leave); --depth-fill prefill runs a real prefill instead. One untimed probe
//           step per depth checks the estimated cost against --depth-budget first. Each timed
//           step is paired with a step on a second, near-empty cache (the two in alternating
//           order): the ratio of their times is the depth's cost relative to depth 0, measured
//           under the same load (this machine's speed drifts by 20-30% within a minute).
//   verify  decode of 4 rows with logits for all of them vs 1 row, from the state after the pp
//           prompt (P positions; 8 when P = 0): the cost ratio of a speculative verify step
//   image / audio: preprocessing + embedder for a 280-token image and 30 s of 16 kHz audio
//   bandwidth: best-of-N multi-threaded read of a large buffer; bound = bandwidth / bytes of
//           weights read per decoded token (every decoder tensor once, the tied head included)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "util/status.h"

namespace gemma12b::bench {

struct BenchOptions {
  std::string model, mmproj;
  int threads = 0;                      // 0 = all cores
  int64_t n_prompt = 512, n_gen = 128;  // 0 skips that test
  int reps = 3;
  std::vector<int64_t> depths = {4096, 32768};
  int64_t depth_gen = 16;               // decode steps timed per depth repetition
  bool depth_prefill = false;           // fill depth caches by a real prefill
  double depth_budget_s = 600;          // skip a depth whose estimated cost is larger
  int64_t ubatch = 512;
  DType kv_type = DType::kF16;
  int64_t bw_mib = 2048;                // bandwidth buffer; 0 skips the probe
  bool ttft = false;                    // also time prefilling the image / audio rows
  bool file_layout = false;             // DeviceOptions::cpu_file_layout (no x16 copy at load)
  uint64_t seed = 1;
  std::function<void(const std::string&)> log;  // progress lines (stderr)
};

// Samples of one measurement (per repetition).
struct Stat {
  std::vector<double> v;
  bool empty() const { return v.empty(); }
  double mean() const;
  double sd() const;  // sample standard deviation (0 for one sample)
};

struct BenchResult {
  std::string model, type, device;
  int threads = 0;
  int64_t n_prompt = 0, n_gen = 0, depth_gen = 0;
  double load_ms = 0, mmproj_load_ms = 0;
  uint64_t weight_bytes = 0;
  Stat pp_tps, tg_tps;
  std::map<int64_t, Stat> depth_tps;
  std::map<int64_t, Stat> depth_ratio;  // per rep: time of the paired depth-0 steps / depth-D steps
  std::map<int64_t, std::string> depth_note;  // why a depth was skipped / how it was filled
  Stat verify1_ms, verify4_ms;
  double verify4_ratio = 0;
  Stat image_ms, image_prep_ms, image_ttft_ms, audio_ms, audio_prep_ms, audio_ttft_ms;
  int64_t image_tokens = 0, audio_tokens = 0;
  double bw_gbs = 0, bw_bound_tps = 0;
  std::string bw_kernel;
  double peak_rss_mb = 0;
  double total_s = 0;
};

StatusOr<BenchResult> run_bench(const BenchOptions& o);

}  // namespace gemma12b::bench
