"""The denoise web app: upload photos, add noise, denoise, look inside the autoencoder, download.

Run with ``streamlit run app.py``. This script only arranges widgets; the work is done by the
``denoise`` library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from skimage import data as sample_images

import streamlit_workarounds
from denoise.quiet import quiet_native_logs

# TensorFlow's start-up lines stay out of the server's console. Only the first run imports it:
# the others leave standard error alone, which other sessions' threads may be writing to.
with quiet_native_logs() if "tensorflow" not in sys.modules else contextlib.nullcontext():
    import denoise
    from denoise.adaptation import (
        ADAPTATION_SECONDS,
        AdaptationError,
        adapted_steps,
        describe_adaptation,
        save_adapted,
    )
    from denoise.caching import SharedCache
    from denoise.classical import classical_methods
    from denoise.pipeline import (
        DenoiseResult,
        Scores,
        claim_name,
        denoise_image,
        safe_file_stem,
        score_result,
        zip_files,
    )
    from denoise.registry import PHOTO_MODEL, quick_family, read_manifest
    from denoise.strength import MAX_STRENGTH
    from denoise.training_jobs import user_models, user_models_dir
    from denoise.visualize import before_after, describe_latent, fit_width, heat_map, latent_grid, preview

UPLOAD_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif"] + sorted(
    suffix[1:] for suffix in denoise.RAW_SUFFIXES
)
NO_NOISE = "none — my photo is already noisy"
DISPLAY_WIDTH = 1460  # the widest image Streamlit shows (twice its 730-pixel column, for sharp screens)
PREVIEW_WIDTH = 500  # a large input's rough first look, shown while the model works (a third of the page)
#: Photo sizes (height x width) whose tile shapes a quick model sets up as it loads, rather than
#: on the first such upload (``Denoiser.warm_up``): 12-megapixel 4:3 photos either way up, whose
#: tiles have the shapes of 24-megapixel 3:2 ones. Its quick look comes about 0.5 s sooner on
#: that first photo on 2 cores. Only the quick models: the full ones would also be a second
#: sooner, but the eight-session load then peaked about half a gigabyte higher.
WARM_UP_SIZES = tuple(
    tuple(int(side) for side in size.split("x"))
    for size in os.environ.get("DENOISE_APP_WARM_UP", "3000x4000,4000x3000").split(",")
    if size
)
#: What each classical method costs, in seconds per megapixel on the project's 2-core benchmark
#: machine (results/benchmark.json, README "Measured quality").
COMPARISON_HELP = {
    "Non-local means": "scikit-image's fast non-local means: about 1–1.5 s per megapixel on a 2-core CPU.",
    "Total variation": "scikit-image's Chambolle total variation: about 0.1–0.5 s per megapixel on a 2-core CPU.",
    "BM3D": "Slow: about 40–130 s per megapixel on a 2-core CPU, so minutes for a large photo.",
}
#: Said beside the latent-size slider: what the conv and dense families are for.
LATENT_NOTE = (
    "These autoencoders are here to show what a bottleneck costs: each was trained until its validation "
    "PSNR stopped rising, so a smaller latent size loses more only because it keeps less. For the best "
    "result, pick the U-Net."
)
#: What the shared cache of images and results may hold, all sessions together: one 12-megapixel
#: photo's decoded, noisy and denoised images take about 430 MB.
CACHE_BYTES = int(os.environ.get("DENOISE_APP_CACHE_MB", "1024")) * 2**20
#: The model picker's entry for the models trained on the Train page.
OWN_MODELS = "Your models (Train page)"
#: Computations that run at once, all sessions together. The model takes turns anyway, and on a
#: small machine a second large photo's noise or scores beside it only adds its temporaries.
WORKERS = int(os.environ.get("DENOISE_APP_WORKERS", "1"))
#: Seconds the "Adapt to this photo" button fine-tunes for.
ADAPT_SECONDS = float(os.environ.get("DENOISE_APP_ADAPT_SECONDS", ADAPTATION_SECONDS))
FAMILIES = {
    "Best quality (U-Net)": "unet",
    "Latent-size family (conv autoencoder)": "conv",
    "Dense patch autoencoder": "dense",
}

st.set_page_config(page_title="denoise", layout="wide")

streamlit_workarounds.apply()  # version-guarded; see the module


@dataclass(frozen=True)
class Upload:
    """An uploaded file's bytes and their digest, by which the caches below know it.

    Streamlit would otherwise hash the whole file (tens of megabytes for a large photo) in
    every cached call of every rerun.
    """

    data: bytes = field(repr=False, compare=False)  # known by its digest: hashing the data would cost more
    digest: str

    @classmethod
    def of(cls, data: bytes) -> Upload:
        """Wrap ``data``, hashing it once."""
        return cls(data, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class NoiseChoice:
    """The noise the sidebar asks for: a kind (None: the photo is already noisy), its level and seed."""

    kind: str | None
    level: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class ModelChoice:
    """The model the sidebar asks for, the orientations it averages and its strength."""

    name: str
    passes: int = 1
    strength: float = 1.0


@dataclass(frozen=True)
class Settings:
    """Everything the sidebar sets, as one frozen value."""

    noise: NoiseChoice
    model: ModelChoice
    comparisons: tuple[str, ...] = ()


@st.cache_resource
def shared_cache() -> SharedCache:
    """Return the one cache of images and results that every session shares, bounded in bytes.

    At most :data:`WORKERS` computations run at once, and a value that several
    sessions ask for at once is computed once (:class:`denoise.caching.SharedCache`). Arrays
    from it are shared, so they are made read-only: no session can change what another sees.
    """
    return SharedCache(CACHE_BYTES, workers=WORKERS)


memoize = shared_cache().memoize


def read_only(*arrays: np.ndarray | None) -> None:
    """Make shared cached arrays read-only."""
    for array in arrays:
        if array is not None:
            array.flags.writeable = False


@st.cache_resource(show_spinner="Loading model…")
def cached_model(name: str, orientations: int) -> denoise.Denoiser:
    """Load each model once for all sessions (the Denoiser serialises its own calls).

    Warmed up, so the time shown under the first image is the model's, not its set-up. Both
    arguments are always passed: Streamlit keys ``("unet",)`` and ``("unet", 1)`` apart, and
    would load the model twice.
    """
    denoiser = denoise.load_model(name, orientations=orientations)
    quick = name in {family.quick for family in read_manifest().families.values()}
    denoiser.warm_up(WARM_UP_SIZES if quick else ())
    return denoiser


@memoize
def cached_read(upload: Upload) -> denoise.LoadedImage:
    """Decode an upload once."""
    image = denoise.read_image(upload.data)
    read_only(image.pixels, image.alpha)
    return image


@memoize
def cached_noisy(upload: Upload, noise: NoiseChoice) -> np.ndarray:
    """Add the chosen noise (or none) to an upload."""
    clean = cached_read(upload).pixels
    if noise.kind is None:
        return clean
    noisy = denoise.add_noise(clean, noise.kind, noise.level, seed=noise.seed)
    read_only(noisy)
    return noisy


@memoize
def cached_result(
    upload: Upload, noise: NoiseChoice, model: ModelChoice, progress: Callable[[float], None] | None = None
) -> DenoiseResult:
    """Denoise an upload with the chosen model, passes and strength; ``progress`` hears of each tile."""
    denoiser = cached_model(model.name, model.passes)
    result = denoise_image(denoiser, cached_noisy(upload, noise), strength=model.strength, progress=progress)
    read_only(result.denoised)
    return result


@memoize
def cached_scores(upload: Upload, noise: NoiseChoice, model: ModelChoice) -> Scores:
    """Score an upload's result against the original, or estimate its noise if it came noisy."""
    clean = None if noise.kind is None else cached_read(upload).pixels
    return score_result(cached_result(upload, noise, model), clean)


