"""Helpers that make image files of many kinds in memory for the tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def gradient(height: int = 40, width: int = 60, channels: int = 3) -> np.ndarray:
    """A smooth uint8 test pattern, H x W x C (or H x W for one channel)."""
    rows, columns = np.mgrid[0:height, 0:width]
    planes = [(rows * 255 // max(height - 1, 1)), (columns * 255 // max(width - 1, 1)), ((rows + columns) * 3) % 256]
    pattern = np.stack(planes[:channels], axis=2).astype(np.uint8)
    return pattern[:, :, 0] if channels == 1 else pattern


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    """Save a Pillow image to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_bytes(height: int = 40, width: int = 60, channels: int = 3) -> bytes:
    """An 8-bit PNG of the gradient pattern."""
    return encode(Image.fromarray(gradient(height, width, channels)), "PNG")
