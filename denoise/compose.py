"""Image-to-image pieces that compose into a denoiser, each wrapping any other.

Every piece is a callable from an H x W x C float32 image to one of the same shape, so a
wrapper works around a Keras model, a classical method or another wrapper alike (as deepinv's
``EquivariantDenoiser(denoiser)``):

>>> from denoise.classical import non_local_means
>>> ensemble = SelfEnsemble(Classical(non_local_means, "nlm"), orientations=8)  # doctest: +SKIP
>>> restored = ensemble(noisy)                                                    # doctest: +SKIP

The pieces:

* leaves: :class:`ConvolutionalModel` (a fully convolutional Keras model on whole images),
  :class:`Patchwise` (the dense model on overlapping patches, averaged back into an image) and
  :class:`Classical` (a function such as :func:`denoise.classical.non_local_means`);
* :class:`Tiled`: overlapping tiles with a margin as wide as the inner piece's receptive field,
  so that memory stays bounded and the result is the untiled one;
* :class:`SelfEnsemble`: the average over flipped and turned copies;
* :class:`RecorruptedAverage`: the average over copies with fresh noise added, for models
  trained with the ``recorrupted`` objective;
* :class:`MatchChannels`: a grey piece on each channel of a colour image, a colour piece on a
  grey image;
* :class:`NoiseRouted`: a second piece for images whose estimated noise is low;
* :class:`LuminanceBlend`: a grey piece's result for a colour image's luminance;
* :class:`ByChannels`: one piece per channel count.

A piece that decides something from the image (routing, channels) decides it in
:meth:`Piece.resolve`, which returns the piece with its decisions made. A caller that runs
several passes over one image (self-ensemble, strength above 1) resolves once, on the image
as given, so every pass takes the same route; :attr:`Piece.name` then names what runs.
Large images report each finished tile to the callback set by :func:`reporting_tiles`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import keras
import numpy as np

from denoise.classical import estimate_noise_sigma
from denoise.collaborative import BLOCK_SIZE, collaborative_wiener, noise_spectrum
from denoise.models import LATENT_LAYER, model_stride, receptive_field
from denoise.objectives import recorrupt

__all__ = [
    "MOSAIC_ORIENTATIONS",
    "ORIENTATIONS",
    "ByChannels",
    "Classical",
    "ConstantPlanes",
    "ConvolutionalModel",
    "GuidedWiener",
    "LuminanceBlend",
    "MatchChannels",
    "MosaicEnsemble",
    "NoiseRouted",
    "Patchwise",
    "Piece",
    "RecorruptedAverage",
    "SelfEnsemble",
    "Tiled",
    "leaf_inputs",
    "leaf_models",
    "luminance",
    "orient",
    "orient_mosaic",
    "pieces_within",
    "replace_leaf",
    "reporting_tiles",
    "tile_counter",
]

#: The eight orientations of an image as (flip rows, flip columns, transpose). The first one,
#: two, four and eight each form a group (identity; a half turn; the mirrors; all), so
#: averaging over a prefix treats every direction alike.
ORIENTATIONS = (
    (False, False, False),
    (True, True, False),
    (False, True, False),
    (True, False, False),
    (False, False, True),
    (True, True, True),
    (False, True, True),
    (True, False, True),
)

#: The orientations of a packed 2 x 2 mosaic (:class:`MosaicEnsemble`): :data:`ORIENTATIONS` in
#: another order. The transpose comes second, as it needs no padding; the first one, two, four and
#: eight each form a group (identity; the transpose; with the half turn and the other diagonal; all).
MOSAIC_ORIENTATIONS = tuple(ORIENTATIONS[index] for index in (0, 4, 1, 5, 2, 3, 6, 7))

#: Called with (tiles finished in this pass, tiles in the pass) as each tile finishes.
_tile_callback: ContextVar[Callable[[int, int], None] | None] = ContextVar("tile_callback", default=None)


@contextlib.contextmanager
def reporting_tiles(callback: Callable[[int, int], None] | None) -> Iterator[None]:
    """Have every :class:`Tiled` pass in this context (thread) call ``callback(done, tiles)`` per tile."""
    token = _tile_callback.set(callback)
    try:
        yield
    finally:
        _tile_callback.reset(token)


def tile_counter(passes: int, report: Callable[[int, int], None] | None) -> Callable[[int, int], None]:
    """Return a tile callback (:func:`reporting_tiles`) that counts the tiles of ``passes`` passes together.

    Each :class:`Tiled` pass numbers its own tiles from 1; the counter calls ``report(done, total)``
    with the tiles finished over all passes so far and the tiles in all of them, so a progress
    bar runs once from start to end however many passes one call makes (orientations, strength
    above 1).
    """
    passes = max(1, passes)
    done = 0

    def count(_: int, tiles: int) -> None:
        nonlocal done
        done += 1
        if report is not None:
            report(min(done, tiles * passes), tiles * passes)

    return count


def luminance(image: np.ndarray) -> np.ndarray:
    """Return the mean of an H x W x C image's channels (H x W x 1), where noise is √C times weaker."""
    channels = image.shape[2]
    return image @ np.full((channels, 1), 1 / channels, image.dtype)  # 20 times faster than mean(axis=2)


