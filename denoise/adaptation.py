"""Adapting a denoiser to the photos at hand: a short fine-tune on their own patches, a filter of their blocks.

:func:`adapt` (also :meth:`denoise.Denoiser.adapt`) takes the models a denoiser runs on the given
images, copies them, and trains each copy for its share of a few seconds to a minute on random
patches of what it runs on (the images; their luminance for a family's grey model) under a
noisy-only objective (:mod:`denoise.objectives`), chosen from what is known of
the noise: ``recorrupted`` when it is Gaussian of a known level (the app or the command line
added it), ``shuffled-neighbor2neighbor`` for photos that came noisy (their noise is spatially
correlated). No clean image is needed. The adapted denoiser is the given one with those models
replaced by their adapted copies, which runs on TensorFlow (the fast runtimes need a weights file);
everything around it (tiling, a family's routing and luminance blend, ensembles) is kept. Its
result then guides a collaborative Wiener filter of each image's similar blocks
(:func:`with_collaborative_filter`), with the known level's white noise; for photos that came
noisy the filter, with the noise measured in each photo, *replaces* the fine-tune, which lost
0.7-0.9 dB on PolyU's real camera noise where the filter gains about 0.5 (``docs/benchmarks.md``).

:func:`adapt_raw` (also :meth:`denoise.raw_model.RawDenoiser.adapt`) does the same for the raw
model on one raw photo's mosaic. There the noise is what Recorrupted-to-Recorrupted assumes:
pixel-independent, of a known law (the ISO's or the one measured in the mosaic), Gaussian of one
level once stabilised (:meth:`denoise.raw.RawNoise.stabilise`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from denoise.classical import PHOTO_NOISE_STRIDE, estimate_noise_sigma
from denoise.compose import (
    ConvolutionalModel,
    GuidedWiener,
    LuminanceBlend,
    leaf_inputs,
    leaf_models,
    pieces_within,
    replace_leaf,
)
from denoise.data import random_patches
from denoise.models import in_float32
from denoise.objectives import NEIGHBOUR_OBJECTIVES, RECORRUPTION_ALPHA, patch_shrink, training_pair
from denoise.quiet import first_line

__all__ = [
    "ADAPTATION_SECONDS",
    "ADAPTATION_STEPS",
    "FILTER_ONLY",
    "LUMINANCE_SUFFIX",
    "AdaptationError",
    "adapt",
    "adapt_raw",
    "adaptation_objective",
    "adapted_card",
    "adapted_steps",
    "describe_adaptation",
    "save_adapted",
    "with_collaborative_filter",
]

#: Steps when neither a time nor a number of steps is given.
ADAPTATION_STEPS = 300
#: Seconds of adapting that the app's button and the command line take when not told: a
#: 12-megapixel photo then takes about 53 s in all with the photo model on 2 cores
#: (docs/benchmarks.md).
ADAPTATION_SECONDS = 30.0
#: Patch side, patches per step and Adam's learning rate (a gentle fine-tune, as in Pang et al.'s
#: Recorrupted-to-Recorrupted: small steps keep what the model knew).
PATCH_SIDE = 96
BATCH_SIZE = 8
LEARNING_RATE = 5e-5
#: Steps over which the learning rate rises from 0 to :data:`LEARNING_RATE`: Adam's first steps at
#: the full rate knock a trained model back further than a short adaptation wins back.
WARMUP_STEPS = 20
#: What :func:`save_adapted` adds to a saved model's name for the grey model of its luminance.
LUMINANCE_SUFFIX = ".luminance"
#: The ``objective`` an adapted card records where the collaborative filter was all the adapting.
FILTER_ONLY = "collaborative"
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
    collaborative: bool = True,
):
    """Return the denoiser with its models fine-tuned on patches of ``images`` (see the module docstring).

    Every convolutional model the images run through is adapted, on its own input (a grey
    model of a luminance blend on the images' luminance, where a known Gaussian level is √3
    times lower), with an equal share of the steps or time, the main (colour) model first.

    Parameters
    ----------
    denoiser : Denoiser
        What to start from; it is left as it was.
    images : sequence of ndarray
        The noisy images (H x W, H x W x 1 or H x W x 3 floats), each at least 48 pixels on a side.
    seconds : float, optional
        Stop after this long in all (the step under way finishes). Each model still takes at
        least one step, however slow its set-up: an adaptation asked for never does nothing.
    steps : int, optional
        Stop after this many steps in all; with neither, :data:`ADAPTATION_STEPS`.
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
    collaborative : bool, default True
        Let the result guide a collaborative Wiener filter of each image's similar blocks
        (:func:`with_collaborative_filter`; images up to 2 megapixels). Where the images came
        noisy, that filter is all the adapting: no model is fine-tuned (False: the
        ``shuffled-neighbor2neighbor`` fine-tune alone, which keeps a model for
        :func:`save_adapted`).

    Returns
    -------
    Denoiser
        The denoiser with each adapted model in place; each one's card (by channel count)
        says how it was adapted, in how many steps (the main model's: by the ``collaborative``
        filter, in 0 steps, where that is all).

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
    leaves = _leaves_and_inputs(denoiser.piece, arrays)
    if noise is None and _without_noise(arrays):
        raise ValueError("these images show no measurable noise: there is nothing to adapt to")
    objective = adaptation_objective(noise)
    if collaborative and noise is None:
        return _filtered_only(denoiser, leaves, len(arrays), progress)
    quantum = max(leaf.stride for leaf in leaves) * patch_shrink(objective)
    side = min(PATCH_SIDE, min(min(array.shape[:2]) for array in arrays)) // quantum * quantum
    if side < quantum:
        raise ValueError(f"images must be at least {quantum} pixels on a side to adapt to them")
    sigma = noise[1] / 255 if objective == "recorrupted" else None
    regularizer = regularizer if objective in NEIGHBOUR_OBJECTIVES else 0.0  # the others have none
    counter = _StepCounter(steps, seconds, progress)
    total = counter.total
    rng = np.random.default_rng(seed)
    adapted = {}
    for index, (leaf, groups) in enumerate(leaves.items()):
        # Each model gets an equal share of the steps or of the time, the main path's first.
        share = None if total is None else total // len(leaves) + (index < total % len(leaves))
        deadline = None if seconds is None else counter.started + seconds * (index + 1) / len(leaves)
        model, count = _fine_tune(
            leaf,
            groups,
            objective=objective,
            sigma=sigma,
            side=side,
            steps=share,
            deadline=deadline,
            rng=rng,
            regularizer=regularizer,
            first_step=counter.finished + 1,
            step_done=counter.step_done,
        )
        if count:
            adapted[leaf] = (model, count)
    piece, cards = denoiser.piece, dict(denoiser.cards)
    for leaf, (model, count) in adapted.items():
        name = f"{leaf.name} adapted"
        piece = replace_leaf(piece, leaf, ConvolutionalModel(model, name))
        record = {
            "from": leaf.name,
            "objective": objective,
            **({"regularizer": regularizer} if regularizer else {}),
            "steps": count,
            "images": len(arrays),
            "seed": seed,
        }
        cards[leaf.channels] = {**denoiser.cards.get(leaf.channels, {}), "name": name, "adapted": record}
    adapted_denoiser = _with_piece(denoiser, piece, f"{denoiser.name} adapted", cards)
    if collaborative and objective == "recorrupted":
        return with_collaborative_filter(adapted_denoiser, sigma)
    return adapted_denoiser