@memoize
def cached_latent(upload: Upload, noise: NoiseChoice, model_name: str) -> tuple[tuple[int, ...], np.ndarray]:
    """Return the shape of an upload's latent feature maps, and the maps as one image for display.

    Not the maps themselves: 96 MB for a 12-megapixel photo, copied out on every rerun.
    """
    latent = cached_model(model_name, 1).encode(cached_noisy(upload, noise))
    grid = fit_width(latent_grid(latent), DISPLAY_WIDTH)
    read_only(grid)
    return latent.shape, grid


@memoize
def cached_heat_map(upload: Upload, noise: NoiseChoice, model: ModelChoice) -> tuple[np.ndarray, float]:
    """Return the reconstruction-error heat map of an upload's result, shrunk for display, and its scale."""
    result = cached_result(upload, noise, model)
    errors, scale = heat_map(result.denoised, result.noisy)
    errors = fit_width(errors, DISPLAY_WIDTH)
    read_only(errors)
    return errors, scale


@memoize
def cached_classical(upload: Upload, noise: NoiseChoice, method: str) -> tuple[np.ndarray, float | None]:
    """Run a classical denoiser on an upload; return its result and, when the noise was added here, its PSNR."""
    noisy = cached_noisy(upload, noise)
    sigma = noise.level / 255 if noise.kind == "gaussian" else None
    denoised = classical_methods()[method](noisy, sigma)
    read_only(denoised)
    return denoised, denoise.psnr(cached_read(upload).pixels, denoised) if noise.kind else None


