// Synthetic 12B text and mmproj GGUF writers (see synthetic.h).
// Text metadata: the key set of the golden tiny-gemma4.gguf (which llama.cpp de3ff81 loads) with
// the 12B values of spec 1.1 / 7.2, plus general.file_type, general.quantization_version and
// tokenizer.ggml.suppress_tokens (llama.cpp's key; our config reads it too). Tensor names and
// shapes come from our own tensor table (model/weights.h for_each_tensor on config_gemma4_12b()),
// so the file matches what Model::load checks. mmproj metadata mirrors the golden
// tiny-gemma4-mmproj.gguf at 12B sizes.
#include "synthetic.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/quant.h"
#include "gguf_writer.h"
#include "model/config.h"
#include "model/weights.h"
#include "util/thread_pool.h"
#include "vocab.h"

namespace gemma12b::bench {
namespace {

// ---- random numbers: splitmix64-seeded xoshiro256+, one stream per (tensor, row) ----------
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t s[4];
  Rng(uint64_t seed, uint64_t tensor, uint64_t row) {
    uint64_t x = seed * 0xD1B54A32D192ED03ull ^ (tensor << 40) ^ row;
    for (uint64_t& v : s) v = splitmix(x);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = s[0] + s[3], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  // Approximately standard normal: Irwin-Hall sum of four 16-bit uniforms (|z| <= 3.46).
  float normal() {
    const uint64_t r = next();
    const float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    return (sum * (1.0f / 65535.0f) - 2.0f) * 1.7320508f;
  }
};

// What a tensor's values look like.
enum class Fill { kGaussian, kNormWeight, kBias, kOne, kRopeFreqs };

struct Planned {
  std::string name;
  std::vector<int64_t> shape;  // outermost first
  DType type;
  Fill fill;
};

// Streams every planned tensor into `w` (already opened), rows generated in parallel.
Status stream_tensors(GgufWriter& w, const std::vector<Planned>& plan, const SyntheticOptions& o,
                      const std::vector<float>& rope_freqs) {
  ThreadPool pool(o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const bool tty = isatty(fileno(stderr)) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double total = static_cast<double>(w.data_bytes());
  double done = 0;
  int last_decile = -1;
  std::vector<uint8_t> out;
  std::vector<std::vector<float>> rows(pool.n_threads());
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const Planned& p = plan[ti];
    const int64_t cols = p.shape.back();
    int64_t n_rows = 1;
    for (size_t d = 0; d + 1 < p.shape.size(); ++d) n_rows *= p.shape[d];
    const size_t row_bytes = row_size(p.type, cols);
    const int64_t batch = std::max<int64_t>(1, (int64_t{32} << 20) / static_cast<int64_t>(row_bytes));
    for (int64_t r0 = 0; r0 < n_rows; r0 += batch) {
      const int64_t nr = std::min(batch, n_rows - r0);
      out.resize(static_cast<size_t>(nr) * row_bytes);
      pool.parallel_for(nr, [&](int64_t b, int64_t e, int thread) {
        std::vector<float>& buf = rows[thread];
        buf.resize(cols);
        for (int64_t r = b; r < e; ++r) {
          Rng rng(o.seed, ti, static_cast<uint64_t>(r0 + r));
          for (int64_t c = 0; c < cols; ++c) {
            switch (p.fill) {
              case Fill::kGaussian: buf[c] = o.weight_std * rng.normal(); break;
              case Fill::kNormWeight: buf[c] = 1.0f + 0.02f * rng.normal(); break;
              case Fill::kBias: buf[c] = 0.02f * rng.normal(); break;
              case Fill::kOne: buf[c] = 1.0f; break;
              case Fill::kRopeFreqs: buf[c] = c < static_cast<int64_t>(rope_freqs.size()) ? rope_freqs[c] : 1.0f; break;
            }
          }
          quantize_row(p.type, buf.data(), out.data() + static_cast<size_t>(r) * row_bytes, cols);
        }
      });
      G12_RETURN_IF_ERROR(w.write(out.data(), out.size()));
      done += static_cast<double>(out.size());
      if (!o.progress) continue;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double frac = done / total;
      const int decile = static_cast<int>(frac * 10);
      if (tty || decile != last_decile) {
        std::fprintf(stderr, "%s  %6.2f / %.2f GB  %5.1f%%  %-32s %6.1f s, eta %5.0f s%s", tty ? "\r" : "",
                     done / 1e9, total / 1e9, 100 * frac, p.name.c_str(), s, frac > 0 ? s / frac - s : 0.0,
                     tty ? "" : "\n");
        last_decile = decile;
      }
    }
  }
  if (o.progress && tty) std::fprintf(stderr, "\n");
  return OkStatus();
}

Status finish_file(GgufWriter& w, const std::vector<Planned>& plan, const SyntheticOptions& o,
                   const std::vector<float>& rope_freqs) {
  for (const Planned& p : plan) G12_RETURN_IF_ERROR(w.add_tensor(p.name, p.shape, p.type).status());
  if (o.progress) {
    std::fprintf(stderr, "writing %s: %zu tensors, %.2f GB\n", o.path.c_str(), plan.size(), w.file_bytes() / 1e9);
  }
  G12_RETURN_IF_ERROR(w.open(o.path));
  if (auto s = stream_tensors(w, plan, o, rope_freqs); !s.ok()) {
    std::remove(o.path.c_str());
    return s;
  }
  return w.finish();
}

}  // namespace

uint32_t llama_ftype_of(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 7;
    case DType::kQ4_K: return 14;  // Q4_K_S: every matrix Q4_K ("pure")
    case DType::kQ6_K: return 18;
    case DType::kBF16: return 32;
    default: return 0;
  }
}

