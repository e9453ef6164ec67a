// The header-only C++ API (include/gemma12b/gemma12b.hpp), linked like a consumer: only the
// public header and libgemma12b.
#include <cstdio>
#include <gemma12b/gemma12b.hpp>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

// The reply stream is a single-pass range that range-for and the ranges library accept.
static_assert(std::ranges::input_range<gemma12b::ReplyStream>);
static_assert(std::input_iterator<gemma12b::ReplyStream::iterator>);
static_assert(!std::is_copy_constructible_v<gemma12b::ReplyStream> && std::is_move_constructible_v<gemma12b::ReplyStream>);

static int failures = 0;
#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      ++failures;                                                       \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                   \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf IMAGE.png VIDEO.mp4\n", argv[0]);
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

  // Range-for over a streamed reply gives the pieces the callback sees, and the same reply.
  using Pieces = std::vector<std::pair<gemma12b::PieceKind, std::string>>;
  const gemma12b::GenerateOptions sampled{.temperature = 1.0f, .seed = 7, .max_tokens = 24};
  for (const gemma12b::GenerateOptions& opts : {gemma12b::GenerateOptions{.temperature = 0.0f, .max_tokens = 12}, sampled}) {
    auto a = mmodel.session({.n_ctx = 512, .kv_type = gemma12b::KvType::kF32}).value();
    auto b = mmodel.session({.n_ctx = 512, .kv_type = gemma12b::KvType::kF32}).value();
    for (const char* say : {"the cat sat on the mat", "and then"}) {
      CHECK(a.add_text(gemma12b::Role::kUser, say).ok());
      CHECK(b.add_text(gemma12b::Role::kUser, say).ok());
      Pieces by_callback, by_range;
      auto ra = a.generate(opts, [&](gemma12b::PieceKind k, std::string_view t) {
        by_callback.emplace_back(k, std::string(t));
        return true;
      });
      auto stream = b.stream(opts);
      for (const gemma12b::Piece& p : stream) by_range.emplace_back(p.kind, std::string(p.text));
      CHECK(stream.ok());
      auto rb = stream.finish();
      CHECK(ra.ok() && rb.ok());
      CHECK(by_callback == by_range);
      if (ra && rb) {
        CHECK(ra.value().content == rb.value().content);
        CHECK(ra.value().reasoning == rb.value().reasoning);
        CHECK(ra.value().reason == rb.value().reason);
      }
      CHECK(a.n_rows() == b.n_rows() && a.reused_rows() == b.reused_rows());
    }
  }

  // A temporary stream in the range-for closes its reply at the end of the loop.
  {
    auto chat = mmodel.session({.n_ctx = 512, .kv_type = gemma12b::KvType::kF32}).value();
    CHECK(chat.add_text(gemma12b::Role::kUser, "the cat").ok());
    std::string text;
    for (const gemma12b::Piece& p : chat.stream(sampled)) text += p.text;
    CHECK(chat.add_text(gemma12b::Role::kUser, "more").ok());  // the reply was closed

    // Errors come back as values: a stream on a finished turn's open reply, changes while open.
    auto open = chat.stream(sampled);
    CHECK(open.ok());
    auto it = open.begin();
    CHECK(it != open.end());
    CHECK(!chat.add_text(gemma12b::Role::kUser, "x").ok());
    auto second = chat.stream(sampled);
    CHECK(!second.ok() && second.error().status == GEMMA12B_ERR_INVALID_ARGUMENT);
    CHECK(second.begin() == second.end());
    CHECK(!second.finish().ok());
    CHECK(!chat.generate(sampled).ok());
    // Leaving early: finish() stops there and the reply so far joins the conversation.
    auto cut = open.finish();
    CHECK(cut.ok() && cut.value().reason == gemma12b::StopReason::kCancelled);
    CHECK(open.ok() && open.begin() == open.end());
    CHECK(chat.add_text(gemma12b::Role::kUser, "go on").ok());

    // A moved stream carries the open reply; the moved-from one is empty.
    auto first = chat.stream(sampled);
    gemma12b::ReplyStream moved = std::move(first);
    size_t n = 0;
    for (const gemma12b::Piece& p : moved) n += p.text.size();
    CHECK(n < 100000);
    CHECK(moved.ok() && moved.status().ok());
    CHECK(moved.finish().ok());
    CHECK(!first.finish().ok());

    // Starting on an empty conversation fails up front; the loop body never runs.
    auto empty = mmodel.session().value();
    auto none = empty.stream();
    int iterations = 0;
    for (const gemma12b::Piece& p : none) iterations += static_cast<int>(p.text.size()) + 1;
    CHECK(iterations == 0 && !none.ok() && !none.error().message.empty());
    CHECK(!none.status().ok());
  }

  // The video embedder: frames with timestamps, then the audio track.
  auto video = mmodel.embed_video(argv[4], {.with_audio = true});
  CHECK(video.ok());
  if (video) {
    const gemma12b::VideoEmbedding& v = video.value();
    CHECK(v.blocks.size() == 4);
    int64_t rows = 0;
    for (size_t i = 0; i < v.blocks.size(); ++i) {
      CHECK(v.blocks[i].first_row == rows);
      CHECK(v.blocks[i].audio == (i == 3));
      CHECK(v.rows_of(v.blocks[i]).size() == static_cast<size_t>(v.blocks[i].n_rows) * 256u);
      rows += v.blocks[i].n_rows;
    }
    CHECK(v.rows.size() == static_cast<size_t>(rows) * 256u);
    CHECK(v.blocks[1].t_seconds > 0.9 && v.blocks[1].t_seconds < 1.1);
  }
  auto frames_only = mmodel.embed_video(argv[4], {.fps = 2.0f, .max_frames = 4, .frame_tokens = 140});
  CHECK(frames_only.ok() && frames_only.value().blocks.size() == 4);
  auto big = mmodel.embed_video(argv[4], {.max_frames = 5000, .frame_tokens = 1120});  // size asked first
  CHECK(big.ok() && big.value().blocks.size() == 3);
  CHECK(!mmodel.embed_video(argv[4], {.frame_tokens = 71}).ok());
  CHECK(!mmodel.embed_video(argv[4], {.max_frames = 1000000}).ok());  // past the decoder's limit
  CHECK(!mmodel.embed_video("/nonexistent.mp4").ok());
  CHECK(!model.embed_video(argv[4]).ok());  // no projector
  std::printf("test_cpp_api: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
