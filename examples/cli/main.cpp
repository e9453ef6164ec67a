// gemma12b-cli: load a Gemma 4 model and run it.
//   gemma12b-cli info -m MODEL                      config and tensor table
//   gemma12b-cli generate -m MODEL --tokens 2,105,... [-n 32] [--greedy | sampling flags]
//   gemma12b-cli generate -m MODEL -p TEXT --chat [--image F] [--audio F] [--video F] [--mmproj F]
//   gemma12b-cli tokenize --tokenizer FILE [--no-bos] [--special] < lines   one line of ids per line
//   gemma12b-cli detokenize --tokenizer FILE < lines of ids                   one line of text per line
// Run `gemma12b-cli help` for every flag.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/backend.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "runtime/assets.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"
#include "args.h"
#include "chat.h"
#include "eval.h"

namespace g = gemma12b;

namespace {

const char* kUsage = R"(usage: gemma12b-cli COMMAND [options]

commands:
  info       print the model's configuration and tensor table
  generate   run a prompt (text or token ids) and generate a continuation
  eval       run a golden-format case (tokens, image and audio segments):
             --manifest CASE.json --out DIR (writes the
             manifest's outputs as .npy + greedy_tokens.txt; f32 KV, no suppression)
  compare    --manifest CASE.json --out DIR: max |diff| and top-1 agreement of DIR's
             outputs against the manifest's reference files
  tokenize   --tokenizer FILE (tokenizer.json or .gguf): reads UTF-8 lines from stdin and
             prints one line of space-separated token ids per line
  detokenize --tokenizer FILE: reads lines of token ids from stdin and prints their text

options:
  -m, --model PATH       GGUF file or HF safetensors directory (required)
  --backend NAME         cpu (default), reference, or vulkan (a Vulkan GPU; lavapipe, Mesa's
                         CPU driver, where there is none)
  --device N             vulkan: device index (default: the first discrete GPU, else the first
                         integrated one; GEMMA12B_VULKAN_DEVICE=N or a name part overrides it)
  -t, --threads N        CPU threads (default: all cores)
  --tokens LIST          prompt as comma-separated token ids (e.g. 2,105,2364)
  -p, --prompt TEXT      prompt as text (the model's tokenizer; BOS added)
  --chat                 with -p: render it as a user turn of the Gemma 4 chat format
  --image FILE           add an image (PNG/JPEG/BMP/GIF/WebP) to the user turn (repeatable)
  --audio FILE           add audio (WAV/FLAC/MP3/OGG; resampled to 16 kHz mono) (repeatable)
  --video FILE           add a video (frames sampled at --video-fps) (repeatable)
  --mmproj FILE          multimodal projector (mmproj GGUF or HF dir); default: found next
                         to the model
  --image-tokens N       soft tokens per image: 70, 140, 280 (default), 560, 1120
  --video-frame-tokens N soft tokens per video frame (default 70)
  --video-fps X          frames sampled per second of video (default 1)
  --video-frames N       at most N frames, spread evenly over the video (default 32)
  --video-audio          also feed the video's audio track, after its frames (off by default)
  --max-audio-seconds X  longer audio is refused (default 30)
  --system TEXT          a system turn before the user turn
  --think                enable thinking (<|think|> in the system turn); thoughts print marked
  -n, --n-predict N      tokens to generate (default 32)
  -c, --ctx N            context size in positions (default 4096, at most the model's)
  --kv-type T            KV cache type: f16 (default), f32, q8_0
  --ubatch N             rows per forward step (default 512)
  --greedy               argmax decoding (same as --temp 0)
  --temp X               temperature (default 1.0)
  --top-k N              top-k (default 64; 0 = off)
  --top-p X              top-p (default 0.95)
  --min-p X              min-p (default 0)
  --repeat-penalty X     repetition penalty (default 1)
  --presence-penalty X   presence penalty (default 0)
  --frequency-penalty X  frequency penalty (default 0)
  --seed N               sampling seed (default 0)
  --show-logits K        print the K highest logits of the prompt's last position
  --manifest PATH        (eval, compare) the case manifest
  --out DIR              (eval, compare) where outputs are written / read
  --tolerance X          (compare) exit 1 when any output differs by more than X
  --tokenizer FILE       (tokenize, detokenize) tokenizer.json or GGUF
  --no-bos               (tokenize) do not prepend BOS
  --special              (tokenize) match control-token strings such as <|turn> in the text
)";

// Human-readable form of a token from the GGUF vocabulary (a minimal view; the tokenizer does
// exact UTF-8 decoding).
std::string piece_of(const std::vector<std::string>& vocab, int32_t id) {
  if (id < 0 || id >= static_cast<int32_t>(vocab.size())) return "?";
  std::string p = vocab[id], out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
    } else if (p[i] == '\n') {
      out += "\\n";
    } else {
      out += p[i];
    }
  }
  return out;
}

// tokenize / detokenize: stdin lines to ids and back.
int run_tokenizer(const Args& a) {
  auto path = a.values.find("--tokenizer");
  if (path == a.values.end()) return fail(a.command + " needs --tokenizer FILE (tokenizer.json or .gguf)");
  auto tok = g::Tokenizer::load(path->second);
  if (!tok.ok()) return fail(std::string(tok.status().message()));
  std::string line;
  if (a.command == "tokenize") {
    g::EncodeOptions opt;
    opt.add_bos = !a.flags.count("--no-bos");
    opt.parse_special = a.flags.count("--special") > 0;
    while (std::getline(std::cin, line)) {
      const auto ids = (*tok)->encode(line, opt);
      std::string out;
      for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&out, i ? " " : "", ids[i]);
      std::printf("%s\n", out.c_str());
    }
    return 0;
  }
  int64_t n_line = 0;
  while (std::getline(std::cin, line)) {
    ++n_line;
    std::vector<int32_t> ids;
    for (absl::string_view part : absl::StrSplit(line, absl::ByAnyChar(" ,\t"), absl::SkipWhitespace())) {
      int32_t id;
      if (!absl::SimpleAtoi(part, &id) || id < 0 || id >= (*tok)->n_vocab()) {
        return fail("line " + std::to_string(n_line) + ": '" + std::string(part) + "' is not a token id");
      }
      ids.push_back(id);
    }
    const std::string text = (*tok)->decode(ids);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

int run(const Args& a) {
  std::string err;
  if (a.command == "eval" || a.command == "compare") return run_eval(a.command, a.values);
  if (a.command == "tokenize" || a.command == "detokenize") return run_tokenizer(a);
  auto model_it = a.values.find("--model");
  if (model_it == a.values.end()) return fail("--model is required");
  g::DeviceOptions dopt;
  if (!get_num(a, "--threads", &dopt.n_threads, &err) || !get_num(a, "--device", &dopt.device_index, &err)) {
    return fail(err);
  }
  if (dopt.device_index < -1) return fail("--device: must be a device index (0, 1, ...) or -1");
  const std::string backend = a.values.count("--backend") ? a.values.at("--backend") : "cpu";
  auto device = g::create_device(backend, dopt);
  if (!device.ok() && device.status().code() == absl::StatusCode::kUnavailable) {
    return fail("backend '" + backend + "' has no device here: " + std::string(device.status().message()));
  }
  if (!device.ok()) return fail(std::string(device.status().message()));
  g::LoadOptions lopt;
  auto t0 = std::chrono::steady_clock::now();
  auto model = g::Model::load(model_it->second, **device, lopt);
  if (!model.ok()) return fail(std::string(model.status().message()));
  const g::ModelConfig& c = (*model)->config();
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::string> vocab;
  if (const g::GgufFile* gf = (*model)->gguf(); gf && gf->has("tokenizer.ggml.tokens")) {
    auto v = gf->get_string_array("tokenizer.ggml.tokens");
    if (v.ok()) vocab = *v;
  }

  if (a.command == "info") {
    std::printf("%s\n", g::config_summary(c).c_str());
    std::printf("format %s, %.2f MiB of decoder weights, loaded in %.1f ms\n\n", (*model)->format().c_str(),
                (*model)->weight_bytes() / 1048576.0, load_ms);
    std::printf("%-48s %-6s %-14s %10s\n", "tensor", "type", "shape", "bytes");
    for (const auto& row : (*model)->tensor_table()) {
      std::printf("%-48s %-6s %-14s %10zu\n", row.name.c_str(), row.dtype.c_str(), row.shape.c_str(), row.bytes);
    }
    return 0;
  }
  if (a.command != "generate") return fail("unknown command '" + a.command + "' (try help)");

  g::KvCacheOptions kopt;
  kopt.n_ctx = std::min<int64_t>(4096, c.max_context);
  int64_t n_predict = 32, ubatch = 512, show = 0;
  if (!get_num(a, "--ctx", &kopt.n_ctx, &err) || !get_num(a, "--n-predict", &n_predict, &err) ||
      !get_num(a, "--ubatch", &ubatch, &err) || !get_num(a, "--show-logits", &show, &err)) {
    return fail(err);
  }
  kopt.max_ubatch = ubatch;
  if (a.values.count("--kv-type")) {
    auto dt = g::dtype_from_name(a.values.at("--kv-type"));
    if (!dt) return fail("--kv-type: unknown type '" + a.values.at("--kv-type") + "'");
    kopt.dtype = *dt;
  }
  g::SamplingParams sp = g::default_sampling(**model);
  if (!get_num(a, "--temp", &sp.temperature, &err) || !get_num(a, "--top-k", &sp.top_k, &err) ||
      !get_num(a, "--top-p", &sp.top_p, &err) || !get_num(a, "--min-p", &sp.min_p, &err) ||
      !get_num(a, "--repeat-penalty", &sp.repetition_penalty, &err) ||
      !get_num(a, "--presence-penalty", &sp.presence_penalty, &err) ||
      !get_num(a, "--frequency-penalty", &sp.frequency_penalty, &err) || !get_num(a, "--seed", &sp.seed, &err)) {
    return fail(err);
  }
  if (a.flags.count("--greedy")) sp.temperature = 0.0f;
  // Chat mode (a user turn of the chat format, with any media): the runtime's Session.
  if (a.flags.count("--chat") || !a.media.empty()) {
    ChatRun run{**model, sp, n_predict, kopt.n_ctx, kopt.dtype, a.values.count("--ubatch") ? ubatch : 0, load_ms};
    return run_chat(a, run);
  }
  // Raw mode: the prompt as token ids (--tokens) or text (-p) through the model's tokenizer.
  std::vector<int32_t> prompt;
  std::unique_ptr<g::Tokenizer> tokenizer;
  if (auto t = g::load_model_tokenizer(**model); t.ok()) tokenizer = std::move(*t);
  auto tok_it = a.values.find("--tokens");
  auto text_it = a.values.find("--prompt");
  if ((tok_it == a.values.end()) == (text_it == a.values.end())) return fail("generate needs exactly one of --tokens and -p");
  const bool text_mode = text_it != a.values.end();
  if (text_mode) {
    if (!tokenizer) return fail("the model file has no tokenizer; give the prompt as --tokens");
    std::string text = text_it->second;
    prompt = tokenizer->encode(text);
  } else {
    for (absl::string_view part : absl::StrSplit(tok_it->second, ',', absl::SkipWhitespace())) {
      int32_t id;
      if (!absl::SimpleAtoi(part, &id)) return fail("--tokens: '" + std::string(part) + "' is not a token id");
      prompt.push_back(id);
    }
  }
  if (prompt.empty()) return fail("the prompt is empty");

  auto sampler = g::Sampler::create(sp, c.n_vocab);
  if (!sampler.ok()) return fail(std::string(sampler.status().message()));
  auto kv = g::KvCache::create(c, **device, kopt);
  if (!kv.ok()) return fail(std::string(kv.status().message()));
  auto dec = g::Decoder::create(**model, ubatch);
  if (!dec.ok()) return fail(std::string(dec.status().message()));

  g::GenerateParams gp;
  gp.max_tokens = n_predict;
  gp.stop_tokens = g::default_stop_tokens(**model);
  if (show > 0) {
    // Logits of the prompt's last position, before generation.
    g::DecodeOutput out;
    g::DecodeInput in;
    in.tokens = prompt;
    if (auto s = (*dec)->decode(**kv, in, &out); !s.ok()) return fail(std::string(s.message()));
    std::vector<int32_t> order(c.n_vocab);
    for (int32_t i = 0; i < c.n_vocab; ++i) order[i] = i;
    const int64_t k = std::min<int64_t>(show, c.n_vocab);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t x, int32_t y) { return out.logits[x] > out.logits[y]; });
    std::printf("top %lld logits after the prompt (%zu tokens):\n", static_cast<long long>(k), prompt.size());
    for (int64_t i = 0; i < k; ++i) {
      std::printf("  %6d %-16s %9.4f\n", order[i], piece_of(vocab, order[i]).c_str(), out.logits[order[i]]);
    }
    if (auto s = (*kv)->clear(); !s.ok()) return fail(std::string(s.message()));
  }
  std::printf("generated:");
  std::fflush(stdout);
  // Text prompts stream text (never half a UTF-8 character); token prompts print ids.
  std::unique_ptr<g::StreamingDecoder> text_out;
  if (text_mode) {
    text_out = std::make_unique<g::StreamingDecoder>(*tokenizer, /*skip_control=*/true);
    std::printf("\n");
  }
  auto result = g::generate(**dec, **kv, **sampler, prompt, gp, [&](int32_t tok) {
    if (text_out) {
      std::fputs(text_out->push(tok).c_str(), stdout);
    } else {
      std::printf(" %d", tok);
      if (!vocab.empty()) std::printf("(%s)", piece_of(vocab, tok).c_str());
    }
    std::fflush(stdout);
    return true;
  });
  if (text_out) std::fputs(text_out->flush().c_str(), stdout);
  if (!result.ok()) return fail(std::string(result.status().message()));
  static const char* kReasons[] = {"stop token", "token limit", "context full", "cancelled"};
  const auto& r = *result;
  std::printf("\n\n[%s] load %.1f ms | prefill %lld tokens in %.1f ms (%.1f tok/s) | %zu tokens in %.1f ms (%.1f tok/s)\n",
              kReasons[static_cast<int>(r.reason)], load_ms, static_cast<long long>(r.prompt_rows), r.prefill_ms,
              r.prompt_rows * 1000.0 / std::max(r.prefill_ms, 1e-9), r.tokens.size(), r.decode_ms,
              r.tokens.size() * 1000.0 / std::max(r.decode_ms, 1e-9));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::string err;
  if (argc >= 2 && (std::string(argv[1]) == "help" || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!parse_args(argc, argv, &a, &err)) {
    std::fprintf(stderr, "gemma12b-cli: %s\n\n%s", err.c_str(), kUsage);
    return 2;
  }
  return run(a);
}
