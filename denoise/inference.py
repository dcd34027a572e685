"""Running trained models on images of any size: the :class:`Denoiser` facade and loading.

:func:`load_model` reads a family from the models folder's manifest (:mod:`denoise.registry`)
or a single ``.keras`` file, and composes the pieces of :mod:`denoise.compose` around its
models: each model tiled with a margin of its receptive field, averaged over orientations,
routed by noise level, blended with the grey model's luminance, picked by channel count. The
:class:`Denoiser` checks images, takes turns between threads, reports what ran and how long it
took, and gives the latent space.
"""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from denoise.cards import CardError, check_weights, read_card
from denoise.compose import (
    ByChannels,
    ConvolutionalModel,
    LuminanceBlend,
    MatchChannels,
    NoiseRouted,
    Patchwise,
    Piece,
    RecorruptedAverage,
    SelfEnsemble,
    Tiled,
    keep_tile,
    leaf_models,
    luminance,
    pad_to_multiple,
    pieces_within,
    reporting_tiles,
    tile_counter,
)
from denoise.data import parse_noise_range
from denoise.models import with_precision
from denoise.precision import DEFAULT_PRECISION, device_name, native_bfloat16, resolve_precision
from denoise.quiet import first_line
from denoise.raw import PLANES as RAW_PLANES
from denoise.registry import CHANNEL_SUFFIXES, NAME_PATTERN, Family, ManifestError, pretrained_dir, read_manifest
from denoise.runtimes import REFERENCE_RUNTIME, resolve_runtime, with_runtime
from denoise.strength import apply_strength

__all__ = [
    "ORIENTATION_COUNTS",
    "Denoised",
    "Denoiser",
    "LoadedModel",
    "ModelFileError",
    "compose_family",
    "load_model",
    "read_model_file",
    "run_label",
]

#: Side of the part of each tile that is kept.
TILE_SIZE = 1024
#: Overlapping patch step of the dense patch autoencoder.
DENSE_PATCH_STEP = 4
#: Side of the blank images :meth:`Denoiser.warm_up` runs (a multiple of every model's stride).
WARM_UP_SIDE = 64
#: How many orientations a Denoiser may average (:class:`denoise.compose.SelfEnsemble`).
ORIENTATION_COUNTS = (1, 2, 4, 8)


class ModelFileError(ValueError):
    """A model file is missing, corrupt, not a model, or unusable; the message says which."""


@dataclass
class LoadedModel:
    """One Keras model with its card."""

    model: keras.Model
    card: dict
    path: Path

    @property
    def name(self) -> str:
        """The model's name (its card's, else its file's stem)."""
        return str(self.card["name"])

    @property
    def channels(self) -> int:
        """Image channels the model takes: 1 (grey) or 3 (colour)."""
        return int(self.card["channels"])

    @property
    def is_raw(self) -> bool:
        """Whether the model works on packed Bayer mosaics (:mod:`denoise.raw_model`), not images."""
        return self.card.get("domain") == "raw"

    @property
    def is_dense(self) -> bool:
        """Whether the model works on flattened patches rather than whole images."""
        return self.card["architecture"] == "dense"


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
        reason = first_line(error)
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
    if (channels, model.output_shape[-1]) == (2 * RAW_PLANES, RAW_PLANES):  # the raw model (denoise.raw_model)
        card.update(domain="raw", channels=RAW_PLANES, level_planes=RAW_PLANES)
        card.setdefault("name", path.stem)
        return LoadedModel(model, card, path)
    card.pop("domain", None)
    if channels not in CHANNEL_SUFFIXES:
        raise ModelFileError(f"{path}: model takes {channels} channels; only 1 (grey) and 3 (colour) are supported")
    card["channels"] = channels
    card.setdefault("name", path.stem)
    return LoadedModel(model, card, path)


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


