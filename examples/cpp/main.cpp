// A C++ consumer of the installed package (header-only API over the C ABI): a streamed chat
// reply, then greedy generation from token ids.
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
  // A chat: the reply is a range of pieces (content, thought, tool call), pulled as they come.
  auto chat = model.value().session();
  if (!chat || !chat.value().add_text(gemma12b::Role::kUser, "Hello!").ok()) return 1;
  gemma12b::GenerateOptions chat_opt;
  chat_opt.temperature = 0.0f;
  chat_opt.max_tokens = 8;
  auto reply = chat.value().stream(chat_opt);
  std::printf("reply: ");
  for (const gemma12b::Piece& piece : reply) {
    if (piece.kind == gemma12b::PieceKind::kContent) std::fwrite(piece.text.data(), 1, piece.text.size(), stdout);
  }
  std::printf("\n");
  if (!reply.ok()) std::fprintf(stderr, "chat failed: %s\n", reply.error().message.c_str());
  // Token ids in, token ids out, on a bare context.
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
