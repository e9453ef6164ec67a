// Video decoding (io/video.h) on tests/fixtures/media/rgb-3s.mp4 (64x48 H.264 at 10 fps, 3 s:
// red, then green, then blue for a second each; a 440 Hz stereo AAC track; made by
// scripts/media_fixtures/make_av_fixtures.sh): frame sampling, timestamps, colours, the audio
// track at 16 kHz, and the error cases.
#include <doctest/doctest.h>

#include <unistd.h>  // getpid

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/video.h"

extern "C" {
#include <libavutil/log.h>  // av_log_set_level: the error cases below make FFmpeg log a lot
}

using namespace gemma12b;

namespace {

const std::string kVideo = GEMMA12B_TOKENIZER_FIXTURES "/../media/rgb-3s.mp4";

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("gemma12b-test-" + std::to_string(getpid()) + "-" + name))
      .string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Writes `bytes` to a temporary file, decodes it, removes it.
StatusOr<DecodedVideo> decode_bytes(const std::string& bytes, const std::string& name,
                                    const VideoOptions& opt = {}) {
  const std::string path = tmp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  auto r = decode_video_file(path, opt);
  std::filesystem::remove(path);
  return r;
}

// Mean colour of a frame.
std::array<double, 3> mean_rgb(const RgbImage& img) {
  std::array<double, 3> m{0, 0, 0};
  for (size_t i = 0; i < img.pixels.size(); ++i) m[i % 3] += img.pixels[i];
  for (double& v : m) v /= static_cast<double>(img.width) * img.height;
  return m;
}

// The fixture's colour at time t: red, green (lavfi "lime" = 0,255,0), blue.
std::array<double, 3> expected_rgb(double t) {
  if (t < 1.0) return {255, 0, 0};
  if (t < 2.0) return {0, 255, 0};
  return {0, 0, 255};
}

// YUV 4:2:0 at crf 18 and back: a solid colour comes out within a few levels.
void check_colour(const VideoFrame& f) {
  CAPTURE(f.t_seconds);
  const auto m = mean_rgb(f.image), e = expected_rgb(f.t_seconds);
  for (int c = 0; c < 3; ++c) CHECK(std::fabs(m[c] - e[c]) < 6.0);
}

}  // namespace

TEST_CASE("media/video: sampling at 1 and 2 fps gives the frames nearest k/fps, with their colours") {
  VideoOptions o;
  o.fps = 1.0;
  auto v = decode_video_file(kVideo, o);
  REQUIRE(v.ok());
  CHECK(v->duration_s == doctest::Approx(3.0).epsilon(0.01));
  REQUIRE(v->frames.size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(v->frames[k].t_seconds == doctest::Approx(k).epsilon(1e-6));
    CHECK(v->frames[k].image.width == 64);
    CHECK(v->frames[k].image.height == 48);
    check_colour(v->frames[k]);
  }
  const auto m = mean_rgb(v->frames[0].image);
  MESSAGE("frame at 0 s mean RGB " << m[0] << " " << m[1] << " " << m[2] << " (expect 255 0 0)");
  CHECK(v->audio.samples.empty());  // not asked for
  CHECK(v->audio.sample_rate == 0);

  o.fps = 2.0;
  v = decode_video_file(kVideo, o);
  REQUIRE(v.ok());
  REQUIRE(v->frames.size() == 6);
  for (int k = 0; k < 6; ++k) {
    CHECK(v->frames[k].t_seconds == doctest::Approx(0.5 * k).epsilon(1e-6));
    check_colour(v->frames[k]);
  }
}

TEST_CASE(
    "media/video: a raw H.264 stream (no container, no timestamps, no duration) is measured and sampled") {
  auto v = decode_video_file(GEMMA12B_TOKENIZER_FIXTURES "/../media/rgb-3s.h264");
  REQUIRE(v.ok());
  CHECK(v->duration_s == doctest::Approx(3.0).epsilon(1e-6));
  REQUIRE(v->frames.size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(v->frames[k].t_seconds == doctest::Approx(k).epsilon(1e-6));
    check_colour(v->frames[k]);
  }
}

TEST_CASE(
    "media/video: max_frames spreads the frames evenly; a rate above the video's gives each frame once") {
  VideoOptions o;
  o.fps = 10.0;      // 30 targets
  o.max_frames = 4;  // -> t = 0, 0.75, 1.5, 2.25
  auto v = decode_video_file(kVideo, o);
  REQUIRE(v.ok());
  REQUIRE(v->frames.size() == 4);
  const double want[4] = {0.0, 0.75, 1.5, 2.25};
  for (int k = 0; k < 4; ++k) {
    CHECK(std::fabs(v->frames[k].t_seconds - want[k]) <= 0.05 + 1e-9);  // frames every 0.1 s
    check_colour(v->frames[k]);
  }
  CHECK(video_sample_times(3.0, 10.0, 4) == std::vector<double>{0.0, 0.75, 1.5, 2.25});
  CHECK(video_sample_times(3.0, 1.0, 32) == std::vector<double>{0.0, 1.0, 2.0});
  CHECK(video_sample_times(3.05, 1.0, 32).size() == 4);
  CHECK(video_sample_times(0.0, 1.0, 32) == std::vector<double>{0.0});
  CHECK(video_sample_times(3.0, 0.0, 32).empty());

  o.fps = 20.0;  // 60 targets over 30 frames: each frame comes back once
  o.max_frames = 100;
  v = decode_video_file(kVideo, o);
  REQUIRE(v.ok());
  REQUIRE(v->frames.size() == 30);
  for (int k = 0; k < 30; ++k) CHECK(v->frames[k].t_seconds == doctest::Approx(0.1 * k).epsilon(1e-6));
}

