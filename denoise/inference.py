"""Running trained models on images of any size: loading, tiling, denoising, encoding.

Large images go through overlapping tiles. Each tile is computed with a margin wider than the
model's receptive field and only its centre is kept, so the result equals the untiled one
(up to float rounding) with no seams, while memory stays bounded by the tile size. A shipped
model may name a second model for low noise in its card (:data:`LOW_NOISE_FIELD`); each image
then goes to one of the two by the noise level estimated from it. A family's colour model may
also have its grey model denoise each colour image's luminance (:data:`LUMINANCE_FIELD`).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from denoise.cards import CardError, check_weights, read_card
from denoise.classical import estimate_noise_sigma
from denoise.models import LATENT_LAYER, PRECISIONS, model_stride, with_precision
from denoise.strength import apply_strength

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRECISION",
    "ORIENTATION_COUNTS",
    "PRECISION_CHOICES",
    "Denoised",
    "Denoiser",
    "LOW_NOISE_FIELD",
    "PHOTO_MODEL",
    "PHOTO_NOISE_KINDS",
    "LUMINANCE_FIELD",
    "LoadedModel",
    "LowNoiseModel",
    "ModelFileError",
    "available_models",
    "device_name",
    "load_model",
    "model_for_noise",
    "native_bfloat16",
    "pretrained_dir",
    "read_model_file",
    "resolve_precision",
    "run_label",
]

#: The best-quality family for synthetic white noise, picked by ``load_model("default")``.
DEFAULT_MODEL = "unet"
#: The blind model for photos that are already noisy (real camera noise), ``load_model("photo")``.
PHOTO_MODEL = "photo"
#: Noise kinds that :data:`PHOTO_MODEL` was trained for; every other kind goes to the default.
PHOTO_NOISE_KINDS = frozenset({"camera", "correlated"})
#: Pixels computed around each tile and thrown away. The U-Net's theoretical receptive field
#: reaches about 110 pixels, but its weight beyond 64 is so small that a few seam pixels move
#: by about 2/255 at most and the PSNR does not change (``tests/test_pretrained.py``).
TILE_MARGIN = 64
#: Side of the part of each tile that is kept.
TILE_SIZE = 1024
#: Suffix of the grey and colour members of a model family.
CHANNEL_SUFFIXES = {1: "gray", 3: "color"}
#: Overlapping patch step of the dense patch autoencoder.
DENSE_PATCH_STEP = 4
#: Side of the blank images :meth:`Denoiser.warm_up` runs (a multiple of every model's stride).
WARM_UP_SIDE = 64
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
#: How many orientations a Denoiser may average: the sizes of those groups.
ORIENTATION_COUNTS = (1, 2, 4, 8)
#: Card field by which a shipped model hands low-noise images to a model trained for them:
#: ``{"model": "unet-low-gray", "below_sigma": 22}`` runs ``unet-low-gray`` instead on images
#: whose estimated noise standard deviation (0-255 scale) is below 22.
LOW_NOISE_FIELD = "low_noise"
#: Card field by which a family's colour model has the family's grey model denoise each colour
#: image's luminance too: ``{"weight": 0.75}`` makes the result's luminance (the mean of its
#: channels) 0.75 × the grey model's plus 0.25 × the colour model's own. The channels' mean
#: carries Gaussian noise √3 times weaker than each channel, which the grey model, trained
#: longer, removes better; the colour differences stay the colour model's.
LUMINANCE_FIELD = "grey_luminance"
#: Precisions a Denoiser runs in: ``"auto"`` (:func:`resolve_precision`) or one of
#: :data:`~denoise.models.PRECISIONS`.
PRECISION_CHOICES = ("auto", *PRECISIONS)
#: The precision a Denoiser runs in unless told otherwise; labels do not name it.
DEFAULT_PRECISION = "auto"
#: Linux CPU flags of the bfloat16 instructions that TensorFlow's CPU kernels (oneDNN) use.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class ModelFileError(ValueError):
    """A model file is missing, corrupt, not a model, or unusable; the message says which."""


def pretrained_dir() -> Path:
    """Folder of the shipped models.

    ``$DENOISE_MODELS`` if set; else the installed package ``denoise.pretrained`` (a wheel, or
    any install from any directory); else, in a source checkout, its top-level ``pretrained/``.
    """
    if "DENOISE_MODELS" in os.environ:
        return Path(os.environ["DENOISE_MODELS"])
    try:
        return Path(str(importlib.resources.files("denoise.pretrained")))
    except ModuleNotFoundError:  # an editable install maps only the top-level package
        return Path(__file__).resolve().parent.parent / "pretrained"


def available_models() -> dict[str, dict]:
    """Return the model cards of the shipped models, keyed by model name (``unet-gray``, ...)."""
    cards = {}
    for card_path in sorted(pretrained_dir().glob("*.json")):
        if card_path.with_suffix(".keras").exists():
            cards[card_path.stem] = read_card(card_path)
    return cards


def device_name() -> str:
    """Name of the device that runs the models: a GPU's name, or ``"CPU"``."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "CPU" if device.platform == "cpu" else f"GPU ({device.device_kind})"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU ({details.get('device_name', gpus[0].name)})"
    return "CPU"


