#include "io/image.h"

#include "io/mapped_file.h"

#include <stb_image.h>

namespace gemma12b {

StatusOr<RgbImage> decode_image_memory(const uint8_t* data, size_t size, const std::string& name) {
  if (data == nullptr || size == 0) return InvalidArgument("%s: empty image data", name);
  if (size > (size_t{1} << 31) - 1) return InvalidArgument("%s: image file too large", name);
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels)) {
    return DataLoss("%s: not a decodable image (%s)", name, stbi_failure_reason() ? stbi_failure_reason() : "unknown");
  }
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxImagePixels) {
    return InvalidArgument("%s: image of %dx%d pixels is outside the accepted size", name, w, h);
  }
  stbi_uc* px = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels, 3);
  if (px == nullptr) {
    return DataLoss("%s: image decoding failed (%s)", name, stbi_failure_reason() ? stbi_failure_reason() : "unknown");
  }
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(px, px + static_cast<size_t>(w) * h * 3);
  stbi_image_free(px);
  return img;
}

StatusOr<RgbImage> decode_image_file(const std::string& path) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> f, MappedFile::open(path));
  return decode_image_memory(f->data(), f->size(), path);
}

}  // namespace gemma12b