def encode_result(upload: Upload, noise: NoiseChoice, model: ModelChoice) -> bytes:
    """Encode an upload's result as a PNG at its own size, channels and bit depth.

    A download button runs this when clicked, in a thread of its own, instead of every rerun
    encoding every result (about 2 s for a 12-megapixel photo). It holds only the cache keys,
    so a page's buttons keep no full-size image alive beyond the cache's budget: an evicted
    result is computed again.
    """
    image = cached_read(upload)
    result = cached_result(upload, noise, model)
    return denoise.encode_png(result.denoised, alpha=image.alpha, bit_depth=image.bit_depth)


def zip_encoder(downloads: list[tuple[str, Callable[[], bytes]]]) -> Callable[[], bytes]:
    """Return what encodes every result and packs them into one ZIP, for a download button."""
    return lambda: zip_files([(name, encode()) for name, encode in downloads])


@st.cache_data(show_spinner=False)
def sample_png() -> bytes:
    """Return the sample image shown before any upload."""
    return denoise.encode_png(sample_images.astronaut()[64:448, 96:480] / 255)


@memoize
def shrunk(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as uint8, shrunk to Streamlit's widest image (``DISPLAY_WIDTH``) if wider.

    Streamlit would otherwise shrink and re-encode a wider one on every rerun. Shrinking a
    12-megapixel photo takes about 0.4 s, so it is done once per image.
    """
    small = fit_width(image, DISPLAY_WIDTH)
    read_only(small)
    return small


def quick_png(pixels: np.ndarray) -> bytes:
    """Encode pixels for the page as a PNG (never JPEG: they are being judged); 8-bit PNGs encode quickly."""
    return denoise.encode_png(pixels)


@memoize
def display_png(image: np.ndarray) -> bytes:
    """Encode an image for display, shrunk to Streamlit's widest image (:func:`quick_png`)."""
    return quick_png(shrunk(image))


def show(place: st.delta_generator.DeltaGenerator, image: np.ndarray, caption: str) -> None:
    """Show an image as PNG, encoded once, not on every rerun.

    ``output_format="PNG"``: Streamlit's default ("auto") re-encodes an image without alpha as
    JPEG at quality 90, which would show JPEG artefacts beside a denoiser's output.
    """
    place.image(display_png(image), caption=caption, output_format="PNG")


def sidebar() -> Settings:
    """Draw the controls and return what they are set to."""
    cards = denoise.available_models()
    st.sidebar.header("Model")
    own_models = user_models()
    families = FAMILIES | ({OWN_MODELS: "own"} if own_models else {})
    family = families[st.sidebar.radio("Model", list(families), label_visibility="collapsed")]
    own_model = None
    if family == "own":
        own_model = own_models[st.sidebar.selectbox("Your model", list(own_models), help="Trained on the Train page.")]
    latent_sizes = sorted({card["latent_size"] for card in cards.values() if card["architecture"] == "conv"})
    latent = st.sidebar.select_slider(
        "Latent size (conv bottleneck channels)",
        options=latent_sizes or [0],
        value=latent_sizes[-1] if latent_sizes else 0,
        disabled=family != "conv",
        help="How many feature maps the conv autoencoder squeezes the image into.",
    )
    if family in ("conv", "dense"):
        st.sidebar.caption(LATENT_NOTE)
    passes = st.sidebar.select_slider(
        "Passes",
        options=denoise.ORIENTATION_COUNTS,
        value=1,
        help="Denoise this many flipped or turned copies of the image and average them: each pass "
        "costs one model run; 8 passes gain about 0.1 dB (grey) to 0.2 dB (colour).",
    )

    st.sidebar.header("Noise")
    labels = {kind.label: name for name, kind in denoise.NOISE_KINDS.items()} | {NO_NOISE: None}
    kind = labels[st.sidebar.selectbox("Noise type", list(labels))]
    noise, strength = NoiseChoice(kind), 1.0
    if kind is None:
        strength = st.sidebar.slider(
            "Strength",
            0.0,
            MAX_STRENGTH,
            1.0,
            0.05,
            help="How much of the noise to remove: 0 keeps your photo, 1 is the model's own judgement, "
            "above 1 it removes more (and more detail with it).",
        )
    else:
        spec = denoise.NOISE_KINDS[kind]
        level = st.sidebar.slider(
            f"Level — {spec.unit}", spec.minimum, spec.maximum, spec.default, spec.step, key=f"level-{kind}"
        )
        seed = int(st.sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1))
        noise = NoiseChoice(kind, float(level), seed)

    st.sidebar.header("Compare with")
    comparisons = tuple(
        name for name in classical_methods() if st.sidebar.checkbox(name, value=False, help=COMPARISON_HELP.get(name))
    )
    # The best-quality choice is the model trained for the noise at hand: real photos and
    # camera-like noise go to the photo model, synthetic noise of other kinds to the default.
    chosen = {"conv": f"conv-{latent}", "dense": "dense", "own": str(own_model)}
    model = chosen.get(family) or denoise.model_for_noise(kind)
    return Settings(noise, ModelChoice(model, passes, float(strength)), comparisons)


