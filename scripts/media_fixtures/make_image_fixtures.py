#!/usr/bin/python3
# Makes the image fixtures of tests/unit/test_media_image.cpp with Debian's python3-pil (built
# with libwebp). Run from anywhere: scripts/media_fixtures/make_image_fixtures.py
#   pattern-lossless.webp  24x16, pixel (x, y) = (10x, 15y, (7x + 11y) mod 256), lossless: exact
#   pattern-lossy.webp     the same pattern, lossy quality 90
#   pattern-lossy-pil.png  PIL's decoding of pattern-lossy.webp (the reference for ours)
#   anim-2frames.webp      animated 24x16: frame 1 solid red, frame 2 solid blue (lossless)
#   quadrants-32x16.jpg    32x16 JPEG, quality 95, 4:4:4, no EXIF: top-left red, top-right green,
#                          bottom-left blue, bottom-right white (each 16x8, DCT-block aligned)
#   quadrants-exif6.jpg    the same image with an EXIF Orientation = 6 written by PIL (a real
#                          encoder's EXIF layout)
#   quadrants-exif8.webp   the same image as a lossless WebP with an EXIF chunk, Orientation = 8
#   quadrants-exif3.png    the same image as a PNG with an eXIf chunk, Orientation = 3
# It also prints, for orientations 1-8, the corner colours PIL's ImageOps.exif_transpose gives,
# which is the table the C++ test asserts.
import io
import os

from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "media")


def pattern():
    img = Image.new("RGB", (24, 16))
    img.putdata([((10 * x) % 256, (15 * y) % 256, (7 * x + 11 * y) % 256) for y in range(16) for x in range(24)])
    return img


def quadrants():
    img = Image.new("RGB", (32, 16))
    colours = {(0, 0): (255, 0, 0), (1, 0): (0, 255, 0), (0, 1): (0, 0, 255), (1, 1): (255, 255, 255)}
    img.putdata([colours[(x // 16, y // 8)] for y in range(16) for x in range(32)])
    return img


def main():
    os.makedirs(OUT, exist_ok=True)
    pattern().save(os.path.join(OUT, "pattern-lossless.webp"), lossless=True)
    pattern().save(os.path.join(OUT, "pattern-lossy.webp"), quality=90)
    Image.open(os.path.join(OUT, "pattern-lossy.webp")).convert("RGB").save(os.path.join(OUT, "pattern-lossy-pil.png"))
    frames = [Image.new("RGB", (24, 16), (255, 0, 0)), Image.new("RGB", (24, 16), (0, 0, 255))]
    frames[0].save(os.path.join(OUT, "anim-2frames.webp"), save_all=True, append_images=frames[1:],
                   duration=100, loop=0, lossless=True)
    q = quadrants()
    q.save(os.path.join(OUT, "quadrants-32x16.jpg"), quality=95, subsampling=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    q.save(os.path.join(OUT, "quadrants-exif6.jpg"), quality=95, subsampling=0, exif=exif.tobytes())
    exif[0x0112] = 8
    q.save(os.path.join(OUT, "quadrants-exif8.webp"), lossless=True, exif=exif.tobytes())
    exif[0x0112] = 3
    q.save(os.path.join(OUT, "quadrants-exif3.png"), exif=exif.tobytes())
    # The reference table: PIL's exif_transpose per orientation (size, then the colours at the
    # top-left, top-right, bottom-left, bottom-right corners).
    for o in range(1, 9):
        e = Image.Exif()
        e[0x0112] = o
        buf = io.BytesIO()
        q.save(buf, "JPEG", quality=95, subsampling=0, exif=e.tobytes())
        t = ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue())))
        w, h = t.size
        corners = [t.getpixel(p) for p in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
        print(o, t.size, corners)
    for name in ("quadrants-exif8.webp", "quadrants-exif3.png"):
        t = ImageOps.exif_transpose(Image.open(os.path.join(OUT, name)))
        w, h = t.size
        print(name, t.size, [t.convert("RGB").getpixel(p) for p in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))])


if __name__ == "__main__":
    main()
