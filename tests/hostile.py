"""Awkward and hostile image files, made in memory for the tests (nothing binary is committed).

``REFUSED`` files must be rejected with one clear line; ``HANDLED`` files must be denoised
keeping their displayed size, alpha and bit depth. Each entry maps a file name to a function
returning its bytes, and for handled files the expected (height, width, has_alpha, bit_depth).
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import tifffile
from PIL import Image

from tests.images import encode, gradient


def noise_pixels(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares ``width`` x ``height`` pixels."""
    data = bytearray(encode(Image.fromarray(gradient(1, 1, 1)), "PNG"))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def tiff_bytes(samples: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, samples, **options)
    return buffer.getvalue()


def _truncated(image_format: str) -> bytes:
    data = encode(Image.fromarray(noise_pixels(64, 64)), image_format)
    return data[: len(data) // 2]


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(gradient(20, 50)), "JPEG", exif=exif.tobytes())


def _palette_with_transparency() -> bytes:
    image = Image.fromarray(gradient(30, 40)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode(image, "PNG", transparency=0)


def _animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((12, 16, 3), value, np.uint8)) for value in (30, 200, 90)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


REFUSED = {
    "empty.png": lambda: b"",
    "truncated.png": lambda: _truncated("PNG"),
    "truncated.jpg": lambda: _truncated("JPEG"),
    "text.png": lambda: b"just some text, not an image\n" * 4,
    "page.jpg": lambda: b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="40000" height="40000"/>',
    "bomb.png": lambda: png_declaring(40000, 40000),
    "huge-12000.png": lambda: png_declaring(12000, 12000),
}

# name -> (bytes factory, (height, width, has_alpha, bit_depth))
HANDLED = {
    "cmyk.jpg": (lambda: encode(Image.fromarray(gradient()).convert("CMYK"), "JPEG"), (40, 60, False, 8)),
    "grey16.png": (
        lambda: encode(Image.fromarray(gradient(30, 20, 1).astype(np.uint16) * 257), "PNG"),
        (30, 20, False, 16),
    ),
    "rgb16.tif": (lambda: tiff_bytes(gradient(24, 36).astype(np.uint16) * 257, photometric="rgb"), (24, 36, False, 16)),
    "float32.tif": (lambda: tiff_bytes(gradient(24, 36, 1).astype(np.float32) / 255), (24, 36, False, 16)),
    "rgba.png": (
        lambda: encode(Image.fromarray(np.dstack([gradient(), gradient(40, 60, 1)])), "PNG"),
        (40, 60, True, 8),
    ),
    "palette-transparent.png": (_palette_with_transparency, (30, 40, True, 8)),
    "grey-alpha.png": (lambda: encode(Image.fromarray(gradient(20, 30)[:, :, :2], "LA"), "PNG"), (20, 30, True, 8)),
    "one-bit.png": (lambda: encode(Image.fromarray(gradient(16, 24, 1) > 127), "PNG"), (16, 24, False, 8)),
    "exif-rotated.jpg": (_exif_rotated_jpeg, (50, 20, False, 8)),
    "animated.gif": (_animated_gif, (12, 16, False, 8)),
    "one-pixel.png": (lambda: encode(Image.fromarray(gradient(1, 1)), "PNG"), (1, 1, False, 8)),
    "three-by-five.png": (lambda: encode(Image.fromarray(gradient(3, 5)), "PNG"), (3, 5, False, 8)),
    "thin-2x3000.png": (lambda: encode(Image.fromarray(gradient(2, 3000)), "PNG"), (2, 3000, False, 8)),
    "lossless.webp": (lambda: encode(Image.fromarray(gradient()), "WEBP", lossless=True), (40, 60, False, 8)),
    "plain.bmp": (lambda: encode(Image.fromarray(gradient()), "BMP"), (40, 60, False, 8)),
    "trailing-bytes.png": (
        lambda: encode(Image.fromarray(gradient()), "PNG") + b"\x00garbage after IEND" * 10,
        (40, 60, False, 8),
    ),
}