def show_image(name: str, upload: Upload, settings: Settings) -> tuple[str, Callable[[], bytes]] | None:
    """Show one image's results; return the download's name and encoder, or None if it was refused."""
    noise, model = settings.noise, settings.model
    try:
        image = cached_read(upload)
    except denoise.ImageReadError as error:
        st.error(f"{name}: {error}")
        return None
    st.subheader(name)
    for note in image.notes:
        st.info(note)
    # The input shows before the model runs, so it is there while the model works. A large one
    # first shows as a rough preview (milliseconds); its display version, about half a second
    # for 12 megapixels, replaces it after the result, as the noisy image fills its column then.
    columns = st.columns(2 if noise.kind is None else 3)  # already noisy: the upload is the input
    caption = "Input" if noise.kind is None else "Original"
    input_place = columns[0].empty()
    previewed = image.pixels.shape[1] > DISPLAY_WIDTH and not display_png.kept(image.pixels)
    if previewed:
        rough = quick_png(preview(image.pixels, PREVIEW_WIDTH))
        input_place.image(rough, caption=f"{caption} (preview)", output_format="PNG")
    else:
        show(input_place, image.pixels, caption)
    place = columns[-1].empty()  # a progress bar while tiles finish, then the result
    bar_place = columns[-1].empty()  # under a quick look, the full model's progress
    quick = quick_family(model.name)
    if quick is not None and not cached_result.kept(upload, noise, model):
        # A model about four times cheaper shows its result first, while the full one runs.
        bar = place.progress(0.0, text="Quick look…")
        quick_model = dataclasses.replace(model, name=quick, passes=1)
        first = cached_result(
            upload, noise, quick_model, progress=lambda share: bar.progress(share, text=f"Quick look… {share:.0%}")
        )
        show(place, first.denoised, f"Quick look ({first.model}, {first.seconds:.1f} s); the full model follows")
        bar = bar_place.progress(0.0, text="Denoising…")
    else:
        bar = place.progress(0.0, text="Denoising…")
    result = cached_result(
        upload, noise, model, progress=lambda share: bar.progress(share, text=f"Denoising… {share:.0%}")
    )
    bar_place.empty()
    show(place, result.denoised, "Denoised")
    height, width = image.pixels.shape[:2]
    how = f"{result.model}, {model.passes} passes" if model.passes > 1 else result.model
    if model.strength != 1:
        how += f", strength {model.strength:g}"
    st.caption(
        f"{how} on {result.device} ({result.runtime}) in {result.arithmetic} precision: "
        f"{result.seconds:.2f} s for {width}×{height} "
        f"({result.seconds / (width * height / 1e6):.2f} s per megapixel)"
    )
    if previewed:
        show(input_place, image.pixels, caption)
    if noise.kind is not None:
        show(columns[1], result.noisy, "Noisy")

    with st.spinner("Scoring…"):
        measured = cached_scores(upload, noise, model)
    scores = measured.values
    if scores:
        metrics = st.columns(2)
        gain = scores["psnr_denoised"] - scores["psnr_noisy"]
        noiseless = np.isinf(gain)  # a noise level of 0: the input is the original
        metrics[0].metric(
            "PSNR",
            f"{scores['psnr_denoised']:.2f} dB",
            "no noise at this level" if noiseless else f"{gain:+.2f} dB vs noisy",
            delta_color="off" if noiseless else "normal",
        )
        if "ssim_denoised" in scores:  # not for images smaller than SSIM's window
            metrics[1].metric(
                "SSIM",
                f"{scores['ssim_denoised']:.3f}",
                f"{scores['ssim_denoised'] - scores['ssim_noisy']:+.3f} vs noisy",
            )
    elif measured.estimated_sigma is not None:
        st.metric(
            "Estimated noise level",
            f"σ ≈ {measured.estimated_sigma:.1f} (0-255)",
            help="Measured on every 4th pixel, so that noise shared by neighbouring pixels (as in real photos) "
            "counts; real camera noise still reads about a quarter low (docs/benchmarks.md).",
        )
    position = st.slider("Before ◀ ▶ after", 0.0, 1.0, 0.5, 0.01, key=f"split-{name}")
    show(st, before_after(shrunk(result.noisy), shrunk(result.denoised), position), "Left: input · right: denoised")

    with st.expander("Latent space", expanded=True):
        with st.spinner("Reading the latent space…"):
            latent_shape, grid = cached_latent(upload, noise, model.name)
        st.write(describe_latent(latent_shape, result.noisy.size))
        grid_column, error_column = st.columns(2)
        show(grid_column, grid, "Latent feature maps")
        errors, scale = cached_heat_map(upload, noise, model)
        show(error_column, errors, f"Reconstruction error |x̂ − x| (white = {scale:.3f})")

    for method in settings.comparisons:
        with st.spinner(f"Running {method}…"):
            classical, psnr = cached_classical(upload, noise, method)
        show(st, classical, f"{method} — PSNR {psnr:.2f} dB" if psnr is not None else method)

    adapt_section(name, upload, settings)

    png = functools.partial(encode_result, upload, noise, model)
    file_name = f"{safe_file_stem(name)}-denoised.png"
    st.download_button(
        f"Download {file_name}", png, file_name=file_name, mime="image/png", on_click="ignore", key=f"download-{name}"
    )
    return file_name, png


