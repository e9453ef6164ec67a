// Image decoding beyond stb: WebP (still, lossy, animated) dispatched by magic bytes, and EXIF
// orientation applied as PIL's ImageOps.exif_transpose does. Fixtures: tests/fixtures/media,
// made by scripts/media_fixtures/make_image_fixtures.py.
#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/exif.h"
#include "io/image.h"

using namespace gemma12b;

namespace {

const std::string kMedia = GEMMA12B_TOKENIZER_FIXTURES "/../media/";

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

StatusOr<RgbImage> decode(const std::string& bytes) {
  return decode_image_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::array<int, 3> px(const RgbImage& img, int x, int y) {
  const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
  return {p[0], p[1], p[2]};
}

// The pattern of pattern-*.webp: (10x, 15y, (7x + 11y) mod 256).
std::array<int, 3> pattern(int x, int y) { return {(10 * x) % 256, (15 * y) % 256, (7 * x + 11 * y) % 256}; }

// An APP1 Exif segment holding IFD0 with one Orientation entry, little- or big-endian TIFF.
std::string exif_app1(int orientation, bool big_endian) {
  auto u16 = [&](unsigned v) {
    return big_endian ? std::string{char(v >> 8), char(v & 0xff)} : std::string{char(v & 0xff), char(v >> 8)};
  };
  auto u32 = [&](unsigned v) {
    return big_endian ? u16(v >> 16) + u16(v & 0xffff) : u16(v & 0xffff) + u16(v >> 16);
  };
  std::string tiff = (big_endian ? std::string("MM") : std::string("II")) + u16(42) + u32(8);
  tiff += u16(2);                                                     // two entries
  tiff += u16(0x010F) + u16(2) + u32(4) + std::string("ab\0\0", 4);   // Make (ASCII, inline)
  tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0);  // Orientation (SHORT)
  tiff += u32(0);                                                     // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t len = payload.size() + 2;
  return std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xff) + payload;
}

// `jpeg` with `segment` inserted right after SOI.
std::string with_segment(const std::string& jpeg, const std::string& segment) {
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

enum Colour { R, G, B, W };
bool is(const std::array<int, 3>& p, Colour c) {
  static const int ref[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int i = 0; i < 3; ++i) {
    if (std::abs(p[i] - ref[c][i]) > 8) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("media/image: lossless WebP decodes exactly") {
  auto img = decode_image_file(kMedia + "pattern-lossless.webp");
  REQUIRE(img.ok());
  CHECK(img->width == 24);
  CHECK(img->height == 16);
  int wrong = 0;
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 24; ++x) wrong += px(*img, x, y) != pattern(x, y);
  }
  CHECK(wrong == 0);
}

TEST_CASE("media/image: lossy WebP decodes as PIL decodes it") {
  auto img = decode_image_file(kMedia + "pattern-lossy.webp");
  auto pil = decode_image_file(kMedia + "pattern-lossy-pil.png");
  REQUIRE(img.ok());
  REQUIRE(pil.ok());
  REQUIRE(img->width == 24);
  REQUIRE(img->height == 16);
  REQUIRE(img->pixels.size() == pil->pixels.size());
  int worst = 0, worst_vs_source = 0;
  for (size_t i = 0; i < img->pixels.size(); ++i) {
    worst = std::max(worst, std::abs(img->pixels[i] - pil->pixels[i]));
    const size_t p = i / 3;
    worst_vs_source = std::max(worst_vs_source, std::abs(img->pixels[i] - pattern(p % 24, p / 24)[i % 3]));
  }
  MESSAGE("lossy WebP: max abs diff vs PIL's decoding " << worst << " (vs the lossless source "
                                                        << worst_vs_source << ", the codec's loss)");
  CHECK(worst == 0);  // the same libwebp decoder, default (fancy) chroma upsampling
}

TEST_CASE("media/image: animated WebP gives its first frame; corrupt WebP is an error") {
  auto img = decode_image_file(kMedia + "anim-2frames.webp");
  REQUIRE(img.ok());
  CHECK(img->width == 24);
  CHECK(img->height == 16);
  CHECK(px(*img, 0, 0) == std::array<int, 3>{255, 0, 0});
  CHECK(px(*img, 23, 15) == std::array<int, 3>{255, 0, 0});

  const std::string good = read_bytes(kMedia + "pattern-lossy.webp");
  REQUIRE(good.size() > 40);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto r = decode(good.substr(0, cut));
    CHECK(!r.ok());  // every prefix is missing data
  }
  std::string junk = good;
  for (size_t i = 40; i < junk.size(); ++i) junk[i] = static_cast<char>(junk[i] ^ 0x5A);
  auto r = decode(junk);
  if (r.ok()) CHECK(r->pixels.size() == 24u * 16 * 3);  // garbage pixels are fine; a crash is not
  // A WebP header claiming a 20000x20000 canvas is refused before allocating.
  auto bad = decode(std::string("RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x1f\x4e\0\x1f\x4e\0", 30));
  CHECK(!bad.ok());
  CHECK(bad.status().message().find("<memory>") != std::string::npos);
}

