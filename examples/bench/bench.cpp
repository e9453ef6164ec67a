// gemma12b-bench measurements (see bench.h for what each one means). Order: bandwidth (in a
// forked child before anything else, so its buffer stays out of this process's peak RSS), load,
// warm-up, pp, verify, tg, depths, image, audio. Every timed call synchronises (decode returns
// host logits), so wall-clock time is the cost.
#include "bench.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <thread>

#include "absl/strings/str_format.h"
#include "bandwidth.h"
#include "core/backend.h"
#include "core/quant.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/multimodal/embedders.h"
#include "model/multimodal/preprocess.h"

namespace gemma12b::bench {
namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs the bandwidth probe in a child process (before this process starts any thread).
Bandwidth bandwidth_in_child(size_t bytes, int threads) {
  Bandwidth b;
  int fds[2];
  if (pipe(fds) != 0) return b;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return b;
  }
  if (pid == 0) {
    close(fds[0]);
    const Bandwidth m = measure_read_bandwidth(bytes, threads, 5);
    char msg[64] = {};
    std::snprintf(msg, sizeof msg, "%.6f %s", m.gb_per_s, m.kernel);
    (void)!write(fds[1], msg, sizeof msg);
    _exit(0);
  }
  close(fds[1]);
  char msg[64] = {};
  size_t got = 0;
  while (got < sizeof msg) {
    const ssize_t k = read(fds[0], msg + got, sizeof msg - got);
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  static char kernel[32];
  if (got == sizeof msg && std::sscanf(msg, "%lf %31s", &b.gb_per_s, kernel) == 2) b.kernel = kernel;
  return b;
}

// Random ids of ordinary pieces (above specials and byte pieces when the vocabulary is the big one).
std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, std::mt19937_64& rng) {
  const int64_t lo = n_vocab > 100000 ? 494 : 0, hi = std::min<int64_t>(n_vocab, 255999);
  std::uniform_int_distribution<int64_t> d(lo, hi - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(d(rng));
  return t;
}

Status decode_tokens(Decoder& dec, KvCache& kv, std::span<const int32_t> tokens, bool all_logits) {
  DecodeInput in;
  in.tokens = tokens;
  in.all_logits = all_logits;
  DecodeOutput out;
  return dec.decode(kv, in, &out);
}

Status decode_rows(Decoder& dec, KvCache& kv, const std::vector<float>& rows, bool bidirectional) {
  DecodeInput in;
  in.embeddings = rows;
  in.bidirectional = bidirectional;
  DecodeOutput out;
  return dec.decode(kv, in, &out);
}

// Fills positions [0, depth) of every layer: K/V rows get random unit-RMS values (what k_norm /
// v_norm leave), the slot bookkeeping is committed as a prefill would.
Status fill_kv_synthetic(KvCache& kv, const ModelConfig& c, int64_t depth, uint64_t seed) {
  G12_RETURN_IF_ERROR(kv.clear());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> row;
  std::vector<uint8_t> chunk;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (const TensorView& t : {kv.k(l), kv.v(l)}) {
      const int64_t slots = std::min<int64_t>(t.shape[0], depth), nkv = t.shape[1], hd = t.shape[2];
      const size_t rb = row_size(t.dtype, hd);
      const size_t max_chunk = std::max<size_t>(rb, size_t{4} << 20);
      row.resize(hd);
      // Rows (slot s, head hk) head by head, uploaded in runs of adjacent bytes (a head's slots
      // are one run in the cache's head-major storage).
      size_t run_at = 0;
      chunk.clear();
      auto flush = [&]() {
        const Status st = chunk.empty() ? OkStatus() : t.buffer->upload(run_at, chunk.data(), chunk.size());
        chunk.clear();
        return st;
      };
      for (int64_t hk = 0; hk < nkv; ++hk) {
        for (int64_t s = 0; s < slots; ++s) {
          const size_t at = t.row_offset(s * nkv + hk);
          if (!chunk.empty() && (at != run_at + chunk.size() || chunk.size() + rb > max_chunk)) {
            G12_RETURN_IF_ERROR(flush());
          }
          if (chunk.empty()) run_at = at;
          for (auto& x : row) x = nd(rng);
          chunk.resize(chunk.size() + rb);
          quantize_row(t.dtype, row.data(), chunk.data() + chunk.size() - rb, hd);
        }
      }
      G12_RETURN_IF_ERROR(flush());
    }
  }
  return kv.commit(0, depth, {});
}

