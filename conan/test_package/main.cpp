// Links the packaged library through its C++ header and checks an error comes back as a value.
#include <cstdio>
#include <gemma12b/gemma12b.hpp>

int main() {
  auto missing = gemma12b::Model::load("/nonexistent.gguf");
  const bool ok = !missing.ok() && missing.error().status == GEMMA12B_ERR_NOT_FOUND &&
                  gemma12b_abi_version() == GEMMA12B_ABI_VERSION;
  std::printf("gemma12b %s from the Conan package: %s\n", gemma12b_version(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
