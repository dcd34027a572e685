"""The raw model: a U-Net on the packed Bayer mosaic and its noise level (:mod:`denoise.raw`).

:func:`load_raw_model` reads it like any model file (untrusted, safe mode, its card checked)
and runs it as a piece: on the fastest runtime (:mod:`denoise.runtimes`), tiled
(:class:`denoise.compose.Tiled`), so a 60-megapixel raw stays in bounded memory. The input is
the packed mosaic with its noise planes, the output the packed denoised mosaic; the strength
blends in the raw domain.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoise.compose import (
    ConstantPlanes,
    ConvolutionalModel,
    MosaicEnsemble,
    Piece,
    Tiled,
    pieces_within,
    replace_leaf,
    reporting_tiles,
    tile_counter,
)
from denoise.image_io import ImageReadError
from denoise.inference import Denoiser, ModelFileError, read_model_file
from denoise.models import with_precision
from denoise.noise import SHOT_NOISE_PER_ISO
from denoise.precision import DEFAULT_PRECISION, device_name, native_bfloat16, resolve_precision
from denoise.raw import (
    RAW_OUTPUT_SUFFIXES,
    NotBayerError,
    RawImage,
    RawNoise,
    estimate_noise,
    noise_from_iso,
    pack,
    read_raw,
    render,
    save_raw,
    unpack,
    write_rendered,
)
from denoise.registry import pretrained_dir
from denoise.runtimes import REFERENCE_RUNTIME, RuntimeModel, resolve_runtime, with_runtime
from denoise.strength import apply_strength

__all__ = [
    "RAW_MODEL",
    "RAW_ORIENTATIONS",
    "NOISE_SOURCES",
    "RawDenoiser",
    "RawResult",
    "denoise_raw_file",
    "finish_render",
    "finishing_strength",
    "load_raw_model",
    "rendered_format",
    "raw_noise",
    "raw_orientations",
]

#: The shipped raw model's name in the models folder.
RAW_MODEL = "raw-bayer"
#: Where the noise level comes from: the file's ISO where it has one, else the image (``auto``);
#: always the image; always the ISO.
NOISE_SOURCES = ("auto", "estimate", "iso")
#: Side of the packed tiles (a 1024-pixel square of the mosaic).
RAW_TILE_SIZE = 512
#: Runs averaged by default: the mosaic as it is and transposed (:class:`MosaicEnsemble`). The
#: second run gains about 0.2 dB at ISO 3200-25600 and keeps the raw model as quick per megapixel
#: as the photo model on the render (``benchmarks/raw.py``); 4 and 8 gain about 0.15 and 0.2 dB
#: more, for 2 and 4 times the time.
RAW_ORIENTATIONS = 2
#: The image model's share in a raw result's render (:func:`finishing_strength`): this much at
#: ISO 800, this much more for each doubling of the ISO, and at most ``FINISH_MOST``. The best
#: share measured on CBSD68 (no model trained on it) unprocessed to raw grew from 0.125 at ISO 800
#: to 0.75 at 51200 (``docs/benchmarks.md``, "Raw files").
FINISH_AT_ISO_800 = 0.125
FINISH_PER_DOUBLING = 0.105
FINISH_MOST = 0.75


def raw_orientations(asked: int = 1) -> int:
    """Return how many orientations the raw model averages where ``asked`` were asked for images.

    The more of the two: asking for more passes gives raws more too, and the default keeps the
    raw model's :data:`RAW_ORIENTATIONS`.
    """
    return max(asked, RAW_ORIENTATIONS)


def raw_noise(raw: RawImage, source: str = "auto") -> RawNoise:
    """Return the noise law to denoise ``raw`` with.

    Parameters
    ----------
    raw : RawImage
        The raw photo, from :func:`denoise.raw.read_raw`.
    source : {"auto", "estimate", "iso"}, default "auto"
        ``"iso"``: from the file's ISO by the generic law (:func:`denoise.raw.noise_from_iso`);
        ``"estimate"``: from the mosaic (:func:`denoise.raw.estimate_noise`), which reads fine
        texture as noise too (on Urban100's facades 4 dB below the true law at ISO 800);
        ``"auto"``: the ISO where the file has one, else the estimate. Each falls back on the
        other where it cannot tell (no ISO; an image too small or flat).

    Raises
    ------
    ImageReadError
        If neither way gives a level.

    """
    if source not in NOISE_SOURCES:
        raise ValueError(f"noise source must be one of {', '.join(NOISE_SOURCES)}, got {source!r}")
    if source in ("auto", "iso") and raw.iso:
        return noise_from_iso(raw.iso)
    try:
        return estimate_noise(raw)
    except ImageReadError:
        if raw.iso:
            return noise_from_iso(raw.iso)
        raise


@dataclass(frozen=True)
class RawResult:
    """One raw photo denoised.

    Attributes
    ----------
    raw : RawImage
        The denoised mosaic with the original's metadata (write it with :func:`denoise.raw.write_dng`).
    noise : RawNoise
        The noise law the model was told.
    model : str
        The raw model's name.
    seconds : float
        Wall-clock time of the model.

    """

    raw: RawImage
    noise: RawNoise
    model: str
    seconds: float


def finishing_strength(noise: RawNoise, strength: float = 1.0) -> float:
    """Return the share of the image model's result in a raw result's render, from its noise law.

    The raw model's result, once demosaiced, keeps a little noise and demosaicing error in
    blotches that the photo model (trained on demosaiced camera noise) removes; the noisier the
    raw, the more it removes (:data:`FINISH_AT_ISO_800`); the law's shot noise gives the ISO.
    From about ISO 350 down it is 0, and for a law estimated from the mosaic too: the estimate
    reads fine texture as noise, and the finish then smooths detail (on the raw benchmark's
    Urban100 crops it lost 0.06-0.85 dB so). A raw denoised at a ``strength`` below 1 gets that
    part of the share.
    """
    iso = noise.shot / SHOT_NOISE_PER_ISO
    if noise.estimated or not iso > 0:
        return 0.0
    share = np.clip(FINISH_AT_ISO_800 + FINISH_PER_DOUBLING * np.log2(iso / 800), 0.0, FINISH_MOST)
    return float(share * min(strength, 1.0))


def finish_render(rendered: np.ndarray, noise: RawNoise, finisher: Denoiser, strength: float = 1.0) -> np.ndarray:
    """Finish the render of a denoised raw with an image model, at the share its noise law sets.

    Parameters
    ----------
    rendered : ndarray
        The raw model's result rendered (:func:`denoise.raw.render`), float in [0, 1].
    noise : RawNoise
        The law the raw model was told (:attr:`RawResult.noise`): it sets the share
        (:func:`finishing_strength`).
    finisher : Denoiser
        The image model: the photo model (what ``denoise run`` and the app take for photos as they
        are).
    strength : float, default 1.0
        The strength the raw was denoised at (:func:`finishing_strength`).

    Returns
    -------
    ndarray
        float32, the render's shape: ``finisher`` at the share
        (:func:`denoise.strength.apply_strength`), or the render itself where the share is 0.

    """
    share = finishing_strength(noise, strength)
    return finisher.denoise(rendered, strength=share) if share > 0 else rendered


class RawDenoiser:
    """Denoise Bayer raw photos with the raw model.

    Parameters
    ----------
    piece : Piece
        The model as a piece on packed mosaics with their noise planes (tiled).
    name : str
        The model's name.
    card : dict
        Its model card.
    runtime : str
        What runs it.
    arithmetic : str, default "float32"
        What it computes in, as a user reads it (:attr:`denoise.Denoiser.computed_arithmetic`).

    """

    def __init__(self, piece: Piece, *, name: str, card: dict, runtime: str, arithmetic: str = "float32") -> None:
        self.piece, self.name, self.card, self.runtime, self.arithmetic = piece, name, card, runtime, arithmetic

    def denoise(
        self,
        raw: RawImage,
        *,
        noise: RawNoise | str = "auto",
        strength: float = 1.0,
        progress: Callable[[int, int], None] | None = None,
    ) -> RawResult:
        """Denoise a raw photo's mosaic.

        Parameters
        ----------
        raw : RawImage
            From :func:`denoise.raw.read_raw`.
        noise : RawNoise or {"auto", "estimate", "iso"}, default "auto"
            The noise law, or where to take it from (:func:`raw_noise`).
        strength : float, default 1.0
            0 keeps the noisy mosaic, 1 is the model's result, up to
            :data:`denoise.strength.MAX_STRENGTH` removes more (:func:`denoise.strength.apply_strength`
            on the packed mosaic: a blend in the raw domain, clipped to black and white).
        progress : callable, optional
            Called with (tiles done, tiles) as each tile finishes, counting every pass over the
            mosaic.

        """
        law = noise if isinstance(noise, RawNoise) else raw_noise(raw, noise)
        packed = pack(raw.mosaic, raw.pattern)
        passes = self.piece.tile_passes * (2 if strength > 1 else 1)
        started = time.perf_counter()
        with reporting_tiles(tile_counter(passes, progress)):
            blended = apply_strength(lambda planes: self._denoise_packed(planes, law), packed, strength)
        seconds = time.perf_counter() - started
        mosaic = unpack(blended, raw.pattern, raw.mosaic.shape)
        return RawResult(raw.with_mosaic(mosaic), law, self.name, seconds)

    def adapt(
        self,
        raw: RawImage,
        *,
        noise: RawNoise | str = "auto",
        seconds: float | None = None,
        steps: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> RawDenoiser:
        """Return a copy fine-tuned on ``raw``'s own mosaic, no clean copy (:func:`denoise.adaptation.adapt_raw`)."""
        from denoise.adaptation import adapt_raw

        return adapt_raw(self, raw, noise=noise, seconds=seconds, steps=steps, progress=progress)

    def _denoise_packed(self, packed: np.ndarray, law: RawNoise) -> np.ndarray:
        """Stabilise the packed planes, run the model with the noise level beside them, invert.

        The level planes are made tile by tile (:class:`ConstantPlanes`): on a 60-megapixel raw
        each packed array is 240 MB.
        """
        (planes,) = (part for part in pieces_within(self.piece) if isinstance(part, ConstantPlanes))
        piece = replace_leaf(self.piece, planes, dataclasses.replace(planes, value=law.stabilised_sigma))
        return law.unstabilise(piece(law.stabilise(packed)))


def load_raw_model(
    name_or_path: str | Path = RAW_MODEL,
    *,
    runtime: str = "auto",
    tile_size: int = RAW_TILE_SIZE,
    orientations: int = RAW_ORIENTATIONS,
    precision: str = DEFAULT_PRECISION,
) -> RawDenoiser:
    """Load the raw model from the models folder (by name) or a ``.keras`` file.

    Parameters
    ----------
    name_or_path : str or Path, default :data:`RAW_MODEL`
        A model's name in the models folder, or the path of a ``.keras`` file.
    runtime : {"auto", "tensorflow", "openvino", "onnxruntime"}, default "auto"
        As for :func:`denoise.load_model`.
    tile_size : int, default 512
        Side of the packed tiles.
    orientations : {1, 2, 4, 8}, default :data:`RAW_ORIENTATIONS`
        How many orientations of the mosaic that keep its pattern to average
        (:class:`denoise.compose.MosaicEnsemble`): 1 runs the model once, 2 adds its run on the
        transposed mosaic, 4 and 8 the turned and mirrored ones; each costs a full run.
    precision : {"auto", "float32", "mixed", "bfloat16"}, default "auto"
        As for :func:`denoise.load_model`: ``"auto"`` computes in bfloat16 on OpenVINO where the
        CPU has it (about 1.5 times faster, 0.015-0.05 dB lower on the raw benchmark), else in
        float32.

    Raises
    ------
    ModelFileError
        If the file cannot be loaded or is not a raw model.
    ValueError
        If ``orientations`` is not 1, 2, 4 or 8, or ``precision`` not one of the above.

    """
    if orientations not in (1, 2, 4, 8):
        raise ValueError(f"orientations must be one of 1, 2, 4, 8 for the raw model, got {orientations}")
    path = Path(str(name_or_path))
    if path.suffix != ".keras":
        path = pretrained_dir() / f"{name_or_path}.keras"
    entry = read_model_file(path)
    if not entry.is_raw:
        raise ModelFileError(f"{path}: not a raw model (it takes images, not packed Bayer mosaics)")
    arithmetic = resolve_precision(precision)
    resolved = resolve_runtime(runtime, device=device_name(), arithmetic=arithmetic, native_bfloat16=native_bfloat16())
    model = with_precision(entry.model, arithmetic)
    leaf = with_runtime(ConvolutionalModel(model, entry.name), entry, resolved, arithmetic)
    runs_on = leaf.runtime if isinstance(leaf, RuntimeModel) else REFERENCE_RUNTIME
    computed = leaf.arithmetic if isinstance(leaf, RuntimeModel) else arithmetic
    levels = ConstantPlanes(leaf, count=model.input_shape[-1] - model.output_shape[-1])  # the noise level's planes
    piece: Piece = Tiled(levels, tile_size)
    if orientations > 1:
        piece = MosaicEnsemble(piece, orientations)
    return RawDenoiser(piece, name=entry.name, card=entry.card, runtime=runs_on, arithmetic=computed)


def rendered_format(output_format: str) -> str:
    """Return what a raw file that is not Bayer is saved as when ``output_format`` was asked: a 16-bit render."""
    return "png" if output_format == "png" else "tiff"


def denoise_raw_file(
    path: str | Path,
    name_for: Callable[[str], Path],
    raw_denoiser: RawDenoiser,
    image_denoiser: Denoiser,
    *,
    output_format: str = "dng",
    noise: str = "auto",
    strength: float = 1.0,
    adapt_seconds: float | None = None,
    finish: bool = True,
) -> tuple[Path, str]:
    """Denoise one raw file and save the result; return the file written and a note for the user.

    ``denoise run`` and ``denoise batch`` both call this, so they write the same files.

    Parameters
    ----------
    path : str or Path
        The raw file.
    name_for : callable
        From the output's suffix (``.dng``, ``.tif``, ``.png``) to the path to write.
    raw_denoiser : RawDenoiser
        From :func:`load_raw_model`.
    image_denoiser : Denoiser
        Runs on LibRaw's render of a sensor that is not Bayer; the result is then saved as a
        16-bit TIFF (or PNG where ``output_format`` is ``png``). It also finishes a Bayer raw's
        render (:func:`finish_render`).
    output_format : {"dng", "tiff", "png"}, default "dng"
        A DNG of the denoised mosaic, or a 16-bit sRGB render (:func:`denoise.raw.save_raw`).
    noise : {"auto", "estimate", "iso"}, default "auto"
        Where the noise level comes from (:func:`raw_noise`).
    strength : float, default 1.0
        As for :meth:`RawDenoiser.denoise`.
    adapt_seconds : float, optional
        First adapt the raw model to this file's mosaic for this long (:meth:`RawDenoiser.adapt`);
        if a step fails, the note says so and the model as shipped denoises it.
    finish : bool, default True
        Where the output is a render, finish it with ``image_denoiser`` (:func:`finish_render`);
        a DNG is the raw model's mosaic either way.

    Raises
    ------
    ImageReadError, OSError
        If the file cannot be read as a raw photo (one line each).

    """
    try:
        raw = read_raw(path)
    except NotBayerError as error:
        if error.rendered is None:
            raise
        render_format = rendered_format(output_format)
        result = image_denoiser.denoise_and_report(error.rendered, strength)
        target = name_for(RAW_OUTPUT_SUFFIXES[render_format])
        write_rendered(target, result.pixels, render_format)
        return target, f"{error}: rendered by LibRaw, then denoised by {result.model}"
    law, adapting = raw_noise(raw, noise), ""  # measured once: adapting and denoising use the same
    if adapt_seconds is not None:
        from denoise.adaptation import AdaptationError

        try:
            raw_denoiser = raw_denoiser.adapt(raw, noise=law, seconds=adapt_seconds)
            adapting = f" in {raw_denoiser.card['adapted']['steps']} steps"
        except AdaptationError as error:
            adapting = f" as shipped ({error})"
    result = raw_denoiser.denoise(raw, noise=law, strength=strength)
    target = name_for(RAW_OUTPUT_SUFFIXES[output_format])
    note = f"{result.model}{adapting}, noise {result.noise}"
    share = finishing_strength(law, strength)
    if output_format == "dng" or not finish or share == 0:
        save_raw(target, result.raw, output_format)
        return target, note
    rendered = render(result.raw)
    del raw, result  # 240 MB each for 60 megapixels, where the finish's peak comes next
    rendered = finish_render(rendered, law, image_denoiser, strength)
    write_rendered(target, rendered, output_format)
    return target, f"{note}, render finished by {image_denoiser.name} at {share:.2f}"
