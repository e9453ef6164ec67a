// EXIF Orientation (tag 0x0112) of JPEG (APP1 "Exif"), WebP (EXIF chunk) and PNG (eXIf chunk)
// files, and the rotation / flip that makes the pixels upright, as PIL's
// ImageOps.exif_transpose does (the HF processors load images through it). The parsers are
// bounds-checked and never fail: missing or malformed EXIF reads as orientation 1 (as is).
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/image.h"

namespace gemma12b {

// 1..8 from the first EXIF block of a JPEG, WebP or PNG file; 1 when absent or malformed.
int exif_orientation(const uint8_t* data, size_t size);

// 1..8 from a TIFF structure ("II*\0" or "MM\0*" header, IFD0); 1 when absent or malformed.
int exif_orientation_tiff(const uint8_t* tiff, size_t size);

// The upright image for an EXIF orientation (1: unchanged, 2: mirror left-right, 3: rotate 180,
// 4: mirror top-bottom, 5: transpose, 6: rotate 90 clockwise, 7: transverse, 8: rotate 90
// counter-clockwise); 5-8 swap width and height. Other values return the image unchanged.
RgbImage apply_exif_orientation(const RgbImage& image, int orientation);

}  // namespace gemma12b
