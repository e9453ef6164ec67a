#include "runtime/assets.h"

#include <filesystem>

#include "io/gguf.h"

namespace gemma12b {

namespace fs = std::filesystem;

namespace {
fs::path model_dir(const Model& model) {
  std::error_code ec;
  fs::path p = model.path();
  return fs::is_directory(p, ec) ? p : p.parent_path();
}
}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> load_model_tokenizer(const Model& model) {
  if (const GgufFile* g = model.gguf(); g != nullptr) {
    if (!g->has("tokenizer.ggml.tokens")) return NotFound("%s has no tokenizer (tokenizer.ggml.tokens)", model.path());
    return Tokenizer::from_gguf(*g);
  }
  const fs::path tj = model_dir(model) / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(tj, ec)) return NotFound("no tokenizer.json next to %s", model.path());
  return Tokenizer::load(tj.string());
}

std::optional<std::string> find_mmproj(const Model& model) {
  const fs::path dir = model_dir(model);
  std::error_code ec;
  // HF: the unified checkpoint carries the embedders in its own safetensors (Embedders::load
  // says so clearly if this one does not).
  if (model.gguf() == nullptr) return dir.string();
  const std::string stem = fs::path(model.path()).stem().string();
  std::optional<std::string> best;
  size_t best_prefix = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".gguf" || name.find("mmproj") == std::string::npos) continue;
    size_t k = 0;
    while (k < name.size() && k < stem.size() && name[k] == stem[k]) ++k;
    if (!best || k > best_prefix) best = e.path().string(), best_prefix = k;
  }
  return best;
}

}  // namespace gemma12b
