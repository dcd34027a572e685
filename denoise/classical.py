"""Classical denoisers to compare against: non-local means, total variation and BM3D.

BM3D comes from the optional ``bm3d`` package (non-commercial licence; ``pip install
denoise[bench]``); :func:`classical_methods` lists it only when that package is installed.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable

import numpy as np
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, estimate_sigma

__all__ = [
    "PHOTO_NOISE_STRIDE",
    "classical_methods",
    "estimate_noise_sigma",
    "non_local_means",
    "total_variation",
    "bm3d",
]


MIN_ESTIMATE_SIDE = 8  # pixels; the wavelet estimate needs some detail coefficients


#: Pixel-shuffle stride for noise that is correlated between neighbours, as in real photos.
#: On PolyU's 100 real-noise crops the stride-1 estimate reads 0.13 of the true standard
#: deviation of noisy - clean, stride 4 reads 0.72; on white Gaussian noise both read
#: 0.95-1.26 of it (``python -m benchmarks.real_noise``).
PHOTO_NOISE_STRIDE = 4


def estimate_noise_sigma(image: np.ndarray, *, stride: int = 1) -> float:
    """Estimate the noise standard deviation of an H x W x C image, on the 0-1 scale.

    Parameters
    ----------
    image : ndarray
        H x W or H x W x C float image.
    stride : int, default 1
        Estimate on the ``stride**2`` pixel-shuffled sub-images (every ``stride``-th pixel,
        from each offset) and take their median. scikit-image's wavelet estimate assumes white
        noise and reads noise that neighbouring pixels share (demosaicing, in-camera noise
        reduction) far too low; pixels ``stride`` apart share little of it
        (:data:`PHOTO_NOISE_STRIDE`). The stride is lowered as far as the image's size needs.

    Raises
    ------
    ValueError
        If the image is smaller than ``MIN_ESTIMATE_SIDE`` pixels on a side.

    """
    if min(image.shape[:2]) < MIN_ESTIMATE_SIDE:
        raise ValueError(
            f"a {image.shape[1]}×{image.shape[0]} image is too small to estimate its noise "
            f"(needs {MIN_ESTIMATE_SIDE} pixels on each side)"
        )
    stride = max(1, min(stride, min(image.shape[:2]) // MIN_ESTIMATE_SIDE))
    if stride > 1:
        shuffled = [image[row::stride, column::stride] for row in range(stride) for column in range(stride)]
        return float(np.median([estimate_noise_sigma(sub_image) for sub_image in shuffled]))
    channels = image.reshape(image.shape[0], image.shape[1], -1)
    sigmas = [_channel_noise_sigma(channels[:, :, index]) for index in range(channels.shape[2])]
    return float(np.mean(sigmas))


def _channel_noise_sigma(channel: np.ndarray) -> float:
    """scikit-image's wavelet noise estimate of one H x W channel; 0.0 where it has no detail."""
    if np.ptp(channel) == 0:
        # A flat channel has no wavelet details. Checked here rather than left to the warning
        # filter below, which is process-wide and so not reliable while other threads run.
        return 0.0
    with warnings.catch_warnings():
        # A smooth channel (a ramp) can still have no non-zero details: scikit-image warns, gives NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = float(estimate_sigma(channel))
    return sigma if np.isfinite(sigma) else 0.0


def non_local_means(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """scikit-image's fast non-local means with the usual parameters for noise ``sigma`` (0-1 scale).

    ``sigma`` is estimated from the image when not given.
    """
    sigma = estimate_noise_sigma(image) if sigma is None else sigma
    squeezed = np.squeeze(image, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image
    channel_axis = -1 if squeezed.ndim == 3 else None
    result = denoise_nl_means(
        squeezed, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=channel_axis
    )
    return np.asarray(result, np.float32).reshape(image.shape)


def total_variation(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Chambolle total-variation denoising with a weight proportional to the noise ``sigma``."""
    sigma = estimate_noise_sigma(image) if sigma is None else sigma
    channel_axis = -1 if image.ndim == 3 else None
    result = denoise_tv_chambolle(image, weight=0.9 * sigma, channel_axis=channel_axis)
    return np.asarray(result, np.float32).reshape(image.shape)


def bm3d(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """BM3D (grey) or CBM3D (colour) from the optional ``bm3d`` package.

    Raises
    ------
    ImportError
        If the ``bm3d`` package is not installed.

    """
    import bm3d as bm3d_package

    sigma = estimate_noise_sigma(image) if sigma is None else sigma
    if image.ndim == 3 and image.shape[2] == 3:
        result = bm3d_package.bm3d_rgb(image, sigma)
    else:
        result = bm3d_package.bm3d(np.squeeze(image), sigma)
    return np.asarray(result, np.float32).reshape(image.shape)


def classical_methods() -> dict[str, Callable[[np.ndarray, float | None], np.ndarray]]:
    """Return the classical denoisers available here, by display name."""
    methods = {"Non-local means": non_local_means, "Total variation": total_variation}
    if importlib.util.find_spec("bm3d") is not None:
        methods["BM3D"] = bm3d
    return methods
