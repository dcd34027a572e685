"""One image through the whole app workflow: optional synthetic noise, denoising, scores.

The Streamlit app and the command line both call these functions, so what a user sees in
the browser is what ``denoise run`` writes.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from denoise.classical import PHOTO_NOISE_STRIDE, estimate_noise_sigma
from denoise.inference import Denoiser
from denoise.metrics import SSIM_WINDOW, psnr, ssim
from denoise.precision import device_name

__all__ = ["DenoiseResult", "Scores", "claim_name", "denoise_image", "safe_file_stem", "score_result", "zip_files"]


@dataclass
class DenoiseResult:
    """The outcome of denoising one image, with what the app shows about it.

    Attributes
    ----------
    noisy, denoised : ndarray
        H x W x C float32 images in [0, 1] (``noisy`` is the model input).
    seconds : float
        Wall-clock time of the model call (see :class:`denoise.inference.Denoised`).
    device : str
        Device that ran the model.
    arithmetic : str
        Precision it ran in (:attr:`denoise.inference.Denoiser.computed_arithmetic`).
    model : str
        Name of the model that ran (a family picks one by the image's channels and noise).
    strength : float
        How much of the noise was removed (:func:`denoise.strength.apply_strength`).
    runtime : str
        What ran the models (:attr:`denoise.inference.Denoiser.runtime`).

    """

    noisy: np.ndarray
    denoised: np.ndarray
    seconds: float
    device: str
    arithmetic: str
    model: str
    strength: float = 1.0
    runtime: str = "tensorflow"


@dataclass(frozen=True)
class Scores:
    """How good a result is, as far as can be told.

    Attributes
    ----------
    values : dict
        ``psnr_noisy``, ``psnr_denoised``, ``ssim_noisy``, ``ssim_denoised`` against the clean
        original when the noise was added here (the SSIMs only for images at least
        :data:`denoise.metrics.SSIM_WINDOW` pixels high and wide); empty otherwise.
    estimated_sigma : float or None
        For inputs that were already noisy (no clean original): the noise standard deviation
        estimated from the input on the 0-255 scale, allowing for noise that neighbouring pixels
        share as in real photos (:data:`denoise.classical.PHOTO_NOISE_STRIDE`); None when the
        image is too small to tell.

    """

    values: dict[str, float]
    estimated_sigma: float | None


def denoise_image(
    denoiser: Denoiser,
    noisy: np.ndarray,
    *,
    strength: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> DenoiseResult:
    """Denoise ``noisy`` and say what ran, where and how long it took.

    Parameters
    ----------
    denoiser : Denoiser
        From :func:`denoise.load_model`.
    noisy : ndarray
        H x W x C float image.
    strength : float, default 1.0
        How much of the noise to remove: 0 the input, 1 the model's result, up to 2 more
        (:func:`denoise.strength.apply_strength`).
    progress : callable, optional
        Called with the share of the work done as tiles finish (:meth:`Denoiser.denoise_and_report`).

    """
    denoised = denoiser.denoise_and_report(noisy, strength, progress)
    return DenoiseResult(
        noisy,
        denoised.pixels,
        denoised.seconds,
        device_name(),
        denoiser.computed_arithmetic,
        denoised.model,
        strength,
        denoiser.runtime,
    )


def score_result(result: DenoiseResult, clean: np.ndarray | None = None) -> Scores:
    """Score a result against ``clean`` when the clean original is known, else estimate the input's noise."""
    if clean is None:
        estimated_sigma = None
        with contextlib.suppress(ValueError):  # too small to estimate: no estimate
            estimated_sigma = estimate_noise_sigma(result.noisy, stride=PHOTO_NOISE_STRIDE) * 255
        return Scores({}, estimated_sigma)
    # Two at a time: NumPy and scikit-image release the GIL, and on a 12-megapixel photo each
    # SSIM takes about 3.5 s on this project's 2-core machine.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            f"{metric.__name__}_{name}": pool.submit(metric, clean, image)
            for metric in ((psnr, ssim) if min(clean.shape[:2]) >= SSIM_WINDOW else (psnr,))
            for name, image in (("noisy", result.noisy), ("denoised", result.denoised))
        }
    return Scores({name: future.result() for name, future in futures.items()}, None)


def safe_file_stem(file_name: str) -> str:
    """Turn an uploaded file name into a harmless stem: no folders, only letters, digits, ``-_.``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", file_name.replace("\\", "/").rsplit("/", 1)[-1])
    stem = stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem
    return stem.strip("._")[:100] or "image"


def claim_name(
    stem: str, extension: str, taken: set[str], numbered: str = "{stem}-{number}{extension}", first_number: int = 1
) -> str:
    """Return ``stem + extension``, or if ``taken`` has it the first free numbered name; add it to ``taken``.

    Parameters
    ----------
    stem, extension : str
        The name wanted, split before its extension (``extension`` keeps its dot, or is empty).
    taken : set of str
        Names already given out; the returned one is added.
    numbered : str
        Format of a numbered name, with the fields ``stem``, ``number`` and ``extension``.
    first_number : int
        Number of the first numbered name tried.

    """
    name, number = f"{stem}{extension}", first_number
    while name in taken:
        name, number = numbered.format(stem=stem, number=number, extension=extension), number + 1
    taken.add(name)
    return name


def zip_files(files: list[tuple[str, bytes]]) -> bytes:
    """Pack ``(name, data)`` pairs into a ZIP; names are sanitised and made unique.

    The files are stored, not deflated again: PNGs are compressed already, and deflating two
    12-megapixel PNGs took about a second, on every rerun of the app's page.
    """
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files:
            suffix = re.sub(r"[^a-z0-9]", "", name.rpartition(".")[2].lower()) if "." in name else ""
            archive.writestr(claim_name(safe_file_stem(name), f".{suffix}" if suffix else "", used), data)
    return buffer.getvalue()
