// gemma12b-bench: synthetic full-size Gemma 4 12B files and llama-bench-style measurements.
//   gemma12b-bench --make-synthetic PATH [--type q4_0|q4_k|q4_k_m|q8_0|f16] [--seed N] [-t N]
//   gemma12b-bench --make-synthetic-mmproj PATH [--mmproj-type f16|f32] [--seed N] [-t N]
//   gemma12b-bench --ops [--op matmul|attention] [-t N] [-r N]   (CPU kernels alone, 12B shapes)
//   gemma12b-bench -m MODEL.gguf [--mmproj MMPROJ.gguf] [-t N] [-p 512] [-n 128] [-r 3]
//                  [--depths 4096,32768] [--json] ...
// Prints a table (stdout), progress (stderr) and, with --json, one JSON line (the last line of
// stdout). Timings are for people and issue notes, never assertions (DESIGN.md section 6).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench.h"
#include "ops.h"
#include "core/backend.h"
#include "model/model.h"
#include "model/multimodal/embedders.h"
#include "nlohmann/json.hpp"
#include "synthetic.h"
#include "tokenizer/tokenizer.h"

namespace b = gemma12b::bench;
namespace g = gemma12b;

namespace {

const char* kUsage = R"(usage:
  gemma12b-bench --make-synthetic PATH [--type T] [--embd-type T] [--seed N] [-t N]
      write a full-size Gemma 4 12B GGUF with random weights (T: q4_0 (default), q4_k, q8_0, f16,
      or q4_k_m: q4_k with llama.cpp's Q4_K_M choice of q6_k matrices;
      --embd-type: the tied embedding / LM head's type, default T)
  gemma12b-bench --make-synthetic-mmproj PATH [--mmproj-type f16|f32] [--seed N] [-t N]
      write a 12B-shaped mmproj GGUF (gemma4uv + gemma4ua) with random weights (default f16)
  gemma12b-bench -m MODEL [options]
      measure the model (and the mmproj's embedders)
  gemma12b-bench --ops [--op matmul|attention] [-t N] [-r N] [--file-layout]
      time CPU kernels alone: the matmul at the 12B's FFN shapes for each weight type and 1, 4,
      512 rows, weights wrapped as a model loads them; attention (f16 and q8_0 K/V) at the full and
      sliding layers' decode and verify shapes

options:
  -m, --model PATH       GGUF file or HF safetensors directory
  --mmproj PATH          mmproj GGUF (or HF dir): adds the image (280 tokens) and 30 s audio tests
  -t, --threads N        threads (default: all cores)
  -p, --n-prompt N       prefill test size (default 512; 0 = skip)
  -n, --n-gen N          decode test size (default 128; 0 = skip)
  -r, --reps N           repetitions (default 3)
  --depths LIST          KV depths for decode, comma-separated (default 4096,32768; none = skip)
  --depth-n N            decode steps timed per depth repetition (default 16)
  --depth-fill MODE      synthetic (default: K/V written directly) or prefill (a real prefill)
  --depth-budget S       skip a depth whose estimated time exceeds S seconds (default 600)
  --ubatch N             rows per forward step (default 512)
  --kv-type T            KV cache type: f16 (default), f32, q8_0
  --bw-mib N             memory-bandwidth buffer in MiB (default 2048; 0 = skip)
  --ttft                 also time prefilling the image / audio rows (time to first token)
  --file-layout          read q4_0, q8_0, q4_k and q6_k matrices in the file's layout (no x16 copy)
  --seed N               seed for weights, tokens and K/V (default 1)
  --json                 print one JSON line after the table
)";

struct Args {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
};

bool parse(int argc, char** argv, Args* a, std::string* err) {
  static const std::map<std::string, std::string> kAlias = {
      {"-m", "--model"}, {"-t", "--threads"}, {"-p", "--n-prompt"}, {"-n", "--n-gen"}, {"-r", "--reps"}};
  static const std::vector<std::string> kFlags = {"--json", "--ttft", "--ops", "--file-layout"};
  static const std::vector<std::string> kValues = {
      "--model", "--mmproj", "--threads", "--n-prompt", "--n-gen", "--reps", "--depths", "--depth-n",
      "--depth-fill", "--depth-budget", "--ubatch", "--kv-type", "--bw-mib", "--seed", "--make-synthetic",
      "--make-synthetic-mmproj", "--type", "--embd-type", "--mmproj-type", "--op"};
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (kAlias.count(k)) k = kAlias.at(k);
    if (std::find(kFlags.begin(), kFlags.end(), k) != kFlags.end()) {
      a->flags[k] = true;
    } else if (std::find(kValues.begin(), kValues.end(), k) != kValues.end()) {
      if (i + 1 >= argc) {
        *err = k + " needs a value";
        return false;
      }
      a->values[k] = argv[++i];
    } else {
      *err = "unknown argument '" + k + "'";
      return false;
    }
  }
  return true;
}

// Integer option within [lo, hi]; absent keeps *out.
bool get_int(const Args& a, const std::string& key, int64_t lo, int64_t hi, int64_t* out, std::string* err) {
  auto it = a.values.find(key);
  if (it == a.values.end()) return true;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v) || v < lo || v > hi) {
    *err = absl::StrFormat("%s: '%s' is not an integer in [%d, %d]", key, it->second, lo, hi);
    return false;
  }
  *out = v;
  return true;
}