@st.cache_resource(show_spinner="Loading the raw model…")
def cached_raw_model(orientations: int) -> denoise.raw_model.RawDenoiser:
    """Load the raw model once for all sessions, averaging ``orientations`` runs."""
    return denoise.load_raw_model(orientations=orientations)


@memoize
def cached_raw(upload: Upload) -> denoise.RawImage:
    """Read a raw upload's mosaic once."""
    raw = denoise.read_raw(upload.data)
    read_only(raw.mosaic)
    return raw


@memoize
def cached_raw_result(
    upload: Upload, strength: float, orientations: int, progress: Callable[[float], None] | None = None
) -> denoise.raw_model.RawResult:
    """Denoise a raw upload's mosaic at ``strength``, averaging ``orientations`` runs; ``progress`` hears of tiles."""
    report = None if progress is None else (lambda done, total: progress(done / total))
    result = cached_raw_model(orientations).denoise(cached_raw(upload), strength=strength, progress=report)
    read_only(result.raw.mosaic)
    return result


@memoize
def cached_render(raw: denoise.RawImage) -> np.ndarray:
    """Render a raw mosaic at half size (each 2 x 2 cell one pixel), for the page."""
    rendered = denoise.raw.render(raw, half_size=True)
    read_only(rendered)
    return rendered


