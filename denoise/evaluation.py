"""Evaluating a denoiser on a folder of clean images under the published convention.

Images are read as float in [0, 1]; white Gaussian noise of standard deviation ``sigma / 255``
is added without clipping, with a fixed seed per image and sigma; PSNR and SSIM are computed
on the clipped output and averaged over the folder (see ``shared/data/DATA.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from denoise.image_io import IMAGE_SUFFIXES, read_image
from denoise.metrics import psnr, ssim
from denoise.noise import add_noise

__all__ = ["evaluate", "noisy_test_set"]


def noisy_test_set(
    folder: str | Path, sigma: float, channels: int | None = None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return ``(name, clean, noisy)`` for every image of ``folder``, noise seeded per image.

    ``channels`` converts every image (1: its luminance, as a grey test set); None keeps each as it is.

    Raises
    ------
    ValueError
        If the folder holds no image.

    """
    paths = sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no images found in {folder}")
    pairs = []
    for index, path in enumerate(paths):
        clean = read_image(path, channels=channels).pixels
        noisy = add_noise(clean, "gaussian", sigma, seed=[index, int(round(sigma * 100))], clip=False)
        pairs.append((path.name, clean, noisy))
    return pairs


def evaluate(
    denoise_function: Callable[[np.ndarray], np.ndarray],
    folder: str | Path,
    sigmas: Iterable[float],
    channels: int | None = None,
) -> list[dict]:
    """Measure PSNR, SSIM and speed of ``denoise_function`` on ``folder`` at each sigma.

    Parameters
    ----------
    denoise_function : callable
        Maps a noisy H x W x C float image to its estimate (e.g. ``Denoiser.denoise``).
    folder : path
        Clean test images.
    sigmas : iterable of float
        Noise standard deviations on the 0-255 scale.
    channels : int, optional
        Convert every image to this many channels first (1: grey); None keeps them.

    Returns
    -------
    list of dict
        One row per sigma: ``sigma``, ``images``, ``channels``, ``psnr``, ``ssim``, ``noisy_psnr`` and
        ``seconds_per_megapixel`` (wall-clock time of ``denoise_function`` only).

    """
    rows = []
    for sigma in sigmas:
        pairs = noisy_test_set(folder, sigma, channels)
        scores, structural, noisy_scores, seconds, megapixels = [], [], [], 0.0, 0.0
        for _, clean, noisy in pairs:
            started = time.perf_counter()
            estimate = denoise_function(noisy)
            seconds += time.perf_counter() - started
            megapixels += clean.shape[0] * clean.shape[1] / 1e6
            scores.append(psnr(clean, estimate))
            structural.append(ssim(clean, estimate))
            noisy_scores.append(psnr(clean, noisy))
        rows.append(
            {
                "sigma": sigma,
                "images": len(pairs),
                "channels": int(pairs[0][1].shape[2]),
                "psnr": float(np.mean(scores)),
                "ssim": float(np.mean(structural)),
                "noisy_psnr": float(np.mean(noisy_scores)),
                "seconds_per_megapixel": seconds / megapixels,
            }
        )
    return rows
