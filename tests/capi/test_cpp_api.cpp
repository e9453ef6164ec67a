// The header-only C++ API (include/gemma12b/gemma12b.hpp), linked like a consumer: only the
// public header and libgemma12b.
#include <cstdio>
#include <gemma12b/gemma12b.hpp>

static int failures = 0;
#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      ++failures;                                                       \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                   \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf IMAGE.png\n", argv[0]);
    return 2;
  }
  auto missing = gemma12b::Model::load("/nonexistent.gguf");
  CHECK(!missing.ok());
  CHECK(missing.error().status == GEMMA12B_ERR_NOT_FOUND);
  CHECK(!missing.error().message.empty());

  int progress = 0;
  auto loaded = gemma12b::Model::load(argv[1], {.n_threads = 2, .progress = [&](float) { ++progress; return true; }});
  CHECK(loaded.ok());
  if (!loaded) return 1;
  gemma12b::Model model = std::move(loaded).value();
  CHECK(progress > 0);
  CHECK(model.n_vocab() == 373);

  auto c = model.context({.n_ctx = 128, .kv_type = gemma12b::KvType::kF32});
  CHECK(c.ok());
  if (!c) return 1;
  gemma12b::Context ctx = std::move(c).value();
  const std::vector<int32_t> prompt = {2, 126, 308, 283, 71, 194, 314, 247};
  std::vector<int32_t> streamed;
  auto g = ctx.generate(prompt, {.temperature = 0.0f, .max_tokens = 16,
                                 .on_token = [&](int32_t t) { streamed.push_back(t); return true; }});
  CHECK(g.ok());
  if (g) {
    CHECK(g.value().tokens == std::vector<int32_t>(16, 247));
    CHECK(streamed == g.value().tokens);
    CHECK(g.value().reason == gemma12b::StopReason::kMaxTokens);
  }
  CHECK(ctx.n_past() == 8 + 15);
  // Errors come back as values and leave the context usable.
  auto bad = ctx.decode(std::vector<int32_t>{-5});
  CHECK(!bad.ok() && bad.error().status == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(ctx.clear().ok());
  auto logits = ctx.decode(prompt, /*all_logits=*/true);
  CHECK(logits.ok() && logits.value().size() == 8u * 373u);
  // Move semantics: the moved-from handle is empty and safe to destroy.
  gemma12b::Context moved = std::move(ctx);
  CHECK(moved.n_past() == 8);

  // Tokenizer round trip and special ids by name.
  auto ids = model.tokenize("the cat sat");
  CHECK(ids.ok() && ids.value().front() == model.bos());
  if (ids) {
    auto text = model.detokenize(std::span<const int32_t>(ids.value()).subspan(1));
    CHECK(text.ok() && text.value() == "the cat sat");
  }
  CHECK(model.token_id("<turn|>").ok());
  CHECK(!model.token_id("<nope>").ok());

  // A session with an image: the projector comes in through ModelOptions::mmproj.
  auto mm = gemma12b::Model::load(argv[1], {.n_threads = 2, .mmproj = argv[2]});
  CHECK(mm.ok());
  if (!mm) return 1;
  gemma12b::Model mmodel = std::move(mm).value();
  auto rows = mmodel.embed_image(argv[3], 70);
  CHECK(rows.ok() && rows.value().size() == 70u * 256u);
  auto sess = mmodel.session({.n_ctx = 512, .kv_type = gemma12b::KvType::kF32, .image_tokens = 70});
  CHECK(sess.ok());
  if (!sess) return 1;
  gemma12b::Session session = std::move(sess).value();
  CHECK(session.add_text(gemma12b::Role::kUser, "describe this image").ok());
  CHECK(session.add_image(argv[3]).ok());
  CHECK(!session.add_image("/nonexistent.png").ok());
  std::string streamed_text;
  auto reply = session.generate({.temperature = 1.0f, .seed = 7, .max_tokens = 8},
                                [&](gemma12b::PieceKind kind, std::string_view piece) {
                                  if (kind == gemma12b::PieceKind::kContent) streamed_text += piece;
                                  return true;
                                });
  CHECK(reply.ok());
  CHECK(session.n_rows() > 70);
  if (reply) CHECK(reply.value().tool_calls_json == "[]");
  std::printf("test_cpp_api: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
