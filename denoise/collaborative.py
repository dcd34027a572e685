"""Collaborative Wiener filtering: a photo's similar blocks, denoised together, guided by a pilot.

A photo of buildings, text or fabric repeats its structure: a block of 8 x 8 pixels has close
copies elsewhere in the photo. Stacked, their common part stands out of the noise, which the copies
do not share. This is the second stage of BM3D (Dabov et al., "Image denoising by sparse 3-D
transform-domain collaborative filtering", IEEE TIP 2007): blocks are matched on a *pilot*
estimate of the clean image, the noisy blocks of each group are taken to a 3-D transform (a 2-D
DCT of each block, then one across the group), each coefficient is scaled by the empirical Wiener
gain that the pilot's coefficient gives, ``pilot² / (pilot² + sigma²)``, and the blocks, back in
pixels, are averaged where they overlap, each group weighted by how much noise it kept.

Here the pilot is a network's result (:class:`denoise.compose.GuidedWiener`): the network knows
what photos look like, the filter what this photo repeats. It needs the noise's variance in each
coefficient of a block's transform. Where the noise is white Gaussian of a known sigma (noise the
app or the command line added, :func:`denoise.adaptation.adapt`) that is sigma² in every one.
Where a photo came noisy, its noise is neither white (demosaicing and JPEG leave it in blotches,
mostly in the low frequencies and the colour) nor known: :func:`noise_spectrum` measures it in
the pilot's residual, as Mäkinen et al. filter correlated noise by its power spectrum
("Collaborative filtering of correlated noise", IEEE TIP 2020). Colour images are filtered in an
orthonormal opponent colour space (white noise stays white of the same sigma in each channel),
with blocks matched on its luminance.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "BLOCK_SIZE",
    "GROUP_SIZE",
    "RESIDUAL_SCALE",
    "SEARCH_RADIUS",
    "STEP",
    "collaborative_wiener",
    "noise_spectrum",
]

#: Side of the blocks (BM3D's Wiener stage uses 8).
BLOCK_SIZE = 8
#: Pixels between the reference blocks, down and across (BM3D: 3).
STEP = 3
#: How far from a reference block its matches are looked for, each way: a 51 x 51 window (BM3D:
#: 39 x 39; the wider one gained 0.1 dB more on Urban100 images the benchmark does not score).
SEARCH_RADIUS = 25
#: Blocks per group, the reference among them (BM3D's Wiener stage: up to 32).
GROUP_SIZE = 16
#: What :func:`noise_spectrum` multiplies the residual's variance by. A network's residual holds
#: less than the noise (it leaves some noise in, most of it low-frequency), and the filter gains
#: most with variances well above it: 16 was best of 4, 16, 64 and 256 in each half of PolyU's
#: test scenes (two-fold cross-validation by scene, guided by the photo model; docs/benchmarks.md).
RESIDUAL_SCALE = 16.0
#: Reference blocks transformed at a time: bounds the memory of the groups (about 50 MB in colour).
_CHUNK = 4096
#: Rows of reference blocks matched at a time: bounds the memory of their distances (about 60 MB
#: for a 4000-pixel-wide photo).
_MATCH_ROWS = 24
#: Rows: luminance, red against blue, green against red and blue; orthonormal.
OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [0.5, -1, 0.5]], np.float64) / np.sqrt([[3.0], [2.0], [1.5]])


def collaborative_wiener(
    noisy: np.ndarray,
    pilot: np.ndarray,
    noise: float | np.ndarray,
    *,
    block_size: int = BLOCK_SIZE,
    step: int = STEP,
    search_radius: int = SEARCH_RADIUS,
    group_size: int = GROUP_SIZE,
) -> np.ndarray:
    """Filter ``noisy``'s groups of similar blocks with Wiener gains from ``pilot`` (see the module docstring).

    Parameters
    ----------
    noisy : ndarray
        H x W or H x W x C (C = 1 or 3) float image.
    pilot : ndarray
        An estimate of the clean image, ``noisy``'s shape: it places the blocks and sets the gains.
    noise : float or ndarray
        White Gaussian noise's standard deviation on the images' scale (0-1 images: sigma /
        255), or the noise's variance in each coefficient of a block's 2-D DCT, C x block x
        block, in the filter's colour space (:func:`noise_spectrum`).
    block_size, step, search_radius, group_size : int
        The blocks' side, the pixels between reference blocks, how far matches are looked for and
        how many blocks make a group.

    Returns
    -------
    ndarray
        float32, ``noisy``'s shape; where no block reaches (never, with ``step`` at most
        ``block_size``) the pilot.

    Raises
    ------
    ValueError
        If the shapes differ, the image is smaller than a block or has another channel count, or
        the noise is not positive or its spectrum not of C x block x block.

    """
    image, guide = _filter_space(noisy, pilot, block_size)
    height, width, channels = image.shape
    variance = _variance(noise, (channels, block_size, block_size))
    rows, columns = _positions(height, block_size, step), _positions(width, block_size, step)
    offsets = _best_offsets(guide[:, :, 0], rows, columns, block_size, search_radius, group_size)
    numerator = np.zeros((channels, height * width), np.float64)
    denominator = np.zeros_like(numerator)
    window = np.outer(*[np.kaiser(block_size, 2.0)] * 2).astype(np.float32)
    noisy_blocks = sliding_window_view(image, (block_size, block_size), axis=(0, 1))
    pilot_blocks = sliding_window_view(guide, (block_size, block_size), axis=(0, 1))
    tops = np.repeat(rows, len(columns))[:, None] + offsets[..., 0]
    lefts = np.tile(columns, len(rows))[:, None] + offsets[..., 1]
    inside = np.arange(block_size)
    for start in range(0, len(tops), _CHUNK):
        top, left = tops[start : start + _CHUNK], lefts[start : start + _CHUNK]
        estimate, weight = _filter_groups(noisy_blocks[top, left], pilot_blocks[top, left], variance)
        pixels = ((top[..., None, None] + inside[:, None]) * width + left[..., None, None] + inside).ravel()
        for channel in range(channels):
            weighted = weight[:, channel, None, None, None] * window
            numerator[channel] += np.bincount(
                pixels, (estimate[:, :, channel] * weighted).ravel(), minlength=height * width
            )
            denominator[channel] += np.bincount(
                pixels, np.broadcast_to(weighted, estimate[:, :, channel].shape).ravel(), minlength=height * width
            )
    guide_flat = guide.reshape(-1, channels).T
    result = np.where(denominator > 0, numerator / np.maximum(denominator, 1e-30), guide_flat)
    result = result.T.reshape(height, width, channels).astype(np.float32)
    if channels == 3:
        result = np.einsum("hwd,dc->hwc", result, OPPONENT.astype(np.float32))  # back from _filter_space's
    return result.reshape(np.shape(noisy))


def noise_spectrum(
    noisy: np.ndarray, pilot: np.ndarray, *, block_size: int = BLOCK_SIZE, scale: float = RESIDUAL_SCALE
) -> np.ndarray:
    """Measure the noise's variance in each coefficient of a block's 2-D DCT, from ``noisy - pilot``.

    The residual is cut into blocks (in the filter's opponent colour space for colour images),
    each taken to its 2-D DCT, and each coefficient's mean square over the blocks is the
    spectrum, times ``scale``; the residual's mean in each channel (a brightness the pilot
    moved) is left out. It assumes the noise is alike all over the image (its spectrum does not
    change from place to place), and counts as noise what the pilot took away.

    Parameters
    ----------
    noisy, pilot : ndarray
        H x W or H x W x C (C = 1 or 3) float images of one shape, each at least a block a side.
    block_size : int, default BLOCK_SIZE
        The blocks' side, the filter's.
    scale : float, default RESIDUAL_SCALE
        What the residual's variance is multiplied by.

    Returns
    -------
    ndarray
        float32, C x block x block, for :func:`collaborative_wiener`'s ``noise``.

    Raises
    ------
    ValueError
        As :func:`collaborative_wiener`: if the shapes differ, or the image is smaller than a
        block or has another channel count.

    """
    image, guide = _filter_space(noisy, pilot, block_size)
    residual = image - guide  # the opponent transform is linear: the residual's own
    height, width, _ = residual.shape
    residual -= residual.mean(axis=(0, 1))
    rows, columns = height // block_size, width // block_size
    blocks = residual[: rows * block_size, : columns * block_size].reshape(rows, block_size, columns, block_size, -1)
    transform = _dct_matrix(block_size)
    spectra = np.einsum("ij,rjckd,lk->rcdil", transform, blocks, transform, optimize=True)
    return (scale * np.mean(np.square(spectra), axis=(0, 1))).astype(np.float32)


def _variance(noise: float | np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Return the noise's variance per channel and block coefficient (``shape``), float32, checked."""
    if np.ndim(noise) == 0:
        if not float(noise) > 0:
            raise ValueError(f"sigma must be positive, got {noise}")
        return np.full(shape, float(noise) ** 2, np.float32)
    variance = np.asarray(noise, np.float32)
    if variance.shape != shape:
        raise ValueError(f"a noise spectrum of shape {variance.shape}, expected {shape}")
    if not np.all(variance > 0):  # also refuses NaN
        raise ValueError("a noise spectrum must be positive in every coefficient")
    return variance


