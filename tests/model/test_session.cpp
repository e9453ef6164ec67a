// The runtime's prompt assembly and Session: media files -> rows -> the golden logits, the chat
// layout of media parts, KV reuse across turns (equal to a fresh session), cancellation, and bad
// input leaving the session usable.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/backend.h"
#include "io/image.h"
#include "io/wav.h"
#include "model/decoder.h"
#include "model/golden_case.h"
#include "runtime/assets.h"
#include "runtime/prompt.h"
#include "runtime/session.h"

using namespace gemma12b;
using namespace gemma12b::test;

namespace {

struct Fixture {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<Embedders> emb;
  Fixture() {
    auto d = create_device("cpu", DeviceOptions{2});
    REQUIRE(d.ok());
    dev = std::move(*d);
    auto m = Model::load(std::string(GEMMA12B_GOLDEN_DIR) + "/text/tiny-gemma4.gguf", *dev);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    model = std::move(*m);
    auto t = load_model_tokenizer(*model);
    REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    tok = std::move(*t);
    auto e = Embedders::load(std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/tiny-gemma4-mmproj.gguf", *dev);
    REQUIRE_MESSAGE(e.ok(), e.status().ToString());
    emb = std::move(*e);
  }
  std::unique_ptr<Session> session(SessionOptions o = {}) {
    o.kv_dtype = DType::kF32;
    o.n_ctx = 1024;
    auto s = Session::create(*model, *tok, emb.get(), o);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    return std::move(*s);
  }
};

// Runs an assembled prompt with all-position logits, as the golden cases were made.
std::vector<float> run_all_logits(const Model& model, const AssembledPrompt& p) {
  KvCacheOptions ko;
  ko.n_ctx = 256;
  ko.max_ubatch = 512;
  ko.dtype = DType::kF32;
  auto kv = KvCache::create(model.config(), model.device(), ko);
  REQUIRE(kv.ok());
  auto dec = Decoder::create(model, 512);
  REQUIRE(dec.ok());
  std::vector<float> logits;
  for (const PromptSegment& seg : p.segments) {
    DecodeInput in;
    in.all_logits = true;
    if (seg.media) {
      in.embeddings = seg.media->rows;
      in.bidirectional = seg.media->bidirectional;
    } else {
      in.tokens = seg.tokens;
    }
    DecodeOutput out;
    auto st = (*dec)->decode(**kv, in, &out);
    REQUIRE_MESSAGE(st.ok(), st.ToString());
    logits.insert(logits.end(), out.logits.begin(), out.logits.end());
  }
  return logits;
}

// The golden case again, but from its media file through embed_media_file + assemble_prompt
// (placeholder expansion, one tokenization, soft-token runs replaced by rows).
void check_golden_through_assembly(const std::string& manifest, ChatPart::Kind kind, const char* text) {
  Fixture f;
  const GoldenCase gc = load_case(manifest);
  MediaOptions mo;
  mo.image_tokens = 70;
  std::string file;
  std::vector<int32_t> text_ids;
  for (const Segment& s : gc.layout) {
    if (s.type == "tokens") text_ids.insert(text_ids.end(), s.ids.begin(), s.ids.end());
    else file = s.file;
  }
  auto media = embed_media_file(*f.emb, kind, file, mo);
  REQUIRE_MESSAGE(media.ok(), media.status().ToString());
  const EmbeddedMedia* items[] = {&*media};
  auto p = assemble_prompt(*f.tok, text, items);
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  // Same layout as the reference: the text tokens around one media block of the same size.
  REQUIRE(p->segments.size() == 3);
  CHECK(p->segments[1].media != nullptr);
  CHECK(p->segments[1].n_rows() == gc.layout[1].n_tokens);
  std::vector<int32_t> ours = p->segments[0].tokens;
  ours.insert(ours.end(), p->segments[2].tokens.begin(), p->segments[2].tokens.end());
  CHECK(ours == text_ids);
  const std::vector<float> logits = run_all_logits(*f.model, *p);
  const NpyArray ref = load_npy_or_fail(gc.logits);
  REQUIRE(ref.data.size() == logits.size());
  const float d = max_abs_diff(logits.data(), ref.data.data(), logits.size());
  MESSAGE(manifest << ": max |logit diff| from the media file through assemble_prompt = " << d);
  CHECK(d <= 1e-3f);
}

}  // namespace

TEST_CASE("assemble_prompt: image golden case from the PNG reproduces the reference logits") {
  check_golden_through_assembly("multimodal/image-480x336.json", ChatPart::Kind::kImage,
                                "<bos><|turn>user\ndescribe this image <|image|> what is this<turn|>\n<|turn>model\n");
}

TEST_CASE("assemble_prompt: audio golden case from the WAV reproduces the reference logits") {
  check_golden_through_assembly("multimodal/audio-2s.json", ChatPart::Kind::kAudio,
                                "<bos><|turn>user\ntranscribe <|audio|> what is this<turn|>\n<|turn>model\n");
}

TEST_CASE("assemble_prompt: placeholder and media counts must agree") {
  Fixture f;
  RgbImage img;
  img.width = 96;
  img.height = 48;
  img.pixels.assign(96 * 48 * 3, 128);
  auto m = embed_image(*f.emb, img, 70);
  REQUIRE(m.ok());
  const EmbeddedMedia* one[] = {&*m};
  CHECK_FALSE(assemble_prompt(*f.tok, "no placeholder", one).ok());
  CHECK_FALSE(assemble_prompt(*f.tok, "<|image|> and <|image|>", one).ok());
  CHECK_FALSE(assemble_prompt(*f.tok, "wrong kind <|audio|>", one).ok());
  // Soft-token strings typed into the text cannot masquerade as media rows.
  CHECK_FALSE(assemble_prompt(*f.tok, "<|image><|image|><image|> and <|image|>", one).ok());
  auto ok = assemble_prompt(*f.tok, "a <|image|> b", one);
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->n_rows() == static_cast<int64_t>(ok->segments[0].tokens.size() + m->n_rows() +
                                             ok->segments[2].tokens.size()));
  // Cut points only at the block start inside the image.
  const int64_t start = static_cast<int64_t>(ok->segments[0].tokens.size());
  for (int64_t r = start; r < start + m->n_rows(); ++r) CHECK(ok->block_start[r] == start);
}

