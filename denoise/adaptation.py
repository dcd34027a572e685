"""Adapting a denoiser to the photos at hand: a short fine-tune on their own noisy patches.

:func:`adapt` (also :meth:`denoise.Denoiser.adapt`) takes the model a denoiser runs on the given
images, copies it, and trains the copy for a few seconds to a minute on random patches of those
images under a noisy-only objective (:mod:`denoise.objectives`), chosen from what is known of
the noise: ``recorrupted`` when it is Gaussian of a known level (the app or the command line
added it), ``shuffled-neighbor2neighbor`` for photos that came noisy (their noise is spatially
correlated). No clean image is needed. The adapted denoiser is the given one with that model
replaced by its adapted copy, which runs on TensorFlow (the fast runtimes need a weights file);
everything around it (tiling, a family's routing and luminance blend, ensembles) is kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from denoise.classical import PHOTO_NOISE_STRIDE, estimate_noise_sigma
from denoise.compose import ConvolutionalModel, channel_inputs, leaf_models, replace_leaf
from denoise.data import random_patches
from denoise.objectives import NEIGHBOUR_OBJECTIVES, patch_shrink, training_pair
from denoise.quiet import first_line

__all__ = ["ADAPTATION_STEPS", "AdaptationError", "adapt", "adaptation_objective", "adapted_card", "save_adapted"]

#: Steps when neither a time nor a number of steps is given.
ADAPTATION_STEPS = 300
#: Patch side, patches per step and Adam's learning rate (a gentle fine-tune, as in Pang et al.'s
#: Recorrupted-to-Recorrupted: small steps keep what the model knew).
PATCH_SIDE = 96
BATCH_SIZE = 8
LEARNING_RATE = 5e-5
#: Steps over which the learning rate rises from 0 to :data:`LEARNING_RATE`: Adam's first steps at
#: the full rate knock a trained model back further than a short adaptation wins back.
WARMUP_STEPS = 20
#: Below this estimated noise (0-1 scale) a photo that came noisy has nothing to adapt to.
NO_NOISE_SIGMA = 0.5 / 255


class AdaptationError(RuntimeError):
    """A training step failed while adapting; the denoiser it started from is unchanged."""


def adaptation_objective(noise: tuple[str, float] | None) -> str:
    """Return the objective for what is known of the noise: ``(kind, level)`` if it was added here, else None."""
    if noise is not None and noise[0] == "gaussian":
        return "recorrupted"
    return "shuffled-neighbor2neighbor"


def adapt(
    denoiser,
    images: Sequence[np.ndarray],
    *,
    seconds: float | None = None,
    steps: int | None = None,
    noise: tuple[str, float] | None = None,
    progress: Callable[[float], None] | None = None,
    seed: int = 0,
    regularizer: float = 0.0,
):
    """Return a copy of the denoiser's model fine-tuned on patches of ``images`` (see the module docstring).

    Parameters
    ----------
    denoiser : Denoiser
        What to start from; it is left as it was.
    images : sequence of ndarray
        The noisy images (H x W, H x W x 1 or H x W x 3 floats), each at least 48 pixels on a side.
    seconds : float, optional
        Stop after this long (the step under way finishes).
    steps : int, optional
        Stop after this many steps; with neither, :data:`ADAPTATION_STEPS`.
    noise : (str, float), optional
        The noise, where it is known: ``("gaussian", sigma)`` on the 0-255 scale. None: the
        images came noisy.
    progress : callable, optional
        Called with the share done (0 to 1) after each step; it may raise to stop adapting.
    seed : int, default 0
        Seed of the patches and of the objective's random choices.
    regularizer : float, default 0
        For photos that came noisy, the weight of Huang et al.'s regularizer
        (:func:`denoise.objectives.neighbour_pair`), from the model's output at each step.
        Measured on PolyU (``docs/benchmarks.md``), it loses less than without, but still loses.

    Returns
    -------
    Denoiser
        The adapted model alone, tiled; its card says how it was adapted.

    Raises
    ------
    ValueError
        If there is no image, an image is too small or not an image, the images came noisy
        but show no measurable noise, or the denoiser's model for these images is not
        convolutional.
    AdaptationError
        If a training step fails (one line; the error it wraps is its cause). Whatever
        ``progress`` raises goes through as it is.

    """
    from denoise.inference import Denoiser

    if not images:
        raise ValueError("adapting needs at least one image")
    arrays = [Denoiser._check(image) for image in images]
    leaf = next(leaf_models(denoiser.piece.resolve(arrays[0])))
    if not isinstance(leaf, ConvolutionalModel):
        raise ValueError(f"{leaf.name} works on patches; only convolutional models adapt")
    if noise is None and _without_noise(arrays):
        raise ValueError("these images show no measurable noise: there is nothing to adapt to")
    objective = adaptation_objective(noise)
    quantum = leaf.stride * patch_shrink(objective)
    side = min(PATCH_SIDE, min(min(array.shape[:2]) for array in arrays)) // quantum * quantum
    if side < quantum:
        raise ValueError(f"images must be at least {quantum} pixels on a side to adapt to them")
    model_inputs = [part for array in arrays for part in channel_inputs(array, leaf.channels)]
    model = keras.models.clone_model(leaf.model)
    model.set_weights([np.asarray(weight, np.float32) for weight in leaf.model.get_weights()])
    # A linear warm-up, then the constant rate (a cosine "decay" to alpha 1 never decays).
    rate = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=1, alpha=1.0, warmup_target=LEARNING_RATE, warmup_steps=WARMUP_STEPS
    )
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
    sigma = noise[1] / 255 if objective == "recorrupted" else None
    regularized = bool(regularizer) and objective in NEIGHBOUR_OBJECTIVES
    total = steps if steps is not None else (None if seconds is not None else ADAPTATION_STEPS)
    rng = np.random.default_rng(seed)
    started, done = time.perf_counter(), 0
    while (total is None or done < total) and (seconds is None or time.perf_counter() - started < seconds):
        patches = random_patches(model_inputs, BATCH_SIZE, side, rng, scale=1)
        denoised = model.predict_on_batch(patches) if regularized else None
        inputs, targets = training_pair(
            objective, patches, rng, sigma=sigma, denoised=denoised, regularizer=regularizer
        )
        try:
            loss = float(np.asarray(model.train_on_batch(inputs, targets)))
        except Exception as error:  # the backend's own errors have no common base
            raise AdaptationError(f"adapting failed at step {done + 1}: {first_line(error)}") from error
        if not np.isfinite(loss):
            raise AdaptationError(f"adapting failed at step {done + 1}: the loss is {loss}")
        done += 1
        if progress is not None:
            shares = [done / total if total else 0.0, (time.perf_counter() - started) / seconds if seconds else 0.0]
            progress(min(1.0, max(shares)))
    name = f"{leaf.name} adapted"
    card = dict(denoiser.cards.get(leaf.channels, {}))
    card.update(
        name=name,
        adapted={
            "from": leaf.name,
            "objective": objective,
            **({"regularizer": regularizer} if regularized else {}),
            "steps": done,
            "images": len(arrays),
            "seed": seed,
        },
    )
    return Denoiser(
        replace_leaf(denoiser.piece, leaf, ConvolutionalModel(model, name)),
        name=f"{denoiser.name} adapted",
        cards={**denoiser.cards, leaf.channels: card},
        orientations=denoiser.orientations,
        precision=denoiser.precision,
        tile_size=denoiser.tile_size,
        compiled=denoiser.compiled,
    )


def _without_noise(images: list[np.ndarray]) -> bool:
    """Whether every image large enough to tell shows less noise than :data:`NO_NOISE_SIGMA`."""
    levels = []
    for image in images:
        with contextlib.suppress(ValueError):  # too small to tell: the patch size check speaks for it
            levels.append(estimate_noise_sigma(image, stride=PHOTO_NOISE_STRIDE))
    return bool(levels) and max(levels) < NO_NOISE_SIGMA


def adapted_card(denoiser) -> tuple[int, dict]:
    """Return the channel count and card of the model that :func:`adapt` adapted in ``denoiser``.

    Its ``adapted`` entry says from what, by which objective, in how many steps.

    Raises
    ------
    ValueError
        If the denoiser was not made by :func:`adapt`.

    """
    for channels, card in denoiser.cards.items():
        if "adapted" in card:
            return channels, card
    raise ValueError(f"{denoiser.name} was not adapted; adapt it first")


def save_adapted(denoiser, folder: Path, name: str, command: str = "") -> Path:
    """Save an adapted denoiser's adapted model as ``folder/NAME.keras`` with its card; return the path.

    Only that model is saved, not the family around it (a luminance blend, low-noise routing).

    Saved there (the app's "Your models", :func:`denoise.training_jobs.user_models_dir`), it
    loads by path like any model: ``denoise run --model PATH`` for the rest of a shoot.

    Raises
    ------
    ValueError
        If ``name`` is not a plain file name, or the denoiser was not made by :func:`adapt`.

    """
    from denoise.cards import write_card
    from denoise.files import write_atomically
    from denoise.registry import NAME_PATTERN

    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '-' and '_'")
    channels, card = adapted_card(denoiser)
    leaf = next(leaf for leaf in leaf_models(denoiser.piece) if leaf.name == card["name"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.keras"
    write_atomically(path, leaf.model.save)
    write_card(path.with_suffix(".json"), {**card, "name": name, "channels": channels, "command": command}, path)
    return path
