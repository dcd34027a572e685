"""Raw files for the tests, made in memory: synthetic Bayer raws and hostile ones (nothing binary is committed)."""

from __future__ import annotations

import io
import struct

import numpy as np
import tifffile
from PIL import Image

from denoise.noise import CameraPipeline, bayer_masks, camera_noise_variance, poisson_gaussian
from denoise.raw import RawImage, encode_dng


def synthetic_raw(image: np.ndarray, iso: float, *, seed: int = 0, **metadata) -> tuple[RawImage, np.ndarray]:
    """An sRGB image unprocessed to a noisy RGGB raw at ``iso``; returns it and the clean mosaic."""
    rng = np.random.default_rng(seed)
    linear = CameraPipeline.random(rng).unprocess(image[None].astype(np.float32))[0]
    clean = np.sum(linear * bayer_masks(*linear.shape[:2]), axis=-1, dtype=np.float32)
    shot, read = camera_noise_variance(iso)
    noisy = np.minimum(poisson_gaussian(clean, shot, read, rng), 1.0).astype(np.float32)
    settings = dict(black_levels=(512.0, 512.0, 512.0, 512.0), white_level=16383.0, iso=iso, camera="Denoise Test")
    return RawImage(mosaic=noisy, **(settings | metadata)), clean


def dng_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode_dng(RawImage(mosaic=np.full((16, 16), 0.5, np.float32))))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tiff:
        tags = tiff.pages.first.tags
        for name, value in (("ImageWidth", width), ("ImageLength", height)):
            offset = tags[name].valueoffset
            data[offset : offset + 4] = struct.pack("<I", value)
    return bytes(data)


def linear_dng() -> bytes:
    buffer = io.BytesIO()
    samples = np.random.default_rng(0).integers(0, 4000, (32, 48, 3), dtype=np.uint16)
    tags = [(50706, 1, 4, (1, 4, 0, 0), True), (50708, 2, 0, "Linear", True), (50717, 3, 1, 4095, True)]
    tifffile.imwrite(buffer, samples, photometric=34892, extratags=tags, metadata=None)
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()