def finished_tiff(result: denoise.raw_model.RawResult, strength: float) -> bytes:
    """Return a raw result's 16-bit TIFF render, finished by the photo model (:func:`finish_render`)."""
    rendered = denoise.raw.render(result.raw)
    finished = denoise.raw_model.finish_render(rendered, result.noise, cached_model(PHOTO_MODEL, 1), strength)
    return denoise.raw.encode_rendered(finished, "tiff")


def show_raw(name: str, upload: Upload, settings: Settings) -> tuple[str, Callable[[], bytes]] | None:
    """Show one raw photo denoised before demosaicing; return its DNG download, or None if it was refused.

    A raw whose sensor is not Bayer is rendered by LibRaw and goes through the image model instead.
    """
    try:
        raw = cached_raw(upload)
    except denoise.raw.NotBayerError as error:
        if error.rendered is None:
            st.error(f"{name}: {error}")
            return None
        st.info(f"{name}: {error}; rendered by LibRaw, then denoised as an image.")
        return show_image(f"{name}.png", Upload.of(denoise.encode_png(error.rendered, bit_depth=16)), settings)
    except denoise.ImageReadError as error:
        st.error(f"{name}: {error}")
        return None
    st.subheader(name)
    if settings.noise.kind is not None:
        st.info("A raw file is denoised as it is: the synthetic noise in the sidebar is for images.")
    strength = settings.model.strength
    orientations = denoise.raw_model.raw_orientations(settings.model.passes)
    columns = st.columns(2)
    columns[0].image(quick_png(cached_render(raw)), caption="Raw, rendered (half size)", output_format="PNG")
    bar = columns[1].progress(0.0, text="Denoising the mosaic…")
    result = cached_raw_result(
        upload, strength, orientations, lambda share: bar.progress(share, text=f"Denoising… {share:.0%}")
    )
    denoised = quick_png(cached_render(result.raw))
    columns[1].image(denoised, caption="Denoised, rendered (half size)", output_format="PNG")
    bar.empty()
    height, width = raw.mosaic.shape
    raw_model = cached_raw_model(orientations)
    strength_note = f", strength {strength:g}" if strength != 1 else ""
    finish = denoise.raw_model.finishing_strength(result.noise, strength)
    st.caption(
        f"{result.model} on the Bayer mosaic ({raw_model.runtime}, {raw_model.arithmetic}, {orientations} passes"
        f"{strength_note}): {result.seconds:.2f} s "
        f"for {width}×{height}; noise {result.noise}; {raw.camera}, ISO {raw.iso or 'unknown'}. The TIFF is "
        f"finished by the {PHOTO_MODEL} model at {finish:.2f} of its strength (the previews and the DNG are the raw "
        "model's alone)."
    )
    stem = safe_file_stem(name)

    # Encoded when a button is clicked, from the cache keys alone (as encode_result does).
    def dng() -> bytes:
        return denoise.raw.encode_dng(cached_raw_result(upload, strength, orientations).raw)

    def tiff() -> bytes:
        return finished_tiff(cached_raw_result(upload, strength, orientations), strength)

    downloads = st.columns(2)
    downloads[0].download_button(
        f"Download {stem}-denoised.dng", dng, file_name=f"{stem}-denoised.dng", mime="image/x-adobe-dng",
        on_click="ignore", key=f"download-dng-{name}",
    )  # fmt: skip
    downloads[1].download_button(
        f"Download {stem}-denoised.tif (16-bit render)", tiff, file_name=f"{stem}-denoised.tif", mime="image/tiff",
        on_click="ignore", key=f"download-tiff-{name}",
    )  # fmt: skip
    raw_adapt_section(name, upload, strength, orientations, result)
    return f"{stem}-denoised.dng", dng


