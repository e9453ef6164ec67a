// EXIF orientation: finds the EXIF block in a JPEG / WebP / PNG container, reads tag 0x0112 from
// its IFD0, and transposes pixels the way PIL's ImageOps.exif_transpose does. Every read is
// checked against the buffer; anything malformed means "orientation 1".
#include "io/exif.h"

#include <algorithm>
#include <cstring>

namespace gemma12b {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
uint32_t le32(const uint8_t* p) { return static_cast<uint32_t>(p[3]) << 24 | p[2] << 16 | p[1] << 8 | p[0]; }

// An EXIF payload may start with the JPEG APP1 signature "Exif\0\0" (WebP and PNG writers
// sometimes keep it); the TIFF header follows.
int orientation_of_payload(const uint8_t* p, size_t n) {
  if (n >= 6 && std::memcmp(p, "Exif\0\0", 6) == 0) {
    p += 6;
    n -= 6;
  }
  return exif_orientation_tiff(p, n);
}

int jpeg_orientation(const uint8_t* d, size_t size) {
  size_t pos = 2;  // after SOI (FF D8)
  while (pos + 4 <= size) {
    if (d[pos] != 0xFF) return 1;                // not at a marker: malformed
    while (pos < size && d[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return 1;
    const uint8_t marker = d[pos++];
    if (marker == 0xD9 || marker == 0xDA) return 1;  // EOI / start of scan: no EXIF before the image data
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // no length field
    if (pos + 2 > size) return 1;
    const size_t len = be16(d + pos);  // includes the two length bytes
    if (len < 2 || pos + len > size) return 1;
    if (marker == 0xE1 && len >= 2 + 6 && std::memcmp(d + pos + 2, "Exif\0\0", 6) == 0) {
      return orientation_of_payload(d + pos + 2, len - 2);  // the first EXIF block wins, as in PIL
    }
    pos += len;
  }
  return 1;
}

int webp_orientation(const uint8_t* d, size_t size) {
  const size_t riff_end = std::min<size_t>(size, size_t{8} + le32(d + 4));
  for (size_t pos = 12; pos + 8 <= riff_end;) {
    const size_t len = le32(d + pos + 4);
    if (len > riff_end - pos - 8) return 1;
    if (std::memcmp(d + pos, "EXIF", 4) == 0) return orientation_of_payload(d + pos + 8, len);
    pos += 8 + len + (len & 1);
  }
  return 1;
}

int png_orientation(const uint8_t* d, size_t size) {
  for (size_t pos = 8; pos + 12 <= size;) {
    const size_t len = be32(d + pos);
    if (len > size - pos - 12) return 1;
    if (std::memcmp(d + pos + 4, "eXIf", 4) == 0) return orientation_of_payload(d + pos + 8, len);
    if (std::memcmp(d + pos + 4, "IEND", 4) == 0) return 1;
    pos += 12 + len;  // length, type, data, CRC
  }
  return 1;
}

}  // namespace

int exif_orientation_tiff(const uint8_t* t, size_t n) {
  if (t == nullptr || n < 8) return 1;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto r16 = [&](size_t off) -> uint32_t { return le ? (t[off] | t[off + 1] << 8) : be16(t + off); };
  auto r32 = [&](size_t off) -> uint32_t { return le ? le32(t + off) : be32(t + off); };
  if (r16(2) != 42) return 1;
  const size_t ifd = r32(4);
  if (ifd < 8 || ifd > n - 2) return 1;
  const size_t count = r16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) return 1;
    if (r16(e) != 0x0112) continue;
    const uint32_t type = r16(e + 2), values = r32(e + 4);
    uint32_t v = 0;
    if (type == 3 && values >= 1)
      v = r16(e + 8);  // SHORT, stored in the entry
    else if (type == 4 && values >= 1)
      v = r32(e + 8);  // LONG (non-standard, tolerated)
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

int exif_orientation(const uint8_t* d, size_t size) {
  if (d == nullptr) return 1;
  if (size >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return jpeg_orientation(d, size);
  if (size >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0)
    return webp_orientation(d, size);
  if (size >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return png_orientation(d, size);
  return 1;
}

RgbImage apply_exif_orientation(const RgbImage& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  RgbImage out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.pixels.resize(in.pixels.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      // The input pixel (sx, sy) that lands at output (x, y); PIL's Image.Transpose names.
      int sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // FLIP_LEFT_RIGHT
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;  // ROTATE_180
        case 4:
          sy = h - 1 - y;
          break;  // FLIP_TOP_BOTTOM
        case 5:
          sx = y;
          sy = x;
          break;  // TRANSPOSE
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // ROTATE_270 (90 degrees clockwise)
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // TRANSVERSE
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // ROTATE_90 (90 degrees counter-clockwise)
      }
      std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * 3],
                  &in.pixels[(static_cast<size_t>(sy) * w + sx) * 3], 3);
    }
  }
  return out;
}

}  // namespace gemma12b
