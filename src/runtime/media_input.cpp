#include "runtime/media_input.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "io/audio.h"

namespace gemma12b {

uint64_t hash_bytes(const void* data, size_t n) {
  // FNV-1a, 8 bytes at a time folded through a multiply (fast enough for MB-sized rows).
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h ^ (n * 0x9e3779b97f4a7c15ull);
}

int64_t EmbeddedMedia::n_rows() const {
  int64_t n = 0;
  for (const MediaBlock& b : blocks) n += b.n_rows;
  return n;
}

namespace {

MediaBlock make_block(std::vector<float> rows, int64_t n_rows, bool bidirectional, bool audio) {
  MediaBlock b;
  b.bidirectional = bidirectional;
  b.audio = audio;
  b.n_rows = n_rows;
  b.rows = std::move(rows);
  b.hash = hash_bytes(b.rows.data(), b.rows.size() * sizeof(float));
  return b;
}

StatusOr<MediaBlock> image_block(Embedders& emb, const RgbImage& image, int budget) {
  if (!emb.has_vision()) return InvalidArgument("the multimodal projector has no vision embedder");
  G12_ASSIGN_OR_RETURN(ImagePatches patches, image_to_patches(image, budget, emb.host_threads()));
  G12_ASSIGN_OR_RETURN(std::vector<float> rows, emb.embed_image(patches));
  return make_block(std::move(rows), patches.n, /*bidirectional=*/true, /*audio=*/false);
}

StatusOr<MediaBlock> audio_block(Embedders& emb, const MonoAudio& audio, double max_seconds) {
  if (!emb.has_audio()) return InvalidArgument("the multimodal projector has no audio embedder");
  // Checks the length (max_seconds) and emptiness, then resamples to 16 kHz mono.
  G12_ASSIGN_OR_RETURN(std::vector<float> pcm16k, audio_to_16k_mono(audio, "audio", max_seconds));
  int64_t n = 0;
  G12_ASSIGN_OR_RETURN(std::vector<float> frames, audio_to_frames(pcm16k, &n));
  G12_ASSIGN_OR_RETURN(std::vector<float> rows, emb.embed_audio(frames, n));
  return make_block(std::move(rows), n, /*bidirectional=*/false, /*audio=*/true);
}

}  // namespace

StatusOr<EmbeddedMedia> embed_image(Embedders& emb, const RgbImage& image, int budget) {
  EmbeddedMedia m;
  m.kind = ChatPart::Kind::kImage;
  G12_ASSIGN_OR_RETURN(MediaBlock b, image_block(emb, image, budget));
  m.blocks.push_back(std::move(b));
  return m;
}

StatusOr<EmbeddedMedia> embed_audio(Embedders& emb, const MonoAudio& audio, double max_seconds) {
  EmbeddedMedia m;
  m.kind = ChatPart::Kind::kAudio;
  G12_ASSIGN_OR_RETURN(MediaBlock b, audio_block(emb, audio, max_seconds));
  m.blocks.push_back(std::move(b));
  return m;
}

StatusOr<EmbeddedMedia> embed_video(Embedders& emb, const DecodedVideo& video, const MediaOptions& opt) {
  if (video.frames.empty()) return InvalidArgument("video: no frames were decoded");
  EmbeddedMedia m;
  m.kind = ChatPart::Kind::kVideo;
  for (const VideoFrame& f : video.frames) {
    G12_ASSIGN_OR_RETURN(MediaBlock b, image_block(emb, f.image, opt.video_frame_tokens));
    b.t_seconds = f.t_seconds;
    m.blocks.push_back(std::move(b));
  }
  if (opt.video_audio && !video.audio.samples.empty()) {
    G12_ASSIGN_OR_RETURN(MediaBlock b, audio_block(emb, video.audio, opt.max_audio_seconds));
    m.blocks.push_back(std::move(b));
  }
  return m;
}

StatusOr<EmbeddedMedia> embed_media_file(Embedders& emb, ChatPart::Kind kind, const std::string& path,
                                         const MediaOptions& opt) {
  switch (kind) {
    case ChatPart::Kind::kImage: {
      G12_ASSIGN_OR_RETURN(RgbImage img, decode_image_file(path));
      return embed_image(emb, img, opt.image_tokens);
    }
    case ChatPart::Kind::kAudio: {
      G12_ASSIGN_OR_RETURN(MonoAudio a, decode_audio_file(path, opt.max_audio_seconds));
      return embed_audio(emb, a, opt.max_audio_seconds);
    }
    case ChatPart::Kind::kVideo: {
      VideoOptions vo;
      vo.fps = opt.video_fps;
      vo.max_frames = opt.video_max_frames;
      vo.with_audio = opt.video_audio;
      vo.max_audio_seconds = opt.max_audio_seconds;
      G12_ASSIGN_OR_RETURN(DecodedVideo v, decode_video_file(path, vo));
      return embed_video(emb, v, opt);
    }
    case ChatPart::Kind::kText:
      break;
  }
  return InvalidArgument("embed_media_file: not a media kind");
}

std::string media_expansion(const EmbeddedMedia& media) {
  auto span = [](const char* open, const char* soft, const char* close, int64_t n) {
    std::string s = open;
    s.reserve(s.size() + static_cast<size_t>(n) * std::strlen(soft) + 16);
    for (int64_t i = 0; i < n; ++i) s += soft;
    s += close;
    return s;
  };
  std::string out;
  for (const MediaBlock& b : media.blocks) {
    if (b.audio) {
      if (!out.empty()) out += ' ';
      out += span("<|audio>", "<|audio|>", "<audio|>", b.n_rows);
    } else if (media.kind == ChatPart::Kind::kVideo) {
      // "MM:SS <|image>...<image|>", frames joined by one space (HF processing_gemma4_unified).
      const int64_t t = static_cast<int64_t>(std::floor(std::max(0.0, b.t_seconds)));
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%02lld:%02lld ", static_cast<long long>(t / 60),
                    static_cast<long long>(t % 60));
      if (!out.empty()) out += ' ';
      out += stamp;
      out += span("<|image>", "<|video|>", "<image|>", b.n_rows);
    } else {
      out += span("<|image>", "<|image|>", "<image|>", b.n_rows);
    }
  }
  return out;
}

}  // namespace gemma12b