def _cpu_flags() -> set[str]:
    """Return the CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def native_bfloat16() -> bool:
    """Whether the models run faster in bfloat16 here: TensorFlow on a CPU with bfloat16 instructions.

    Measured on an AMD EPYC with AVX-512 BF16 (README, "Measured quality"): TensorFlow runs
    the U-Nets about twice as fast in bfloat16, JAX on the same CPU about a tenth slower.
    Without those instructions bfloat16 is emulated. GPUs are not measured yet, so they count
    as not native.
    """
    if keras.backend.backend() != "tensorflow" or device_name() != "CPU":
        return False
    return bool(BFLOAT16_CPU_FLAGS & _cpu_flags())


def resolve_precision(precision: str) -> str:
    """Return the arithmetic that ``precision`` means on this machine.

    ``"auto"`` means ``"mixed"`` where bfloat16 is native (:func:`native_bfloat16`) and
    ``"float32"`` elsewhere; the others mean themselves (see
    :func:`denoise.models.with_precision`).

    Raises
    ------
    ValueError
        If ``precision`` is not one of :data:`PRECISION_CHOICES`.

    """
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}")
    if precision == "auto":
        return "mixed" if native_bfloat16() else "float32"
    return precision


@dataclass
class LoadedModel:
    """One Keras model with its card and what the denoiser derives from it."""

    model: keras.Model
    card: dict
    path: Path

    @property
    def channels(self) -> int:
        """Image channels the model takes: 1 (grey) or 3 (colour)."""
        return int(self.card["channels"])

    @property
    def is_dense(self) -> bool:
        """Whether the model works on flattened patches rather than whole images."""
        return self.card["architecture"] == "dense"


@dataclass
class LowNoiseModel:
    """A model that takes over from another on images whose estimated noise is low.

    Attributes
    ----------
    entry : LoadedModel
        The model trained for low noise.
    below_sigma : float
        It runs on images whose estimated noise standard deviation (0-255 scale) is below this.

    """

    entry: LoadedModel
    below_sigma: float


@dataclass(frozen=True)
class _Plan:
    """The models one image goes through: ``model``, and ``luminance`` on its luminance."""

    model: LoadedModel
    luminance: LoadedModel | None = None

    @property
    def name(self) -> str:
        """``unet-color``, or ``unet-color + unet-gray luminance``."""
        name = self.model.card["name"]
        return name if self.luminance is None else f"{name} + {self.luminance.card['name']} luminance"


def read_model_file(path: Path) -> LoadedModel:
    """Load a ``.keras`` file in safe mode, with its card (or one inferred from the model).

    Raises
    ------
    ModelFileError
        If the file is missing, not a Keras archive, cannot be loaded, or is not a model of
        grey or colour images; or if its card (``.json`` beside it) is not a valid card or
        names other weights (:mod:`denoise.cards`).

    """
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (.keras is a zip archive)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for corrupt files; all mean the same here.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(f"{path}: cannot load model ({reason[:200]})") from None
    card_path = path.with_suffix(".json")
    try:
        card = read_card(card_path) if card_path.exists() else {}
        check_weights(card, path)
    except CardError as error:
        raise ModelFileError(str(error)) from None
    input_shape = model.input_shape
    if len(input_shape) == 2:  # flattened patches
        patch_values = input_shape[1]
        channels = 3 if patch_values % 3 == 0 and int(np.sqrt(patch_values // 3)) ** 2 * 3 == patch_values else 1
        card.setdefault("architecture", "dense")
        card.setdefault("patch_size", int(np.sqrt(patch_values // channels)))
    elif len(input_shape) == 4:
        channels = input_shape[-1]
        card.setdefault("architecture", model.name)
    else:
        raise ModelFileError(f"{path}: not an image model (input shape {input_shape})")
    if channels not in CHANNEL_SUFFIXES:
        raise ModelFileError(f"{path}: model takes {channels} channels; only 1 (grey) and 3 (colour) are supported")
    card["channels"] = channels
    card.setdefault("name", path.stem)
    return LoadedModel(model, card, path)


def _call(model: keras.Model, image: np.ndarray, *, compiled: bool) -> np.ndarray:
    """Run a fully convolutional model on one H x W x C image.

    ``compiled`` goes through ``predict_on_batch``: a graph under TensorFlow (which stops
    tracing new image sizes after the first few), XLA under JAX (compiled once per image
    size). Measured on this project's CPU it is about a quarter faster than a direct call,
    first call included; on the H200 a 12-megapixel photo takes 301 ms against 367 ms.
    """
    if compiled:
        return np.asarray(model.predict_on_batch(image[None]))[0]
    return keras.ops.convert_to_numpy(model(image[None], training=False))[0]


def _fold_patches(patches: np.ndarray, grid: tuple[int, int], patch_size: int, step: int) -> np.ndarray:
    """Average overlapping ``patch_size`` patches laid out every ``step`` pixels back into an image."""
    rows, columns = grid
    blocks = patch_size // step
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


def _orient(image: np.ndarray, orientation: tuple[bool, bool, bool], *, undo: bool = False) -> np.ndarray:
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


def _luminance(image: np.ndarray) -> np.ndarray:
    """Return the mean of an H x W x C image's channels (H x W x 1), where noise is √C times weaker."""
    channels = image.shape[2]
    return image @ np.full((channels, 1), 1 / channels, image.dtype)  # 20 times faster than mean(axis=2)


