"""Image quality metrics under the evaluation convention of the published tables."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["SSIM_WINDOW", "luminance_chroma_psnr", "psnr", "ssim"]

#: Side of SSIM's square window (scikit-image's default): :func:`ssim` needs images at least
#: this many pixels high and wide.
SSIM_WINDOW = 7


def psnr(clean: np.ndarray, estimate: np.ndarray) -> float:
    """PSNR in dB of ``estimate`` clipped to [0, 1] against ``clean`` (data range 1); inf if they are equal."""
    with np.errstate(divide="ignore"):  # equal images: a zero error, whose PSNR is infinite
        return float(peak_signal_noise_ratio(clean, np.clip(estimate, 0, 1), data_range=1.0))


#: Rows of the SSIM map computed at once on large images: scikit-image keeps about fifteen
#: float64 copies of what it is given, 1.4 GB per channel of a 12-megapixel photo.
SSIM_BAND_ROWS = 256


def ssim(clean: np.ndarray, estimate: np.ndarray) -> float:
    """SSIM of ``estimate`` clipped to [0, 1] against ``clean`` (data range 1, RGB per channel).

    scikit-image's, with its defaults: the mean over channels of each channel's SSIM map, less
    the map's outer three pixels. Images taller than two bands are computed in bands of
    :data:`SSIM_BAND_ROWS` map rows, each with the three rows its window needs on either side,
    which gives the same map in a bounded amount of memory.
    """
    clean, estimate = np.asarray(clean), np.clip(estimate, 0, 1)
    if clean.ndim == 2:
        clean, estimate = clean[:, :, None], estimate[:, :, None]
    height = clean.shape[0]
    if height <= 2 * SSIM_BAND_ROWS:
        channel_axis = 2 if clean.shape[2] > 1 else None
        if channel_axis is None:
            clean, estimate = clean[:, :, 0], estimate[:, :, 0]
        return float(
            structural_similarity(clean, estimate, data_range=1.0, channel_axis=channel_axis, win_size=SSIM_WINDOW)
        )
    pad = (SSIM_WINDOW - 1) // 2
    means = []
    for channel in range(clean.shape[2]):
        total, count = 0.0, 0
        for top in range(pad, height - pad, SSIM_BAND_ROWS):
            bottom = min(top + SSIM_BAND_ROWS, height - pad)
            rows = slice(top - pad, bottom + pad)
            _, ssim_map = structural_similarity(
                clean[rows, :, channel], estimate[rows, :, channel], data_range=1.0, win_size=SSIM_WINDOW, full=True
            )
            kept = ssim_map[pad:-pad, pad:-pad]
            total += float(kept.sum(dtype=np.float64))
            count += kept.size
        means.append(total / count)
    return float(np.mean(means))


def luminance_chroma_psnr(clean: np.ndarray, estimate: np.ndarray) -> tuple[float, float]:
    """Split the error of a colour ``estimate`` (clipped to [0, 1]) into luminance and chroma.

    The error's mean over the channels is its luminance part; what is left in each channel
    (which sums to zero over the channels) is its chroma part. Their mean squares add up to
    the error's, so each PSNR is the one the image would have with only that part of the error.

    Parameters
    ----------
    clean, estimate : ndarray
        H x W x 3 images in [0, 1].

    Returns
    -------
    tuple of float
        PSNR in dB of the luminance part and of the chroma part (data range 1).

    Raises
    ------
    ValueError
        If the images are not H x W x 3 of the same shape.

    """
    if clean.shape != estimate.shape or clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected two H x W x 3 images of one shape, got {clean.shape} and {estimate.shape}")
    error = np.clip(estimate, 0, 1).astype(np.float64) - clean
    luminance = error.mean(axis=2, keepdims=True)
    squares = (float(np.mean(luminance**2)), float(np.mean((error - luminance) ** 2)))
    return tuple(float(10 * np.log10(1 / square)) if square > 0 else float("inf") for square in squares)