def adapt_button(name: str, key: str, adapt: Callable[[Callable[[float], None]], object]) -> object | None:
    """Draw "Adapt to this photo"; on a click run ``adapt(progress)`` with a bar and a Stop button.

    What it returns is kept in the session under ``key`` and returned on every run after (None
    before; an error is one line on the page). A click on Stop, or on any other widget, reruns
    the page, which ends the adapting.
    """
    if st.button("Adapt to this photo", key=f"adapt-{name}"):
        bar = st.progress(0.0, text="Adapting…")
        st.button("Stop", key=f"stop-adapt-{name}")
        try:
            st.session_state[key] = adapt(lambda share: bar.progress(share, text=f"Adapting… {share:.0%}"))
        except (ValueError, AdaptationError) as error:
            st.error(f"{name}: {error}")
        bar.empty()
    return st.session_state.get(key)


def raw_adapt_section(
    name: str, upload: Upload, strength: float, orientations: int, shipped: denoise.raw_model.RawResult
) -> None:
    """Offer to fine-tune the raw model on this raw's own mosaic; show the adapted render beside the first.

    The raw's noise law is known, so the model trains on its own recorrupted mosaic
    (:meth:`denoise.raw_model.RawDenoiser.adapt`). It runs in this session's script run, as
    :func:`adapt_section`'s.
    """
    key = f"adapted-raw-{name}-{upload.digest}-{orientations}"
    with st.expander("Adapt to this photo", expanded=key in st.session_state):
        st.caption(
            f"Fine-tunes the raw model on this file's own mosaic for about {ADAPT_SECONDS:g} s (the noise law of "
            "its ISO says what to learn; no clean image needed), then denoises it again. On our raw benchmark "
            "it gains most at high ISO: compare the two renders."
        )
        adapted = adapt_button(
            name,
            key,
            lambda progress: cached_raw_model(orientations).adapt(
                cached_raw(upload), noise=shipped.noise, seconds=ADAPT_SECONDS, progress=progress
            ),
        )
        if adapted is None:
            return
        made_by, made_at, result = st.session_state.get(f"{key}-result", (None, None, None))
        if made_by is not adapted or made_at != strength:
            result = adapted.denoise(cached_raw(upload), noise=shipped.noise, strength=strength)
            st.session_state[f"{key}-result"] = (adapted, strength, result)
        columns = st.columns(2)
        columns[0].image(quick_png(cached_render(shipped.raw)), caption="As shipped (half size)", output_format="PNG")
        steps = adapted.card["adapted"]["steps"]
        columns[1].image(
            quick_png(cached_render(result.raw)), caption=f"Adapted ({steps} steps, half size)", output_format="PNG"
        )
        stem = safe_file_stem(name)
        downloads = st.columns(2)
        downloads[0].download_button(
            f"Download {stem}-adapted.dng", lambda: denoise.raw.encode_dng(result.raw), file_name=f"{stem}-adapted.dng",
            mime="image/x-adobe-dng", on_click="ignore", key=f"download-adapted-{name}",
        )  # fmt: skip
        downloads[1].download_button(
            f"Download {stem}-adapted.tif (16-bit render)", lambda: finished_tiff(result, strength),
            file_name=f"{stem}-adapted.tif", mime="image/tiff",
            on_click="ignore", key=f"download-adapted-tiff-{name}",
        )  # fmt: skip


