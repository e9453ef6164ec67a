// A C++ consumer of the installed package (header-only API over the C ABI).
//   gemma12b-cpp-example MODEL.gguf 2,105,2364
#include <cstdio>
#include <gemma12b/gemma12b.hpp>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf TOKEN,TOKEN,...\n", argv[0]);
    return 2;
  }
  std::vector<int32_t> prompt;
  std::stringstream ss(argv[2]);
  for (std::string tok; std::getline(ss, tok, ',');) prompt.push_back(std::stoi(tok));
  // readme:begin
  auto model = gemma12b::Model::load(argv[1]);
  if (!model) {
    std::fprintf(stderr, "load failed: %s\n", model.error().message.c_str());
    return 1;
  }
  auto ctx = model.value().context();
  if (!ctx) return 1;
  gemma12b::GenerateOptions opt;
  opt.temperature = 0.0f;
  opt.max_tokens = 16;
  opt.on_token = [](int32_t t) {
    std::printf(" %d", t);
    return true;
  };
  std::printf("generated:");
  auto out = ctx.value().generate(prompt, opt);
  // readme:end
  std::printf("\n");
  if (!out) std::fprintf(stderr, "generate failed: %s\n", out.error().message.c_str());
  return out ? 0 : 1;
}