def with_collaborative_filter(denoiser, sigma: float | None = None):
    """Return the denoiser with its result as the guide of a collaborative Wiener filter of each image.

    The filter (:class:`denoise.compose.GuidedWiener`) denoises the image's similar blocks
    together with gains from the denoiser's result. It takes white Gaussian noise of the known
    ``sigma`` (0-1 scale), or, with None, the noise it measures in each image's residual from
    the denoiser's result. The models' names say so (``... + collaborative Wiener``);
    :func:`save_adapted` keeps the models alone.
    """
    return _with_piece(denoiser, GuidedWiener(denoiser.piece, sigma=sigma), denoiser.name, denoiser.cards)


def _filtered_only(denoiser, leaves: dict, images: int, progress: Callable[[float], None] | None):
    """Return ``denoiser`` guiding the filter with the noise measured in each image: no fine-tune.

    The main model's card records it (objective ``collaborative``, 0 steps), which
    :func:`save_adapted` refuses: no weights changed.
    """
    main = next(iter(leaves))
    record = {"from": main.name, "objective": FILTER_ONLY, "steps": 0, "images": images}
    cards = dict(denoiser.cards)
    cards[main.channels] = {**denoiser.cards.get(main.channels, {}), "adapted": record}
    if progress is not None:
        progress(1.0)
    return with_collaborative_filter(_with_piece(denoiser, denoiser.piece, f"{denoiser.name} adapted", cards))


