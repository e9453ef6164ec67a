// Image decoding to 8-bit RGB: PNG, JPEG, BMP, GIF (first frame), TGA, PNM through Debian's
// libstb (stb_image), WebP (still, or the first frame of an animation) through libwebp, chosen
// by the file's magic bytes. The EXIF orientation of JPEG / WebP / PNG files is applied, as PIL's
// ImageOps.exif_transpose does in the HF loaders. Alpha is dropped (PIL's convert("RGB")).
// Every failure is a status naming the file; oversized images are refused before allocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace gemma12b {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row-major, channel fastest
};

// Largest accepted image (pixels); bigger files are refused as likely hostile.
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

StatusOr<RgbImage> decode_image_file(const std::string& path);
StatusOr<RgbImage> decode_image_memory(const uint8_t* data, size_t size,
                                       const std::string& name = "<memory>");

}  // namespace gemma12b