Status write_synthetic_model(const SyntheticOptions& o) {
  const DType types[] = {DType::kQ4_0, DType::kQ4_K, DType::kQ8_0, DType::kF16};
  if (std::find(std::begin(types), std::end(types), o.type) == std::end(types)) {
    return InvalidArgument("--type must be q4_0, q4_k, q8_0 or f16 (not %s)", std::string(dtype_name(o.type)));
  }
  if (o.q4_k_m && o.type != DType::kQ4_K) return InvalidArgument("the Q4_K_M mix needs --type q4_k");
  const DType embd = o.embd_type != DType::kCount ? o.embd_type : o.q4_k_m ? DType::kQ6_K : o.type;
  const ModelConfig c = config_gemma4_12b();
  GgufWriter w;
  // ---- model metadata (spec 7.2) ----
  w.add_string("general.architecture", "gemma4");
  w.add_string("general.name", "gemma12b synthetic Gemma 4 12B (random weights)");
  w.add_u32("general.file_type", o.q4_k_m ? 15 : llama_ftype_of(o.type));  // 15: LLAMA_FTYPE_MOSTLY_Q4_K_M
  w.add_u32("general.quantization_version", 2);
  const std::string a = "gemma4.";
  w.add_u32(a + "context_length", static_cast<uint32_t>(c.max_context));
  w.add_u32(a + "embedding_length", static_cast<uint32_t>(c.d_model));
  w.add_u32(a + "block_count", static_cast<uint32_t>(c.n_layers));
  w.add_u32(a + "feed_forward_length", static_cast<uint32_t>(c.d_ff));
  w.add_u32(a + "attention.head_count", static_cast<uint32_t>(c.n_heads));
  std::vector<int32_t> kv_heads(c.n_kv_heads.begin(), c.n_kv_heads.end());
  w.add_i32_array(a + "attention.head_count_kv", kv_heads);
  w.add_f32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  w.add_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim_full));
  w.add_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim_full));
  w.add_u32(a + "attention.key_length_swa", static_cast<uint32_t>(c.head_dim_sliding));
  w.add_u32(a + "attention.value_length_swa", static_cast<uint32_t>(c.head_dim_sliding));
  w.add_f32(a + "rope.freq_base", c.rope_theta_full);
  w.add_f32(a + "rope.freq_base_swa", c.rope_theta_sliding);
  w.add_u32(a + "rope.dimension_count", static_cast<uint32_t>(c.n_rot_full));
  w.add_u32(a + "rope.dimension_count_swa", static_cast<uint32_t>(c.n_rot_sliding));
  w.add_u32(a + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  std::vector<bool> swa(c.n_layers);
  for (int64_t l = 0; l < c.n_layers; ++l) swa[l] = !c.is_full(l);
  w.add_bool_array(a + "attention.sliding_window_pattern", swa);
  w.add_u32(a + "attention.shared_kv_layers", 0);
  w.add_u32(a + "embedding_length_per_layer_input", 0);
  w.add_f32(a + "final_logit_softcapping", c.final_softcap);
  // ---- tokenizer (spec 5) ----
  const auto tv0 = std::chrono::steady_clock::now();
  SyntheticVocab vocab = make_gemma4_vocab(c.n_vocab, o.seed);
  if (o.progress) {
    std::fprintf(stderr, "vocabulary: %zu tokens, %zu merges (%.1f s)\n", vocab.tokens.size(), vocab.merges.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - tv0).count());
  }
  w.add_string("tokenizer.ggml.model", "gemma4");
  w.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
  w.add_f32_array("tokenizer.ggml.scores", vocab.scores);
  w.add_i32_array("tokenizer.ggml.token_type", vocab.types);
  w.add_string_array("tokenizer.ggml.merges", vocab.merges);
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_id));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_id));
  w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(c.pad_id));
  w.add_u32("tokenizer.ggml.unknown_token_id", 3);
  w.add_bool("tokenizer.ggml.add_space_prefix", false);
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.add_i32_array("tokenizer.ggml.suppress_tokens", std::vector<int32_t>(c.suppress_tokens.begin(), c.suppress_tokens.end()));
  vocab = SyntheticVocab();  // serialized; free it
  // ---- tensors, in our loader's table order (token_embd, output_norm, rope_freqs, blk.0 ...) ----
  std::vector<Planned> plan;
  Weights slots;
  // Q4_K_M: llama.cpp (llama_tensor_get_type) gives q6_k to the i-th of n attn_v (counted over the
  // layers that have one) and to layer i's ffn_down when i < n/8, i >= 7n/8 or (i − n/8) % 3 == 2.
  auto more_bits = [](int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; };
  int64_t n_wv = 0, i_wv = 0;
  for (int64_t l = 0; l < c.n_layers; ++l) n_wv += !c.is_full(l);  // full layers have no attn_v (K == V)
  auto layer_of = [](const std::string& name) { return std::stoll(name.substr(4, name.find('.', 4) - 4)); };
  auto ends_with = [](const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  for_each_tensor(c, slots, [&](TensorSpec& s) {
    Fill fill = Fill::kGaussian;
    DType t = s.gguf_name == "token_embd.weight" ? embd : o.type;
    if (o.q4_k_m && ends_with(s.gguf_name, ".attn_v.weight") && more_bits(i_wv++, n_wv)) t = DType::kQ6_K;
    if (o.q4_k_m && ends_with(s.gguf_name, ".ffn_down.weight") && more_bits(layer_of(s.gguf_name), c.n_layers)) {
      t = DType::kQ6_K;
    }
    if (s.norm_like) {
      t = DType::kF32;
      fill = s.gguf_name == "rope_freqs.weight" ? Fill::kRopeFreqs
             : s.gguf_name.find("layer_output_scale") != std::string::npos ? Fill::kOne
                                                                            : Fill::kNormWeight;
    }
    plan.push_back({s.gguf_name, s.shape, t, fill});
  });
  return finish_file(w, plan, o, c.full_rope_freq_factors());
}

