"""Pictures of what a model does: latent feature maps, error heat maps, before/after splits."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

__all__ = ["before_after", "describe_latent", "fit_width", "heat_map", "latent_grid", "preview", "to_display"]

# Stops of a black-red-yellow-white colour ramp for heat maps.
_HEAT_STOPS = np.array([0.0, 0.35, 0.7, 1.0])
_HEAT_COLOURS = np.array([[0, 0, 0], [200, 30, 0], [255, 200, 0], [255, 255, 255]], np.float32)
# The colour of each of 256 error levels, looked up rather than interpolated for every pixel.
_HEAT_TABLE = np.stack(
    [np.interp(np.linspace(0, 1, 256), _HEAT_STOPS, _HEAT_COLOURS[:, channel]) for channel in range(3)], axis=1
).astype(np.uint8)


def to_display(image: np.ndarray) -> np.ndarray:
    """Convert a float image in [0, 1] (or a uint8 one) to uint8 H x W (grey) or H x W x 3 for display."""
    if image.dtype == np.uint8:
        pixels = image
    else:  # in bands through one small buffer: fresh full-size temporaries cost a 12-MP photo 0.5 s
        pixels = np.empty(image.shape, np.uint8)
        band = max(1, 2**20 // max(1, image[0].size))
        buffer = np.empty((band, *image.shape[1:]), np.float32)
        for top in range(0, image.shape[0], band):
            part = buffer[: min(band, image.shape[0] - top)]
            np.multiply(image[top : top + band], 255, out=part)
            np.clip(part, 0, 255, out=part)
            pixels[top : top + band] = np.rint(part, out=part)
    return pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels


def fit_width(image: np.ndarray, width: int) -> np.ndarray:
    """Return ``image`` for display as uint8, shrunk (Lanczos) to ``width`` pixels if it is wider.

    Parameters
    ----------
    image : ndarray
        H x W or H x W x C image: floats in [0, 1] or uint8.
    width : int
        Widest the result may be; the height follows the aspect ratio.

    Returns
    -------
    ndarray
        uint8 H x W (grey) or H x W x 3.

    """
    pixels = to_display(image)
    if pixels.shape[1] <= width:
        return pixels
    height = max(1, round(pixels.shape[0] * width / pixels.shape[1]))
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS))


def preview(image: np.ndarray, width: int) -> np.ndarray:
    """Return a rough uint8 copy of ``image`` at most ``width`` pixels wide: every n-th pixel, unfiltered.

    Milliseconds for a 12-megapixel photo, where :func:`fit_width`'s filtered one takes a few
    tenths of a second: for showing a large image at once, until its display version is ready.
    """
    step = max(1, math.ceil(image.shape[1] / width))
    return to_display(image[::step, ::step])


def latent_grid(latent: np.ndarray, *, columns: int | None = None, gap: int = 2, cell: int = 96) -> np.ndarray:
    """Lay the latent feature maps (h x w x c) side by side as one uint8 grey image.

    Each map is scaled to its own range and enlarged (nearest neighbour) so its longer side
    is about ``cell`` pixels.
    """
    height, width, count = latent.shape
    columns = columns or min(count, max(8, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    scale = max(1, cell // max(height, width))
    tile_height, tile_width = height * scale, width * scale
    grid = np.full((rows * (tile_height + gap) - gap, columns * (tile_width + gap) - gap), 255, np.uint8)
    for index in range(count):
        feature = latent[:, :, index]
        span = float(feature.max() - feature.min())
        normalised = (feature - feature.min()) / span if span > 0 else np.zeros_like(feature)
        enlarged = np.kron(normalised, np.ones((scale, scale)))
        top, left = (index // columns) * (tile_height + gap), (index % columns) * (tile_width + gap)
        grid[top : top + tile_height, left : left + tile_width] = np.round(enlarged * 255)
    return grid


def heat_map(reconstruction: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Colour the absolute error |reconstruction - reference| (mean over channels).

    Returns
    -------
    image : ndarray
        uint8 H x W x 3, scaled so the 99th percentile of the error is white.
    scale : float
        The error that maps to white.

    """
    error = np.abs(np.asarray(reconstruction, np.float32) - np.asarray(reference, np.float32))
    error = error.mean(axis=2) if error.ndim == 3 else error
    scale = float(np.percentile(error, 99)) or 1.0
    level = np.rint(np.clip(error * (255 / scale), 0, 255)).astype(np.uint8)
    return _HEAT_TABLE[level], scale


def before_after(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    """Show ``before`` left of ``position`` (0-1 of the width) and ``after`` right of it, with a line."""
    left, right = to_display(before), to_display(after)
    split = int(round(np.clip(position, 0, 1) * left.shape[1]))
    combined = right.copy()
    combined[:, :split] = left[:, :split]
    if 0 < split < combined.shape[1]:
        combined[:, split - 1 : split + 1] = 255
    return combined


def describe_latent(latent_shape: tuple[int, ...], input_values: int) -> str:
    """Say in one Markdown line how many numbers the latent space holds against the input.

    A latent space smaller than the input is a compression; a larger one (the U-Net's
    128-channel bottleneck) is said to be larger, not called a compression.
    """
    height, width, channels = latent_shape
    values = height * width * channels
    ratio = values / input_values
    comparison = f"{1 / ratio:.1f}× fewer than the input" if ratio < 1 else f"{ratio:.1f}× as many as the input"
    return (
        f"Shape **{height} × {width} × {channels}** — {values:,} latent values for {input_values:,} "
        f"input values ({comparison})"
    )