def _with_piece(denoiser, piece, name: str, cards: dict[int, dict]):
    """Return a denoiser like ``denoiser`` (orientations, precision, tiles) running ``piece``."""
    from denoise.inference import Denoiser

    return Denoiser(
        piece,
        name=name,
        cards=cards,
        orientations=denoiser.orientations,
        precision=denoiser.precision,
        tile_size=denoiser.tile_size,
        compiled=denoiser.compiled,
    )


def adapt_raw(
    raw_denoiser,
    raw,
    *,
    noise="auto",
    seconds: float | None = None,
    steps: int | None = None,
    progress: Callable[[float], None] | None = None,
    seed: int = 0,
):
    """Return the raw denoiser with its model fine-tuned on ``raw``'s own mosaic (see the module docstring).

    Patches of the stabilised packed mosaic are recorrupted with the law's level
    (``recorrupted``); the model, told the recorrupted input's level, learns to give the other
    copy. On 20 crops unprocessed to raw, 20 s on 2 cores gained 0.39 dB at ISO 12800 and 0.14 dB
    at 25600 (``docs/benchmarks.md``).

    Parameters
    ----------
    raw_denoiser : RawDenoiser
        What to start from (:func:`denoise.raw_model.load_raw_model`); it is left as it was.
    raw : RawImage
        The raw photo (:func:`denoise.raw.read_raw`).
    noise : RawNoise or {"auto", "estimate", "iso"}, default "auto"
        The noise law, or where to take it from (:func:`denoise.raw_model.raw_noise`); denoise
        with the same one.
    seconds, steps, progress, seed
        As for :func:`adapt`.

    Returns
    -------
    RawDenoiser
        The adapted copy, on TensorFlow; its card's ``adapted`` entry says from what, under which
        law, in how many steps.

    Raises
    ------
    ValueError
        If the mosaic is smaller than one packed patch of the model's stride.
    AdaptationError
        If a training step fails (one line).

    """
    from denoise.raw import RawNoise, pack
    from denoise.raw_model import RawDenoiser, raw_noise
    from denoise.runtimes import REFERENCE_RUNTIME

    law = noise if isinstance(noise, RawNoise) else raw_noise(raw, noise)
    stabilised = law.stabilise(pack(raw.mosaic, raw.pattern))
    (leaf,) = leaf_models(raw_denoiser.piece)
    # Trained and run in float32: in bfloat16 (precision "auto" on such CPUs) one of three PolyU
    # crops at ISO 25600 gained 0.02 dB in 20 s against 0.37 in float32.
    trained = ConvolutionalModel(in_float32(leaf.model), leaf.name)
    # Patches as wide in mosaic pixels as an image's (PATCH_SIDE), so half as many packed pixels a side.
    side = min(PATCH_SIDE // 2, min(stabilised.shape[:2])) // leaf.stride * leaf.stride
    if side < leaf.stride:
        raise ValueError(f"a raw must be at least {2 * leaf.stride} pixels on a side to adapt to it")
    counter = _StepCounter(steps, seconds, progress)
    model, count = _fine_tune(
        trained,
        {1.0: [stabilised]},
        objective="recorrupted",
        sigma=law.stabilised_sigma,
        side=side,
        steps=counter.total,
        deadline=None if seconds is None else counter.started + seconds,
        rng=np.random.default_rng(seed),
        regularizer=0.0,
        first_step=1,
        step_done=counter.step_done,
        packed_mosaic=True,
    )
    name = f"{raw_denoiser.name} adapted"
    record = {"from": raw_denoiser.name, "objective": "recorrupted", "noise": str(law), "steps": count, "seed": seed}
    return RawDenoiser(
        replace_leaf(raw_denoiser.piece, leaf, ConvolutionalModel(model, name)),
        name=name,
        card={**raw_denoiser.card, "name": name, "adapted": record},
        runtime=REFERENCE_RUNTIME,
        arithmetic="float32",
    )


class _StepCounter:
    """Counts an adaptation's steps and tells ``progress`` the share done, by steps or by time.

    ``total`` is the steps asked, None where a time is (then the time decides), and
    :data:`ADAPTATION_STEPS` where neither is.
    """

    def __init__(self, steps: int | None, seconds: float | None, progress: Callable[[float], None] | None) -> None:
        self.total = steps if steps is not None else (None if seconds is not None else ADAPTATION_STEPS)
        self.seconds, self.progress = seconds, progress
        self.started, self.finished = time.perf_counter(), 0

    def step_done(self) -> None:
        """Count one step; report the share done."""
        self.finished += 1
        if self.progress is not None:
            by_steps = self.finished / self.total if self.total else 0.0
            by_time = (time.perf_counter() - self.started) / self.seconds if self.seconds else 0.0
            self.progress(min(1.0, max(by_steps, by_time)))


def _leaves_and_inputs(piece, arrays: list[np.ndarray]) -> dict[ConvolutionalModel, dict[float, list[np.ndarray]]]:
    """Return the convolutional models that ``arrays`` run through, each with its inputs by noise scale.

    Raises
    ------
    ValueError
        If none of the models the images reach is convolutional.

    """
    leaves: dict = {}
    for array in arrays:
        for leaf, model_input, scale in leaf_inputs(piece, array):
            leaves.setdefault(leaf, {}).setdefault(scale, []).append(model_input)
    convolutional = {leaf: groups for leaf, groups in leaves.items() if isinstance(leaf, ConvolutionalModel)}
    if not convolutional:
        raise ValueError(f"{next(iter(leaves)).name} works on patches; only convolutional models adapt")
    return convolutional


def _fine_tune(
    leaf: ConvolutionalModel,
    groups: dict[float, list[np.ndarray]],
    *,
    objective: str,
    sigma: float | None,
    side: int,
    steps: int | None,
    deadline: float | None,
    rng: np.random.Generator,
    regularizer: float,
    first_step: int,
    step_done: Callable[[], None],
    packed_mosaic: bool = False,
) -> tuple[keras.Model, int]:
    """Fine-tune a copy of ``leaf``'s model on patches of its inputs; return it and its step count.

    ``groups`` holds the inputs by how strong their noise is against the images' (``sigma``
    scaled for ``recorrupted``); each batch comes from one group, drawn by its share of the
    inputs. Stops after ``steps`` or at ``deadline`` (:func:`time.perf_counter`; one step at least),
    calling ``step_done`` after each step; ``first_step`` numbers the steps in errors. With
    ``packed_mosaic`` (the raw model, ``recorrupted`` only), patches keep their orientation (a
    flip would change the pattern) and the model also takes its input's noise level beside each
    channel: the recorrupted patches' ``sigma`` times √(1 + α²).
    """
    model = keras.models.clone_model(leaf.model)
    model.set_weights([np.asarray(weight, np.float32) for weight in leaf.model.get_weights()])
    # A linear warm-up, then the constant rate (a cosine "decay" to alpha 1 never decays).
    rate = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=1, alpha=1.0, warmup_target=LEARNING_RATE, warmup_steps=WARMUP_STEPS
    )
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
    scales = list(groups)
    weights = np.array([len(groups[scale]) for scale in scales], np.float64)
    count = 0
    while (steps is None or count < steps) and (deadline is None or not count or time.perf_counter() < deadline):
        scale = scales[int(rng.choice(len(scales), p=weights / weights.sum()))]
        patches = random_patches(groups[scale], BATCH_SIZE, side, rng, scale=1, augment=not packed_mosaic)
        denoised = model.predict_on_batch(patches) if regularizer else None
        inputs, targets = training_pair(
            objective,
            patches,
            rng,
            sigma=None if sigma is None else sigma * scale,
            denoised=denoised,
            regularizer=regularizer,
        )
        if packed_mosaic:
            level = sigma * scale * np.sqrt(1 + RECORRUPTION_ALPHA**2)
            inputs = np.concatenate([inputs, np.full_like(inputs, level)], axis=-1)
        try:
            loss = float(np.asarray(model.train_on_batch(inputs, targets)))
        except Exception as error:  # the backend's own errors have no common base
            raise AdaptationError(f"adapting failed at step {first_step + count}: {first_line(error)}") from error
        if not np.isfinite(loss):
            raise AdaptationError(f"adapting failed at step {first_step + count}: the loss is {loss}")
        count += 1
        step_done()
    return model, count


