"""Training data: random patches of clean images with fresh synthetic noise.

Images are kept in memory as uint8 (the 432 colour training images take about 200 MB); NumPy
arrays of training data (``.npy``) as float32, with their values as they are.
Each batch draws random patches, flips and rotates them, and adds noise at a random level,
so every epoch sees new noisy/clean pairs and a model learns to work without being told
the noise level.

With a plain mean squared error, the noisiest patches dominate the loss: a denoiser's error
grows roughly in proportion to the noise, so a patch at sigma 50 weighs about ten times one at
sigma 15. :func:`noise_weights` gives each patch a weight inversely proportional to the
strength of its own noise, which makes the loss follow the mean PSNR over noise levels instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from denoise.image_io import IMAGE_SUFFIXES, MAX_PIXELS, convert_channels, read_image
from denoise.noise import NOISE_KINDS, add_noise, camera_noise
from denoise.objectives import NEIGHBOUR_OBJECTIVES, OBJECTIVES, training_pair

__all__ = [
    "ARRAY_SUFFIX",
    "NoiseRange",
    "PatchSequence",
    "load_folder",
    "load_bursts",
    "load_pairs",
    "noise_weights",
    "parse_noise_range",
    "random_patches",
    "read_array",
    "real_validation_pairs",
    "recolour",
    "validation_pairs",
]

# Patches with less noise than this (root mean square, 0-1 scale: 5/255) share one weight, the largest.
WEIGHT_NOISE_FLOOR = 5 / 255
#: Training data stored as NumPy arrays, read with their values as they are (:func:`read_array`).
ARRAY_SUFFIX = ".npy"


@dataclass(frozen=True)
class NoiseRange:
    """A noise kind and the range of levels drawn uniformly during training."""

    kind: str
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.low:g}-{self.high:g}"


def parse_noise_range(text: str) -> NoiseRange:
    """Parse ``"KIND:LOW-HIGH"`` or ``"KIND:LEVEL"``, e.g. ``"gaussian:0-55"``.

    Raises
    ------
    ValueError
        If the text is malformed or names an unknown kind.

    """
    kind, separator, levels = text.partition(":")
    if not separator or kind not in NOISE_KINDS:
        raise ValueError(f"noise range must be KIND:LOW-HIGH with KIND in {', '.join(NOISE_KINDS)}, got {text!r}")
    low_text, _, high_text = levels.partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if high_text else low
    except ValueError:
        raise ValueError(f"noise levels must be numbers, got {levels!r}") from None
    if high < low:
        raise ValueError(f"noise range {text!r} has its high end below its low end")
    return NoiseRange(kind, low, high)


def load_folder(folder: str | Path, channels: int) -> list[np.ndarray]:
    """Read every image in ``folder`` as H x W x ``channels``: uint8 from image files, float32 from arrays.

    A folder of NumPy arrays (``.npy``; H x W or H x W x C numbers, no pickled objects;
    :func:`read_array`) is read as float32 values as they are, unclipped, where an image file
    holds [0, 1] only: noisy data whose noise runs below black and above white (Gaussian noise as
    the evaluation convention adds it, raw or scientific data after background subtraction) keeps
    it. One folder holds images or arrays, not both.

    Raises
    ------
    ValueError
        If the folder holds no readable image, both images and arrays, or an unusable array.

    """
    entries = sorted(Path(folder).iterdir())
    paths = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
    arrays = [p for p in entries if p.suffix.lower() == ARRAY_SUFFIX]
    if paths and arrays:
        raise ValueError(f"{folder} holds both images and {ARRAY_SUFFIX} arrays; train on one kind")
    if arrays:
        return [read_array(path, channels) for path in arrays]
    if not paths:
        raise ValueError(f"no images found in {folder}")
    images = []
    for path in paths:
        pixels = read_image(path, channels=channels).pixels
        images.append(np.round(pixels * 255).astype(np.uint8))
    return images


def read_array(path: Path, channels: int) -> np.ndarray:
    """Read a ``.npy`` array of training data as H x W x ``channels`` float32, values as they are.

    The file is untrusted: pickled objects are refused, its shape is checked from the header
    before its data is read, and grey becomes colour or colour grey as :func:`denoise.read_image`
    makes them (:func:`denoise.image_io.convert_channels`).

    Raises
    ------
    ValueError
        If it is not a numeric array of 2 dimensions, or 3 with 1 or 3 channels, has more than
        :data:`denoise.image_io.MAX_PIXELS` pixels, or holds values that are not finite.

    """
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path.name}: not a NumPy array file ({str(error).splitlines()[0][:120]})") from None
    shape = mapped.shape
    if not (mapped.dtype.kind in "fiub" and (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3)))):
        raise ValueError(f"{path.name}: expected an H x W or H x W x 1 or 3 numeric array, got {mapped.dtype} {shape}")
    if shape[0] * shape[1] > MAX_PIXELS:
        raise ValueError(f"{path.name}: array is too large (limit {MAX_PIXELS // 1_000_000} megapixels)")
    values = np.array(mapped, dtype=np.float32).reshape(shape[0], shape[1], -1)
    if not np.isfinite(values).all():
        raise ValueError(f"{path.name}: holds values that are not finite")
    return convert_channels(values, channels)


def load_pairs(folder: str | Path, channels: int) -> list[np.ndarray]:
    """Read noisy/clean pairs: ``folder/noisy/NAME`` with ``folder/clean/NAME``, each as one uint8 array.

    Each pair is returned stacked along the channels, H x W x 2C (noisy first), so that random
    patches, flips and rotations cut both alike (:class:`PatchSequence`).

    Raises
    ------
    ValueError
        If the folder holds no pair, a noisy image has no clean one, or a pair's sizes differ.

    """
    folder = Path(folder)
    noisy_paths = sorted(p for p in (folder / "noisy").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not noisy_paths:
        raise ValueError(f"no noisy/clean pairs found in {folder} (expected {folder}/noisy and {folder}/clean)")
    pairs = []
    for noisy_path in noisy_paths:
        clean_path = folder / "clean" / noisy_path.name
        if not clean_path.exists():
            raise ValueError(f"{noisy_path} has no clean image {clean_path}")
        noisy, clean = (np.round(read_image(path, channels=channels).pixels * 255) for path in (noisy_path, clean_path))
        if noisy.shape != clean.shape:
            raise ValueError(f"{noisy_path.name}: noisy {noisy.shape} and clean {clean.shape} differ in size")
        pairs.append(np.concatenate([noisy, clean], axis=2).astype(np.uint8))
    return pairs


def _augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply one of the eight flips/rotations of the square."""
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return np.rot90(patch, k=int(rng.integers(4)))