def adapt_section(name: str, upload: Upload, settings: Settings) -> None:
    """Offer to fine-tune the model on this photo alone; show the adapted result beside the first, and save it.

    The adaptation runs in this session's script run: a click on Stop (or any other widget)
    starts a new run, which ends it.
    """
    key = f"adapted-{name}-{upload.digest}-{settings.noise}-{settings.model.name}-{settings.model.passes}"
    noise, model = settings.noise, settings.model
    with st.expander("Adapt to this photo", expanded=key in st.session_state):
        how = (
            f"fine-tunes {model.name} on this photo's own noisy patches for about {ADAPT_SECONDS:g} s (no clean image "
            "needed), then lets its result guide a filter of the photo's similar blocks. On our benchmarks it gains "
            "about 0.5 dB on city photos"
            if noise.kind == "gaussian"
            else f"lets {model.name}'s result guide a filter of the photo's similar blocks, with the noise measured "
            "on the photo. On our benchmarks it gains about 0.5 dB on real camera noise"
        )
        st.caption(
            f"Experimental: {how} (photos up to 2 megapixels; larger ones keep the first result). "
            "Compare the two results before keeping it."
        )
        known = (noise.kind, noise.level) if noise.kind == "gaussian" else None
        adapted = adapt_button(
            name,
            key,
            lambda progress: cached_model(model.name, model.passes).adapt(
                [cached_noisy(upload, noise)], seconds=ADAPT_SECONDS, noise=known, progress=progress
            ),
        )
        if adapted is None:
            return
        # Kept with the model and strength that made it: any widget reruns the page, and a
        # 12-megapixel photo takes seconds. Adapting again, or another strength, makes it anew.
        made_by, strength, result = st.session_state.get(f"{key}-result", (None, None, None))
        if made_by is not adapted or strength != model.strength:
            with st.spinner("Filtering the photo's similar blocks…"):  # seconds a megapixel, after the bar
                result = adapted.denoise(cached_noisy(upload, noise), model.strength)
            st.session_state[f"{key}-result"] = (adapted, model.strength, result)
        first = cached_result(upload, noise, model).denoised
        columns = st.columns(2)
        clean = cached_read(upload).pixels if noise.kind is not None else None
        scores = (lambda image: f" — PSNR {denoise.psnr(clean, image):.2f} dB") if clean is not None else (lambda _: "")
        show(columns[0], first, f"As shipped{scores(first)}")
        show(columns[1], result, f"Adapted ({describe_adaptation(adapted)}){scores(result)}")
        if not adapted_steps(adapted):
            st.caption("The filter adapts to each photo as it runs: there is no model to save.")
            return
        saved_name = st.text_input("Save as", value=f"{safe_file_stem(name)}-adapted", key=f"adapt-name-{name}")
        if st.button("Save to Your models", key=f"adapt-save-{name}"):
            try:
                path = save_adapted(adapted, user_models_dir(), saved_name, f"app: adapted to {name}")
            except ValueError as error:
                st.error(str(error))
            else:
                st.success(f"Saved as {path.stem}: pick it under {OWN_MODELS!r}.")


def numbered_repeats(names: list[str]) -> list[str]:
    """Give repeated file names a number: the second ``photo.png`` becomes ``photo (2).png``.

    Files of the same name (from two folders, or dropped twice) must be told apart on the
    page, and each image's widgets are keyed by its name.
    """
    taken: set[str] = set()
    numbered = []
    for name in names:
        stem, dot, extension = name.rpartition(".") if "." in name else (name, "", "")
        numbered.append(claim_name(stem, dot + extension, taken, "{stem} ({number}){extension}", first_number=2))
    return numbered


def main() -> None:
    """Lay out the page."""
    st.title("denoise")
    st.caption("Keras autoencoders that remove noise from photos — and show what they keep.")
    settings = sidebar()
    uploads = st.file_uploader(
        "Images",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        help="PNG, JPEG, TIFF, BMP, WebP or GIF, or camera raw files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, "
        "PEF, ...); several at once.",
    )
    names = numbered_repeats([file.name for file in uploads or []])
    files = [(name, Upload.of(file.getvalue())) for name, file in zip(names, uploads or [], strict=True)]
    if not files:
        st.info("No upload yet: showing a sample image. Drop your own photos above.")
        files = [("astronaut-sample.png", Upload.of(sample_png()))]
    downloads = []
    progress = st.progress(0.0, text="Denoising…") if len(files) > 1 else None
    for index, (name, upload) in enumerate(files):
        is_raw = denoise.is_raw_file(name)
        try:
            outcome = (show_raw if is_raw else show_image)(name, upload, settings)
        except (ValueError, OSError, MemoryError) as error:  # one file's failure must not stop the others
            st.error(f"{name}: could not be denoised ({error})")
            outcome = None
        if outcome:
            downloads.append(outcome)
        if progress:
            progress.progress((index + 1) / len(files), text=f"{index + 1} of {len(files)} images")
    if len(downloads) > 1:
        st.download_button(
            "Download all as ZIP",
            zip_encoder(downloads),
            file_name="denoised.zip",
            mime="application/zip",
            on_click="ignore",
            key="download-zip",
        )


page = st.navigation([st.Page(main, title="Denoise", default=True), st.Page("train_page.py", title="Train")])
page.run()