def _without_noise(images: list[np.ndarray]) -> bool:
    """Whether every image large enough to tell shows less noise than :data:`NO_NOISE_SIGMA`."""
    levels = []
    for image in images:
        with contextlib.suppress(ValueError):  # too small to tell: the patch size check speaks for it
            levels.append(estimate_noise_sigma(image, stride=PHOTO_NOISE_STRIDE))
    return bool(levels) and max(levels) < NO_NOISE_SIGMA


def adapted_card(denoiser) -> tuple[int, dict]:
    """Return the channel count and card of the main model that :func:`adapt` adapted in ``denoiser``.

    Its ``adapted`` entry says from what, by which objective, in how many steps (of its own;
    :func:`adapted_steps` counts them all).

    Raises
    ------
    ValueError
        If the denoiser was not made by :func:`adapt`.

    """
    for channels, card in denoiser.cards.items():
        if "adapted" in card:
            return channels, card
    raise ValueError(f"{denoiser.name} was not adapted; adapt it first")


def adapted_steps(denoiser) -> int:
    """Return how many steps :func:`adapt` took in all, over every model it adapted in ``denoiser``."""
    return sum(card["adapted"]["steps"] for card in denoiser.cards.values() if "adapted" in card)


def describe_adaptation(denoiser) -> str:
    """Say in a few words how :func:`adapt` adapted ``denoiser``: its steps, or the filter alone."""
    _, card = adapted_card(denoiser)
    if card["adapted"]["objective"] == FILTER_ONLY:
        return "a collaborative filter of each photo's blocks, its noise measured (no fine-tune)"
    filtered = " + collaborative filter" if isinstance(denoiser.piece, GuidedWiener) else ""
    return f"{adapted_steps(denoiser)} steps{filtered}"