bool get_type(const Args& a, const std::string& key, const std::vector<std::string>& allowed, g::DType* out,
              std::string* err) {
  auto it = a.values.find(key);
  if (it == a.values.end()) return true;
  auto t = g::dtype_from_name(it->second);
  if (!t || std::find(allowed.begin(), allowed.end(), std::string(g::dtype_name(*t))) == allowed.end()) {
    *err = key + ": '" + it->second + "' is not one of " + absl::StrJoin(allowed, ", ");
    return false;
  }
  *out = *t;
  return true;
}

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "gemma12b-bench: %s\n", msg.c_str());
  return code;
}

// "mean ± sd" with `decimals` digits.
std::string mean_sd(const b::Stat& s, int decimals) {
  if (s.empty()) return "-";
  return absl::StrFormat("%.*f ± %.*f", decimals, s.mean(), decimals, s.sd());
}

// ---- --make-synthetic / --make-synthetic-mmproj ---------------------------------------------
int make_files(const Args& a) {
  std::string err;
  b::SyntheticOptions o;
  int64_t seed = 1, threads = 0;
  if (!get_int(a, "--seed", 0, INT64_MAX, &seed, &err) || !get_int(a, "--threads", 1, 1024, &threads, &err)) {
    return fail(err, 2);
  }
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(threads);
  g::DeviceOptions dopt;
  dopt.n_threads = o.threads;
  auto device = g::create_device("cpu", dopt);
  if (!device.ok()) return fail(std::string(device.status().message()));
  if (auto it = a.values.find("--make-synthetic"); it != a.values.end()) {
    b::SyntheticOptions t = o;
    t.path = it->second;
    if (auto ty = a.values.find("--type"); ty != a.values.end() && ty->second == "q4_k_m") {
      t.q4_k_m = true;  // q4_k plus llama.cpp's Q4_K_M choice of q6_k matrices
      t.type = g::DType::kQ4_K;
    } else if (!get_type(a, "--type", {"q4_0", "q4_k", "q8_0", "f16"}, &t.type, &err)) {
      return fail(err, 2);
    }
    if (!get_type(a, "--embd-type", {"q4_0", "q4_k", "q6_k", "q8_0", "f16"}, &t.embd_type, &err)) return fail(err, 2);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = b::write_synthetic_model(t); !s.ok()) return fail(std::string(s.message()));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Check: our loader accepts it and the tokenizer round-trips text.
    auto model = g::Model::load(t.path, **device);
    if (!model.ok()) return fail("written, but our loader rejects it: " + std::string(model.status().message()));
    auto tok = g::Tokenizer::load(t.path);
    if (!tok.ok()) return fail("written, but our tokenizer rejects it: " + std::string(tok.status().message()));
    const std::string text = "Hello world, this is a synthetic Gemma 4 vocabulary.\n\xC3\xA9\xE4\xB8\xAD";
    const auto ids = (*tok)->encode(text);
    const bool round_trip = (*tok)->decode(ids, /*skip_control=*/true) == text;
    std::printf("wrote %s in %.1f s: %.2f GB, %s; our loader: ok (%.2f GB of weights); tokenizer: %zu ids for "
                "%zu bytes, round trip %s\n",
                t.path.c_str(), secs, std::filesystem::file_size(t.path) / 1e9,
                t.q4_k_m ? "q4_k_m" : std::string(g::dtype_name(t.type)).c_str(), (*model)->weight_bytes() / 1e9,
                ids.size(), text.size(), round_trip ? "ok" : "FAILED");
    if (!round_trip) return 1;
  }
  if (auto it = a.values.find("--make-synthetic-mmproj"); it != a.values.end()) {
    b::SyntheticOptions m = o;
    m.path = it->second;
    m.type = g::DType::kF16;
    if (!get_type(a, "--mmproj-type", {"f16", "f32"}, &m.type, &err)) return fail(err, 2);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto s = b::write_synthetic_mmproj(m); !s.ok()) return fail(std::string(s.message()));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto emb = g::Embedders::load(m.path, **device);
    if (!emb.ok()) return fail("written, but our loader rejects it: " + std::string(emb.status().message()));
    std::printf("wrote %s in %.1f s: %.2f MB, %s; our embedders: vision %s, audio %s, %lld-wide rows\n",
                m.path.c_str(), secs, std::filesystem::file_size(m.path) / 1e6, std::string(g::dtype_name(m.type)).c_str(),
                (*emb)->has_vision() ? "yes" : "no", (*emb)->has_audio() ? "yes" : "no",
                static_cast<long long>((*emb)->n_embd()));
  }
  return 0;
}

