// The packaged library through its C++ header: errors come back as values, and with a model
// (argv[1] or $GEMMA12B_TEST_MODEL, e.g. tests/fixtures/golden/text/tiny-gemma4.gguf) a short
// greedy generation runs.
#include <cstdio>
#include <cstdlib>
#include <gemma12b/gemma12b.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  auto missing = gemma12b::Model::load("/nonexistent.gguf");
  bool ok = !missing.ok() && missing.error().status == GEMMA12B_ERR_NOT_FOUND &&
            gemma12b_abi_version() == GEMMA12B_ABI_VERSION;
  const char* path = argc > 1 ? argv[1] : std::getenv("GEMMA12B_TEST_MODEL");
  if (ok && path != nullptr) {
    auto model = gemma12b::Model::load(path);
    ok = model.ok();
    if (ok) {
      auto ctx = model.value().context({.n_ctx = 128});
      auto out = ctx.ok() ? ctx.value().generate(std::vector<int32_t>{2, 126, 308, 283, 71, 194, 314, 247},
                                                 {.temperature = 0.0f, .max_tokens = 4})
                          : gemma12b::Result<gemma12b::Generation>(ctx.error());
      ok = out.ok() && out.value().tokens.size() == 4;
      std::printf("generated %zu tokens from %s\n", ok ? out.value().tokens.size() : 0, path);
    }
  }
  std::printf("gemma12b %s from the Conan package (C++): %s\n", gemma12b_version(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