def _model_piece(
    entry: LoadedModel,
    *,
    arithmetic: str,
    tile_size: int,
    compiled: bool,
    orientations: int,
    runtime: str = REFERENCE_RUNTIME,
) -> Piece:
    """One model as a piece: in ``arithmetic`` on ``runtime``, tiled, fitted to channels, averaged over orientations."""
    model = with_precision(entry.model, arithmetic)
    if entry.is_dense:
        leaf: Piece = Patchwise(model, entry.name, int(entry.card["patch_size"]), DENSE_PATCH_STEP)
    else:
        leaf = with_runtime(ConvolutionalModel(model, entry.name, compiled), entry, runtime, arithmetic)
    piece = MatchChannels(Tiled(leaf, tile_size), entry.channels)
    return SelfEnsemble(piece, orientations) if orientations > 1 else piece


def compose_family(
    members: dict[int, LoadedModel],
    *,
    low_noise: dict[int, tuple[LoadedModel, float]] | None = None,
    grey_luminance: float | None = None,
    arithmetic: str = "float32",
    tile_size: int = TILE_SIZE,
    compiled: bool = True,
    orientations: int = 1,
    runtime: str = REFERENCE_RUNTIME,
) -> Piece:
    """Compose a family's models into one piece (see the module docstring).

    Parameters
    ----------
    members : dict of int to LoadedModel
        The model per channel count (1 and/or 3).
    low_noise : dict of int to (LoadedModel, float), optional
        Per channel count, a model for images whose estimated noise (0-255) is below the number.
    grey_luminance : float, optional
        With a grey and a colour member: the weight of the grey member's luminance in colour results.
    arithmetic : {"float32", "mixed", "bfloat16"}, default "float32"
        What the models compute in (:func:`denoise.models.with_precision`).
    tile_size, compiled, orientations
        As for :func:`load_model`.
    runtime : str, default "tensorflow"
        A resolved runtime (:func:`denoise.runtimes.resolve_runtime`) for the convolutional models.

    """
    options = {
        "arithmetic": arithmetic,
        "tile_size": tile_size,
        "compiled": compiled,
        "orientations": orientations,
        "runtime": runtime,
    }
    branches: dict[int, Piece] = {}
    for channels, entry in members.items():
        piece = _model_piece(entry, **options)
        if channels in (low_noise or {}):
            low_entry, below_sigma = low_noise[channels]
            piece = NoiseRouted(piece, _model_piece(low_entry, **options), below_sigma)
        branches[channels] = piece
    if grey_luminance is not None and set(branches) == {1, 3}:
        branches[3] = LuminanceBlend(branches[3], branches[1], grey_luminance)
    return ByChannels(branches) if len(branches) > 1 else next(iter(branches.values()))


