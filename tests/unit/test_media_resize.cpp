// resize_bicubic_aa (model/multimodal/preprocess) against PIL's Image.resize(BICUBIC), which is
// antialiased like torchvision's antialias=True that the HF image processor uses. Fixtures:
// tests/fixtures/media/resize-*.png from scripts/media_fixtures/make_resize_fixture.py. Also the
// spec's audio framing rule (MODEL.md 3), which no other unit test pins down.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>

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
