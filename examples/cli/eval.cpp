// Case format (shared/golden/README.md): {"model", "layout": [{"type": "tokens", "ids"}...],
// "outputs": {"logits", "greedy_tokens", "greedy_logits", "logits_dequant_f32", ...}}.
// eval runs the layout at positions 0.. with an f32 KV cache (as the references were made) and
// writes each requested output under the manifest's file name; compare diffs two such sets.
#include "eval.h"

#include "args.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/backend.h"
#include "io/npy.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "io/image.h"
#include "io/resample.h"
#include "io/wav.h"
#include "model/multimodal/embedders.h"
#include <tuple>

namespace g = gemma12b;
using nlohmann::json;

namespace {

int32_t argmax(const float* row, int64_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

bool load_manifest(const std::map<std::string, std::string>& v, json* j, std::string* dir, std::string* out_dir,
                   std::string* err) {
  if (!v.count("--manifest") || !v.count("--out")) {
    *err = "needs --manifest CASE.json and --out DIR";
    return false;
  }
  std::ifstream f(v.at("--manifest"));
  if (!f) {
    *err = "cannot open " + v.at("--manifest");
    return false;
  }
  *j = json::parse(f, nullptr, false);
  if (j->is_discarded() || !j->is_object() || !j->contains("model") || !j->contains("layout") ||
      !j->contains("outputs") || !(*j)["layout"].is_array() || !(*j)["outputs"].is_object()) {
    *err = v.at("--manifest") + " is not a case manifest (model, layout, outputs)";
    return false;
  }
  *dir = std::filesystem::path(v.at("--manifest")).parent_path().string();
  if (dir->empty()) *dir = ".";
  *out_dir = v.at("--out");
  return true;
}

int eval(const std::map<std::string, std::string>& v) {
  json j;
  std::string dir, out_dir, err;
  if (!load_manifest(v, &j, &dir, &out_dir, &err)) return fail(err);
  try {
    g::DeviceOptions dopt;
    // -t/--threads and --device as for generate (the same DeviceOptions).
    for (auto [key, field, min] :
         {std::tuple{"--threads", &dopt.n_threads, 0}, std::tuple{"--device", &dopt.device_index, -1}}) {
      if (v.count(key) && (!absl::SimpleAtoi(v.at(key), field) || *field < min)) {
        return fail(std::string(key) + ": '" + v.at(key) + "' is not a valid value");
      }
    }
    const std::string backend = v.count("--backend") ? v.at("--backend") : "cpu";
    auto device = g::create_device(backend, dopt);
    if (!device.ok()) return fail(std::string(device.status().message()));
    auto model = g::Model::load(dir + "/" + j["model"].get<std::string>(), **device);
    if (!model.ok()) return fail(std::string(model.status().message()));
    const g::ModelConfig& c = (*model)->config();
    const json& outputs = j["outputs"];
    std::unique_ptr<g::Embedders> emb;
    if (j.contains("mmproj")) {
      auto e = g::Embedders::load(dir + "/" + j["mmproj"].get<std::string>(), **device);
      if (!e.ok()) return fail(std::string(e.status().message()));
      emb = std::move(*e);
    }
    const int budget = j.value("image_tokens_budget", 280);
    std::vector<int32_t> greedy_ref;
    if (outputs.contains("greedy_tokens")) greedy_ref = outputs["greedy_tokens"].get<std::vector<int32_t>>();
    // Each layout segment is one decode call (media rows inserted unscaled; images as one
    // bidirectional block), as the references were made.
    g::KvCacheOptions ko;
    ko.dtype = g::DType::kF32;
    int64_t planned = static_cast<int64_t>(greedy_ref.size()) + 8;
    for (const auto& seg : j["layout"]) planned += seg.contains("ids") ? seg["ids"].size() : seg.value("n_tokens", 0);
    ko.n_ctx = std::min<int64_t>(c.max_context, planned);
    ko.max_ubatch = 2048;
    auto kv = g::KvCache::create(c, **device, ko);
    if (!kv.ok()) return fail(std::string(kv.status().message()));
    auto dec = g::Decoder::create(**model, 2048);
    if (!dec.ok()) return fail(std::string(dec.status().message()));
    std::vector<float> prompt_logits, image_rows, audio_rows;
    int64_t n_rows = 0;
    g::DecodeInput in;
    g::DecodeOutput out;
    for (const auto& seg : j["layout"]) {
      const std::string type = seg.value("type", "");
      std::vector<int32_t> ids;
      std::vector<float> rows;
      in = g::DecodeInput{};
      in.all_logits = true;
      if (type == "tokens") {
        for (const auto& id : seg.at("ids")) ids.push_back(id.get<int32_t>());
        in.tokens = ids;
      } else if (type == "image" || type == "audio") {
        if (!emb) return fail("a " + type + " segment needs an \"mmproj\" in the manifest");
        const std::string file = dir + "/" + seg.at("file").get<std::string>();
        if (type == "image") {
          auto img = g::decode_image_file(file);
          if (!img.ok()) return fail(std::string(img.status().message()));
          auto patches = g::image_to_patches(*img, budget, emb->host_threads());
          if (!patches.ok()) return fail(std::string(patches.status().message()));
          auto r = emb->embed_image(*patches);
          if (!r.ok()) return fail(std::string(r.status().message()));
          rows = *r;
          image_rows.insert(image_rows.end(), rows.begin(), rows.end());
        } else {
          auto wav = g::decode_wav_file(file);
          if (!wav.ok()) return fail(std::string(wav.status().message()));
          auto pcm = g::resample_mono(wav->samples, wav->sample_rate, g::kAudioSampleRate);
          if (!pcm.ok()) return fail(std::string(pcm.status().message()));
          int64_t n = 0;
          auto frames = g::audio_to_frames(*pcm, &n);
          if (!frames.ok()) return fail(std::string(frames.status().message()));
          auto r = emb->embed_audio(*frames, n);
          if (!r.ok()) return fail(std::string(r.status().message()));
          rows = *r;
          audio_rows.insert(audio_rows.end(), rows.begin(), rows.end());
        }
        in.embeddings = rows;
        in.bidirectional = seg.value("bidirectional", false);
      } else {
        return fail("unknown layout segment type '" + type + "'");
      }
      if (auto s = (*dec)->decode(**kv, in, &out); !s.ok()) return fail(std::string(s.message()));
      prompt_logits.insert(prompt_logits.end(), out.logits.begin(), out.logits.end());
      n_rows += out.n_rows;
    }
    if (n_rows == 0) return fail("the layout has no rows");
    std::filesystem::create_directories(out_dir);
    // gemma12b computes in f32 on (dequantized) weights: the same array answers both "logits"
    // and "logits_dequant_f32".
    for (const char* key : {"logits", "logits_dequant_f32"}) {
      if (!outputs.contains(key)) continue;
      auto s = g::write_npy_f32(out_dir + "/" + outputs[key].get<std::string>(),
                                {n_rows, c.n_vocab}, prompt_logits.data());
      if (!s.ok()) return fail(std::string(s.message()));
    }
    // Greedy continuation: our own argmax chain, as many tokens as the reference has.
    for (auto [key, rows, width] : {std::tuple{"image_embeddings", &image_rows, c.d_model},
                                    std::tuple{"audio_embeddings", &audio_rows, c.d_model}}) {
      if (!outputs.contains(key) || rows->empty()) continue;
      auto s = g::write_npy_f32(out_dir + "/" + outputs[key].get<std::string>(),
                                {static_cast<int64_t>(rows->size()) / width, width}, rows->data());
      if (!s.ok()) return fail(std::string(s.message()));
    }
    std::vector<int32_t> greedy = {argmax(&prompt_logits[(n_rows - 1) * c.n_vocab], c.n_vocab)};
    std::vector<float> greedy_logits;
    for (size_t k = 0; k + 1 < std::max<size_t>(greedy_ref.size(), 1); ++k) {
      in.tokens = std::span<const int32_t>(&greedy[k], 1);
      in.all_logits = false;
      if (auto s = (*dec)->decode(**kv, in, &out); !s.ok()) return fail(std::string(s.message()));
      greedy_logits.insert(greedy_logits.end(), out.logits.begin(), out.logits.end());
      greedy.push_back(argmax(out.logits.data(), c.n_vocab));
    }
    if (outputs.contains("greedy_logits") && !greedy_logits.empty()) {
      auto s = g::write_npy_f32(out_dir + "/" + outputs["greedy_logits"].get<std::string>(),
                                {static_cast<int64_t>(greedy.size() - 1), c.n_vocab}, greedy_logits.data());
      if (!s.ok()) return fail(std::string(s.message()));
    }
    std::ofstream t(out_dir + "/greedy_tokens.txt");
    for (size_t i = 0; i < greedy.size(); ++i) t << (i ? " " : "") << greedy[i];
    t << "\n";
    std::printf("wrote %s: %lld prompt rows, %zu greedy tokens\n", out_dir.c_str(), static_cast<long long>(n_rows), greedy.size());
  } catch (const json::exception& e) {
    return fail(std::string("malformed manifest: ") + e.what());
  }
  return 0;
}

int compare(const std::map<std::string, std::string>& v) {
  json j;
  std::string dir, out_dir, err;
  if (!load_manifest(v, &j, &dir, &out_dir, &err)) return fail(err);
  int rc = 0;
  // --tolerance X: fail (exit 1) when an output differs by more than X.
  double tol = -1.0;
  if (v.count("--tolerance") && !(std::sscanf(v.at("--tolerance").c_str(), "%lf", &tol) == 1 && tol >= 0)) {
    return fail("--tolerance needs a non-negative number");
  }
  for (const auto& [key, value] : j["outputs"].items()) {
    if (!value.is_string()) continue;
    const std::string name = value.get<std::string>();
    if (name.size() < 4 || name.substr(name.size() - 4) != ".npy") continue;
    auto ref = g::read_npy_f32(dir + "/" + name);
    auto ours = g::read_npy_f32(out_dir + "/" + name);
    if (!ref.ok() || !ours.ok()) {
      std::printf("%-20s missing (%s)\n", key.c_str(), std::string((!ref.ok() ? ref : ours).status().message()).c_str());
      rc = 1;
      continue;
    }
    if (ref->shape != ours->shape) {
      std::printf("%-20s shape mismatch\n", key.c_str());
      rc = 1;
      continue;
    }
    float maxd = 0.0f;
    for (size_t i = 0; i < ref->data.size(); ++i) maxd = std::max(maxd, std::fabs(ref->data[i] - ours->data[i]));
    const int64_t cols = ref->shape.empty() ? 1 : ref->shape.back();
    const int64_t rows = cols ? static_cast<int64_t>(ref->data.size()) / cols : 0;
    int64_t agree = 0;
    for (int64_t r = 0; r < rows; ++r) agree += argmax(&ref->data[r * cols], cols) == argmax(&ours->data[r * cols], cols);
    const bool over = tol >= 0 && !(maxd <= tol);
    std::printf("%-20s max |diff| %.3g   top-1 %lld/%lld%s\n", key.c_str(), maxd, static_cast<long long>(agree),
                static_cast<long long>(rows), over ? "   OVER TOLERANCE" : "");
    if (over) rc = 1;
  }
  if (j["outputs"].contains("greedy_tokens")) {
    std::ifstream t(out_dir + "/greedy_tokens.txt");
    std::vector<int32_t> ours;
    for (int32_t x; t >> x;) ours.push_back(x);
    const bool same = ours == j["outputs"]["greedy_tokens"].get<std::vector<int32_t>>();
    std::printf("%-20s %s\n", "greedy_tokens", same ? "identical" : "DIFFERENT");
    if (!same) rc = 1;
  }
  return rc;
}

}  // namespace

int run_eval(const std::string& command, const std::map<std::string, std::string>& values) {
  return command == "eval" ? eval(values) : compare(values);
}