Status write_synthetic_mmproj(const SyntheticOptions& o) {
  if (o.type != DType::kF16 && o.type != DType::kF32) {
    return InvalidArgument("mmproj --type must be f16 or f32 (not %s)", std::string(dtype_name(o.type)));
  }
  const int64_t d = 3840, patch = 48 * 48 * 3, pos = 1120, frame = 640;  // spec 2.1, 3, 7.3
  GgufWriter w;
  w.add_string("general.architecture", "clip");
  w.add_string("general.type", "mmproj");
  w.add_string("general.name", "gemma12b synthetic Gemma 4 12B mmproj (random weights)");
  w.add_u32("general.file_type", llama_ftype_of(o.type));
  w.add_bool("clip.has_vision_encoder", true);
  w.add_u32("clip.vision.projection_dim", d);
  w.add_u32("clip.vision.image_size", 224);
  w.add_u32("clip.vision.patch_size", 16);
  w.add_u32("clip.vision.embedding_length", d);
  w.add_u32("clip.vision.feed_forward_length", 0);
  w.add_u32("clip.vision.block_count", 0);
  w.add_u32("clip.vision.attention.head_count", 0);
  w.add_f32_array("clip.vision.image_mean", {0.0f, 0.0f, 0.0f});
  w.add_f32_array("clip.vision.image_std", {1.0f, 1.0f, 1.0f});
  w.add_bool("clip.has_audio_encoder", true);
  w.add_u32("clip.audio.projection_dim", d);
  w.add_u32("clip.audio.embedding_length", frame);
  w.add_u32("clip.audio.feed_forward_length", 0);
  w.add_u32("clip.audio.block_count", 0);
  w.add_u32("clip.audio.attention.head_count", 0);
  w.add_string("clip.vision.projector_type", "gemma4uv");
  w.add_f32("clip.vision.attention.layer_norm_epsilon", 1e-6f);
  w.add_string("clip.audio.projector_type", "gemma4ua");
  w.add_u32("clip.audio.num_mel_bins", frame);
  w.add_f32("clip.audio.attention.layer_norm_epsilon", 1e-6f);
  const DType m = o.type, f32 = DType::kF32;
  const std::vector<Planned> plan = {
      {"v.patch_norm.1.weight", {patch}, f32, Fill::kNormWeight},
      {"v.patch_norm.1.bias", {patch}, f32, Fill::kBias},
      {"v.patch_embd.weight", {d, patch}, m, Fill::kGaussian},
      {"v.patch_embd.bias", {d}, f32, Fill::kBias},
      {"v.patch_norm.2.weight", {d}, f32, Fill::kNormWeight},
      {"v.patch_norm.2.bias", {d}, f32, Fill::kBias},
      {"v.position_embd.weight", {2, pos, d}, m, Fill::kGaussian},
      {"v.patch_norm.3.weight", {d}, f32, Fill::kNormWeight},
      {"v.patch_norm.3.bias", {d}, f32, Fill::kBias},
      {"mm.input_projection.weight", {d, d}, m, Fill::kGaussian},
      {"mm.a.input_projection.weight", {d, frame}, m, Fill::kGaussian},
  };
  return finish_file(w, plan, o, {});
}

}  // namespace gemma12b::bench
