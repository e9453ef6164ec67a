// Image decoding: dispatch on magic bytes (WebP to libwebp, everything else to stb_image), then
// the EXIF orientation (exif.h).
#include "io/image.h"

#include <webp/decode.h>  // WebPGetFeatures, WebPDecodeRGBInto
#include <webp/demux.h>   // WebPAnimDecoder (first frame of an animated WebP)

#include <cstring>
#include <memory>

#include "io/exif.h"
#include "io/mapped_file.h"

#include <stb_image.h>

namespace gemma12b {
namespace {

bool is_webp(const uint8_t* d, size_t size) {
  return size >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0;
}

Status check_size(int w, int h, const std::string& name) {
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxImagePixels) {
    return InvalidArgument("%s: image of %dx%d pixels is outside the accepted size", name, w, h);
  }
  return OkStatus();
}

const char* webp_status_name(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "truncated data";
  }
  return "unknown error";
}

// The first frame of an animated WebP, composited on the canvas as libwebp's animation decoder
// (and PIL) do; alpha dropped.
StatusOr<RgbImage> decode_webp_animation(const uint8_t* d, size_t size, const std::string& name) {
  WebPAnimDecoderOptions opts;
  if (!WebPAnimDecoderOptionsInit(&opts)) return Internal("%s: libwebp version mismatch", name);
  opts.color_mode = MODE_RGBA;
  opts.use_threads = 0;
  const WebPData wd{d, size};
  std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> dec(WebPAnimDecoderNew(&wd, &opts),
                                                                   WebPAnimDecoderDelete);
  if (!dec) return DataLoss("%s: not a decodable animated WebP image", name);
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(dec.get(), &info)) return DataLoss("%s: unreadable animated WebP header", name);
  const int w = static_cast<int>(info.canvas_width), h = static_cast<int>(info.canvas_height);
  G12_RETURN_IF_ERROR(check_size(w, h, name));
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (info.frame_count == 0 || !WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp) || rgba == nullptr) {
    return DataLoss("%s: the first frame of the animated WebP image does not decode", name);
  }
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < static_cast<size_t>(w) * h; ++i) std::memcpy(&img.pixels[i * 3], &rgba[i * 4], 3);
  return img;
}

StatusOr<RgbImage> decode_webp(const uint8_t* d, size_t size, const std::string& name) {
  WebPBitstreamFeatures f;
  if (const VP8StatusCode s = WebPGetFeatures(d, size, &f); s != VP8_STATUS_OK) {
    return DataLoss("%s: not a decodable WebP image (%s)", name, webp_status_name(s));
  }
  G12_RETURN_IF_ERROR(check_size(f.width, f.height, name));
  if (f.has_animation) return decode_webp_animation(d, size, name);
  RgbImage img;
  img.width = f.width;
  img.height = f.height;
  img.pixels.resize(static_cast<size_t>(f.width) * f.height * 3);
  if (WebPDecodeRGBInto(d, size, img.pixels.data(), img.pixels.size(), f.width * 3) == nullptr) {
    return DataLoss("%s: WebP image decoding failed (corrupt or truncated data)", name);
  }
  return img;
}

StatusOr<RgbImage> decode_stb(const uint8_t* data, size_t size, const std::string& name) {
  if (size > (size_t{1} << 31) - 1) return InvalidArgument("%s: image file too large", name);
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &channels)) {
    return DataLoss("%s: not a decodable image (%s)", name,
                    stbi_failure_reason() ? stbi_failure_reason() : "unknown");
  }
  G12_RETURN_IF_ERROR(check_size(w, h, name));
  stbi_uc* px = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels, 3);
  if (px == nullptr) {
    return DataLoss("%s: image decoding failed (%s)", name,
                    stbi_failure_reason() ? stbi_failure_reason() : "unknown");
  }
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(px, px + static_cast<size_t>(w) * h * 3);
  stbi_image_free(px);
  return img;
}

}  // namespace

StatusOr<RgbImage> decode_image_memory(const uint8_t* data, size_t size, const std::string& name) {
  if (data == nullptr || size == 0) return InvalidArgument("%s: empty image data", name);
  StatusOr<RgbImage> img = is_webp(data, size) ? decode_webp(data, size, name) : decode_stb(data, size, name);
  if (!img.ok()) return img;
  if (const int orientation = exif_orientation(data, size); orientation != 1) {
    return apply_exif_orientation(*img, orientation);
  }
  return img;
}

StatusOr<RgbImage> decode_image_file(const std::string& path) {
  G12_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> f, MappedFile::open(path));
  return decode_image_memory(f->data(), f->size(), path);
}

}  // namespace gemma12b