def orient(image: np.ndarray, orientation: tuple[bool, bool, bool], *, undo: bool = False) -> np.ndarray:
    """Flip and/or transpose an H x W x C image into one of :data:`ORIENTATIONS`, or back."""
    flip_rows, flip_columns, transpose = orientation
    if transpose and undo:
        image = image.transpose(1, 0, 2)
    if flip_rows:
        image = image[::-1]
    if flip_columns:
        image = image[:, ::-1]
    if transpose and not undo:
        image = image.transpose(1, 0, 2)
    return np.ascontiguousarray(image)


def pad_to_multiple(image: np.ndarray, stride: int) -> np.ndarray:
    """Mirror-pad the bottom and right of an H x W x C image to multiples of ``stride`` (no copy if they are)."""
    height, width = image.shape[:2]
    if height % stride == 0 and width % stride == 0:
        return image
    return np.pad(image, ((0, -height % stride), (0, -width % stride), (0, 0)), mode="symmetric")


#: One tile of :meth:`Tiled.layout`: (region rows, region columns, kept rows, kept columns).
TileEntry = tuple[slice, slice, slice, slice]


def keep_tile(output: np.ndarray, entry: TileEntry, result: np.ndarray, scale: int = 1) -> None:
    """Copy the kept part of one tile's result into ``output``, whose rows are ``scale`` times fewer.

    ``scale`` is 1 for a denoised tile; for a model's code, the stride by which it is smaller.
    """
    rows, columns, kept_rows, kept_columns = entry
    kept = result[
        kept_rows.start // scale : kept_rows.stop // scale, kept_columns.start // scale : kept_columns.stop // scale
    ]
    top, left = (rows.start + kept_rows.start) // scale, (columns.start + kept_columns.start) // scale
    output[top : top + kept.shape[0], left : left + kept.shape[1]] = kept