TEST_CASE("Session: a user turn with text and an image renders the chat template's layout") {
  Fixture f;
  SessionOptions o;
  o.media.image_tokens = 70;
  auto s = f.session(o);
  REQUIRE(s->add_text(ChatRole::kUser, "  describe this image ").ok());
  REQUIRE(s->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage,
                            std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/image-480x336.png")
              .ok());
  auto text = s->render();
  REQUIRE(text.ok());
  CHECK(*text == "<bos><|turn>user\ndescribe this image\n\n<|image|>\n\n<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  auto p = s->assemble();
  REQUIRE(p.ok());
  const int32_t boi = *f.tok->id_of("<|image>"), eoi = *f.tok->id_of("<image|>"), soft = *f.tok->id_of("<|image|>");
  int64_t n_soft = 0;
  for (int32_t t : p->display_tokens) n_soft += t == soft;
  CHECK(n_soft == 70);
  REQUIRE(p->segments.size() == 3);
  CHECK(p->segments[0].tokens.back() == boi);
  CHECK(p->segments[2].tokens.front() == eoi);
}

TEST_CASE("Session: greedy reply equals decoding the assembled prompt by hand") {
  Fixture f;
  SessionOptions o;
  o.media.image_tokens = 70;
  auto s = f.session(o);
  REQUIRE(s->add_text(ChatRole::kUser, "describe this image").ok());
  REQUIRE(s->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage,
                            std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/image-480x336.png")
              .ok());
  auto p = s->assemble();
  REQUIRE(p.ok());
  // By hand: decode segments, then greedy steps.
  const std::vector<float> all = run_all_logits(*f.model, *p);
  const int64_t V = f.model->config().n_vocab;
  const int32_t first = argmax(all.data() + (p->n_rows() - 1) * V, V);
  auto reply = s->generate(SamplingParams::greedy(), 1);
  REQUIRE_MESSAGE(reply.ok(), reply.status().ToString());
  REQUIRE(reply->tokens.size() == 1);
  CHECK(reply->tokens[0] == first);
  CHECK(reply->prompt_rows == p->n_rows());
  CHECK(reply->reused_rows == 0);
}

TEST_CASE("Session: a second turn reuses the cache and answers exactly like a fresh session") {
  Fixture f;
  SessionOptions o;
  o.media.image_tokens = 70;
  auto a = f.session(o);
  const std::string png = std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/image-480x336.png";
  REQUIRE(a->add_text(ChatRole::kUser, "what is this").ok());
  REQUIRE(a->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage, png).ok());
  auto r1 = a->generate(SamplingParams::greedy(), 6);
  REQUIRE_MESSAGE(r1.ok(), r1.status().ToString());
  REQUIRE(a->add_text(ChatRole::kUser, "and then").ok());
  const std::string a_text = *a->render();
  auto r2 = a->generate(SamplingParams::greedy(), 6);
  REQUIRE_MESSAGE(r2.ok(), r2.status().ToString());
  // Everything up to the first reply's model turn was reused: only the generation prompt's
  // empty thought channel (not kept in history, as the template does) and what follows is new.
  EncodeOptions eo;
  eo.add_bos = false;
  const int64_t channel = static_cast<int64_t>(f.tok->encode("<|channel>thought\n<channel|>", eo).size());
  CHECK(r2->reused_rows == r1->prompt_rows - channel);
  CHECK(r2->reused_rows < r2->prompt_rows);

  // A fresh session given the same history (the first reply as a model message).
  auto b = f.session(o);
  REQUIRE(b->add_text(ChatRole::kUser, "what is this").ok());
  REQUIRE(b->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage, png).ok());
  REQUIRE(b->add_text(ChatRole::kModel, r1->parsed.content).ok());
  REQUIRE(b->add_text(ChatRole::kUser, "and then").ok());
  CHECK(*b->render() == a_text);
  auto r2b = b->generate(SamplingParams::greedy(), 6);
  REQUIRE(r2b.ok());
  CHECK(r2b->reused_rows == 0);
  CHECK(r2b->tokens == r2->tokens);
}