// ---- output --------------------------------------------------------------------------------
void print_table(const b::BenchOptions& o, const b::BenchResult& r) {
  const std::string name = std::filesystem::path(r.model).filename().string();
  const std::string size = absl::StrFormat("%.2f GB", r.weight_bytes / 1e9);
  std::printf("\n| %-28s | %-9s | %9s | %7s | %-16s | %20s |\n", "model", "type", "size", "threads", "test", "t/s");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(9, '-').c_str(), std::string(18, '-').c_str(),
              std::string(22, '-').c_str());
  auto row = [&](const std::string& test, const std::string& value) {
    std::printf("| %-28s | %-9s | %9s | %7d | %-16s | %20s |\n", name.c_str(), r.type.c_str(), size.c_str(), r.threads,
                test.c_str(), value.c_str());
  };
  if (!r.pp_tps.empty()) row(absl::StrFormat("pp%d", r.n_prompt), mean_sd(r.pp_tps, 2));
  if (!r.tg_tps.empty()) row(absl::StrFormat("tg%d", r.n_gen), mean_sd(r.tg_tps, 3));
  for (int64_t d : o.depths) {
    auto it = r.depth_tps.find(d);
    row(absl::StrFormat("tg%d @ d%d", r.depth_gen, d), it != r.depth_tps.end() ? mean_sd(it->second, 3) : "skipped");
  }
  std::printf("\n");
  for (const auto& [d, note] : r.depth_note) {
    auto it = r.depth_ratio.find(d);
    std::printf("depth %lld: %s%s\n", static_cast<long long>(d), note.c_str(),
                it == r.depth_ratio.end() ? ""
                                          : absl::StrFormat("; %s x the speed of depth-0 steps interleaved with them",
                                                            mean_sd(it->second, 3))
                                                .c_str());
  }
  std::printf("verify 4 rows vs 1 (all logits): ratio %.3f (1 row %s ms, 4 rows %s ms)\n", r.verify4_ratio,
              mean_sd(r.verify1_ms, 1).c_str(), mean_sd(r.verify4_ms, 1).c_str());
  if (!r.image_ms.empty()) {
    std::printf("image -> %lld tokens: %s ms (preprocess %s ms)%s\n", static_cast<long long>(r.image_tokens),
                mean_sd(r.image_ms, 1).c_str(), mean_sd(r.image_prep_ms, 1).c_str(),
                r.image_ttft_ms.empty() ? "" : (", with prefill " + mean_sd(r.image_ttft_ms, 1) + " ms").c_str());
  }
  if (!r.audio_ms.empty()) {
    std::printf("audio 30 s -> %lld tokens: %s ms (framing %s ms)%s\n", static_cast<long long>(r.audio_tokens),
                mean_sd(r.audio_ms, 1).c_str(), mean_sd(r.audio_prep_ms, 1).c_str(),
                r.audio_ttft_ms.empty() ? "" : (", with prefill " + mean_sd(r.audio_ttft_ms, 1) + " ms").c_str());
  }
  if (r.bw_gbs > 0) {
    std::printf("memory read bandwidth %.2f GB/s (%s) -> decode bound %.3f tokens/s (%.2f GB of weights per token)\n",
                r.bw_gbs, r.bw_kernel.c_str(), r.bw_bound_tps, r.weight_bytes / 1e9);
  }
  std::printf("peak RSS %.0f MB; model load %.0f ms; total %.0f s\n", r.peak_rss_mb, r.load_ms, r.total_s);
}