def tile_spans(length: int, tile: int, margin: int, stride: int) -> list[tuple[slice, slice]]:
    """Cut one side of an image into tiles: each tile's region, and the part of it that is kept.

    The kept parts are as few as ``tile`` allows and of equal length (a multiple of ``stride``;
    the last may be shorter). Each region reaches ``margin`` further on each side where the
    image goes on; the last region starts further back instead of being shorter, so that (where
    the margin is shorter than a kept part) the regions at both edges have one length and those
    between them another.

    Parameters
    ----------
    length : int
        The side's length, a multiple of ``stride``.
    tile : int
        The longest kept part, a multiple of ``stride``.
    margin : int
        Context on each side of a kept part, a multiple of ``stride``.
    stride : int
        What every start and length is a multiple of.

    Returns
    -------
    list of (slice, slice)
        Each tile's region of the side, and its kept part as a slice of the region.

    """
    count = -(-length // tile)
    kept = -(-length // count)
    kept += -kept % stride  # still at most ``tile``: it is a multiple of ``stride``
    spans = []
    for start in range(0, length, kept):
        stop = min(start + kept, length)
        region_start = max(0, start - margin)
        if count > 1 and stop == length:  # the last of several: as long as the first
            region_start = max(0, min(region_start, length - kept - margin))
        region_stop = min(length, stop + margin)
        spans.append((slice(region_start, region_stop), slice(start - region_start, stop - region_start)))
    return spans


def channel_inputs(image: np.ndarray, channels: int) -> list[np.ndarray]:
    """Return what a piece of ``channels`` runs on: the image, each of its channels, or it repeated thrice."""
    if image.shape[2] == channels:
        return [image]
    if channels == 1:
        return [image[:, :, [channel]] for channel in range(image.shape[2])]
    return [np.repeat(image, 3, axis=2)]


def channel_result(image_channels: int, channels: int, results: list[np.ndarray]) -> np.ndarray:
    """Return an image's result from a piece's results on :func:`channel_inputs`."""
    if image_channels == channels:
        return results[0]
    if channels == 1:
        return np.concatenate(results, axis=2)
    return luminance(results[0])


class Piece:
    """Base of the pieces: an image-to-image callable with a name, a stride and a reach.

    Attributes
    ----------
    stride : int
        Height and width the piece computes best at multiples of (it pads to them itself).
    receptive_field : int
        How far, in pixels, each output pixel depends on the input; :class:`Tiled` keeps this
        much margin around each tile.
    tile_passes : int
        How many :class:`Tiled` passes over the image one call makes.

    """

    stride: int = 1
    receptive_field: int = 0
    tile_passes: int = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image; return float32 of the same shape."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """What runs, as a user reads it: ``unet-color + unet-gray luminance``."""
        raise NotImplementedError

    def resolve(self, image: np.ndarray) -> Piece:
        """Return this piece with every decision that depends on ``image`` made (itself if none)."""
        return self


@dataclass(frozen=True, eq=False)
class ConvolutionalModel(Piece):
    """A fully convolutional Keras model, run on the whole image padded to its stride.

    Parameters
    ----------
    model : keras.Model
        Maps ``(1, H, W, C)`` to ``(1, H, W, C)`` for H and W multiples of its stride.
    model_name : str
        The name the model goes by (its card's).
    compiled : bool, default True
        ``predict_on_batch`` (a graph under TensorFlow, XLA under JAX) rather than a direct
        call. On this project's CPU about a quarter faster, first call included; on the H200
        a 12-megapixel photo takes 301 ms against 367 ms. The results are the same.

    """

    model: keras.Model
    model_name: str
    compiled: bool = True

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return self.model_name

    @property
    def channels(self) -> int:
        """Image channels the model takes."""
        return int(self.model.input_shape[-1])

    @functools.cached_property
    def stride(self) -> int:
        """Return the stride it pads to (:class:`Piece`)."""
        return model_stride(self.model)

    @functools.cached_property
    def receptive_field(self) -> int:
        """Return how far its output reaches into the input (:class:`Piece`)."""
        return receptive_field(self.model)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        height, width = image.shape[:2]
        padded = pad_to_multiple(image, self.stride)
        return self._run(self.model, padded)[:height, :width]

    def _run(self, model: keras.Model, image: np.ndarray) -> np.ndarray:
        if self.compiled:
            return np.asarray(model.predict_on_batch(image[None]))[0]
        return keras.ops.convert_to_numpy(model(image[None], training=False))[0]

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the bottleneck's feature maps for an image padded to the stride: (h, w, latent)."""
        return self._run(self._encoder, pad_to_multiple(image, self.stride))

    @functools.cached_property
    def _encoder(self) -> keras.Model:
        return keras.Model(self.model.input, self.model.get_layer(LATENT_LAYER).output)


@dataclass(frozen=True, eq=False)
class Patchwise(Piece):
    """The dense autoencoder on overlapping patches, averaged back into an image.

    Patches are laid every ``step`` pixels over the image mirror-padded by ``patch_size -
    step``, so every pixel is covered by the same number of patches.

    Parameters
    ----------
    model : keras.Model
        Maps ``(N, patch_size² × C)`` flattened patches to the same.
    model_name : str
        The name the model goes by.
    patch_size : int
        Side of the patches.
    step : int, default 4
        Distance between neighbouring patches.

    """

    model: keras.Model
    model_name: str
    patch_size: int
    step: int = 4

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return self.model_name

    @property
    def channels(self) -> int:
        """Image channels the model takes."""
        return int(self.model.input_shape[-1]) // self.patch_size**2

    @property
    def stride(self) -> int:
        """Return the stride it pads to (:class:`Piece`)."""
        return self.step

    @property
    def receptive_field(self) -> int:
        """Return how far its output reaches into the input (:class:`Piece`)."""
        return self.patch_size - 1

    def patches(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Return the flattened patches laid every ``step`` pixels, and their grid's rows and columns."""
        size = self.patch_size
        windows = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))
        windows = windows[:: self.step, :: self.step]  # rows, columns, C, p, p
        grid = windows.shape[:2]
        return windows.transpose(0, 1, 3, 4, 2).reshape(grid[0] * grid[1], -1), grid

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        height, width = image.shape[:2]
        padded_to_step = pad_to_multiple(image, self.step)
        border = self.patch_size - self.step
        padded = np.pad(padded_to_step, ((border, border), (border, border), (0, 0)), mode="symmetric")
        patches, grid = self.patches(padded)
        outputs = np.asarray(self.model.predict(patches, batch_size=8192, verbose=0))
        folded = self._fold(outputs.reshape(-1, self.patch_size, self.patch_size, image.shape[2]), grid)
        return folded[border : border + height, border : border + width]

    def _fold(self, patches: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
        """Average overlapping patches laid out every ``step`` pixels back into an image."""
        rows, columns = grid
        step = self.step
        blocks = self.patch_size // step
        channels = patches.shape[-1]
        patches = patches.reshape(rows, columns, blocks, step, blocks, step, channels)
        total = np.zeros((rows + blocks - 1, step, columns + blocks - 1, step, channels), np.float32)
        count = np.zeros((rows + blocks - 1, 1, columns + blocks - 1, 1, 1), np.float32)
        for block_row in range(blocks):
            for block_column in range(blocks):
                target = (slice(block_row, block_row + rows), slice(None), slice(block_column, block_column + columns))
                total[target] += patches[:, :, block_row, :, block_column].transpose(0, 2, 1, 3, 4)
                count[target] += 1
        total /= count
        return total.reshape((rows + blocks - 1) * step, (columns + blocks - 1) * step, channels)

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the code of each patch laid out on the patch grid: (rows, columns, latent).

        Raises
        ------
        ValueError
            If the image is smaller than one patch.

        """
        patches, grid = self.patches(image)
        if grid[0] == 0 or grid[1] == 0:
            raise ValueError(f"image is smaller than the {self.patch_size}-pixel patch")
        return np.asarray(self._encoder.predict(patches, batch_size=8192, verbose=0)).reshape(*grid, -1)

    @functools.cached_property
    def _encoder(self) -> keras.Model:
        return keras.Model(self.model.input, self.model.get_layer(LATENT_LAYER).output)


@dataclass(frozen=True, eq=False)
class Classical(Piece):
    """A classical denoiser with scikit-image's call shape, ``function(image, sigma)``.

    Parameters
    ----------
    function : callable
        Such as :func:`denoise.classical.non_local_means`; ``sigma`` None means estimated.
    method_name : str
        Its name in reports.
    sigma : float, optional
        The noise standard deviation on the 0-1 scale; estimated from each image when None.

    """

    function: Callable[[np.ndarray, float | None], np.ndarray]
    method_name: str
    sigma: float | None = None

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return self.method_name

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        return np.asarray(self.function(image, self.sigma), np.float32).reshape(image.shape)


@dataclass(frozen=True, eq=False)
class _Wrapper(Piece):
    """A piece around one inner piece; by default it passes stride, reach and name through."""

    inner: Piece

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return self.inner.name

    @property
    def stride(self) -> int:
        """Return the stride it pads to (:class:`Piece`)."""
        return self.inner.stride

    @property
    def receptive_field(self) -> int:
        """Return how far its output reaches into the input (:class:`Piece`)."""
        return self.inner.receptive_field

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.inner.tile_passes

    def resolve(self, image: np.ndarray) -> Piece:
        """Make the decisions that depend on ``image`` (:meth:`Piece.resolve`)."""
        resolved = self.inner.resolve(image)
        return self if resolved is self.inner else dataclasses.replace(self, inner=resolved)


@dataclass(frozen=True, eq=False)
class Tiled(_Wrapper):
    """Run the inner piece tile by tile, each with a margin as wide as its receptive field.

    Each tile is computed with ``margin`` pixels of context on every side and only its centre
    is kept, so the result equals the untiled one (up to float rounding) with no seams, while
    memory stays bounded by the tile size.

    Parameters
    ----------
    inner : Piece
        The piece to run.
    tile_size : int, default 1024
        Side of the part of each tile that is kept (rounded down to the inner stride).
    margin : int, optional
        Context kept around each tile; the inner piece's receptive field when None.

    """

    tile_size: int = 1024
    margin: int | None = None

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return 1

    def layout(self, height: int, width: int) -> list[TileEntry]:
        """Return each tile's region of the stride-padded image and the part of it that is kept.

        Each entry is ``(region rows, region columns, kept rows, kept columns)``: the region
        is what the inner piece runs on, the kept slices index its result. One entry covers a
        small image whole. Each side is cut into as few kept spans as the tile size allows,
        of equal length (:func:`tile_spans`), so that regions come in at most two sizes a side:
        a runtime sets up each new shape once, and a 12-megapixel photo then has 4, not 9.
        """
        stride = self.inner.stride
        padded_height, padded_width = height + -height % stride, width + -width % stride
        tile = max(stride, self.tile_size - self.tile_size % stride)
        margin = self.inner.receptive_field if self.margin is None else self.margin
        margin += -margin % stride
        if padded_height <= tile + 2 * margin and padded_width <= tile + 2 * margin:
            whole = (slice(0, padded_height), slice(0, padded_width))
            return [(*whole, *whole)]
        return [
            (rows, columns, kept_rows, kept_columns)
            for rows, kept_rows in tile_spans(padded_height, tile, margin, stride)
            for columns, kept_columns in tile_spans(padded_width, tile, margin, stride)
        ]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        height, width = image.shape[:2]
        padded = pad_to_multiple(image, self.inner.stride)
        layout = self.layout(height, width)
        callback = _tile_callback.get()
        output = None
        for done, entry in enumerate(layout, start=1):
            result = self.inner(padded[entry[0], entry[1]])
            if len(layout) == 1:
                output = result
            else:
                if output is None:
                    output = np.empty(padded.shape[:2] + result.shape[2:], np.float32)
                keep_tile(output, entry, result)
            if callback is not None:
                callback(done, len(layout))
        return output[:height, :width]


@dataclass(frozen=True, eq=False)
class SelfEnsemble(_Wrapper):
    """Average the inner piece over flipped and turned copies of each image (geometric self-ensemble).

    Each copy costs a full run; the average of eight gains about 0.1 dB (grey) to 0.2 dB
    (colour) over one on the test sets (``benchmarks/benchmark.py --orientations``).

    Parameters
    ----------
    inner : Piece
        The piece to run.
    orientations : {1, 2, 4, 8}, default 8
        How many of :data:`ORIENTATIONS` to average: the sizes of their groups.

    Raises
    ------
    ValueError
        If ``orientations`` is not 1, 2, 4 or 8.

    """

    orientations: int = 8

    def __post_init__(self) -> None:
        if self.orientations not in (1, 2, 4, 8):
            raise ValueError(f"orientations must be one of 1, 2, 4, 8, got {self.orientations}")

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.orientations * self.inner.tile_passes

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        total = self.inner(image)
        for orientation in ORIENTATIONS[1 : self.orientations]:
            total += orient(self.inner(orient(image, orientation)), orientation, undo=True)
        total /= self.orientations  # in place: a copy of a 12-megapixel photo costs tens of milliseconds
        return total


@dataclass(frozen=True, eq=False)
class RecorruptedAverage(_Wrapper):
    """Average the inner piece over copies of each image with fresh Gaussian noise added.

    A model trained with the ``recorrupted`` objective (:func:`denoise.objectives.recorrupt`)
    learned from inputs carrying ``alpha sigma`` more noise than the images; its estimate is the
    mean of its results on such recorrupted copies, as Pang et al.'s own evaluation takes it
    (50 copies, in their ``test_AWGN.py``). Each copy costs a full run. The noise is drawn from
    ``seed`` anew at each call, so one image always gets the same result.

    Parameters
    ----------
    inner : Piece
        The piece to run.
    sigma : float
        The images' known noise standard deviation, 0-1 scale.
    count : int, default 8
        How many recorrupted copies to average; at least 1.
    seed : int, default 0
        Seed of the added noise.

    Raises
    ------
    ValueError
        If ``count`` is below 1 or ``sigma`` is not above 0.

    """

    sigma: float = 0.0
    count: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be above 0, got {self.sigma}")

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.count * self.inner.tile_passes

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        rng = np.random.default_rng(self.seed)
        total = self.inner(recorrupt(image, self.sigma, rng)[0])
        for _ in range(self.count - 1):
            total += self.inner(recorrupt(image, self.sigma, rng)[0])
        total /= np.float32(self.count)
        return total


@dataclass(frozen=True, eq=False)
class GuidedWiener(_Wrapper):
    """Filter the image's similar blocks together, guided by the inner piece's result (BM3D's second stage).

    The inner piece's result is the pilot of :func:`denoise.collaborative.collaborative_wiener`:
    it places the blocks and sets the Wiener gains with which the image's own noisy blocks are
    filtered. The network knows what photos look like, the filter what this photo repeats
    (Urban100's buildings): guided by an adapted default it gains 0.1-0.5 dB more on Urban100,
    guided by the photo model about 0.5 dB on PolyU's real camera noise (``docs/benchmarks.md``).
    The filter needs the noise: white Gaussian noise of a known ``sigma``, or else the spectrum
    it measures in each image's residual from the pilot
    (:func:`denoise.collaborative.noise_spectrum`). Images above ``max_megapixels`` get the pilot
    alone: the filter takes about 25 s a megapixel on 2 cores.

    Parameters
    ----------
    inner : Piece
        The piece whose result guides the filter.
    sigma : float, optional
        The images' known noise standard deviation, 0-1 scale; None: measured in each image.
    max_megapixels : float, default 2.0
        Larger images get the pilot alone.

    Raises
    ------
    ValueError
        If ``sigma`` is given and not above 0.

    """

    sigma: float | None = None
    max_megapixels: float = 2.0

    def __post_init__(self) -> None:
        if self.sigma is not None and not self.sigma > 0:
            raise ValueError(f"sigma must be above 0, got {self.sigma}")

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return f"{self.inner.name} + collaborative Wiener"

    def too_large(self, image: np.ndarray) -> bool:
        """Whether ``image`` is above :attr:`max_megapixels`, and so gets the pilot alone."""
        return image.shape[0] * image.shape[1] > self.max_megapixels * 1e6

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        pilot = self.inner(image)
        if self.too_large(image) or min(image.shape[:2]) < BLOCK_SIZE:
            return pilot
        noise = noise_spectrum(image, pilot) if self.sigma is None else self.sigma
        return collaborative_wiener(image, pilot, noise)


@dataclass(frozen=True, eq=False)
class ConstantPlanes(_Wrapper):
    """Give the inner piece planes of one value beside the image's channels: a level it is told.

    The raw model takes its noise level as planes beside the packed mosaic. Inside
    :class:`Tiled` they are made for each tile alone, so they cost no memory over the whole
    image (a 60-megapixel raw's would take 0.5 GB, with their copy for a second orientation).

    Parameters
    ----------
    inner : Piece
        The piece that takes the image's channels and then the planes.
    value : float, default 0.0
        The planes' value (set for each call with :func:`dataclasses.replace`).
    count : int, default 4
        How many planes.

    """

    value: float = 0.0
    count: int = 4

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Run the inner piece on the H x W x C image with ``count`` planes of ``value`` after its channels."""
        planes = np.full((*image.shape[:2], self.count), self.value, np.float32)
        return self.inner(np.concatenate([image, planes], axis=-1))


@dataclass(frozen=True, eq=False)
class MosaicEnsemble(_Wrapper):
    """Average the inner piece over orientations of a packed 2 x 2 mosaic that keep its pattern.

    The channels come in groups of four, the cell's (0, 0), (0, 1), (1, 0) and (1, 1) pixels,
    as :func:`denoise.raw.pack` makes them (R, G, G, B for any Bayer pattern). A transpose keeps
    the pattern, with the two greens exchanged. A flip would not: the mosaic is first extended
    by one pixel of reflection on the flipped side, so the flipped mosaic starts with the same
    colour (Liu et al., "Learning Raw Image Denoising with Bayer Pattern Unification and Bayer
    Preserving Augmentation", CVPRW 2019), and the result is cut back. Each run costs a full pass.

    Parameters
    ----------
    inner : Piece
        The piece to run on the packed mosaic (any number of groups in, one or more out).
    orientations : {1, 2, 4, 8}, default 2
        How many of :data:`MOSAIC_ORIENTATIONS` to average: the mosaic as it is, then
        transposed (no padding), then turned half round, then mirrored.

    Raises
    ------
    ValueError
        If ``orientations`` is not 1, 2, 4 or 8; when called, if the channels are not groups of four.

    """

    orientations: int = 2

    def __post_init__(self) -> None:
        if self.orientations not in (1, 2, 4, 8):
            raise ValueError(f"orientations must be one of 1, 2, 4, 8, got {self.orientations}")

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.orientations * self.inner.tile_passes

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 packed mosaic, C a multiple of four."""
        if image.shape[2] % 4:
            raise ValueError(f"a packed mosaic has channels in groups of four, got {image.shape[2]}")
        total = self.inner(image)
        for orientation in MOSAIC_ORIENTATIONS[1 : self.orientations]:
            total += orient_mosaic(self.inner(orient_mosaic(image, orientation)), orientation, undo=True)
        total /= np.float32(self.orientations)
        return total


def orient_mosaic(planes: np.ndarray, orientation: tuple[bool, bool, bool], *, undo: bool = False) -> np.ndarray:
    """Turn a packed 2 x 2 mosaic into one of :data:`MOSAIC_ORIENTATIONS` keeping its pattern, or back.

    A flip makes the mosaic one packed row or column longer (see :class:`MosaicEnsemble`);
    ``undo`` takes a result of that size back to the original's.
    """
    flip_rows, flip_columns, transpose = orientation
    if transpose and undo:
        planes = _transpose_cells(planes)
    for axis, flip in ((0, flip_rows), (1, flip_columns)):
        if flip:
            planes = _unflip_cells(planes, axis) if undo else _flip_cells(planes, axis)
    if transpose and not undo:
        planes = _transpose_cells(planes)
    return np.ascontiguousarray(planes)


def _transpose_cells(planes: np.ndarray) -> np.ndarray:
    """Transpose a packed mosaic: each cell's (0, 1) and (1, 0) pixels exchange channels."""
    order = [group + (index % 2) * 2 + index // 2 for group in range(0, planes.shape[2], 4) for index in range(4)]
    return planes.transpose(1, 0, 2)[..., order[: planes.shape[2]]]


def _odd_along(planes: np.ndarray, axis: int) -> np.ndarray:
    """Return which channels hold the cells' second row (``axis`` 0) or second column (1)."""
    index = np.arange(planes.shape[2]) % 4
    return (index // 2 if axis == 0 else index % 2).astype(bool)


def _along(axis: int, part: slice | int, channels: np.ndarray) -> tuple:
    """Index ``part`` along ``axis`` (0 or 1) of the chosen ``channels``."""
    return (part, slice(None), channels) if axis == 0 else (slice(None), part, channels)


def _flip_cells(planes: np.ndarray, axis: int) -> np.ndarray:
    """Extend the mosaic by one reflected pixel on each side along ``axis`` and flip it, as packed planes.

    In packed planes, the reflected pixel is a repeated edge: at the start for the channels of
    the cells' second row or column, at the end for the others.
    """
    odd = _odd_along(planes, axis)
    even = ~odd
    length = planes.shape[axis]
    shape = list(planes.shape)
    shape[axis] = length + 1
    extended = np.empty(shape, planes.dtype)
    extended[_along(axis, slice(1, None), odd)] = planes[..., odd]
    extended[_along(axis, 0, odd)] = planes[_along(axis, 0, odd)]
    extended[_along(axis, slice(0, length), even)] = planes[..., even]
    extended[_along(axis, length, even)] = planes[_along(axis, length - 1, even)]
    return np.flip(extended, axis)


def _unflip_cells(planes: np.ndarray, axis: int) -> np.ndarray:
    """Invert :func:`_flip_cells` on a result: flip back and drop the extended pixel."""
    flipped = np.flip(planes, axis)
    odd = _odd_along(planes, axis)
    length = planes.shape[axis] - 1
    shape = list(planes.shape)
    shape[axis] = length
    result = np.empty(shape, planes.dtype)
    result[..., odd] = flipped[_along(axis, slice(1, None), odd)]
    result[..., ~odd] = flipped[_along(axis, slice(0, length), ~odd)]
    return result


@dataclass(frozen=True, eq=False)
class MatchChannels(_Wrapper):
    """Fit images to the inner piece's channels.

    A grey piece runs on each channel of a colour image; a colour piece on a grey image
    repeated three times, and its result's luminance is kept.

    Parameters
    ----------
    inner : Piece
        The piece to run.
    channels : {1, 3}
        The channels it takes.

    """

    channels: int = 1

    def resolve(self, image: np.ndarray) -> Piece:
        """Make the decisions that depend on ``image`` (:meth:`Piece.resolve`)."""
        inner = self.inner.resolve(image)
        if image.shape[2] == self.channels:
            return inner
        return dataclasses.replace(self, inner=inner)

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.inner.tile_passes * (3 if self.channels == 1 else 1)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        results = [self.inner(model_input) for model_input in channel_inputs(image, self.channels)]
        return channel_result(image.shape[2], self.channels, results)


@dataclass(frozen=True, eq=False)
class NoiseRouted(_Wrapper):
    """Run ``low_noise`` instead of the inner piece on images whose estimated noise is low.

    Parameters
    ----------
    inner : Piece
        The piece for most images.
    low_noise : Piece
        The piece trained for low noise.
    below_sigma : float
        It runs on images whose estimated noise standard deviation (0-255 scale,
        :func:`denoise.classical.estimate_noise_sigma`) is below this; images too small to
        estimate go to ``inner``.

    """

    low_noise: Piece = field(default=None)
    below_sigma: float = 0.0

    def resolve(self, image: np.ndarray) -> Piece:
        """Make the decisions that depend on ``image`` (:meth:`Piece.resolve`)."""
        try:
            low = estimate_noise_sigma(image) * 255 < self.below_sigma
        except ValueError:  # too small to tell
            low = False
        return (self.low_noise if low else self.inner).resolve(image)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        return self.resolve(image)(image)


@dataclass(frozen=True, eq=False)
class LuminanceBlend(Piece):
    """Have a grey piece denoise a colour image's luminance too, and blend it into the colour result.

    The channels' mean carries Gaussian noise √3 times weaker than each channel, which a grey
    model, trained longer, removes better; the colour differences stay the colour piece's. The
    result's luminance becomes ``weight`` × the grey piece's plus ``1 - weight`` × the colour
    piece's own.

    Parameters
    ----------
    colour : Piece
        Denoises the colour image.
    grey : Piece
        Denoises its luminance (:func:`luminance`).
    weight : float
        Share of the grey piece's luminance, above 0 and at most 1.

    """

    colour: Piece
    grey: Piece
    weight: float

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return f"{self.colour.name} + {self.grey.name} luminance"

    @property
    def stride(self) -> int:
        """Return the stride it pads to (:class:`Piece`)."""
        return int(np.lcm(self.colour.stride, self.grey.stride))

    @property
    def receptive_field(self) -> int:
        """Return how far its output reaches into the input (:class:`Piece`)."""
        return max(self.colour.receptive_field, self.grey.receptive_field)

    @property
    def tile_passes(self) -> int:
        """Return the tiled passes per call (:class:`Piece`)."""
        return self.colour.tile_passes + self.grey.tile_passes

    def resolve(self, image: np.ndarray) -> Piece:
        """Make the decisions that depend on ``image`` (:meth:`Piece.resolve`)."""
        return dataclasses.replace(self, colour=self.colour.resolve(image), grey=self.grey.resolve(luminance(image)))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        result = self.colour(image)
        grey = self.grey(luminance(image))
        # The same amount added to R, G and B moves their mean and leaves their differences.
        result += self.weight * (grey - luminance(result))
        return result


@dataclass(frozen=True, eq=False)
class ByChannels(Piece):
    """One piece per channel count: grey images to ``pieces[1]``, colour to ``pieces[3]``.

    An image whose channel count has no piece goes to the first piece given.
    """

    pieces: dict[int, Piece]

    def _pick(self, image: np.ndarray) -> Piece:
        return self.pieces.get(image.shape[2]) or next(iter(self.pieces.values()))

    @property
    def name(self) -> str:
        """Name of what runs (:attr:`Piece.name`)."""
        return " | ".join(piece.name for piece in self.pieces.values())

    def resolve(self, image: np.ndarray) -> Piece:
        """Make the decisions that depend on ``image`` (:meth:`Piece.resolve`)."""
        return self._pick(image).resolve(image)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        return self.resolve(image)(image)


def pieces_within(piece: Piece) -> Iterator[Piece]:
    """Yield ``piece`` and every piece inside it, depth first, the main (colour) path first."""
    yield piece
    if isinstance(piece, NoiseRouted):
        inner = [piece.inner, piece.low_noise]
    elif isinstance(piece, _Wrapper):
        inner = [piece.inner]
    elif isinstance(piece, LuminanceBlend):
        inner = [piece.colour, piece.grey]
    elif isinstance(piece, ByChannels):
        inner = list(piece.pieces.values())
    else:
        inner = []
    for part in inner:
        yield from pieces_within(part)


def leaf_models(piece: Piece) -> Iterator[ConvolutionalModel | Patchwise]:
    """Yield the Keras models inside a piece, the main (colour) path first."""
    for part in pieces_within(piece):
        if isinstance(part, (ConvolutionalModel, Patchwise)):
            yield part


def leaf_inputs(piece: Piece, image: np.ndarray) -> Iterator[tuple[ConvolutionalModel | Patchwise, np.ndarray, float]]:
    """Yield what each Keras model inside ``piece`` runs on when it denoises ``image``, the main path first.

    Each item is ``(leaf, model_input, noise_scale)``: a grey model gets each channel of a colour
    image, a :class:`LuminanceBlend`'s grey piece the image's :func:`luminance`, where noise
    independent between channels is ``noise_scale`` = 1 / √C times as strong. Only the models
    the image reaches are yielded (low-noise routing and the channel count are decided for it);
    the other wrappers pass it on as it is.
    """
    if isinstance(piece, (ConvolutionalModel, Patchwise)):
        yield piece, image, 1.0
    elif isinstance(piece, (NoiseRouted, ByChannels)):
        yield from leaf_inputs(piece.resolve(image), image)
    elif isinstance(piece, MatchChannels):
        for model_input in channel_inputs(image, piece.channels):
            yield from leaf_inputs(piece.inner, model_input)
    elif isinstance(piece, _Wrapper):
        yield from leaf_inputs(piece.inner, image)
    elif isinstance(piece, LuminanceBlend):
        yield from leaf_inputs(piece.colour, image)
        weaker = 1 / np.sqrt(image.shape[2])
        for leaf, model_input, scale in leaf_inputs(piece.grey, luminance(image)):
            yield leaf, model_input, float(scale * weaker)


def replace_leaf(piece: Piece, old: Piece, new: Piece) -> Piece:
    """Return ``piece`` with ``old`` (the same object: a leaf or a wrapper) replaced by ``new``; the rest is kept."""
    if piece is old:
        return new
    if isinstance(piece, NoiseRouted):
        return dataclasses.replace(
            piece, inner=replace_leaf(piece.inner, old, new), low_noise=replace_leaf(piece.low_noise, old, new)
        )
    if isinstance(piece, _Wrapper):
        return dataclasses.replace(piece, inner=replace_leaf(piece.inner, old, new))
    if isinstance(piece, LuminanceBlend):
        return dataclasses.replace(
            piece, colour=replace_leaf(piece.colour, old, new), grey=replace_leaf(piece.grey, old, new)
        )
    if isinstance(piece, ByChannels):
        return dataclasses.replace(
            piece, pieces={channels: replace_leaf(inner, old, new) for channels, inner in piece.pieces.items()}
        )
    return piece