def _draw_noise(count: int, noise: list[NoiseRange], rng: np.random.Generator) -> list[tuple[str, float]]:
    """Draw a noise kind and level for each of ``count`` patches: a range at random, a level uniformly in it."""
    draws = []
    for _ in range(count):
        noise_range = noise[int(rng.integers(len(noise)))]
        draws.append((noise_range.kind, float(rng.uniform(noise_range.low, noise_range.high))))
    return draws


def _add_drawn_noise(clean: np.ndarray, draws: list[tuple[str, float]], rng: np.random.Generator) -> np.ndarray:
    """Add each patch's drawn noise (:func:`_draw_noise`) to a batch.

    Colour patches that draw camera noise get it in one batched call (:func:`denoise.noise.camera_noise`),
    which keeps a GPU fed where one call per patch would not.
    """
    noisy = np.empty_like(clean)
    camera_indices, camera_levels = [], []
    for index, (image, (kind, level)) in enumerate(zip(clean, draws, strict=True)):
        if kind == "camera" and image.shape[-1] == 3:
            camera_indices.append(index)
            camera_levels.append(level)
            continue
        # Gaussian noise stays unclipped, as in the evaluation convention.
        noisy[index] = add_noise(image, kind, level, seed=rng, clip=kind != "gaussian")
    if camera_indices:
        noisy[camera_indices] = camera_noise(clean[camera_indices], np.array(camera_levels), rng)
    return noisy


def _noisy_batch(clean: np.ndarray, noise: list[NoiseRange], rng: np.random.Generator) -> np.ndarray:
    """Add noise of a randomly chosen kind and level to each image of a batch."""
    return _add_drawn_noise(clean, _draw_noise(len(clean), noise, rng), rng)