TEST_CASE("media/video: the audio track comes back as 16 kHz mono when asked for") {
  VideoOptions o;
  o.with_audio = true;
  auto v = decode_video_file(kVideo, o);
  REQUIRE(v.ok());
  CHECK(v->frames.size() == 3);
  REQUIRE(v->audio.sample_rate == 16000);
  const double seconds = v->audio.samples.size() / 16000.0;
  double energy = 0;
  for (size_t i = 4000; i + 4000 < v->audio.samples.size(); ++i)
    energy += v->audio.samples[i] * v->audio.samples[i];
  const double rms = std::sqrt(energy / (v->audio.samples.size() - 8000));
  MESSAGE("video audio: " << v->audio.samples.size() << " samples = " << seconds << " s, RMS " << rms
                          << " (440 Hz sine at 1/8: 0.0884)");
  CHECK(std::fabs(seconds - 3.0) < 0.05);  // AAC frames are 1024 samples (23 ms)
  CHECK(rms == doctest::Approx(0.125 / std::sqrt(2.0)).epsilon(0.05));
  o.max_audio_seconds = 1.0;
  auto capped = decode_video_file(kVideo, o);
  CHECK(capped.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(capped.status().message().find("the limit is 1 s") != std::string::npos);
}

TEST_CASE("media/video: not a video, no video stream, unsupported codec, truncated: clear errors") {
  const int log_level = av_log_get_level();
  av_log_set_level(AV_LOG_QUIET);  // the statuses say what went wrong
  const std::string mp4 = read_bytes(kVideo);
  REQUIRE(mp4.size() > 10000);
  CHECK(decode_video_file("/nonexistent.mp4").status().code() == absl::StatusCode::kNotFound);
  auto text = decode_bytes("this is not a video file at all, just some words\n", "text.mp4");
  CHECK(text.status().code() == absl::StatusCode::kDataLoss);
  MESSAGE("text file: " << text.status().message());

  // A WAV file: a readable container without a video stream.
  std::string wav(
      "RIFF\x24\x7d\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\x7d\0\0", 44);
  wav.resize(44 + 32000, '\0');
  auto audio_only = decode_bytes(wav, "audio.wav");
  CHECK(audio_only.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(audio_only.status().message().find("no video stream") != std::string::npos);
  MESSAGE("WAV file: " << audio_only.status().message());

  // The H.264 sample entry renamed to a codec nobody knows.
  std::string unknown = mp4;
  for (size_t p = unknown.find("avc1"); p != std::string::npos; p = unknown.find("avc1", p))
    unknown.replace(p, 4, "zzzz");
  auto codec = decode_bytes(unknown, "unknown.mp4");
  CHECK(codec.status().code() == absl::StatusCode::kUnimplemented);
  MESSAGE("unknown codec: " << codec.status().message());

  for (double keep : {0.02, 0.3, 0.6, 0.95}) {
    auto cut = decode_bytes(mp4.substr(0, static_cast<size_t>(mp4.size() * keep)), "cut.mp4");
    CHECK(!cut.ok());
    CHECK(cut.status().code() == absl::StatusCode::kDataLoss);
    MESSAGE("cut to " << keep * 100 << "%: " << cut.status().message());
  }
  // Every kind of cut (the header, the index, the interleaved packets): an error, never a crash.
  for (size_t cut = 0; cut < mp4.size(); cut += 157) {
    CAPTURE(cut);
    CHECK(!decode_bytes(mp4.substr(0, cut), "cut.mp4").ok());
  }
  // Corrupted payload bytes: an error or garbage pixels, never a crash.
  for (size_t start : {size_t{3000}, size_t{8000}, mp4.size() / 2}) {
    std::string bad = mp4;
    for (size_t i = start; i < start + 400 && i < bad.size(); ++i) bad[i] = static_cast<char>(bad[i] ^ 0xA5);
    auto r = decode_bytes(bad, "corrupt.mp4");
    if (r.ok()) CHECK(!r->frames.empty());
  }
  VideoOptions bad_opt;
  bad_opt.fps = 0;
  CHECK(decode_video_file(kVideo, bad_opt).status().code() == absl::StatusCode::kInvalidArgument);
  bad_opt.fps = 1;
  bad_opt.max_frames = 0;
  CHECK(decode_video_file(kVideo, bad_opt).status().code() == absl::StatusCode::kInvalidArgument);
  av_log_set_level(log_level);
}