def _filter_space(noisy: np.ndarray, pilot: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``noisy`` and ``pilot`` as H x W x C float32, colour ones in the opponent space (:data:`OPPONENT`).

    Raises
    ------
    ValueError
        If the shapes differ, or the image is smaller than a block or has another channel count
        than 1 or 3.

    """
    noisy, pilot = np.asarray(noisy, np.float32), np.asarray(pilot, np.float32)
    if noisy.shape != pilot.shape:
        raise ValueError(f"the pilot's shape {pilot.shape} is not the noisy image's {noisy.shape}")
    image, guide = (array.reshape(*array.shape[:2], -1) for array in (noisy, pilot))
    if image.shape[2] not in (1, 3) or min(image.shape[:2]) < block_size:
        raise ValueError(
            f"expected an image of 1 or 3 channels, at least {block_size} pixels a side, got {noisy.shape}"
        )
    if image.shape[2] == 3:
        opponent = OPPONENT.astype(np.float32)
        image, guide = (np.einsum("hwc,dc->hwd", array, opponent) for array in (image, guide))
    return image, guide


def _positions(length: int, block_size: int, step: int) -> np.ndarray:
    """Top (or left) of each reference block along a side: every ``step`` pixels, and the last block."""
    positions = np.arange(0, length - block_size + 1, step)
    return np.unique(np.append(positions, length - block_size))


def _best_offsets(
    guide: np.ndarray, rows: np.ndarray, columns: np.ndarray, block_size: int, radius: int, count: int
) -> np.ndarray:
    """Return, per reference block (rows by columns, row-major), the ``count`` closest blocks' offsets.

    Closeness is the sum of squared differences of the ``guide``'s blocks, for every offset in
    the search window that keeps the block inside the image. The reference itself comes first.
    Returns an int array of shape (references, count, 2): row and column offsets. Worked a strip
    of reference rows at a time (:data:`_MATCH_ROWS`): a 12-megapixel photo's distances would
    take 3 GB at once.
    """
    height, width = guide.shape
    offsets = [(down, across) for down in range(-radius, radius + 1) for across in range(-radius, radius + 1)]
    count = min(count, len(offsets))
    best = np.empty((len(rows), len(columns), count), np.int64)
    for first in range(0, len(rows), _MATCH_ROWS):
        strip = rows[first : first + _MATCH_ROWS]
        distances = np.full((len(strip), len(columns), len(offsets)), np.inf, np.float32)
        for index, (down, across) in enumerate(offsets):
            # The reference blocks whose match at this offset lies inside the image.
            row_mask = (strip + down >= 0) & (strip + down + block_size <= height)
            column_mask = (columns + across >= 0) & (columns + across + block_size <= width)
            if not row_mask.any() or not column_mask.any():
                continue
            tops = strip[row_mask]
            top, bottom = tops[0], tops[-1] + block_size
            left, right = max(0, -across), min(width, width - across)
            reference = guide[top:bottom, left:right]
            squared = np.square(reference - guide[top + down : bottom + down, left + across : right + across])
            sums = _box_sums(squared, tops - top, columns[column_mask] - left, block_size)
            distances[np.ix_(row_mask, column_mask, [index])] = sums[..., None]
        distances[:, :, offsets.index((0, 0))] = -1.0  # the reference first, whatever ties there are
        nearest = np.argpartition(distances, count - 1, axis=2)[..., :count]
        order = np.argsort(np.take_along_axis(distances, nearest, axis=2), axis=2)
        best[first : first + _MATCH_ROWS] = np.take_along_axis(nearest, order, axis=2)
    return np.asarray(offsets, np.int64)[best.reshape(len(rows) * len(columns), count)]


def _box_sums(values: np.ndarray, tops: np.ndarray, lefts: np.ndarray, side: int) -> np.ndarray:
    """Return the sums of ``values`` over the ``side`` x ``side`` blocks at ``tops`` by ``lefts`` (top-left pixels)."""
    down = np.zeros((values.shape[0] + 1, values.shape[1]), np.float32)
    np.cumsum(values, axis=0, out=down[1:])
    bands = down[tops + side] - down[tops]
    across = np.zeros((len(tops), values.shape[1] + 1), np.float32)
    np.cumsum(bands, axis=1, out=across[:, 1:])
    return across[:, lefts + side] - across[:, lefts]


def _filter_groups(noisy: np.ndarray, pilot: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wiener-filter groups (N x group x C x block x block) with the noise's ``variance`` (C x block x block).

    Returns them and each group's weight per channel: the inverse of the noise it kept. The
    transform across the group is orthonormal, so each coefficient keeps its block's variance.
    """
    count, group, channels, side, _ = noisy.shape
    blocks = np.kron(_dct_matrix(side), _dct_matrix(side))  # the 2-D DCT of a flattened block
    across = _dct_matrix(group)

    def transform(groups: np.ndarray, inverse: bool = False) -> np.ndarray:
        # As matrix products (two large ones, not many small FFTs): the blocks, then across the group.
        flat = groups.reshape(-1, side * side) @ (blocks if inverse else blocks.T)
        stacked = flat.reshape(count, group, channels * side * side)
        return np.matmul(across.T if inverse else across, stacked).reshape(groups.shape)

    spectrum = transform(noisy)
    gains = np.square(transform(pilot))
    gains /= gains + variance
    weight = 1.0 / np.maximum(np.sum(np.square(gains) * variance, axis=(1, 3, 4)), 1e-30)
    spectrum *= gains
    return transform(spectrum, inverse=True), weight.astype(np.float32)


def _dct_matrix(length: int) -> np.ndarray:
    """Return the orthonormal DCT-II matrix of ``length`` points (rows: frequencies), float32."""
    frequencies, samples = np.meshgrid(np.arange(length), np.arange(length), indexing="ij")
    matrix = np.sqrt(2 / length) * np.cos(np.pi * (2 * samples + 1) * frequencies / (2 * length))
    matrix[0] /= np.sqrt(2)
    return matrix.astype(np.float32)