def _noisy_only_pair(
    patches: np.ndarray,
    objective: str,
    noise: list[NoiseRange],
    rng: np.random.Generator,
    *,
    noisy_data: bool,
    frames: int = 1,
    reference: Callable[[np.ndarray], np.ndarray] | None = None,
    regularizer: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the inputs and targets of a noisy-only objective (:mod:`denoise.objectives`) for a batch.

    With ``noisy_data`` the patches are noisy already (a folder of noisy photos; ``frames``
    aligned shots stacked along the channels for ``noise2noise``), and a ``gaussian`` range in
    ``noise`` gives their known level for ``recorrupted``. Otherwise they are clean, and get the
    drawn noise here; the clean patches go no further (``noise2noise`` gets a second draw of
    the same kind and level). With a ``regularizer`` weight, ``reference`` denoises the noisy
    patches for the Neighbor2Neighbor regularizer.
    """
    second_shot, sigma = None, None
    if noisy_data:
        noisy = patches
        if frames > 1:
            channels = patches.shape[3] // frames
            shots = patches.reshape(*patches.shape[:3], frames, channels)
            first = rng.integers(frames, size=len(patches))
            other = (first + rng.integers(1, frames, size=len(patches))) % frames
            rows = np.arange(len(patches))
            noisy, second_shot = shots[rows, :, :, first], shots[rows, :, :, other]
        if objective == "recorrupted":
            levels = [r.low for r in noise if r.kind == "gaussian"]
            sigma = levels[0] / 255 if levels else None
    else:
        draws = _draw_noise(len(patches), noise, rng)
        noisy = _add_drawn_noise(patches, draws, rng)
        if objective == "noise2noise":
            second_shot = _add_drawn_noise(patches, draws, rng)
        if objective == "recorrupted":
            if any(kind != "gaussian" for kind, _ in draws):
                raise ValueError("the recorrupted objective needs Gaussian noise of a known level (gaussian:LEVEL)")
            sigma = np.array([level / 255 for _, level in draws], np.float32)
    denoised = reference(noisy) if reference is not None and regularizer else None
    return training_pair(
        objective, noisy, rng, second_shot=second_shot, sigma=sigma, denoised=denoised, regularizer=regularizer
    )


#: Where a model works: on images (sRGB), or on the sensor's mosaic before demosaicing.
DOMAINS = ("image", "raw")


def _raw_batch(clean: np.ndarray, noise: list[NoiseRange], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Raw training inputs and targets (:func:`denoise.raw.unprocessed_pairs`) from sRGB patches.

    Each patch draws one of the ``camera`` ranges, and its ISO log-uniformly within it, so
    that every stop of ISO gets as many patches.
    """
    from denoise.raw import unprocessed_pairs

    chosen = [noise[int(rng.integers(len(noise)))] for _ in range(len(clean))]
    iso = np.array([np.exp(rng.uniform(np.log(max(r.low, 1.0)), np.log(max(r.high, 1.0)))) for r in chosen])
    return unprocessed_pairs(clean, iso, rng)


def recolour(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permute an H x W x 3 patch's channels at random and scale its saturation by U(0.5, 1.5).

    Six channel orders turn a photo's usual hues (sky, foliage, skin) into all the others, and
    the saturation scale reaches the saturated colours that the training photos lack; the
    grey axis (the channels' mean) is left as it was. The result is clipped to [0, 1].
    """
    permuted = patch[..., rng.permutation(3)]
    grey = permuted.mean(axis=-1, keepdims=True)
    return np.clip(grey + rng.uniform(0.5, 1.5) * (permuted - grey), 0.0, 1.0)


def random_patches(
    images: list[np.ndarray],
    count: int,
    patch_size: int,
    rng: np.random.Generator,
    *,
    recolour_patches: bool = False,
    scale: float | None = None,
    augment: bool = True,
) -> np.ndarray:
    """Cut ``count`` random, randomly flipped and rotated patches as float32, multiplied by ``scale``.

    ``scale`` defaults to 1 / 255 for uint8 images (to [0, 1]) and 1 for float images (as they
    are). With ``recolour_patches``, colour patches are also passed through :func:`recolour`.
    Without ``augment`` they are neither flipped nor rotated (packed mosaics, whose pattern a
    flip would change).
    """
    if scale is None:
        scale = 1 / 255 if images[0].dtype == np.uint8 else 1.0
    patches = np.empty((count, patch_size, patch_size, images[0].shape[2]), np.float32)
    for index in range(count):
        image = images[int(rng.integers(len(images)))]
        top = int(rng.integers(image.shape[0] - patch_size + 1))
        left = int(rng.integers(image.shape[1] - patch_size + 1))
        patch = image[top : top + patch_size, left : left + patch_size]
        patches[index] = (_augment(patch, rng) if augment else patch) * np.float32(scale)
        if recolour_patches and patches.shape[3] == 3:
            patches[index] = recolour(patches[index], rng)
    return patches


def _pair_patches(
    pairs: list[np.ndarray], count: int, patch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``count`` patches from :func:`load_pairs`' stacked pairs; return them as ``(noisy, clean)``."""
    stacked = random_patches(pairs, count, patch_size, rng)
    channels = stacked.shape[3] // 2
    return stacked[..., :channels], stacked[..., channels:]


def noise_weights(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per-patch loss weights inversely proportional to each patch's noise, averaging 1.

    The noise strength is measured, not told: the root mean square of ``noisy - clean``, so the
    weights work for every noise kind. It is floored at :data:`WEIGHT_NOISE_FLOOR`, so nearly
    clean patches do not take over the loss.

    Parameters
    ----------
    noisy, clean : ndarray
        A batch of patches, the same shape, first axis the batch.

    Returns
    -------
    ndarray
        float32 weights, one per patch, with mean 1.

    """
    axes = tuple(range(1, noisy.ndim))
    strength = np.sqrt(np.mean(np.square(noisy - clean), axis=axes))
    weights = 1.0 / np.maximum(strength, WEIGHT_NOISE_FLOOR)
    return (weights / weights.mean()).astype(np.float32)


class PatchSequence(keras.utils.PyDataset):
    """Batches of ``(noisy, clean)`` patches, with new patches and noise every epoch.

    Parameters
    ----------
    images : list of ndarray
        Training images, H x W x C, each at least ``patch_size`` on a side: uint8 (0-255), or float32
        values as they are (:func:`load_folder`).
    patch_size : int
        Side of the square patches.
    batch_size : int
        Patches per batch.
    batches_per_epoch : int
        Length of one epoch.
    noise : list of NoiseRange
        Noise kinds and level ranges to draw from.
    seed : int, default 0
        Base seed; batch ``i`` of epoch ``e`` always holds the same data.
    flatten : bool, default False
        Return flattened patches, for the dense patch autoencoder.
    weight_by_noise : bool, default False
        Also return :func:`noise_weights` as per-patch loss weights.
    workers : int, default 1
        Threads that prepare batches ahead of training (Keras's ``PyDataset`` workers). A GPU
        outruns one thread; batches stay the same whatever the number.
    recolour_patches : bool, default False
        Pass colour patches through :func:`recolour` (channel order and saturation).
    pairs : list of ndarray, optional
        Real noisy/clean pairs from :func:`load_pairs`; ``pairs_fraction`` of each batch is cut
        from them instead of getting synthetic noise.
    pairs_fraction : float, default 0.5
        Share of each batch taken from ``pairs``.
    teacher : callable, optional
        Distillation: a denoiser (batch of noisy patches to batch of denoised ones) whose output
        is the target of the synthetic-noise patches instead of their clean originals. The
        pairs from ``pairs`` keep their real clean targets.
    domain : {"image", "raw"}, default "image"
        ``"raw"``: colour patches become raw training pairs (:func:`_raw_batch`): inputs are
        the packed noisy mosaic and its noise planes, targets the packed clean mosaic; every
        noise range must be ``camera`` (the ISO), and there are no pairs or teacher.
    objective : str, default "supervised"
        One of :data:`denoise.objectives.OBJECTIVES`. A noisy-only objective never returns a
        clean patch: its targets are what the objective makes from noisy ones (:func:`_noisy_only_pair`).
    noisy_data : bool, default False
        ``images`` are noisy already (no noise is added); with ``frames`` > 1, each holds that
        many aligned shots stacked along the channels (:func:`load_bursts`).
    frames : int, default 1
        Shots per image of ``images`` when ``noisy_data``.
    regularizer : float, default 0
        The final weight of the Neighbor2Neighbor regularizer (:func:`denoise.objectives.neighbour_pair`),
        reached at the last of ``epochs``: it rises linearly from ``regularizer / epochs`` in the
        first epoch, as in Huang et al.'s training. Its ``f(y)`` comes from a copy of the model
        in training (:meth:`follow`), brought up to date at the start of every epoch.
    epochs : int, default 1
        The run's epochs, over which the regularizer's weight rises.

    """

    def __init__(
        self,
        images: list[np.ndarray],
        *,
        patch_size: int,
        batch_size: int,
        batches_per_epoch: int,
        noise: list[NoiseRange],
        seed: int = 0,
        flatten: bool = False,
        weight_by_noise: bool = False,
        workers: int = 1,
        recolour_patches: bool = False,
        pairs: list[np.ndarray] | None = None,
        pairs_fraction: float = 0.5,
        teacher: Callable[[np.ndarray], np.ndarray] | None = None,
        domain: str = "image",
        objective: str = "supervised",
        noisy_data: bool = False,
        frames: int = 1,
        regularizer: float = 0.0,
        epochs: int = 1,
    ) -> None:
        super().__init__(workers=workers, use_multiprocessing=False)
        if regularizer and objective not in NEIGHBOUR_OBJECTIVES:
            raise ValueError(f"the regularizer is Neighbor2Neighbor's; the {objective} objective has none")
        _check_domain(domain, noise, images[0].shape[2] // frames if images else 3)
        _check_objective(objective, noisy_data=noisy_data, frames=frames, extras=bool(pairs or teacher), domain=domain)
        too_small = [image.shape for image in images if min(image.shape[:2]) < patch_size]
        if too_small:
            raise ValueError(f"{len(too_small)} training images are smaller than the {patch_size}-pixel patch")
        self.images = images
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.noise = noise
        self.seed = seed
        self.flatten = flatten
        self.weight_by_noise = weight_by_noise
        self.recolour_patches = recolour_patches
        self.pairs = pairs or []
        self.real_count = int(round(pairs_fraction * batch_size)) if self.pairs else 0
        self.teacher = teacher
        self.domain = domain
        self.objective, self.noisy_data, self.frames = objective, noisy_data, frames
        self.regularizer, self.epochs = regularizer, epochs
        self.epoch = 0
        self._reference: keras.Model | None = None
        self._reference_lock = threading.Lock()

    def follow(self, model: keras.Model) -> keras.callbacks.Callback:
        """Take the regularizer's ``f(y)`` from a copy of ``model``; return the callback that updates it.

        The copy, not the model itself, runs here: batches are made on other threads while the
        model trains, and the JAX backend keeps the weights apart from the model during an
        epoch. Passed to ``fit``, the callback copies the model's weights at each epoch's
        start, before any of the epoch's batches is made, so the batches do not depend on the
        number of workers.
        """
        reference = keras.models.clone_model(model)

        def update() -> None:
            # Copies: on a CPU the JAX backend may share buffers with NumPy, and its training
            # steps hand the model's buffers over (donate them), which would delete the copy's.
            reference.set_weights([np.array(weight, copy=True) for weight in model.get_weights()])

        update()
        self._reference = reference

        class _Refresh(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                update()

        return _Refresh()

    def _regularizer_weight(self) -> float:
        """Return the regularizer's weight in the current epoch (0 without one)."""
        if not self.regularizer:
            return 0.0
        if self._reference is None:
            raise RuntimeError("a regularized PatchSequence needs follow(model) before its first batch")
        return self.regularizer * min(self.epoch + 1, self.epochs) / self.epochs

    def _reference_output(self, noisy: np.ndarray) -> np.ndarray:
        """Return what the regularizer's copy of the model makes of a batch of noisy patches."""
        # One call at a time: under JAX a call hands over the copy's weights and takes them back.
        with self._reference_lock:
            return np.asarray(self._reference.predict_on_batch(noisy), dtype=np.float32)

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clean = random_patches(
            self.images, self.batch_size - self.real_count, self.patch_size, rng, recolour_patches=self.recolour_patches
        )
        if self.domain == "raw":
            noisy, clean = _raw_batch(clean, self.noise, rng)
        elif self.objective != "supervised":  # "clean" is the objective's noisy target from here on
            noisy, clean = _noisy_only_pair(
                clean,
                self.objective,
                self.noise,
                rng,
                noisy_data=self.noisy_data,
                frames=self.frames,
                reference=self._reference_output,
                regularizer=self._regularizer_weight(),
            )
        else:
            noisy = _noisy_batch(clean, self.noise, rng)
        if self.teacher is not None:
            clean = np.asarray(self.teacher(noisy), dtype=np.float32)
        if self.real_count:
            real_noisy, real_clean = _pair_patches(self.pairs, self.real_count, self.patch_size, rng)
            noisy, clean = np.concatenate([noisy, real_noisy]), np.concatenate([clean, real_clean])
        if self.flatten:
            noisy, clean = noisy.reshape(len(noisy), -1), clean.reshape(len(clean), -1)
        if not self.weight_by_noise:
            return noisy, clean
        weights = noise_weights(noisy[..., : clean.shape[-1]], clean)
        # The squared error is averaged over channels only, so the weights broadcast over pixels.
        return noisy, clean, weights.reshape(weights.shape + (1,) * (noisy.ndim - 2))

    def on_epoch_end(self) -> None:
        """Move on to the next epoch's patches and noise."""
        self.epoch += 1


def validation_pairs(
    images: list[np.ndarray],
    *,
    patch_size: int,
    count: int,
    noise: list[NoiseRange],
    seed: int = 12345,
    domain: str = "image",
    objective: str = "supervised",
    noisy_data: bool = False,
    frames: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a fixed set of ``(noisy, clean)`` patches, the same on every call.

    In the raw domain, raw pairs; under a noisy-only objective, its inputs and noisy targets
    (the PSNR against them is lower than against clean images, but ranks models the same way).
    """
    rng = np.random.default_rng(seed)
    clean = random_patches(images, count, patch_size, rng)
    if domain == "raw":
        return _raw_batch(clean, noise, rng)
    if objective != "supervised":
        return _noisy_only_pair(clean, objective, noise, rng, noisy_data=noisy_data, frames=frames)
    return _noisy_batch(clean, noise, rng), clean


def _check_objective(objective: str, *, noisy_data: bool, frames: int, extras: bool, domain: str) -> None:
    """Refuse an unknown objective, and combinations that cannot be trained."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if objective == "supervised" and noisy_data:
        raise ValueError("supervised training needs clean images; for noisy ones choose a noisy-only objective")
    if objective != "supervised" and (extras or domain != "image"):
        raise ValueError(f"the {objective} objective trains on images alone (no real pairs, teacher or raw domain)")
    if objective == "noise2noise" and noisy_data and frames < 2:
        raise ValueError("noise2noise on noisy images needs two or more shots of each scene (a folder per scene)")


def load_bursts(folder: str | Path, channels: int) -> tuple[list[np.ndarray], int]:
    """Read aligned noisy shots: ``folder/SCENE/*`` (two or more images of one size per scene, a pair or a burst).

    Returns each scene's shots stacked along the channels (uint8, H x W x frames*C), all cut to
    the fewest shots a scene has, and that number of frames.

    Raises
    ------
    ValueError
        If no scene folder holds two shots, or a scene's shots differ in size.

    """
    scenes = []
    for scene in sorted(path for path in Path(folder).iterdir() if path.is_dir()):
        shots = sorted(path for path in scene.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        if len(shots) < 2:
            continue
        pixels = [np.round(read_image(path, channels=channels).pixels * 255).astype(np.uint8) for path in shots]
        if len({image.shape for image in pixels}) > 1:
            raise ValueError(f"{scene}: the shots of a scene must be the same size")
        scenes.append(pixels)
    if not scenes:
        raise ValueError(f"no scene folder with two or more shots in {folder} (expected {folder}/SCENE/*.png)")
    frames = min(len(shots) for shots in scenes)
    return [np.concatenate(shots[:frames], axis=2) for shots in scenes], frames


def _check_domain(domain: str, noise: list[NoiseRange], channels: int) -> None:
    """Refuse a domain this module does not know, and raw training on anything but colour camera noise."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    if domain == "raw" and (channels != 3 or any(r.kind != "camera" for r in noise)):
        raise ValueError("raw training takes colour images (--channels 3) and camera noise only (camera:LOW-HIGH ISO)")


def real_validation_pairs(
    pairs: list[np.ndarray], *, patch_size: int, count: int, seed: int = 54321
) -> tuple[np.ndarray, np.ndarray]:
    """Return a fixed set of ``(noisy, clean)`` patches cut from :func:`load_pairs`' pairs."""
    return _pair_patches(pairs, count, patch_size, np.random.default_rng(seed))
