"""Training objectives: what a batch of noisy patches is trained towards, with or without clean copies.

Each objective turns noisy training patches into ``(inputs, targets)`` for the ordinary squared
error, so that every model and every training loop takes it unchanged. Each states what it
assumes of the noise:

``supervised``
    Targets are the clean patches. Needs clean images.
``noise2noise``
    Targets are a second noisy shot of the same scene (Lehtinen et al. 2018): the expected
    squared error to it is that to the clean image plus the noise's variance, so the minimiser
    is the same. Assumes zero-mean noise, independent between the two shots, and aligned shots
    (a burst from a tripod, two exposures of a slide).
``neighbor2neighbor``
    One noisy image is enough (Huang et al. 2021): in every 2 x 2 cell one pixel goes to the
    input and one of its two neighbours in the cell to the target, so input and target are two
    half-resolution views of the same scene with independent noise. Assumes noise independent
    from pixel to pixel and zero-mean (raw data, synthetic white noise); the model is trained
    at half resolution and, because the two views are half a pixel apart, it smooths a little.
    Huang et al.'s regularizer corrects that: given the model's own output ``f(y)`` on the whole
    noisy patch (no gradient through it) and its weight ``gamma``, their loss
    ``|f(g1 y) - g2 y|^2 + gamma |f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2`` is ``1 + gamma`` times
    the squared error to the target ``g2 y + gamma / (1 + gamma) (g1 f(y) - g2 f(y))`` plus a
    constant, so it too is an ordinary ``(inputs, targets)`` pair (:func:`neighbour_pair`).
``shuffled-neighbor2neighbor``
    For the spatially correlated noise of processed photos (demosaiced, sharpened): the patch
    is first split by pixel-shuffle downsampling (stride :data:`SHUFFLE_STRIDE`) into sub-images
    whose pixels are far enough apart that their noise is nearly independent, as AP-BSN does
    (Lee et al. 2022), then ``neighbor2neighbor`` pairs are cut from each.
``recorrupted``
    When the noise model is known (synthetic Gaussian noise of a known level): Recorrupted-to-
    Recorrupted (Pang et al. 2021) adds fresh noise ``z`` to make the input ``y + alpha sigma z``
    and the target ``y - sigma z / alpha``, whose noises are independent for Gaussian noise, so
    training on them is unbiased, at full resolution, from single noisy images.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NEIGHBOUR_OBJECTIVES",
    "NOISY_ONLY_OBJECTIVES",
    "OBJECTIVES",
    "RECORRUPTION_ALPHA",
    "SHUFFLE_STRIDE",
    "neighbour_pair",
    "neighbour_views",
    "patch_shrink",
    "recorrupt",
    "shuffle_down",
    "training_pair",
]

OBJECTIVES = ("supervised", "noise2noise", "neighbor2neighbor", "shuffled-neighbor2neighbor", "recorrupted")
#: The objectives that never look at a clean image.
NOISY_ONLY_OBJECTIVES = OBJECTIVES[1:]
#: The objectives that pair neighbouring pixels, and so take Huang et al.'s regularizer.
NEIGHBOUR_OBJECTIVES = ("neighbor2neighbor", "shuffled-neighbor2neighbor")
#: Pixel-shuffle stride of ``shuffled-neighbor2neighbor``: real sRGB noise is correlated over
#: about two pixels (demosaicing, chroma blur), so pixels three apart are nearly independent.
SHUFFLE_STRIDE = 3
#: Recorrupted-to-Recorrupted's split of the added noise between input and target (Pang et al.'s 0.5).
RECORRUPTION_ALPHA = 0.5
#: The two pixels of a 2 x 2 cell that each of the eight choices takes: (row, column) of each.
_NEIGHBOUR_CHOICES = [
    ((0, 0), (0, 1)),
    ((0, 0), (1, 0)),
    ((0, 1), (0, 0)),
    ((0, 1), (1, 1)),
    ((1, 0), (0, 0)),
    ((1, 0), (1, 1)),
    ((1, 1), (0, 1)),
    ((1, 1), (1, 0)),
]


def neighbour_views(noisy: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return two half-resolution views of N x H x W x C patches from neighbouring pixels of each 2 x 2 cell.

    In every cell, a random pixel goes to the first view and a random one of its two
    neighbours in the cell (right or left, above or below) to the second; every channel of a
    pixel goes together. H and W are cut to even sizes.
    """
    count, height, width, channels = noisy.shape
    cells = noisy[:, : height // 2 * 2, : width // 2 * 2].reshape(count, height // 2, 2, width // 2, 2, channels)
    choice = rng.integers(len(_NEIGHBOUR_CHOICES), size=(count, height // 2, width // 2))
    first = np.empty((count, height // 2, width // 2, channels), noisy.dtype)
    second = np.empty_like(first)
    for index, ((row_a, column_a), (row_b, column_b)) in enumerate(_NEIGHBOUR_CHOICES):
        chosen = choice == index
        first[chosen] = cells[:, :, row_a, :, column_a][chosen]
        second[chosen] = cells[:, :, row_b, :, column_b][chosen]
    return first, second


def neighbour_pair(
    noisy: np.ndarray, rng: np.random.Generator, denoised: np.ndarray | None = None, regularizer: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return Neighbor2Neighbor's ``(inputs, targets)`` for N x H x W x C noisy patches.

    Parameters
    ----------
    noisy : ndarray
        The noisy patches ``y``.
    rng : numpy.random.Generator
        For the choice of pixels (:func:`neighbour_views`).
    denoised : ndarray, optional
        The model's output ``f(y)`` on the same patches, for the regularizer.
    regularizer : float, default 0
        Huang et al.'s ``gamma``: the targets move from ``g2 y`` by ``gamma / (1 + gamma)`` of
        the difference between the two views of ``f(y)`` (module docstring). 0, or no
        ``denoised``, is the plain objective; the random choices are the same either way.

    """
    if denoised is None or regularizer == 0:
        return neighbour_views(noisy, rng)
    channels = noisy.shape[-1]
    # One draw of pixels for both: the two views of f(y) are taken at the same places as y's.
    first, second = neighbour_views(np.concatenate([noisy, denoised.astype(noisy.dtype)], axis=-1), rng)
    share = np.float32(regularizer / (1 + regularizer))
    return first[..., :channels], second[..., :channels] + share * (first[..., channels:] - second[..., channels:])


def shuffle_down(images: np.ndarray, stride: int = SHUFFLE_STRIDE) -> np.ndarray:
    """Pixel-shuffle downsampling: N x H x W x C into (N * stride^2) x H/stride x W/stride x C sub-images.

    Sub-image ``(i, j)`` of an image holds its pixels ``[i::stride, j::stride]``; H and W are cut
    to multiples of ``stride``.
    """
    count, height, width, channels = images.shape
    height, width = height // stride * stride, width // stride * stride
    grid = images[:, :height, :width].reshape(count, height // stride, stride, width // stride, stride, channels)
    shuffled = grid.transpose(0, 2, 4, 1, 3, 5)
    return shuffled.reshape(count * stride * stride, height // stride, width // stride, channels)


def recorrupt(
    noisy: np.ndarray, sigma: float | np.ndarray, rng: np.random.Generator, alpha: float = RECORRUPTION_ALPHA
) -> tuple[np.ndarray, np.ndarray]:
    """Recorrupted-to-Recorrupted: return ``(y + alpha sigma z, y - sigma z / alpha)`` for fresh normal ``z``.

    ``sigma`` is the known noise standard deviation (0-1 scale): a number, or one per patch.
    """
    sigma = np.asarray(sigma, np.float32).reshape((-1,) + (1,) * (noisy.ndim - 1)) if np.ndim(sigma) else sigma
    fresh = rng.standard_normal(noisy.shape).astype(np.float32) * sigma
    return noisy + np.float32(alpha) * fresh, noisy - fresh / np.float32(alpha)


def patch_shrink(objective: str) -> int:
    """Return how many times smaller than a training patch the objective's inputs are, on a side.

    A model that works at multiples of ``stride`` pixels needs patches of multiples of
    ``stride * patch_shrink(objective)``.
    """
    return {"neighbor2neighbor": 2, "shuffled-neighbor2neighbor": 2 * SHUFFLE_STRIDE}.get(objective, 1)


def training_pair(
    objective: str,
    noisy: np.ndarray,
    rng: np.random.Generator,
    *,
    clean: np.ndarray | None = None,
    second_shot: np.ndarray | None = None,
    sigma: float | np.ndarray | None = None,
    denoised: np.ndarray | None = None,
    regularizer: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a batch's ``(inputs, targets)`` under ``objective``.

    Parameters
    ----------
    objective : str
        One of :data:`OBJECTIVES`.
    noisy : ndarray
        N x H x W x C noisy patches.
    rng : numpy.random.Generator
        For the random choices of the objective.
    clean : ndarray, optional
        The clean patches (``supervised`` only).
    second_shot : ndarray, optional
        A second noisy shot of the same patches (``noise2noise`` only).
    sigma : float or ndarray, optional
        The known noise standard deviation, 0-1 scale, one or one per patch (``recorrupted`` only).
    denoised : ndarray, optional
        The model's output on ``noisy``, for the Neighbor2Neighbor regularizer (both
        ``neighbor2neighbor`` objectives; :func:`neighbour_pair`).
    regularizer : float, default 0
        The regularizer's weight ``gamma``; 0 leaves it out.

    Raises
    ------
    ValueError
        If the objective is unknown or lacks what it needs.

    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    needed = {"supervised": clean, "noise2noise": second_shot, "recorrupted": sigma}
    if objective in needed and needed[objective] is None:
        what = {"supervised": "clean images", "noise2noise": "a second noisy shot", "recorrupted": "the noise level"}
        raise ValueError(f"the {objective} objective needs {what[objective]}")
    if objective == "supervised":
        return noisy, clean
    if objective == "noise2noise":
        return noisy, second_shot
    if objective == "recorrupted":
        return recorrupt(noisy, sigma, rng)
    if objective == "shuffled-neighbor2neighbor":
        noisy = shuffle_down(noisy)
        denoised = None if denoised is None else shuffle_down(denoised)
    return neighbour_pair(noisy, rng, denoised, regularizer)