def _pad_to_multiple(image: np.ndarray, stride: int) -> np.ndarray:
    """Mirror-pad the bottom and right of an H x W x C image to multiples of ``stride`` (no copy if they are)."""
    height, width = image.shape[:2]
    if height % stride == 0 and width % stride == 0:
        return image
    return np.pad(image, ((0, -height % stride), (0, -width % stride), (0, 0)), mode="symmetric")


def _tiled(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray, *, stride: int, tile: int) -> np.ndarray:
    """Apply ``run`` to ``image`` (H x W x C) tile by tile; sizes are padded to ``stride``.

    ``run`` maps an array whose height and width are multiples of ``stride`` to one of the
    same height and width.
    """
    height, width = image.shape[:2]
    padded = _pad_to_multiple(image, stride)
    padded_height, padded_width = padded.shape[:2]
    tile = max(stride, tile - tile % stride)
    margin = TILE_MARGIN + (-TILE_MARGIN % stride)
    if padded_height <= tile + 2 * margin and padded_width <= tile + 2 * margin:
        return run(padded)[:height, :width]
    output = None
    for top in range(0, padded_height, tile):
        for left in range(0, padded_width, tile):
            region_top, region_left = max(0, top - margin), max(0, left - margin)
            region = padded[region_top : top + tile + margin, region_left : left + tile + margin]
            result = run(region)
            if output is None:
                output = np.empty(padded.shape[:2] + result.shape[2:], np.float32)
            core = result[top - region_top : top - region_top + tile, left - region_left : left - region_left + tile]
            output[top : top + core.shape[0], left : left + core.shape[1]] = core
    return output[:height, :width]


def run_label(name: str, orientations: int, precision: str = DEFAULT_PRECISION) -> str:
    """Short name of a model run: ``unet``, ``unet x2`` (two orientations), ``unet bfloat16``.

    The default precision (:data:`DEFAULT_PRECISION`) goes unnamed.
    """
    label = name if orientations == 1 else f"{name} x{orientations}"
    return label if precision == DEFAULT_PRECISION else f"{label} {precision}"


