#!/usr/bin/python3
# Makes the fixtures of tests/unit/test_media_resize.cpp: a deterministic 317x211 RGB test image
# (gradients, hard edges, one-pixel lines, a checkerboard and a patch of seeded noise, so that
# both the cubic kernel and the antialiasing support are exercised) and PIL's bicubic resize of
# it to 144x96 (downscale: PIL antialiases by widening the kernel support) and 480x336
# (upscale). Needs Debian's python3-pil and python3-numpy; run from the repository root:
#   scripts/media_fixtures/make_resize_fixture.py
# Output: tests/fixtures/media/resize-src-317x211.png, resize-pil-144x96.png, resize-pil-480x336.png
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "media")
W, H = 317, 211


def source_image():
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.zeros((H, W, 3), np.float64)
    img[..., 0] = 255.0 * x / (W - 1)                              # horizontal ramp
    img[..., 1] = 255.0 * y / (H - 1)                              # vertical ramp
    img[..., 2] = 255.0 * (x + y) / (W + H - 2)                   # diagonal ramp
    img[0:60, 130:200, 2] = 127.5 + 127.5 * np.sin(x[0:60, 130:200] / 5.0)  # waves
    # Hard-edged blocks and one-pixel lines (the antialiasing filter's worst case).
    img[20:90, 30:120] = (250, 20, 40)
    img[40:70, 60:90] = (10, 10, 10)
    img[100:200, 150:151] = 255
    img[100:101, 150:300] = 0
    for k in range(8):
        img[120:200, 170 + 3 * k] = (0, 255, 0)
    # A checkerboard of 1-pixel squares, then 2-pixel squares.
    cb = ((y.astype(int) + x.astype(int)) % 2) * 255
    img[150:200, 10:60] = cb[150:200, 10:60, None]
    cb2 = ((y.astype(int) // 2 + x.astype(int) // 2) % 2) * 255
    img[150:200, 70:120] = cb2[150:200, 70:120, None]
    # A patch of seeded noise (kept small so the PNGs stay small).
    rng = np.random.default_rng(20240611)
    img[10:50, 240:288] = rng.integers(0, 256, size=(40, 48, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    os.makedirs(OUT, exist_ok=True)
    src = source_image()
    src.save(os.path.join(OUT, "resize-src-317x211.png"), optimize=True)
    for w, h in ((144, 96), (480, 336)):
        # PIL's BICUBIC (a = -0.5) is antialiased: on a downscale the kernel support grows by the
        # scale factor, as in torchvision's antialias=True.
        src.resize((w, h), Image.BICUBIC).save(os.path.join(OUT, f"resize-pil-{w}x{h}.png"), optimize=True)


if __name__ == "__main__":
    main()