TEST_CASE("media/image: EXIF orientations 1-8 (JPEG; WebP and PNG too) match PIL's exif_transpose") {
  const std::string base = read_bytes(kMedia + "quadrants-32x16.jpg");
  REQUIRE(base.size() > 100);
  // PIL's exif_transpose on this 32x16 image (printed by make_image_fixtures.py): size, then
  // the colours at the top-left, top-right, bottom-left and bottom-right corners.
  struct Expect {
    int w, h;
    Colour tl, tr, bl, br;
  };
  const Expect table[9] = {{0, 0, R, R, R, R},   {32, 16, R, G, B, W}, {32, 16, G, R, W, B},
                           {32, 16, W, B, G, R}, {32, 16, B, W, R, G}, {16, 32, R, B, G, W},
                           {16, 32, B, R, W, G}, {16, 32, W, G, B, R}, {16, 32, G, W, R, B}};
  for (bool big_endian : {false, true}) {
    for (int o = 1; o <= 8; ++o) {
      CAPTURE(o);
      CAPTURE(big_endian);
      auto img = decode(with_segment(base, exif_app1(o, big_endian)));
      REQUIRE(img.ok());
      const Expect& e = table[o];
      CHECK(img->width == e.w);
      CHECK(img->height == e.h);
      CHECK(is(px(*img, 0, 0), e.tl));
      CHECK(is(px(*img, img->width - 1, 0), e.tr));
      CHECK(is(px(*img, 0, img->height - 1), e.bl));
      CHECK(is(px(*img, img->width - 1, img->height - 1), e.br));
    }
  }
  // A real encoder's EXIF block (PIL, Orientation 6): rotated 90 degrees clockwise.
  auto six = decode_image_file(kMedia + "quadrants-exif6.jpg");
  REQUIRE(six.ok());
  CHECK(six->width == 16);
  CHECK(six->height == 32);
  CHECK(is(px(*six, 0, 0), B));
  CHECK(is(px(*six, 15, 31), G));
  // WebP (EXIF chunk, Orientation 8) and PNG (eXIf chunk, Orientation 3), written by PIL.
  auto eight = decode_image_file(kMedia + "quadrants-exif8.webp");
  REQUIRE(eight.ok());
  CHECK(eight->width == 16);
  CHECK(eight->height == 32);
  CHECK(px(*eight, 0, 0) == std::array<int, 3>{0, 255, 0});  // lossless: exact
  CHECK(px(*eight, 15, 31) == std::array<int, 3>{0, 0, 255});
  auto three = decode_image_file(kMedia + "quadrants-exif3.png");
  REQUIRE(three.ok());
  CHECK(three->width == 32);
  CHECK(three->height == 16);
  CHECK(px(*three, 0, 0) == std::array<int, 3>{255, 255, 255});
  CHECK(px(*three, 31, 15) == std::array<int, 3>{255, 0, 0});
  // No EXIF: as stored.
  auto plain = decode(base);
  REQUIRE(plain.ok());
  CHECK(plain->width == 32);
  CHECK(is(px(*plain, 0, 0), R));
}

