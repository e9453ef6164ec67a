// Media -> decoder rows: the glue between decoding (src/io), preprocessing and the embedders
// (src/model/multimodal) that a prompt needs (spec MODEL.md 2-4).
//
//   image  -> one bidirectional block of N = (W/48)(H/48) rows (budget 70..1120, default 280)
//   audio  -> 16 kHz mono, capped (30 s by default), one causal block of ceil(samples/640) rows
//   video  -> one bidirectional block per sampled frame (budget 70 per frame by default), each
//             with its timestamp; optionally (our extension, off by default) the video's audio
//             track as one causal block after the frames
// Every item carries a content hash per block so a session can tell which prompt rows it
// already holds in its KV cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/video.h"
#include "io/wav.h"
#include "model/multimodal/embedders.h"
#include "tokenizer/chat_format.h"
#include "util/status.h"

namespace gemma12b {

struct MediaOptions {
  int image_tokens = 280;        // soft-token budget per image: 70, 140, 280, 560 or 1120
  int video_frame_tokens = 70;   // budget per video frame (the HF video processor's default)
  double video_fps = 1.0;        // frames sampled per second of video
  int video_max_frames = 32;     // more would be sampled: spread this many evenly instead
  bool video_audio = false;      // also embed the video's audio track (after the frames)
  double max_audio_seconds = 30.0;  // longer audio is refused with an error (Google's stated limit)
};

struct MediaBlock {
  bool bidirectional = false;  // image / video frame: one bidirectional block; audio: causal
  bool audio = false;          // rows stand for <|audio|> soft tokens
  double t_seconds = 0.0;      // video frames: the frame's timestamp
  int64_t n_rows = 0;
  std::vector<float> rows;     // [n_rows, n_embd], inserted unscaled
  uint64_t hash = 0;           // of the rows' bytes
};

struct EmbeddedMedia {
  ChatPart::Kind kind = ChatPart::Kind::kImage;
  std::vector<MediaBlock> blocks;  // image: 1; audio: 1; video: frames, then the audio track
  int64_t n_rows() const;
};

StatusOr<EmbeddedMedia> embed_image(Embedders& emb, const RgbImage& image, int budget);
// `audio` at any sample rate (resampled to 16 kHz here).
StatusOr<EmbeddedMedia> embed_audio(Embedders& emb, const MonoAudio& audio, double max_seconds);
StatusOr<EmbeddedMedia> embed_video(Embedders& emb, const DecodedVideo& video, const MediaOptions& opt);
// Decodes `path` (an image, audio or video file, per `kind`) and embeds it.
StatusOr<EmbeddedMedia> embed_media_file(Embedders& emb, ChatPart::Kind kind, const std::string& path,
                                         const MediaOptions& opt);

// The text a media placeholder of the chat template expands to, with one soft-token string per
// row: <|image> N x <|image|> <image|>; <|audio> N x <|audio|> <audio|>; a video is
// "MM:SS <|image> N x <|video|> <image|>" per frame joined by spaces (+ " " and an audio span).
std::string media_expansion(const EmbeddedMedia& media);

uint64_t hash_bytes(const void* data, size_t n);

}  // namespace gemma12b