class Denoiser:
    """Denoise images with a composition of models (:mod:`denoise.compose`).

    Create one with :func:`load_model`. Images are float arrays in [0, 1] (values outside
    are accepted, as with unclipped noise) of shape H x W, H x W x 1 or H x W x 3. One
    Denoiser may serve several threads (app sessions): their calls take turns.

    Parameters
    ----------
    piece : Piece
        What runs on each image.
    name : str
        The model family (``unet``) or single model (``unet-gray``) this denoiser runs.
    cards : dict of int to dict
        The main model's card per channel count.
    orientations : {1, 2, 4, 8}, default 1
        How many orientations ``piece`` averages (it does the averaging; this names it).
    precision : {"auto", "float32", "mixed", "bfloat16"}, default "auto"
        The precision asked for (``piece`` computes in it; this names it).
    tile_size : int, default 1024
        Side of the tiles that ``piece`` cuts large images into (for reports).
    compiled : bool, default True
        Whether ``piece`` calls its models compiled (for reports).

    Attributes
    ----------
    precision : str
        The precision asked for.
    arithmetic : str
        What it means on this machine: one of :data:`~denoise.models.PRECISIONS`.

    """

    def __init__(
        self,
        piece: Piece,
        *,
        name: str,
        cards: dict[int, dict],
        orientations: int = 1,
        precision: str = DEFAULT_PRECISION,
        tile_size: int = TILE_SIZE,
        compiled: bool = True,
    ) -> None:
        self.piece = piece
        self.name = name
        self.cards = cards
        self.orientations = orientations
        self.precision = precision
        self.arithmetic = resolve_precision(precision)
        self.tile_size = tile_size
        self.compiled = compiled
        # One model may be shared by several app sessions; calls into it take turns.
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """Short name of this model run, as in :func:`run_label`."""
        return run_label(self.name, self.orientations, self.precision)

    @property
    def runtime(self) -> str:
        """The runtimes its models run on, as a user reads them: ``openvino``, ``tensorflow``.

        Keras's own backend counts as :data:`~denoise.runtimes.REFERENCE_RUNTIME`; a model
        whose conversion failed, or the dense patch model, runs there.
        """
        return " + ".join(self._runtimes())

    @property
    def computed_arithmetic(self) -> str:
        """What its models compute in, as a user reads it: ``bfloat16``, ``float32``, ``mixed``.

        :attr:`arithmetic` is what was asked; each runtime computes what it can of it
        (:func:`denoise.runtimes.session_arithmetic`): ONNX Runtime in float32 always, OpenVINO
        in bfloat16 where ``mixed`` or ``bfloat16`` was asked and the CPU has it, Keras as asked.
        """
        computed = [getattr(leaf, "arithmetic", self.arithmetic) for leaf in leaf_models(self.piece)]
        return " + ".join(dict.fromkeys(computed))

    def _runtimes(self) -> list[str]:
        """Return the runtimes its models run on, each once, the main (colour) model's first."""
        return list(dict.fromkeys(getattr(leaf, "runtime", REFERENCE_RUNTIME) for leaf in leaf_models(self.piece)))

    @staticmethod
    def _check(image: np.ndarray) -> np.ndarray:
        """Check the image and make it H x W x C float32."""
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3) or array.size == 0:
            raise ValueError(f"expected an H x W, H x W x 1 or H x W x 3 image, got shape {np.shape(image)}")
        if not np.isfinite(array).all():
            raise ValueError("image contains NaN or infinite values")
        return array

    def model_name(self, image: np.ndarray) -> str:
        """Name of the models that :meth:`denoise` runs on ``image`` (they may depend on its noise).

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values.

        """
        array = self._check(image)
        return self.piece.resolve(array).name

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

    def denoise_and_report(
        self, image: np.ndarray, strength: float = 1.0, progress: Callable[[float], None] | None = None
    ) -> Denoised:
        """Denoise like :meth:`denoise`; also say which model ran and how long it took.

        The route (which models run) is decided once, on the image as given, and every pass
        (orientations, the second run above strength 1) takes it.

        Parameters
        ----------
        image, strength
            As for :meth:`denoise`.
        progress : callable, optional
            Called with the share of the work done (0 to 1) as each tile finishes, in the
            calling thread.

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values, or ``strength`` is
            outside [0, 2].

        """
        started = time.perf_counter()
        array = self._check(image)
        plan = self.piece.resolve(array)
        runs = 2 if strength > 1 else 1
        report = None if progress is None else lambda done, total: progress(done / total)
        count_tile = tile_counter(plan.tile_passes * runs, report)
        waited = 0.0

        def run(pixels: np.ndarray) -> np.ndarray:
            nonlocal waited
            waiting_since = time.perf_counter()
            with self._lock:
                waited += time.perf_counter() - waiting_since
                with reporting_tiles(count_tile):
                    result = plan(pixels)
            return np.clip(result, 0.0, 1.0, out=result)

        pixels = apply_strength(run, array, strength).reshape(np.shape(image))
        return Denoised(pixels, plan.name, time.perf_counter() - started - waited)

    def adapt(
        self,
        images: list[np.ndarray],
        *,
        seconds: float | None = None,
        steps: int | None = None,
        noise: tuple[str, float] | None = None,
        progress: Callable[[float], None] | None = None,
        collaborative: bool = True,
    ) -> Denoiser:
        """Return a copy adapted to ``images`` alone, no clean copies (:func:`denoise.adaptation.adapt`).

        Known Gaussian noise: fine-tuned, then guiding a filter of each image's similar blocks;
        images that came noisy: that filter alone, with the noise measured in each image.
        """
        from denoise.adaptation import adapt

        return adapt(
            self, images, seconds=seconds, steps=steps, noise=noise, progress=progress, collaborative=collaborative
        )

    def warm_up(self, sizes: Sequence[tuple[int, int]] = ()) -> None:
        """Run every model, the low-noise ones included, on two small blank squares and on each tile shape of ``sizes``.

        A model's first call sets it up: under TensorFlow it traces a graph, and a second size
        traces one that then serves every size. Warming up moves that cost out of the first
        user's image, so timings shown afterwards are the model's own. OpenVINO and JAX also set
        up each new input shape on its first call: ``sizes`` (height, width) are the colour
        photos expected, and each model that a colour photo of little noise runs through (a
        blank one decides the route) runs once on a blank tile of every shape that their tiling
        makes (:meth:`denoise.compose.Tiled.layout`: at most four per size). Models it does not
        reach are left alone: each set-up keeps a tile's worth of buffers (a few hundred MB).

        Parameters
        ----------
        sizes : sequence of (int, int), optional
            Heights and widths of the photos to expect: the app's are 12-megapixel ones, whose
            tiles have the same shapes as 24-megapixel ones of 3:2.

        """
        with self._lock:
            for leaf in leaf_models(self.piece):
                _ = leaf.receptive_field  # measured once, here rather than on the first large image
                for side in (WARM_UP_SIDE, 2 * WARM_UP_SIDE):  # both sides differ: any size fits the second
                    leaf(np.zeros((side, side, leaf.channels), np.float32))
            route = self.piece.resolve(np.zeros((WARM_UP_SIDE, WARM_UP_SIDE, 3), np.float32))
            for tiled in (piece for piece in pieces_within(route) if isinstance(piece, Tiled)):
                shapes = {
                    (rows.stop - rows.start, columns.stop - columns.start)
                    for height, width in sizes
                    for rows, columns, _, _ in tiled.layout(height, width)
                }
                for leaf in leaf_models(tiled):
                    for shape in sorted(shapes):
                        leaf(np.zeros((*shape, leaf.channels), np.float32))

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Return the latent feature maps for ``image``: (h, w, latent) float32.

        For the convolutional models these are the bottleneck channels of the model that
        :meth:`denoise` runs on the image; for the dense patch model, the code of each patch
        laid out on the patch grid.

        Raises
        ------
        ValueError
            If the image has an unsupported shape or non-finite values, or is smaller than the
            dense model's patch.

        """
        array = self._check(image)
        leaf = next(leaf_models(self.piece.resolve(array)))
        if array.shape[2] != leaf.channels:
            array = np.repeat(array, 3, axis=2) if leaf.channels == 3 else luminance(array)
        with self._lock:
            latent = self._encode_in_tiles(leaf, array) if isinstance(leaf, ConvolutionalModel) else leaf.encode(array)
        return latent.astype(np.float32, copy=False)  # bfloat16 from a model run in that precision

    def _encode_in_tiles(self, leaf: ConvolutionalModel, array: np.ndarray) -> np.ndarray:
        """Encode through the tiles that :meth:`denoise` uses, so that memory stays bounded.

        The encoder reaches no further than the whole model, so each tile's margin covers it
        and the codes are those of the whole image; each tile's kept part is ``stride`` times
        smaller in the code.
        """
        stride = leaf.stride
        layout = Tiled(leaf, self.tile_size).layout(*array.shape[:2])
        if len(layout) == 1:
            return leaf.encode(array)
        padded = pad_to_multiple(array, stride)
        codes = None
        for entry in layout:
            code = leaf.encode(padded[entry[0], entry[1]])
            if codes is None:
                codes = np.empty((padded.shape[0] // stride, padded.shape[1] // stride, code.shape[2]), code.dtype)
            keep_tile(codes, entry, code, scale=stride)
        return codes


def run_label(name: str, orientations: int, precision: str = DEFAULT_PRECISION) -> str:
    """Short name of a model run: ``unet``, ``unet x2`` (two orientations), ``unet bfloat16``.

    The default precision (:data:`~denoise.precision.DEFAULT_PRECISION`) goes unnamed.
    """
    label = name if orientations == 1 else f"{name} x{orientations}"
    return label if precision == DEFAULT_PRECISION else f"{label} {precision}"


def load_model(
    name_or_path: str | Path = "default",
    *,
    tile_size: int = TILE_SIZE,
    compiled: bool = True,
    orientations: int = 1,
    precision: str = DEFAULT_PRECISION,
    runtime: str = "auto",
    family: Family | None = None,
    recorruptions: int = 0,
) -> Denoiser:
    """Load a family from the models folder, a single model from it, or a ``.keras`` file.

    Parameters
    ----------
    name_or_path : str or Path, default "default"
        ``"default"`` (the manifest's default family), a family such as ``"conv-8"`` or
        ``"photo"`` (put together as the manifest says, :mod:`denoise.registry`), a single
        model such as ``"unet-gray"`` (it runs alone), or the path of a ``.keras`` file.
    tile_size : int, default 1024
        Side of the tiles that large images are split into.
    compiled : bool, default True
        Compiled rather than direct model calls (:class:`denoise.compose.ConvolutionalModel`);
        the results are the same.
    orientations : {1, 2, 4, 8}, default 1
        Denoise this many flipped or turned copies of each image, turn each result back and
        average them (:class:`denoise.compose.SelfEnsemble`).
    precision : {"auto", "float32", "mixed", "bfloat16"}, default "auto"
        Arithmetic the models run in (:func:`denoise.models.with_precision`); ``"auto"`` is
        ``"mixed"`` where bfloat16 is native and ``"float32"`` elsewhere
        (:func:`denoise.precision.resolve_precision`).
    runtime : {"auto", "tensorflow", "openvino", "onnxruntime"}, default "auto"
        What runs the convolutional models (:mod:`denoise.runtimes`): ``"auto"`` is the fastest
        installed on a CPU (timed once per model on a machine), Keras on a GPU. A runtime that
        cannot run a model here falls back to Keras for it (:attr:`Denoiser.runtime` says what runs).
    family : Family, optional
        Put the family together this way instead of as the manifest says (for experiments
        such as ``benchmarks.luminance_weights``); ``name_or_path`` is then only its name.
    recorruptions : int, default 0
        For a single model trained with the ``recorrupted`` objective on Gaussian noise of one
        level: average it over this many copies of each image with fresh noise added
        (:class:`denoise.compose.RecorruptedAverage`, the level from its card); 0 runs it once
        on the image as it is.

    Raises
    ------
    ModelFileError
        If no such model exists, a file cannot be loaded, or the manifest is not valid.
    ValueError
        If ``orientations`` is not one of :data:`ORIENTATION_COUNTS`, ``precision`` not one
        of :data:`PRECISION_CHOICES` or ``runtime`` not one of
        :data:`~denoise.runtimes.RUNTIME_CHOICES`, or ``recorruptions`` is asked of a model
        not trained with the ``recorrupted`` objective on one known level.

    """
    if orientations not in ORIENTATION_COUNTS:
        counts = ", ".join(str(count) for count in ORIENTATION_COUNTS)
        raise ValueError(f"orientations must be one of {counts}, got {orientations}")
    arithmetic = resolve_precision(precision)
    resolved = resolve_runtime(runtime, device=device_name(), arithmetic=arithmetic, native_bfloat16=native_bfloat16())
    options = {"tile_size": tile_size, "compiled": compiled, "orientations": orientations, "runtime": resolved}
    labels = {"orientations": orientations, "precision": precision, "tile_size": tile_size, "compiled": compiled}
    path = Path(str(name_or_path))
    if path.suffix == ".keras":
        entry = read_model_file(path)
        if entry.is_raw:
            raise ModelFileError(f"{path}: a raw model; it denoises raw files (denoise.raw_model.load_raw_model)")
        partner = _luminance_partner(entry)
        if partner is not None and not recorruptions:
            grey, weight = partner
            piece = compose_family({3: entry, 1: grey}, grey_luminance=weight, arithmetic=arithmetic, **options)
            return Denoiser(piece, name=path.stem, cards={3: entry.card, 1: grey.card}, **labels)
        piece = _recorruption_averaged(_model_piece(entry, arithmetic=arithmetic, **options), entry, recorruptions)
        return Denoiser(piece, name=path.stem, cards={entry.channels: entry.card}, **labels)
    folder = pretrained_dir()
    if family is None:
        try:
            family = read_manifest(folder).family(str(name_or_path))
        except ManifestError as error:
            raise ModelFileError(str(error)) from None
    if family is None:
        if not (folder / f"{name_or_path}.keras").is_file() or not path.name == str(name_or_path):
            families = sorted(read_manifest(folder).families)
            raise ModelFileError(
                f"no model named {str(name_or_path)!r}; available: default, {', '.join(families) or 'none'}"
            )
        entry = read_model_file(folder / f"{name_or_path}.keras")
        if entry.is_raw:
            raise ModelFileError(f"{name_or_path} is a raw model; it denoises raw files (denoise.raw_model)")
        piece = _recorruption_averaged(_model_piece(entry, arithmetic=arithmetic, **options), entry, recorruptions)
        return Denoiser(piece, name=str(name_or_path), cards={entry.channels: entry.card}, **labels)
    if recorruptions:
        raise ValueError(
            f"recorruptions average one model trained with the recorrupted objective, not a family ({family.name})"
        )
    members = {channels: _read_member(folder, model, channels) for channels, model in family.members.items()}
    low_noise = {
        channels: (_read_member(folder, link.model, channels), link.below_sigma)
        for channels, link in family.low_noise.items()
    }
    piece = compose_family(
        members, low_noise=low_noise, grey_luminance=family.grey_luminance, arithmetic=arithmetic, **options
    )
    cards = {channels: entry.card for channels, entry in members.items()}
    return Denoiser(piece, name=family.name, cards=cards, **labels)


def _luminance_partner(entry: LoadedModel) -> tuple[LoadedModel, float] | None:
    """Return the grey model and weight that a colour model's card names for its luminance, if it names one.

    :func:`denoise.adaptation.save_adapted` writes such a pair: the card's ``luminance`` is
    ``{"model": NAME, "weight": W}``, NAME a ``.keras`` file beside it, W as a family's
    ``grey_luminance``.

    Raises
    ------
    ModelFileError
        If the entry is not of that form, or the file it names is missing or not a grey image model.

    """
    link = entry.card.get("luminance")  # the card's types are checked: a dict or absent
    if link is None:
        return None
    model, weight = link.get("model"), link.get("weight")
    if not (
        entry.channels == 3
        and isinstance(model, str)
        and NAME_PATTERN.fullmatch(model)
        and isinstance(weight, (int, float))
        and not isinstance(weight, bool)
        and 0 < weight <= 1
    ):
        raise ModelFileError(
            f"{entry.path}: 'luminance' must name a grey model beside it and a weight above 0 and at most 1"
        )
    grey = read_model_file(entry.path.parent / f"{model}.keras")
    if grey.channels != 1 or grey.is_raw:
        raise ModelFileError(f"{grey.path}: the luminance model must be a grey image model")
    return grey, float(weight)


def _recorruption_averaged(piece: Piece, entry: LoadedModel, count: int) -> Piece:
    """Wrap ``piece`` in :class:`RecorruptedAverage` of ``count`` copies (none for 0), at the level in ``entry``'s card.

    Raises
    ------
    ValueError
        If ``count`` is negative, or the card does not say the model was trained with the
        ``recorrupted`` objective on Gaussian noise of one level.

    """
    if count < 0:
        raise ValueError(f"recorruptions must be 0 or more, got {count}")
    if count == 0:
        return piece
    objective = entry.card.get("training", {}).get("objective", "supervised")  # the card's types are checked
    noise = entry.card.get("noise", [])
    refusal = (
        f"{entry.name}: recorruptions average a model trained with the recorrupted objective at one Gaussian level"
    )
    if objective != "recorrupted" or len(noise) != 1 or not isinstance(noise[0], str):
        raise ValueError(f"{refusal}; its card says {objective}")
    level = parse_noise_range(noise[0])
    if level.kind != "gaussian" or level.low != level.high or not level.low > 0:
        raise ValueError(f"{refusal}; its card says {noise[0]}")
    return RecorruptedAverage(piece, sigma=level.low / 255, count=count)


def _read_member(folder: Path, model: str, channels: int) -> LoadedModel:
    """Load ``model`` from ``folder`` and check that it takes ``channels`` channels.

    Raises
    ------
    ModelFileError
        If it cannot be loaded or takes other channels.

    """
    entry = read_model_file(folder / f"{model}.keras")
    if entry.channels != channels:
        suffix = CHANNEL_SUFFIXES[channels]
        raise ModelFileError(f"{entry.path}: takes {entry.channels} channels, but the manifest names it for {suffix}")
    return entry