TEST_CASE("media/image: malformed EXIF is ignored, never read out of bounds") {
  const std::string base = read_bytes(kMedia + "quadrants-32x16.jpg");
  const std::string good = exif_app1(6, false);
  // Every truncation of the TIFF structure, with the segment length kept consistent.
  for (size_t n = 10; n < good.size(); ++n) {
    std::string seg = good.substr(0, n);
    seg[2] = static_cast<char>((n - 2) >> 8);
    seg[3] = static_cast<char>((n - 2) & 0xff);
    auto img = decode(with_segment(base, seg));
    REQUIRE(img.ok());
    CHECK(img->width == (n >= good.size() - 4 ? 16 : 32));  // the last 4 bytes: next-IFD offset
  }
  // Hostile offsets and counts in the TIFF header.
  const uint8_t bad_ifd[] = {'I', 'I', 42, 0, 0xff, 0xff, 0xff, 0x7f};
  CHECK(exif_orientation_tiff(bad_ifd, sizeof(bad_ifd)) == 1);
  const uint8_t huge_count[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0xff, 0xff, 0x01, 0x12};
  CHECK(exif_orientation_tiff(huge_count, sizeof(huge_count)) == 1);
  const uint8_t out_of_range[] = {'I',  'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12,
                                  0x01, 3,   0,  1, 0, 0, 0, 9, 0, 0, 0};
  CHECK(exif_orientation_tiff(out_of_range, sizeof(out_of_range)) == 1);  // 9 is not an orientation
  const uint8_t ok[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0};
  CHECK(exif_orientation_tiff(ok, sizeof(ok)) == 8);
  CHECK(exif_orientation(nullptr, 0) == 1);
  // A segment length running past the end of the file.
  std::string lying = with_segment(base, good);
  lying[4] = '\x7f';
  CHECK(exif_orientation(reinterpret_cast<const uint8_t*>(lying.data()), lying.size()) == 1);
}

TEST_CASE("media/image: the orientation transform itself on a 3x2 image") {
  RgbImage in;
  in.width = 3;
  in.height = 2;
  for (int i = 0; i < 6; ++i) in.pixels.insert(in.pixels.end(), {uint8_t(i), 0, 0});  // pixel value = index
  auto red = [](const RgbImage& img) {
    std::vector<int> v;
    for (size_t i = 0; i < img.pixels.size(); i += 3) v.push_back(img.pixels[i]);
    return v;
  };
  // Input rows: [0 1 2] [3 4 5]. Expected outputs in raster order.
  CHECK(red(apply_exif_orientation(in, 1)) == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK(red(apply_exif_orientation(in, 2)) == std::vector<int>{2, 1, 0, 5, 4, 3});
  CHECK(red(apply_exif_orientation(in, 3)) == std::vector<int>{5, 4, 3, 2, 1, 0});
  CHECK(red(apply_exif_orientation(in, 4)) == std::vector<int>{3, 4, 5, 0, 1, 2});
  CHECK(red(apply_exif_orientation(in, 5)) == std::vector<int>{0, 3, 1, 4, 2, 5});
  CHECK(red(apply_exif_orientation(in, 6)) == std::vector<int>{3, 0, 4, 1, 5, 2});
  CHECK(red(apply_exif_orientation(in, 7)) == std::vector<int>{5, 2, 4, 1, 3, 0});
  CHECK(red(apply_exif_orientation(in, 8)) == std::vector<int>{2, 5, 1, 4, 0, 3});
  CHECK(apply_exif_orientation(in, 6).width == 2);
  CHECK(apply_exif_orientation(in, 6).height == 3);
}