void print_json(const b::BenchOptions& o, const b::BenchResult& r) {
  using J = nlohmann::ordered_json;
  J j;
  auto stat = [&](const std::string& key, const b::Stat& s) {
    j[key] = s.empty() ? J() : J(s.mean());
    j[key + "_sd"] = s.empty() ? J() : J(s.sd());
  };
  j["model"] = r.model;
  j["type"] = r.type;
  j["device"] = r.device;
  j["threads"] = r.threads;
  j["reps"] = o.reps;
  j["weight_bytes"] = r.weight_bytes;
  if (r.n_prompt > 0) stat(absl::StrFormat("pp%d_tps", r.n_prompt), r.pp_tps);  // -p 0 / -n 0: no key
  if (r.n_gen > 0) stat(absl::StrFormat("tg%d_tps", r.n_gen), r.tg_tps);
  for (int64_t d : o.depths) {
    auto it = r.depth_tps.find(d);
    stat(absl::StrFormat("tg_depth%d_tps", d), it != r.depth_tps.end() ? it->second : b::Stat());
    auto ratio = r.depth_ratio.find(d);
    stat(absl::StrFormat("tg_depth%d_ratio", d), ratio != r.depth_ratio.end() ? ratio->second : b::Stat());
  }
  j["depth_n"] = r.depth_gen;
  j["depth_fill"] = o.depth_prefill ? "prefill" : "synthetic";
  j["verify4_ratio"] = r.verify4_ratio;
  j["verify1_ms"] = r.verify1_ms.mean();
  j["verify4_ms"] = r.verify4_ms.mean();
  stat("image280_ms", r.image_ms);
  j["image_tokens"] = r.image_tokens;
  stat("audio30s_ms", r.audio_ms);
  j["audio_tokens"] = r.audio_tokens;
  if (o.ttft) {
    stat("image280_ttft_ms", r.image_ttft_ms);
    stat("audio30s_ttft_ms", r.audio_ttft_ms);
  }
  j["peak_rss_mb"] = r.peak_rss_mb;
  j["bw_gbs"] = r.bw_gbs > 0 ? J(r.bw_gbs) : J();
  j["bw_bound_tps"] = r.bw_gbs > 0 ? J(r.bw_bound_tps) : J();
  j["load_ms"] = r.load_ms;
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail(std::string("no arguments\n\n") + kUsage, 2);
  const std::string first = argv[1];
  if (first == "-h" || first == "--help" || first == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Args a;
  std::string err;
  if (!parse(argc, argv, &a, &err)) return fail(err + "\n\n" + kUsage, 2);
  const bool make = a.values.count("--make-synthetic") || a.values.count("--make-synthetic-mmproj");
  if (make) {
    if (a.values.count("--model")) return fail("give either -m (measure) or --make-synthetic*, not both", 2);
    return make_files(a);
  }
  for (const char* k : {"--type", "--embd-type", "--mmproj-type"}) {
    if (a.values.count(k)) return fail(std::string(k) + " only applies to --make-synthetic*", 2);
  }
  if (a.values.count("--op") && !a.flags.count("--ops")) return fail("--op only applies to --ops", 2);
  if (a.flags.count("--ops")) {
    b::OpsOptions oo;
    int64_t threads = 0, reps = oo.reps;
    if (!get_int(a, "--threads", 1, 1024, &threads, &err) || !get_int(a, "--reps", 1, 1000, &reps, &err)) {
      return fail(err, 2);
    }
    oo.threads = static_cast<int>(threads);
    oo.reps = static_cast<int>(reps);
    if (auto op = a.values.find("--op"); op != a.values.end()) {
      if (op->second != "matmul" && op->second != "attention") {
        return fail("--op: '" + op->second + "' is not one of matmul, attention", 2);
      }
      oo.matmul = op->second == "matmul";
      oo.attention = op->second == "attention";
    }
    oo.file_layout = a.flags.count("--file-layout") > 0;
    return b::run_ops_bench(oo);
  }
  auto m = a.values.find("--model");
  if (m == a.values.end()) return fail("-m MODEL is required (or --make-synthetic PATH)\n\n" + std::string(kUsage), 2);

  b::BenchOptions o;
  o.model = m->second;
  if (a.values.count("--mmproj")) o.mmproj = a.values.at("--mmproj");
  for (const std::string& p : {o.model, o.mmproj}) {
    if (!p.empty() && !std::filesystem::exists(p)) return fail("file not found: " + p);
  }
  int64_t threads = 0, reps = o.reps, seed = 1, budget = static_cast<int64_t>(o.depth_budget_s);
  if (!get_int(a, "--threads", 1, 1024, &threads, &err) || !get_int(a, "--n-prompt", 0, 1 << 20, &o.n_prompt, &err) ||
      !get_int(a, "--n-gen", 0, 1 << 20, &o.n_gen, &err) || !get_int(a, "--reps", 1, 1000, &reps, &err) ||
      !get_int(a, "--depth-n", 1, 1 << 16, &o.depth_gen, &err) ||
      !get_int(a, "--depth-budget", 0, INT64_MAX, &budget, &err) ||
      !get_int(a, "--ubatch", 1, 65536, &o.ubatch, &err) || !get_int(a, "--bw-mib", 0, 1 << 20, &o.bw_mib, &err) ||
      !get_int(a, "--seed", 0, INT64_MAX, &seed, &err) ||
      !get_type(a, "--kv-type", {"f16", "f32", "q8_0"}, &o.kv_type, &err)) {
    return fail(err, 2);
  }
  o.threads = static_cast<int>(threads);
  o.reps = static_cast<int>(reps);
  o.seed = static_cast<uint64_t>(seed);
  o.depth_budget_s = static_cast<double>(budget);
  o.ttft = a.flags.count("--ttft") > 0;
  o.file_layout = a.flags.count("--file-layout") > 0;
  if (auto it = a.values.find("--depth-fill"); it != a.values.end()) {
    if (it->second != "synthetic" && it->second != "prefill") {
      return fail("--depth-fill: '" + it->second + "' is not synthetic or prefill", 2);
    }
    o.depth_prefill = it->second == "prefill";
  }
  if (auto it = a.values.find("--depths"); it != a.values.end()) {
    o.depths.clear();
    if (it->second != "none" && !it->second.empty()) {
      for (absl::string_view part : absl::StrSplit(it->second, ',')) {
        int64_t d;
        if (!absl::SimpleAtoi(part, &d) || d <= 0) {
          return fail("--depths: '" + std::string(part) + "' is not a positive integer", 2);
        }
        o.depths.push_back(d);
      }
    }
  }
  o.log = [](const std::string& s) {
    std::fprintf(stderr, "[bench] %s\n", s.c_str());
    std::fflush(stderr);
  };
  auto r = b::run_bench(o);
  if (!r.ok()) return fail(std::string(r.status().message()));
  print_table(o, *r);
  if (a.flags.count("--json")) print_json(o, *r);
  return 0;
}
