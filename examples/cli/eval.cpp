// Case format (shared/golden/README.md): {"model", "layout": [{"type": "tokens", "ids"}...],
// "outputs": {"logits", "greedy_tokens", "greedy_logits", "logits_dequant_f32", ...}}.
// eval runs the layout at positions 0.. with an f32 KV cache (as the references were made) and
// writes each requested output under the manifest's file name; compare diffs two such sets.
#include "eval.h"

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

namespace g = gemma12b;
using nlohmann::json;

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "gemma12b-cli: %s\n", msg.c_str());
  return 1;
}

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
    std::vector<int32_t> prompt;
    for (const auto& seg : j["layout"]) {
      const std::string type = seg.value("type", "");
      if (type != "tokens") {
        return fail("layout segment of type '" + type + "': media inputs need the image/audio embedders, which this build does not have yet");
      }
      for (const auto& id : seg.at("ids")) prompt.push_back(id.get<int32_t>());
    }
    if (prompt.empty()) return fail("the layout has no rows");
    g::DeviceOptions dopt;
    const std::string backend = v.count("--backend") ? v.at("--backend") : "cpu";
    auto device = g::create_device(backend, dopt);
    if (!device.ok()) return fail(std::string(device.status().message()));
    auto model = g::Model::load(dir + "/" + j["model"].get<std::string>(), **device);
    if (!model.ok()) return fail(std::string(model.status().message()));
    const g::ModelConfig& c = (*model)->config();
    const json& outputs = j["outputs"];
    std::vector<int32_t> greedy_ref;
    if (outputs.contains("greedy_tokens")) greedy_ref = outputs["greedy_tokens"].get<std::vector<int32_t>>();
    g::KvCacheOptions ko;
    ko.dtype = g::DType::kF32;
    ko.n_ctx = std::min<int64_t>(c.max_context, static_cast<int64_t>(prompt.size() + greedy_ref.size() + 1));
    auto kv = g::KvCache::create(c, **device, ko);
    if (!kv.ok()) return fail(std::string(kv.status().message()));
    auto dec = g::Decoder::create(**model);
    if (!dec.ok()) return fail(std::string(dec.status().message()));
    g::DecodeInput in;
    in.tokens = prompt;
    in.all_logits = true;
    g::DecodeOutput out;
    if (auto s = (*dec)->decode(**kv, in, &out); !s.ok()) return fail(std::string(s.message()));
    std::filesystem::create_directories(out_dir);
    const std::vector<float> prompt_logits = out.logits;
    // gemma12b computes in f32 on (dequantized) weights: the same array answers both "logits"
    // and "logits_dequant_f32".
    for (const char* key : {"logits", "logits_dequant_f32"}) {
      if (!outputs.contains(key)) continue;
      auto s = g::write_npy_f32(out_dir + "/" + outputs[key].get<std::string>(),
                                {static_cast<int64_t>(prompt.size()), c.n_vocab}, prompt_logits.data());
      if (!s.ok()) return fail(std::string(s.message()));
    }
    // Greedy continuation: our own argmax chain, as many tokens as the reference has.
    std::vector<int32_t> greedy = {argmax(&prompt_logits[(prompt.size() - 1) * c.n_vocab], c.n_vocab)};
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
    std::printf("wrote %s: %zu prompt rows, %zu greedy tokens\n", out_dir.c_str(), prompt.size(), greedy.size());
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
