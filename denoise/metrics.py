"""Image quality metrics under the evaluation convention of the published tables."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["psnr", "ssim"]


def psnr(clean: np.ndarray, estimate: np.ndarray) -> float:
    """PSNR in dB of ``estimate`` clipped to [0, 1] against ``clean`` (data range 1)."""
    return float(peak_signal_noise_ratio(clean, np.clip(estimate, 0, 1), data_range=1.0))


def ssim(clean: np.ndarray, estimate: np.ndarray) -> float:
    """SSIM of ``estimate`` clipped to [0, 1] against ``clean`` (data range 1, RGB per channel)."""
    clean, estimate = np.squeeze(clean), np.squeeze(np.clip(estimate, 0, 1))
    channel_axis = 2 if clean.ndim == 3 else None
    return float(structural_similarity(clean, estimate, data_range=1.0, channel_axis=channel_axis))
