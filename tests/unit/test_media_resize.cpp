// resize_bicubic_aa (model/multimodal/preprocess) against PIL's Image.resize(BICUBIC), which is
// antialiased like torchvision's antialias=True that the HF image processor uses. Fixtures:
// tests/fixtures/media/resize-*.png from scripts/media_fixtures/make_resize_fixture.py. Also the
// spec's audio framing rule (MODEL.md 3), which no other unit test pins down.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "io/image.h"
#include "model/multimodal/preprocess.h"

using namespace gemma12b;

namespace {

const std::string kMedia = GEMMA12B_TOKENIZER_FIXTURES "/../media/";

void compare_with_pil(const RgbImage& src, int w, int h) {
  auto pil = decode_image_file(kMedia + "resize-pil-" + std::to_string(w) + "x" + std::to_string(h) + ".png");
  REQUIRE(pil.ok());
  REQUIRE(pil->width == w);
  REQUIRE(pil->height == h);
  const RgbImage ours = resize_bicubic_aa(src, w, h);
  REQUIRE(ours.pixels.size() == pil->pixels.size());
  int worst = 0;
  size_t at = 0, off_by_more_than_1 = 0;
  double sum = 0;
  for (size_t i = 0; i < ours.pixels.size(); ++i) {
    const int d = std::abs(static_cast<int>(ours.pixels[i]) - pil->pixels[i]);
    if (d > worst) {
      worst = d;
      at = i;
    }
    off_by_more_than_1 += d > 1;
    sum += d;
  }
  const size_t p = at / 3;
  MESSAGE("resize 317x211 -> " << w << "x" << h << " vs PIL BICUBIC: max abs diff " << worst
                               << " (at x=" << p % w << " y=" << p / w << " c=" << at % 3 << "), mean "
                               << sum / ours.pixels.size()
                               << ", values off by more than 1: " << off_by_more_than_1);
  CHECK(worst <= 2);
}

}  // namespace

TEST_CASE("media/resize: bicubic antialiased downscale matches PIL within 2/255") {
  auto src = decode_image_file(kMedia + "resize-src-317x211.png");
  REQUIRE(src.ok());
  REQUIRE(src->width == 317);
  REQUIRE(src->height == 211);
  compare_with_pil(*src, 144, 96);
}

TEST_CASE("media/resize: bicubic upscale matches PIL within 2/255") {
  auto src = decode_image_file(kMedia + "resize-src-317x211.png");
  REQUIRE(src.ok());
  compare_with_pil(*src, 480, 336);
}

// The resize written out per output value, straight from its definition (antialiased bicubic
// taps, a = -0.5, support 2·max(scale, 1), weights normalised; the horizontal pass rounded to 8
// bits first), summing each value's taps in ascending order in double as the library does: the
// library's loop order is free, its result is not.
namespace {

double cubic_ref(double x) {
  x = std::fabs(x);
  if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5;
  return 0.0;
}

// Taps of output i: first input index and normalised weights.
std::vector<double> taps_ref(int in, int out, int i, int* first) {
  const double scale = static_cast<double>(in) / out, support = 2.0 * std::max(scale, 1.0);
  const double inv = 1.0 / std::max(scale, 1.0), center = scale * (i + 0.5);
  const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
  const int hi = std::min(static_cast<int>(center + support + 0.5), in);
  std::vector<double> w;
  double sum = 0.0;
  for (int j = lo; j < hi; ++j) {
    w.push_back(cubic_ref((j - center + 0.5) * inv));
    sum += w.back();
  }
  for (double& x : w) x = sum != 0.0 ? x / sum : 0.0;
  *first = lo;
  return w;
}

RgbImage resize_ref(const RgbImage& in, int ow, int oh) {
  std::vector<double> mid(static_cast<size_t>(in.height) * ow * 3);
  for (int x = 0; x < ow; ++x) {
    int f;
    const std::vector<double> w = taps_ref(in.width, ow, x, &f);
    for (int y = 0; y < in.height; ++y) {
      for (int c = 0; c < 3; ++c) {
        double acc = 0.0;
        for (size_t k = 0; k < w.size(); ++k) acc += w[k] * in.pixels[(static_cast<size_t>(y) * in.width + f + k) * 3 + c];
        mid[(static_cast<size_t>(y) * ow + x) * 3 + c] = std::clamp(std::floor(acc + 0.5), 0.0, 255.0);
      }
    }
  }
  RgbImage out;
  out.width = ow;
  out.height = oh;
  out.pixels.resize(static_cast<size_t>(ow) * oh * 3);
  for (int y = 0; y < oh; ++y) {
    int f;
    const std::vector<double> w = taps_ref(in.height, oh, y, &f);
    for (int x = 0; x < ow; ++x) {
      for (int c = 0; c < 3; ++c) {
        double acc = 0.0;
        for (size_t k = 0; k < w.size(); ++k) acc += w[k] * mid[((f + k) * ow + x) * 3 + c];
        out.pixels[(static_cast<size_t>(y) * ow + x) * 3 + c] = static_cast<uint8_t>(std::clamp(std::nearbyint(acc), 0.0, 255.0));
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("media/resize: every output value equals its definition, down and up, odd sizes") {
  std::mt19937 rng(7);
  RgbImage src;
  src.width = 643;
  src.height = 419;
  src.pixels.resize(static_cast<size_t>(src.width) * src.height * 3);
  // Smooth gradients plus noise and a few hard edges (where the 8-bit clamp of the first pass bites).
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int v = (x * (c + 1) + y * 2) % 256 + static_cast<int>(rng() % 31) - 15 + ((x / 37 + y / 23) % 2 ? 120 : 0);
        src.pixels[(static_cast<size_t>(y) * src.width + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  for (auto [w, h] : {std::pair{336, 192}, std::pair{97, 431}, std::pair{1008, 624}}) {
    const RgbImage ref = resize_ref(src, w, h);
    // Rows split between threads (parts of at least 16 rows; 97x431 from 419 rows: 26 parts at
    // most) give the same bytes.
    for (int threads : {1, 2, 3, 7, 64}) {
      const RgbImage ours = resize_bicubic_aa(src, w, h, threads);
      REQUIRE(ours.pixels.size() == ref.pixels.size());
      size_t differ = 0;
      for (size_t i = 0; i < ours.pixels.size(); ++i) differ += ours.pixels[i] != ref.pixels[i];
      CHECK_MESSAGE(differ == 0, w, "x", h, " with ", threads, " threads: ", differ, " values differ");
    }
  }
}

TEST_CASE("media/resize: spec 3 audio framing, 640-sample frames, tail zero-padded") {
  std::vector<float> samples(1281, 0.25f);  // 2 full frames + 1 sample
  int64_t n = 0;
  auto frames = audio_to_frames(samples, &n);
  REQUIRE(frames.ok());
  CHECK(n == 3);  // ceil(1281 / 640)
  REQUIRE(frames->size() == 3u * 640);
  CHECK((*frames)[1280] == 0.25f);
  CHECK((*frames)[1281] == 0.0f);
  CHECK((*frames)[3 * 640 - 1] == 0.0f);
  std::vector<float> exact(1280, 0.5f);
  REQUIRE(audio_to_frames(exact, &n).ok());
  CHECK(n == 2);
}