TEST_CASE("Session: the piece callback can stop generation") {
  Fixture f;
  auto s = f.session();
  REQUIRE(s->add_text(ChatRole::kUser, "the cat").ok());
  int pieces = 0;
  auto r = s->generate(SamplingParams::greedy(), 20, [&](PieceKind, std::string_view) { return ++pieces < 3; });
  REQUIRE(r.ok());
  CHECK(r->reason == StopReason::kCancelled);
  CHECK(pieces == 3);
  CHECK(r->tokens.size() <= 20);
}

TEST_CASE("Session: step-wise pieces equal the callback's, token for token, across turns") {
  Fixture f;
  auto a = f.session(), b = f.session();
  SamplingParams sampled;  // seeded: the tiny model's greedy path is mostly markers
  sampled.seed = 7;
  for (const char* say : {"the cat sat on the mat", "and then", "more"}) {
    REQUIRE(a->add_text(ChatRole::kUser, say).ok());
    REQUIRE(b->add_text(ChatRole::kUser, say).ok());
    std::vector<std::pair<PieceKind, std::string>> by_callback, by_step;
    auto ra = a->generate(sampled, 24, [&](PieceKind k, std::string_view t) {
      by_callback.emplace_back(k, std::string(t));
      return true;
    });
    REQUIRE_MESSAGE(ra.ok(), ra.status().ToString());
    REQUIRE(b->begin(sampled, 24).ok());
    CHECK(b->generating());
    SessionPiece piece;
    while (true) {
      auto more = b->next_piece(&piece);
      REQUIRE_MESSAGE(more.ok(), more.status().ToString());
      if (!*more) break;
      CHECK(!piece.text.empty());
      by_step.emplace_back(piece.kind, std::string(piece.text));
    }
    CHECK_FALSE(b->generating());
    const SessionReply& rb = b->last_reply();
    CHECK(by_callback == by_step);
    CHECK(ra->tokens == rb.tokens);
    CHECK(ra->raw == rb.raw);
    CHECK(ra->reason == rb.reason);
    CHECK(ra->reused_rows == rb.reused_rows);
    CHECK(ra->prompt_rows == rb.prompt_rows);
    CHECK(a->history().size() == b->history().size());
    CHECK(*a->render() == *b->render());
  }
}