@dataclass(frozen=True)
class Denoised:
    """One image denoised, as :meth:`Denoiser.denoise_and_report` returns it.

    Attributes
    ----------
    pixels : ndarray
        The denoised image, float32 in [0, 1], with the input's shape.
    model : str
        Name of the model that ran (a family picks one by the image's channels and noise).
    seconds : float
        Wall-clock time of the call, not counting any wait for another thread's call to the
        same denoiser (app sessions share one).

    """

    pixels: np.ndarray
    model: str
    seconds: float


class Denoiser:
    """Denoise images with a grey and/or a colour model.

    Create one with :func:`load_model`. Images are float arrays in [0, 1] (values outside
    are accepted, as with unclipped noise) of shape H x W, H x W x 1 or H x W x 3.

    Parameters
    ----------
    models : list of LoadedModel
        One model per channel count (1 and/or 3).
    name : str
        The model family (``unet``) or single model (``unet-gray``) this denoiser runs.
    tile_size : int, default 1024
        Side of the tiles large images are split into.
    compiled : bool, default True
        Run the convolutional models through compiled calls rather than direct ones (see
        :func:`_call`).
    orientations : {1, 2, 4, 8}, default 1
        Denoise this many flipped or turned copies of each image, turn each result back and
        average them (geometric self-ensemble). Each copy costs a full model run; the average
        of eight gains about 0.1 dB (grey) to 0.2 dB (colour) over one on the test sets
        (``benchmarks/benchmark.py --orientations``).
    low_noise : dict of int to LowNoiseModel, optional
        Per channel count, a model that replaces the one in ``models`` on images whose
        estimated noise is low enough (see :data:`LOW_NOISE_FIELD`).
    luminance_weight : float, optional
        With a grey and a colour model: the grey model also denoises each colour image's
        luminance, which gets this weight in the result's (see :data:`LUMINANCE_FIELD`).
    precision : {"auto", "float32", "mixed", "bfloat16"}, default "auto"
        Arithmetic the models run in (:func:`denoise.models.with_precision`); ``"auto"`` is
        ``"mixed"`` where bfloat16 is native and ``"float32"`` elsewhere
        (:func:`resolve_precision`). bfloat16 is faster on processors with bfloat16
        instructions and slightly less accurate; the README's benchmark measures each.

    Attributes
    ----------
    precision : str
        The precision asked for.
    arithmetic : str
        What it means on this machine: one of :data:`~denoise.models.PRECISIONS`.

    Raises
    ------
    ValueError
        If ``orientations`` is not one of :data:`ORIENTATION_COUNTS` or ``precision`` not one
        of :data:`PRECISION_CHOICES`.

    """

    def __init__(
        self,
        models: list[LoadedModel],
        *,
        name: str,
        tile_size: int = TILE_SIZE,
        compiled: bool = True,
        orientations: int = 1,
        low_noise: dict[int, LowNoiseModel] | None = None,
        luminance_weight: float | None = None,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if orientations not in ORIENTATION_COUNTS:
            counts = ", ".join(str(count) for count in ORIENTATION_COUNTS)
            raise ValueError(f"orientations must be one of {counts}, got {orientations}")
        self.name = name
        self.precision = precision
        self.arithmetic = resolve_precision(precision)
        self._models = {entry.channels: _in_precision(entry, self.arithmetic) for entry in models}
        self.tile_size = tile_size
        self.compiled = compiled
        self.orientations = orientations
        self._low_noise = {
            channels: replace(low_model, entry=_in_precision(low_model.entry, self.arithmetic))
            for channels, low_model in (low_noise or {}).items()
        }
        self.luminance_weight = luminance_weight if 1 in self._models and 3 in self._models else None
        self._encoders: dict[Path, keras.Model] = {}
        # One model may be shared by several app sessions; calls into it take turns.
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """Short name of this model run, as in :func:`run_label`."""
        return run_label(self.name, self.orientations, self.precision)

    @property
    def cards(self) -> dict[int, dict]:
        """Model cards keyed by channel count."""
        return {channels: entry.card for channels, entry in self._models.items()}

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, _Plan]:
        """Check the image, make it H x W x C float32, and pick the models for it."""
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3) or array.size == 0:
            raise ValueError(f"expected an H x W, H x W x 1 or H x W x 3 image, got shape {np.shape(image)}")
        if not np.isfinite(array).all():
            raise ValueError("image contains NaN or infinite values")
        channels = array.shape[2]
        entry = self._models.get(channels) or next(iter(self._models.values()))
        if channels == 3 and self.luminance_weight is not None:
            return array, _Plan(self._route(entry, array), self._route(self._models[1], _luminance(array)))
        return array, _Plan(self._route(entry, array))

    def _route(self, entry: LoadedModel, array: np.ndarray) -> LoadedModel:
        """Return ``entry``'s low-noise model if it has one and the image's noise is low enough."""
        low_noise = self._low_noise.get(entry.channels)
        if low_noise is None:
            return entry
        try:
            sigma = estimate_noise_sigma(array) * 255
        except ValueError:  # too small to tell
            return entry
        return low_noise.entry if sigma < low_noise.below_sigma else entry

    def model_name(self, image: np.ndarray) -> str:
        """Name of the model that :meth:`denoise` runs on ``image`` (it depends on the noise).

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values.

        """
        return self._prepare(image)[1].name

    def _run_plan(self, plan: _Plan, array: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C array with the plan's model, then its luminance if it has one."""
        result = self._run(plan.model, array)
        if plan.luminance is not None:
            grey = self._run(plan.luminance, _luminance(array))
            # The same amount added to R, G and B moves their mean and leaves their differences.
            result += self.luminance_weight * (grey - _luminance(result))
        return result

    def _run(self, entry: LoadedModel, array: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C array whose channels may differ from the model's."""
        if array.shape[2] == entry.channels:
            return self._run_matching(entry, array)
        if entry.channels == 1:  # grey model, colour image: each channel on its own
            return np.concatenate([self._run_matching(entry, array[:, :, [c]]) for c in range(3)], axis=2)
        colour = self._run_matching(entry, np.repeat(array, 3, axis=2))
        return _luminance(colour)

    def _run_matching(self, entry: LoadedModel, array: np.ndarray) -> np.ndarray:
        if entry.is_dense:
            stride, run = DENSE_PATCH_STEP, lambda region: self._run_dense(entry, region)
        else:
            stride = model_stride(entry.model)
            run = lambda region: _call(entry.model, region, compiled=self.compiled)  # noqa: E731
        return _tiled(run, array, stride=stride, tile=self.tile_size)

    @staticmethod
    def _dense_patches(entry: LoadedModel, region: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        patch_size = int(entry.card["patch_size"])
        windows = np.lib.stride_tricks.sliding_window_view(region, (patch_size, patch_size), axis=(0, 1))
        windows = windows[::DENSE_PATCH_STEP, ::DENSE_PATCH_STEP]  # rows, columns, C, p, p
        grid = windows.shape[:2]
        return windows.transpose(0, 1, 3, 4, 2).reshape(grid[0] * grid[1], -1), grid

    def _run_dense(self, entry: LoadedModel, region: np.ndarray) -> np.ndarray:
        patch_size = int(entry.card["patch_size"])
        border = patch_size - DENSE_PATCH_STEP  # so that every pixel is covered by the same number of patches
        padded = np.pad(region, ((border, border), (border, border), (0, 0)), mode="symmetric")
        patches, grid = self._dense_patches(entry, padded)
        outputs = np.asarray(entry.model.predict(patches, batch_size=8192, verbose=0))
        folded = _fold_patches(
            outputs.reshape(-1, patch_size, patch_size, entry.channels), grid, patch_size, DENSE_PATCH_STEP
        )
        return folded[border : border + region.shape[0], border : border + region.shape[1]]

    def denoise(self, image: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Return the denoised image, float32 in [0, 1], with the input's shape.

        Parameters
        ----------
        image : ndarray
            H x W, H x W x 1 or H x W x 3 float image.
        strength : float, default 1.0
            How much of the noise to remove (:func:`denoise.strength.apply_strength`): 0 returns
            the input, 1 the model's own result, up to 2 removes more.

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values, or ``strength`` is
            outside [0, 2].

        """
        return self.denoise_and_report(image, strength).pixels

    def denoise_and_report(self, image: np.ndarray, strength: float = 1.0) -> Denoised:
        """Denoise like :meth:`denoise`; also say which model ran and how long it took.

        The image is checked and its noise estimated once, rather than again by
        :meth:`model_name`.

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values, or ``strength`` is
            outside [0, 2].

        """
        started = time.perf_counter()
        array, plan = self._prepare(image)
        waited = 0.0

        def run(pixels: np.ndarray) -> np.ndarray:
            nonlocal waited
            waiting_since = time.perf_counter()
            with self._lock:
                waited += time.perf_counter() - waiting_since
                total = self._run_plan(plan, pixels)
                for orientation in ORIENTATIONS[1 : self.orientations]:
                    total += _orient(self._run_plan(plan, _orient(pixels, orientation)), orientation, undo=True)
            # In place: each copy of a 12-megapixel photo costs tens of milliseconds here.
            total /= self.orientations
            return np.clip(total, 0.0, 1.0, out=total)

        pixels = apply_strength(run, array, strength).reshape(np.shape(image))
        return Denoised(pixels, plan.name, time.perf_counter() - started - waited)

    def warm_up(self) -> None:
        """Run every model, the low-noise ones included, on two small blank squares.

        A model's first call sets it up: under TensorFlow it traces a graph, and a second size
        traces one that then serves every size. Warming up moves that cost out of the first
        user's image, so timings shown afterwards are the model's own. Under JAX each new image
        size still compiles on its first call.
        """
        entries = [*self._models.values(), *(low_noise.entry for low_noise in self._low_noise.values())]
        with self._lock:
            for entry in entries:
                for side in (WARM_UP_SIDE, 2 * WARM_UP_SIDE):  # both sides differ: any size fits the second
                    self._run_matching(entry, np.zeros((side, side, entry.channels), np.float32))

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the latent feature maps for ``image``: (h, w, latent) float32.

        For the convolutional models these are the bottleneck channels; for the dense patch
        model, the code of each patch laid out on the patch grid.
        """
        array, plan = self._prepare(image)
        with self._lock:
            return self._encode(plan.model, array)

    def _encode(self, entry: LoadedModel, array: np.ndarray) -> np.ndarray:
        if array.shape[2] != entry.channels:
            array = np.repeat(array, 3, axis=2) if entry.channels == 3 else _luminance(array)
        if entry.is_dense:
            patches, grid = self._dense_patches(entry, array)
            if grid[0] == 0 or grid[1] == 0:
                raise ValueError(f"image is smaller than the {entry.card['patch_size']}-pixel patch")
            encoder = self._encoder(entry)
            latent = np.asarray(encoder.predict(patches, batch_size=8192, verbose=0)).reshape(*grid, -1)
        else:
            padded = _pad_to_multiple(array, model_stride(entry.model))
            latent = _call(self._encoder(entry), padded, compiled=self.compiled)
        return latent.astype(np.float32, copy=False)  # bfloat16 from a model run in that precision

    def _encoder(self, entry: LoadedModel) -> keras.Model:
        if entry.path not in self._encoders:
            model = entry.model
            self._encoders[entry.path] = keras.Model(model.input, model.get_layer(LATENT_LAYER).output)
        return self._encoders[entry.path]


def model_for_noise(kind: str | None) -> str:
    """Name of the shipped model for images with noise of ``kind`` (None: a photo that is already noisy).

    Real photos and synthetic camera-like noise go to :data:`PHOTO_MODEL`; noise added by the
    app or the command line of any other kind goes to the model trained for it, the default.
    """
    return PHOTO_MODEL if kind is None or kind in PHOTO_NOISE_KINDS else "default"


def load_model(
    name_or_path: str | Path = "default",
    *,
    tile_size: int = TILE_SIZE,
    compiled: bool = True,
    orientations: int = 1,
    precision: str = DEFAULT_PRECISION,
) -> Denoiser:
    """Load a shipped model family, a single shipped model, or a ``.keras`` file.

    Parameters
    ----------
    name_or_path : str or Path, default "default"
        ``"default"`` (the best-quality family), a family such as ``"conv-8"`` or ``"dense"``
        (grey and colour members, picked to match each image), a single model such as
        ``"unet-gray"``, or the path of a ``.keras`` file. A shipped model whose card names a
        low-noise model (:data:`LOW_NOISE_FIELD`) comes with it; a family's colour model has its
        grey model denoise the luminance where its card says so (:data:`LUMINANCE_FIELD`); a
        file given by path runs alone.
    tile_size : int, default 1024
        Side of the tiles that large images are split into.
    compiled : bool, default True
        Compiled rather than direct model calls (see :func:`_call`); the results are the same.
    orientations : {1, 2, 4, 8}, default 1
        Orientations of each image averaged (see :class:`Denoiser`).
    precision : {"auto", "float32", "mixed", "bfloat16"}, default "auto"
        Arithmetic the models run in (see :class:`Denoiser`).

    Raises
    ------
    ModelFileError
        If no such model exists or a file cannot be loaded.
    ValueError
        If ``orientations`` is not one of :data:`ORIENTATION_COUNTS` or ``precision`` not one
        of :data:`PRECISION_CHOICES`.

    """
    options = {"tile_size": tile_size, "compiled": compiled, "orientations": orientations, "precision": precision}
    name = DEFAULT_MODEL if str(name_or_path) == "default" else str(name_or_path)
    path = Path(name)
    if path.suffix == ".keras":
        return Denoiser([read_model_file(path)], name=path.stem, **options)
    folder = pretrained_dir()
    members = (
        [folder / f"{name}.keras"]
        if (folder / f"{name}.keras").exists()
        else [
            folder / f"{name}-{suffix}.keras"
            for suffix in CHANNEL_SUFFIXES.values()
            if (folder / f"{name}-{suffix}.keras").exists()
        ]
    )
    if not members:
        families = sorted({key.rsplit("-", 1)[0] for key in available_models()})
        raise ModelFileError(f"no model named {name!r}; available: default, {', '.join(families) or 'none'}")
    members = [read_model_file(member) for member in members]
    low_noise = {member.channels: _read_low_noise_model(member, folder) for member in members}
    low_noise = {channels: model for channels, model in low_noise.items() if model is not None}
    luminance_weight = next((_read_luminance_weight(member) for member in members if member.channels == 3), None)
    return Denoiser(members, name=name, low_noise=low_noise, luminance_weight=luminance_weight, **options)


def _in_precision(entry: LoadedModel, precision: str) -> LoadedModel:
    """Return ``entry`` with its model computing in ``precision`` (:func:`denoise.models.with_precision`)."""
    return replace(entry, model=with_precision(entry.model, precision))


def _read_low_noise_model(member: LoadedModel, folder: Path) -> LowNoiseModel | None:
    """Load the low-noise model that ``member``'s card names, if it names one.

    Raises
    ------
    ModelFileError
        If the card's entry is malformed or the model it names is missing, unusable or takes
        other channels than ``member``.

    """
    link = member.card.get(LOW_NOISE_FIELD)
    if link is None:
        return None
    name, below_sigma = (link.get(key) if isinstance(link, dict) else None for key in ("model", "below_sigma"))
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-]+", name) and isinstance(below_sigma, (int, float))):
        raise ModelFileError(f"{member.path}: {LOW_NOISE_FIELD!r} needs a model name and a below_sigma number")
    entry = read_model_file(folder / f"{name}.keras")
    if entry.channels != member.channels:
        raise ModelFileError(f"{entry.path}: takes {entry.channels} channels, unlike {member.path}")
    return LowNoiseModel(entry, float(below_sigma))


def _read_luminance_weight(member: LoadedModel) -> float | None:
    """Return the weight of the grey luminance that colour ``member``'s card asks for, if any.

    Raises
    ------
    ModelFileError
        If the card's entry is not a weight above 0 and at most 1.

    """
    link = member.card.get(LUMINANCE_FIELD)
    if link is None:
        return None
    weight = link.get("weight") if isinstance(link, dict) else None
    if not (isinstance(weight, (int, float)) and not isinstance(weight, bool) and 0 < weight <= 1):
        raise ModelFileError(f"{member.path}: {LUMINANCE_FIELD!r} needs a weight above 0 and at most 1")
    return float(weight)
