#include "chat.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "model/multimodal/embedders.h"
#include "runtime/assets.h"
#include "runtime/session.h"

namespace g = gemma12b;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int run_chat(const Args& a, const ChatRun& run) {
  std::string err;
  auto tokenizer = g::load_model_tokenizer(run.model);
  if (!tokenizer.ok()) return fail(std::string(tokenizer.status().message()));

  g::SessionOptions so;
  so.n_ctx = run.n_ctx;
  so.kv_dtype = run.kv_dtype;
  so.max_ubatch = run.ubatch;
  so.enable_thinking = a.flags.count("--think") > 0;
  so.media.video_audio = a.flags.count("--video-audio") > 0;
  if (!get_num(a, "--image-tokens", &so.media.image_tokens, &err) ||
      !get_num(a, "--video-frame-tokens", &so.media.video_frame_tokens, &err) ||
      !get_num(a, "--video-fps", &so.media.video_fps, &err) ||
      !get_num(a, "--video-frames", &so.media.video_max_frames, &err) ||
      !get_num(a, "--max-audio-seconds", &so.media.max_audio_seconds, &err)) {
    return fail(err);
  }

  // The projector: --mmproj, or one found next to the model.
  std::unique_ptr<g::Embedders> embedders;
  double embed_load_ms = 0.0;
  if (!a.media.empty()) {
    std::string mmproj;
    if (auto it = a.values.find("--mmproj"); it != a.values.end()) {
      mmproj = it->second;
    } else if (auto found = g::find_mmproj(run.model)) {
      mmproj = *found;
    } else {
      return fail("media input needs a multimodal projector: pass --mmproj FILE (none found next to the model)");
    }
    auto t0 = std::chrono::steady_clock::now();
    auto e = g::Embedders::load(mmproj, run.model.device());
    if (!e.ok()) return fail(std::string(e.status().message()));
    embedders = std::move(*e);
    embed_load_ms = ms_since(t0);
  }
  auto session = g::Session::create(run.model, **tokenizer, embedders.get(), so);
  if (!session.ok()) return fail(std::string(session.status().message()));
  g::Session& s = **session;

  if (auto it = a.values.find("--system"); it != a.values.end()) {
    if (auto st = s.add_text(g::ChatRole::kSystem, it->second); !st.ok()) return fail(std::string(st.message()));
  }
  // The text first, then the media in command-line order (Google's prompt examples put the
  // instruction before the media).
  if (auto it = a.values.find("--prompt"); it != a.values.end()) {
    if (auto st = s.add_text(g::ChatRole::kUser, it->second); !st.ok()) return fail(std::string(st.message()));
  }
  auto t_embed = std::chrono::steady_clock::now();
  for (const auto& [flag, path] : a.media) {
    const g::ChatPart::Kind kind = flag == "--image"   ? g::ChatPart::Kind::kImage
                                   : flag == "--audio" ? g::ChatPart::Kind::kAudio
                                                       : g::ChatPart::Kind::kVideo;
    if (auto st = s.add_media_file(g::ChatRole::kUser, kind, path); !st.ok()) {
      return fail(std::string(st.message()));
    }
  }
  const double embed_ms = ms_since(t_embed);
  if (s.history().empty()) return fail("generate --chat needs -p TEXT and/or media");

  auto prompt = s.assemble();
  if (!prompt.ok()) return fail(std::string(prompt.status().message()));
  int64_t media_rows = 0;
  for (const auto& seg : prompt->segments) media_rows += seg.media ? seg.media->n_rows : 0;

  g::PieceKind shown = g::PieceKind::kContent;
  std::printf("generated:\n");
  auto reply = s.generate(run.sampling, run.n_predict, [&](g::PieceKind kind, std::string_view text) {
    if (kind != shown) {
      std::fputs(kind == g::PieceKind::kThought ? "[thinking] " : kind == g::PieceKind::kToolCall ? "[tool call] "
                                                                                                : "\n[answer] ",
                 stdout);
      shown = kind;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!reply.ok()) return fail(std::string(reply.status().message()));
  const g::SessionReply& r = *reply;
  for (const auto& call : r.parsed.tool_calls) std::printf("\n[tool call] %s %s", call.name.c_str(), call.arguments_json.c_str());
  static const char* kReasons[] = {"stop token", "token limit", "context full", "cancelled"};
  std::printf("\n\n[%s] load %.1f ms", kReasons[static_cast<int>(r.reason)], run.load_ms);
  if (embedders) std::printf(" + projector %.1f ms | embed %lld media rows in %.1f ms", embed_load_ms,
                             static_cast<long long>(media_rows), embed_ms);
  std::printf(" | prefill %lld tokens in %.1f ms (%.1f tok/s) | %zu tokens in %.1f ms (%.1f tok/s)\n",
              static_cast<long long>(r.prompt_rows - r.reused_rows), r.prefill_ms,
              (r.prompt_rows - r.reused_rows) * 1000.0 / std::max(r.prefill_ms, 1e-9), r.tokens.size(), r.decode_ms,
              r.tokens.size() * 1000.0 / std::max(r.decode_ms, 1e-9));
  return 0;
}