TEST_CASE("Session: stop() ends an open reply into the history; nothing else changes the conversation meanwhile") {
  Fixture f;
  auto s = f.session();
  SessionPiece piece;
  // Nothing open.
  CHECK(s->next_piece(&piece).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->stop().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_FALSE(s->begin(SamplingParams::greedy(), 4).ok());  // empty conversation
  CHECK_FALSE(s->generating());
  REQUIRE(s->add_text(ChatRole::kUser, "the cat").ok());
  CHECK_FALSE(s->begin(SamplingParams::greedy(), 0).ok());
  CHECK_FALSE(s->generating());

  REQUIRE(s->begin(SamplingParams::greedy(), 20).ok());
  CHECK(s->begin(SamplingParams::greedy(), 20).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->add_text(ChatRole::kUser, "x").code() == absl::StatusCode::kFailedPrecondition);
  RgbImage img;
  img.width = 48;
  img.height = 48;
  img.pixels.assign(48 * 48 * 3, 100);
  CHECK(s->add_image(ChatRole::kUser, img).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->add_tool_response("f", "{}").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->generate(SamplingParams::greedy(), 2).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s->history().size() == 1);
  auto more = s->next_piece(&piece);
  REQUIRE(more.ok());
  REQUIRE(s->stop().ok());
  CHECK_FALSE(s->generating());
  CHECK(s->last_reply().reason == StopReason::kCancelled);
  CHECK(s->last_reply().tokens.size() < 20);
  REQUIRE(s->history().size() == 2);
  CHECK(s->history()[1].role == ChatRole::kModel);

  // The next turn reuses the cache up to the cut reply and answers like a fresh session would.
  REQUIRE(s->add_text(ChatRole::kUser, "and then").ok());
  const std::string text = *s->render();
  auto r = s->generate(SamplingParams::greedy(), 4);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->reused_rows > 0);
  auto fresh = f.session();
  REQUIRE(fresh->add_text(ChatRole::kUser, "the cat").ok());
  const ChatMessage& cut = s->history()[1];
  REQUIRE(fresh->add_text(ChatRole::kModel, cut.content.empty() ? "" : cut.content[0].text).ok());
  REQUIRE(fresh->add_text(ChatRole::kUser, "and then").ok());
  if (*fresh->render() == text) {
    auto rf = fresh->generate(SamplingParams::greedy(), 4);
    REQUIRE(rf.ok());
    CHECK(rf->tokens == r->tokens);
  } else {
    MESSAGE("the cut reply renders differently from a text part; no fresh-session comparison");
  }

  // clear() drops an open reply; the session starts over.
  REQUIRE(s->add_text(ChatRole::kUser, "again").ok());
  REQUIRE(s->begin(SamplingParams::greedy(), 4).ok());
  REQUIRE(s->clear().ok());
  CHECK_FALSE(s->generating());
  CHECK(s->history().empty());
  REQUIRE(s->add_text(ChatRole::kUser, "hi").ok());
  CHECK(s->generate(SamplingParams::greedy(), 2).ok());
}

TEST_CASE("Session: bad media is refused and the session stays usable") {
  Fixture f;
  SessionOptions o;
  o.media.max_audio_seconds = 1.0;
  auto s = f.session(o);
  REQUIRE(s->add_text(ChatRole::kUser, "hello").ok());
  RgbImage empty;  // 0 x 0
  auto st = s->add_image(ChatRole::kUser, empty);
  CHECK_FALSE(st.ok());
  MESSAGE("0x0 image: " << st.ToString());
  MonoAudio silence;
  silence.sample_rate = 16000;
  CHECK_FALSE(s->add_audio(ChatRole::kUser, silence).ok());  // empty
  MonoAudio longer;
  longer.sample_rate = 16000;
  longer.samples.assign(16000 * 2, 0.1f);  // 2 s > the 1 s limit
  st = s->add_audio(ChatRole::kUser, longer);
  CHECK_FALSE(st.ok());
  CHECK(st.ToString().find("limit") != std::string::npos);
  CHECK_FALSE(s->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage, "/nonexistent.png").ok());
  {
    // A JPEG cut in half.
    const std::string src = std::string(GEMMA12B_TOKENIZER_FIXTURES) + "/../media/quadrants-32x16.jpg";
    std::ifstream in(src, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    REQUIRE(bytes.size() > 100);
    const std::string cut = (std::filesystem::temp_directory_path() / "g12-truncated.jpg").string();
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    st = s->add_media_file(ChatRole::kUser, ChatPart::Kind::kImage, cut);
    CHECK_FALSE(st.ok());
    MESSAGE("truncated JPEG: " << st.ToString());
    // Audio without a video stream, as a video.
    CHECK_FALSE(s->add_media_file(ChatRole::kUser, ChatPart::Kind::kVideo,
                                  std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/audio-2s.wav")
                    .ok());
  }
  CHECK_FALSE(s->add_media_file(ChatRole::kUser, ChatPart::Kind::kAudio,
                                std::string(GEMMA12B_GOLDEN_DIR) + "/multimodal/image-480x336.png")
                  .ok());
  MonoAudio ok_audio;
  ok_audio.sample_rate = 16000;
  ok_audio.samples.assign(6400, 0.05f);
  CHECK_FALSE(s->add_audio(ChatRole::kSystem, ok_audio).ok());  // media only in user turns
  CHECK_FALSE(s->add_tool_response("f", "{}").ok());             // no tool call before it
  // Nothing of the failed calls entered the conversation; it still runs.
  CHECK(s->history().size() == 1);
  CHECK(s->history()[0].content.size() == 1);
  auto r = s->generate(SamplingParams::greedy(), 2);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->tokens.size() == 2);
}