def save_adapted(denoiser, folder: Path, name: str, command: str = "") -> Path:
    """Save an adapted denoiser as ``folder/NAME.keras`` with its card; return the path.

    The main adapted model is saved. Where it runs in a luminance blend whose grey model was
    adapted too (the default on a colour photo), that grey model is saved beside it as
    ``NAME.luminance.keras`` (:data:`LUMINANCE_SUFFIX`), and NAME's card names it with the
    blend's weight, so that :func:`denoise.load_model` puts the two together again. Low-noise
    routing around them is not kept: the saved models run at every noise level.

    Saved there (the app's "Your models", :func:`denoise.training_jobs.user_models_dir`), it
    loads by path like any model: ``denoise run --model PATH`` for the rest of a shoot.

    Raises
    ------
    ValueError
        If ``name`` is not a plain file name or ends with :data:`LUMINANCE_SUFFIX`, or the
        denoiser was not made by :func:`adapt` or was adapted by the filter alone (no weights
        changed: the filter adapts to each photo as it runs).

    """
    from denoise.cards import write_card
    from denoise.files import write_atomically
    from denoise.registry import NAME_PATTERN

    if not NAME_PATTERN.fullmatch(name) or name.endswith(LUMINANCE_SUFFIX):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '-' and '_', not ending {LUMINANCE_SUFFIX}")
    channels, card = adapted_card(denoiser)
    if card["adapted"]["objective"] == FILTER_ONLY:
        raise ValueError(
            "nothing to save: the collaborative filter adapts to each photo as it runs, and no weights changed"
        )
    leaf = next(leaf for leaf in leaf_models(denoiser.piece) if leaf.name == card["name"])
    card = {**card, "name": name, "channels": channels, "command": command}
    folder.mkdir(parents=True, exist_ok=True)
    partner = _adapted_luminance(denoiser, leaf)
    if partner is not None:
        grey, grey_card, weight = partner
        grey_name = name + LUMINANCE_SUFFIX
        grey_path = folder / f"{grey_name}.keras"
        write_atomically(grey_path, grey.model.save)
        grey_card = {**grey_card, "name": grey_name, "channels": 1, "command": command}
        write_card(grey_path.with_suffix(".json"), grey_card, grey_path)
        card["luminance"] = {"model": grey_name, "weight": weight}
    path = folder / f"{name}.keras"
    write_atomically(path, leaf.model.save)
    write_card(path.with_suffix(".json"), card, path)
    return path


def _adapted_luminance(denoiser, leaf: ConvolutionalModel) -> tuple[ConvolutionalModel, dict, float] | None:
    """Return the adapted grey model of the luminance blend ``leaf`` runs in, its card and the blend's weight."""
    grey_card = denoiser.cards.get(1, {})
    if "adapted" not in grey_card:
        return None
    for blend in pieces_within(denoiser.piece):
        if isinstance(blend, LuminanceBlend) and leaf in leaf_models(blend.colour):
            grey = next((part for part in leaf_models(blend.grey) if part.name == grey_card["name"]), None)
            if grey is not None:
                return grey, grey_card, blend.weight
    return None