// Bytes of K and V a decode step reads at `depth` (full layers: every position; sliding: window).
double kv_bytes_read(const ModelConfig& c, DType t, int64_t depth) {
  double b = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const int64_t n = c.is_full(l) ? depth : std::min(depth, c.sliding_window);
    b += 2.0 * n * c.kv_heads(l) * row_size(t, c.head_dim(l));
  }
  return b;
}

// A deterministic test picture: gradients with a checkerboard, `w` x `h`.
RgbImage test_image(int w, int h) {
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &img.pixels[(static_cast<size_t>(y) * w + x) * 3];
      const bool check = ((x / 37) + (y / 29)) & 1;
      p[0] = static_cast<uint8_t>(255 * x / w);
      p[1] = static_cast<uint8_t>(255 * y / h);
      p[2] = check ? 200 : 40;
    }
  }
  return img;
}

}  // namespace

double Stat::mean() const {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double Stat::sd() const {
  if (v.size() < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

StatusOr<BenchResult> run_bench(const BenchOptions& o) {
  auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  const auto t_start = Clock::now();
  BenchResult r;
  r.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  r.n_prompt = o.n_prompt;
  r.n_gen = o.n_gen;
  r.depth_gen = o.depth_gen;
  r.model = o.model;
  if (o.bw_mib > 0) {
    const Bandwidth b = bandwidth_in_child(static_cast<size_t>(o.bw_mib) << 20, r.threads);
    r.bw_gbs = b.gb_per_s;
    r.bw_kernel = b.kernel;
    log(absl::StrFormat("memory read bandwidth: %.2f GB/s (%d threads, %s, %d MiB buffer, best of 5)", r.bw_gbs,
                        r.threads, r.bw_kernel, o.bw_mib));
  }

  DeviceOptions dopt;
  dopt.n_threads = r.threads;
  dopt.cpu_file_layout = o.file_layout;
  G12_ASSIGN_OR_RETURN(auto device, create_device("cpu", dopt));
  r.device = std::string(device->name());
  auto t0 = Clock::now();
  G12_ASSIGN_OR_RETURN(auto model, Model::load(o.model, *device));
  r.load_ms = 1e3 * secs(t0);
  const ModelConfig& c = model->config();
  r.weight_bytes = model->weight_bytes();
  std::map<std::string, size_t> by_type;
  for (const auto& row : model->tensor_table()) by_type[row.dtype] += row.bytes;
  // The type holding most bytes, plus any other type with at least 5% of them (a Q4_K_M file:
  // "q4_k+q6_k"; the norms' f32 stay out).
  r.type = std::max_element(by_type.begin(), by_type.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  size_t total = 0;
  for (const auto& [name, bytes] : by_type) total += bytes;
  for (const auto& [name, bytes] : by_type) {
    if (name != r.type && 20 * bytes >= total) r.type += "+" + name;
  }
  if (r.bw_gbs > 0) r.bw_bound_tps = r.bw_gbs * 1e9 / static_cast<double>(r.weight_bytes);
  log(absl::StrFormat("loaded %s in %.0f ms: %s, %.2f GB of weights per token", o.model, r.load_ms, r.type,
                      r.weight_bytes / 1e9));

  // The mmproj is loaded up front so a wrong file fails before the long text tests.
  std::unique_ptr<Embedders> emb;
  if (!o.mmproj.empty()) {
    t0 = Clock::now();
    G12_ASSIGN_OR_RETURN(emb, Embedders::load(o.mmproj, *device));
    r.mmproj_load_ms = 1e3 * secs(t0);
    if (emb->n_embd() != c.d_model) {
      return InvalidArgument("%s produces %d-wide rows, the model wants %d", o.mmproj, emb->n_embd(), c.d_model);
    }
  }

  G12_ASSIGN_OR_RETURN(auto dec, Decoder::create(*model, o.ubatch));
  std::mt19937_64 rng(o.seed);
  KvCacheOptions kopt;
  kopt.dtype = o.kv_type;
  kopt.max_ubatch = o.ubatch;
  kopt.n_ctx = std::min<int64_t>(c.max_context, std::max<int64_t>({o.n_prompt + 8, o.n_gen + 1, o.mmproj.empty() ? 16 : 1024}));
  G12_ASSIGN_OR_RETURN(auto kv, KvCache::create(c, *device, kopt));

  // Warm-up: one token (maps every weight page in) and a short prefill (sizes the scratch).
  t0 = Clock::now();
  const std::vector<int32_t> warm = random_tokens(std::min<int64_t>(16, kopt.n_ctx - 1), c.n_vocab, rng);
  G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(warm).first(1), false));
  G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(warm).subspan(1), false));
  log(absl::StrFormat("warm-up (1 token cold + %zu-token prefill): %.1f s", warm.size() - 1, secs(t0)));

  // ---- pp ----
  const std::vector<int32_t> prompt = random_tokens(std::max<int64_t>(o.n_prompt, 8), c.n_vocab, rng);
  for (int i = 0; o.n_prompt > 0 && i < o.reps; ++i) {
    G12_RETURN_IF_ERROR(kv->clear());
    t0 = Clock::now();
    G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(prompt).first(o.n_prompt), false));
    const double s = secs(t0);
    r.pp_tps.v.push_back(o.n_prompt / s);
    log(absl::StrFormat("pp%d rep %d/%d: %.2f s, %.2f tokens/s", o.n_prompt, i + 1, o.reps, s, o.n_prompt / s));
  }
  // ---- verify: 4 rows with all logits vs 1 row, from the prompt state ----
  if (o.n_prompt == 0) {
    G12_RETURN_IF_ERROR(kv->clear());
    G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(prompt).first(8), false));
  }
  const int64_t base = kv->n_past();
  const std::vector<int32_t> draft = random_tokens(4, c.n_vocab, rng);
  for (int i = 0; i < std::max(3, o.reps); ++i) {
    t0 = Clock::now();
    G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(draft).first(1), true));
    r.verify1_ms.v.push_back(1e3 * secs(t0));
    G12_RETURN_IF_ERROR(kv->truncate(base));
    t0 = Clock::now();
    G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, draft, true));
    r.verify4_ms.v.push_back(1e3 * secs(t0));
    G12_RETURN_IF_ERROR(kv->truncate(base));
  }
  r.verify4_ratio = r.verify4_ms.mean() / r.verify1_ms.mean();
  log(absl::StrFormat("verify: 1 row %.1f ms, 4 rows %.1f ms, ratio %.3f (at %d positions)", r.verify1_ms.mean(),
                      r.verify4_ms.mean(), r.verify4_ratio, base));
  // ---- tg ----
  const std::vector<int32_t> gen = random_tokens(std::max<int64_t>(o.n_gen, o.depth_gen), c.n_vocab, rng);
  for (int i = 0; o.n_gen > 0 && i < o.reps; ++i) {
    G12_RETURN_IF_ERROR(kv->clear());
    t0 = Clock::now();
    for (int64_t k = 0; k < o.n_gen; ++k) G12_RETURN_IF_ERROR(decode_tokens(*dec, *kv, std::span(gen).subspan(k, 1), false));
    const double s = secs(t0);
    r.tg_tps.v.push_back(o.n_gen / s);
    log(absl::StrFormat("tg%d rep %d/%d: %.2f s, %.3f tokens/s", o.n_gen, i + 1, o.reps, s, o.n_gen / s));
  }
  kv.reset();

  // ---- decode at depth ----
  const double tok_s = !r.tg_tps.empty() ? 1.0 / r.tg_tps.mean() : r.verify1_ms.mean() / 1e3;
  // The paired depth-0 steps run on their own cache of depth_gen positions.
  std::unique_ptr<KvCache> ref;
  if (o.depth_gen > 0 && !o.depths.empty()) {
    KvCacheOptions rk = kopt;
    rk.n_ctx = o.depth_gen + 1;
    G12_ASSIGN_OR_RETURN(ref, KvCache::create(c, *device, rk));
  }
  for (int64_t d : o.depths) {
    if (o.depth_gen <= 0) break;
    if (d + o.depth_gen > c.max_context) {
      r.depth_note[d] = absl::StrFormat("skipped: depth %d + %d exceeds the model's context %d", d, o.depth_gen, c.max_context);
      log(r.depth_note[d]);
      continue;
    }
    // Estimate: weights + the K/V the step reads, at the measured per-token rate; plus the fill.
    const double step = tok_s * (1.0 + kv_bytes_read(c, o.kv_type, d) / static_cast<double>(r.weight_bytes));
    double est = o.reps * o.depth_gen * (step + tok_s);  // each step paired with a depth-0 step
    if (o.depth_prefill) est += !r.pp_tps.empty() ? d / r.pp_tps.mean() : d * tok_s;
    if (est > o.depth_budget_s) {
      r.depth_note[d] = absl::StrFormat("skipped: estimated %.0f s > --depth-budget %.0f s", est, o.depth_budget_s);
      log(absl::StrFormat("depth %d %s", d, r.depth_note[d]));
      continue;
    }
    KvCacheOptions dk = kopt;
    dk.n_ctx = d + o.depth_gen + 1;
    G12_ASSIGN_OR_RETURN(auto dkv, KvCache::create(c, *device, dk));
    t0 = Clock::now();
    if (o.depth_prefill) {
      const std::vector<int32_t> fill = random_tokens(d, c.n_vocab, rng);
      G12_RETURN_IF_ERROR(decode_tokens(*dec, *dkv, fill, false));
      r.depth_note[d] = absl::StrFormat("filled by a %d-token prefill (%.0f s)", d, secs(t0));
    } else {
      G12_RETURN_IF_ERROR(fill_kv_synthetic(*dkv, c, d, o.seed + d));
      r.depth_note[d] = absl::StrFormat("synthetic K/V fill (%.1f s)", secs(t0));
    }
    // One untimed probe step at this depth (also its warm-up) refines the estimate.
    t0 = Clock::now();
    G12_RETURN_IF_ERROR(decode_tokens(*dec, *dkv, std::span(gen).first(1), false));
    const double probe = secs(t0);
    G12_RETURN_IF_ERROR(dkv->truncate(d));
    est = o.reps * o.depth_gen * (probe + tok_s);
    if (est > o.depth_budget_s) {
      r.depth_note[d] += absl::StrFormat("; skipped: one step took %.1f s, so %d x %d steps ~ %.0f s > --depth-budget %.0f s",
                                         probe, o.reps, o.depth_gen, est, o.depth_budget_s);
      log(absl::StrFormat("depth %d: %s", d, r.depth_note[d]));
      continue;
    }
    log(absl::StrFormat("depth %d: %s, probe step %.2f s, estimated %.0f s", d, r.depth_note[d], probe, est));
    for (int i = 0; i < o.reps; ++i) {
      G12_RETURN_IF_ERROR(ref->clear());
      double s = 0, s0 = 0;  // seconds of the depth-D steps and of the paired depth-0 steps
      for (int64_t k = 0; k < o.depth_gen; ++k) {
        const std::span<const int32_t> tok = std::span(gen).subspan(k, 1);
        for (int side = 0; side < 2; ++side) {
          const bool deep = (side == 0) == (k % 2 == 0);  // D, 0, 0, D, D, 0, ...
          t0 = Clock::now();
          G12_RETURN_IF_ERROR(decode_tokens(*dec, deep ? *dkv : *ref, tok, false));
          (deep ? s : s0) += secs(t0);
        }
      }
      r.depth_tps[d].v.push_back(o.depth_gen / s);
      r.depth_ratio[d].v.push_back(s0 / s);
      G12_RETURN_IF_ERROR(dkv->truncate(d));
      log(absl::StrFormat("tg%d @ depth %d rep %d/%d: %.2f s, %.3f tokens/s, %.3f x the paired depth-0 steps",
                          o.depth_gen, d, i + 1, o.reps, s, o.depth_gen / s, s0 / s));
    }
  }

  // ---- multimodal ----
  if (emb) {
    std::unique_ptr<KvCache> mkv;
    if (o.ttft) {
      G12_ASSIGN_OR_RETURN(mkv, KvCache::create(c, *device, kopt));
    }
    if (emb->has_vision()) {
      // 1920 x 1344 resizes to 960 x 672 = 20 x 14 = 280 patches under the 280 budget.
      const RgbImage img = test_image(1920, 1344);
      for (int i = 0; i < o.reps; ++i) {
        t0 = Clock::now();
        G12_ASSIGN_OR_RETURN(ImagePatches p, image_to_patches(img, 280, emb->host_threads()));
        const double prep = 1e3 * secs(t0);
        G12_ASSIGN_OR_RETURN(std::vector<float> rows, emb->embed_image(p));
        r.image_prep_ms.v.push_back(prep);
        r.image_ms.v.push_back(1e3 * secs(t0));
        r.image_tokens = p.n;
        if (mkv) {
          G12_RETURN_IF_ERROR(mkv->clear());
          G12_RETURN_IF_ERROR(decode_rows(*dec, *mkv, rows, true));
          r.image_ttft_ms.v.push_back(1e3 * secs(t0));
        }
        log(absl::StrFormat("image %dx%d -> %d tokens rep %d/%d: %.1f ms (preprocess %.1f ms)%s", img.width, img.height,
                            p.n, i + 1, o.reps, r.image_ms.v.back(), prep,
                            mkv ? absl::StrFormat(", + prefill %.1f ms", r.image_ttft_ms.v.back()) : ""));
      }
    }
    if (emb->has_audio()) {
      std::vector<float> wave(30 * kAudioSampleRate);
      std::normal_distribution<float> noise(0.0f, 0.05f);
      for (size_t i = 0; i < wave.size(); ++i) {
        wave[i] = 0.3f * std::sin(2.0f * 3.14159265f * 220.0f * static_cast<float>(i) / kAudioSampleRate) + noise(rng);
      }
      for (int i = 0; i < o.reps; ++i) {
        t0 = Clock::now();
        int64_t n_frames = 0;
        G12_ASSIGN_OR_RETURN(std::vector<float> frames, audio_to_frames(wave, &n_frames));
        const double prep = 1e3 * secs(t0);
        G12_ASSIGN_OR_RETURN(std::vector<float> rows, emb->embed_audio(frames, n_frames));
        r.audio_prep_ms.v.push_back(prep);
        r.audio_ms.v.push_back(1e3 * secs(t0));
        r.audio_tokens = n_frames;
        if (mkv) {
          G12_RETURN_IF_ERROR(mkv->clear());
          G12_RETURN_IF_ERROR(decode_rows(*dec, *mkv, rows, false));
          r.audio_ttft_ms.v.push_back(1e3 * secs(t0));
        }
        log(absl::StrFormat("audio 30 s -> %d tokens rep %d/%d: %.1f ms (framing %.1f ms)%s", n_frames, i + 1, o.reps,
                            r.audio_ms.v.back(), prep,
                            mkv ? absl::StrFormat(", + prefill %.1f ms", r.audio_ttft_ms.v.back()) : ""));
      }
    }
  }

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;  // KiB on Linux
  r.total_s = secs(t_start);
  return r;
}

}  // namespace gemma12b::bench