TEST_CASE("Session: text-only session refuses media and too-long prompts cleanly") {
  Fixture f;
  SessionOptions o;
  o.n_ctx = 40;
  o.kv_dtype = DType::kF32;
  auto s = Session::create(*f.model, *f.tok, nullptr, o);
  REQUIRE(s.ok());
  RgbImage img;
  img.width = img.height = 48;
  img.pixels.assign(48 * 48 * 3, 0);
  CHECK_FALSE((*s)->add_image(ChatRole::kUser, img).ok());
  REQUIRE((*s)->add_text(ChatRole::kUser, std::string(200, 'a')).ok());
  auto r = (*s)->generate(SamplingParams::greedy(), 2);
  CHECK_FALSE(r.ok());
  MESSAGE(r.status().ToString());
  REQUIRE((*s)->clear().ok());
  REQUIRE((*s)->add_text(ChatRole::kUser, "hi").ok());
  CHECK((*s)->generate(SamplingParams::greedy(), 2).ok());
}

TEST_CASE("audio: 44.1 kHz stereo and the same content at 16 kHz mono embed alike; frames = ceil(n / 640)") {
  Fixture f;
  // 1.3 s of a two-tone signal, written as a 44.1 kHz stereo PCM16 WAV (both channels equal),
  // and evaluated directly at 16 kHz mono.
  auto signal = [](double t) { return 0.3 * std::sin(2 * M_PI * 440 * t) + 0.2 * std::sin(2 * M_PI * 1250 * t); };
  const int n44 = 57330, n16 = 20800;  // 1.3 s each; 20800 = 32.5 frames -> 33
  std::vector<uint8_t> wav(44 + n44 * 4);
  auto put32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) wav[at + i] = static_cast<uint8_t>(v >> (8 * i)); };
  auto put16 = [&](size_t at, uint16_t v) { wav[at] = static_cast<uint8_t>(v); wav[at + 1] = static_cast<uint8_t>(v >> 8); };
  std::memcpy(&wav[0], "RIFF", 4);
  put32(4, static_cast<uint32_t>(wav.size() - 8));
  std::memcpy(&wav[8], "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);
  put16(22, 2);
  put32(24, 44100);
  put32(28, 44100 * 4);
  put16(32, 4);
  put16(34, 16);
  std::memcpy(&wav[36], "data", 4);
  put32(40, static_cast<uint32_t>(n44 * 4));
  for (int i = 0; i < n44; ++i) {
    const auto s = static_cast<int16_t>(std::lround(32767.0 * signal(i / 44100.0)));
    put16(44 + i * 4, static_cast<uint16_t>(s));
    put16(46 + i * 4, static_cast<uint16_t>(s));
  }
  auto stereo = decode_wav_memory(wav.data(), wav.size(), "44k-stereo");
  REQUIRE_MESSAGE(stereo.ok(), stereo.status().ToString());
  MonoAudio mono;
  mono.sample_rate = 16000;
  for (int i = 0; i < n16; ++i) mono.samples.push_back(static_cast<float>(signal(i / 16000.0)));
  auto a = embed_audio(*f.emb, *stereo, 30.0);
  auto b = embed_audio(*f.emb, mono, 30.0);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b->n_rows() == 33);
  REQUIRE(a->n_rows() == b->n_rows());
  // Rows are RMS-normalised frames projected: compare relative to the rows' scale. The first and
  // last frames see the resampler's edge ringing; the interior must agree closely.
  const auto& ra = a->blocks[0].rows;
  const auto& rb = b->blocks[0].rows;
  const size_t d = ra.size() / a->n_rows();
  double max_interior = 0.0, max_all = 0.0, scale = 0.0;
  for (size_t i = 0; i < rb.size(); ++i) scale = std::max(scale, std::abs(static_cast<double>(rb[i])));
  for (size_t i = 0; i < ra.size(); ++i) {
    const double diff = std::abs(static_cast<double>(ra[i]) - rb[i]);
    max_all = std::max(max_all, diff);
    const size_t row = i / d;
    if (row > 0 && row + 1 < static_cast<size_t>(a->n_rows())) max_interior = std::max(max_interior, diff);
  }
  MESSAGE("44.1k stereo vs 16k mono audio rows: max diff interior " << max_interior << ", all rows " << max_all
                                                                     << " (row scale " << scale << ")");
  CHECK(max_interior <= 1e-3 * scale);
  CHECK(max_all <= 5e-2 * scale);
}
