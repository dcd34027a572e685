"""Training autoencoders on noisy/clean pairs, resumably, with a model card at the end.

``train`` writes, next to each other:

``NAME.keras``
    The best model so far (highest validation PSNR), without optimizer state.
``NAME.json``
    Its model card: architecture, latent size, parameters, data, noise, patches seen,
    backend, validation PSNR and the command that trained it.
``checkpoints/NAME.keras`` and ``checkpoints/NAME.log.json``
    The latest state with the optimizer, and one record per epoch; running the same
    command again resumes from them.

A run can also start from the weights of a finished model (``initial_weights``) with a new
learning-rate schedule: a second training stage, or a user's fine-tune. Its card records the
first stage's file, card command and patches, and counts ``patches_seen`` over both stages.
Such a run keeps the starting weights unless an epoch beats them on the validation patches,
so it never ends worse than it started.

Before the first epoch, two reference scores are measured on the validation patches: the
noisy inputs' PSNR and the starting model's. They go into the card (``references``) and into
every epoch's logs (``input_psnr``, ``start_psnr``), so curves can show where a run started.
A run may also have a time budget (``seconds``) instead of running all its epochs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from denoise.cards import read_card, weights_digest, write_card
from denoise.data import (
    NoiseRange,
    PatchSequence,
    load_bursts,
    load_folder,
    load_pairs,
    real_validation_pairs,
    validation_pairs,
)
from denoise.distribute import DistributeOptions, data_parallel, process_count, process_index
from denoise.files import write_atomically, write_json
from denoise.inference import load_model, read_model_file
from denoise.models import build_model
from denoise.objectives import patch_shrink
from denoise.raw import PLANES as RAW_PLANES
from denoise.runtimes import REFERENCE_RUNTIME

__all__ = [
    "MODEL_STRIDE",
    "TrainingConfig",
    "learning_rate_schedule",
    "patch_unit",
    "psnr_metric",
    "reference_scores",
    "train",
]


@keras.saving.register_keras_serializable(package="denoise", name="psnr")
def psnr_metric(clean: keras.KerasTensor, denoised: keras.KerasTensor) -> keras.KerasTensor:
    """Peak signal-to-noise ratio in dB of each image of a batch, outputs clipped to [0, 1]."""
    reduce_axes = tuple(range(1, len(clean.shape)))
    error = ops.mean(ops.square(ops.clip(denoised, 0.0, 1.0) - clean), axis=reduce_axes)
    return -10.0 * ops.log10(ops.maximum(error, 1e-10))


@keras.saving.register_keras_serializable(package="denoise", name="LuminanceWeightedError")
class LuminanceWeightedError(keras.losses.Loss):
    """Squared error whose luminance part (the error's mean over the channels) is weighted.

    Per pixel, the mean squared error over the channels is the squared luminance part plus
    the mean squared chroma part (what is left in each channel); this loss multiplies the
    first by ``luminance_weight``, so a weight of 1 is the mean squared error.

    Parameters
    ----------
    luminance_weight : float, default 1.0
        Weight of the luminance part; below 1, training spends more of the model on colour.

    """

    def __init__(self, luminance_weight: float = 1.0, name: str = "luminance_weighted_error", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.luminance_weight = float(luminance_weight)

    def call(self, clean: keras.KerasTensor, denoised: keras.KerasTensor) -> keras.KerasTensor:
        error = denoised - clean
        luminance = ops.mean(error, axis=-1, keepdims=True)
        chroma = ops.mean(ops.square(error - luminance), axis=-1)
        return chroma + self.luminance_weight * ops.square(luminance[..., 0])

    def get_config(self) -> dict:
        return {**super().get_config(), "luminance_weight": self.luminance_weight}


@dataclass
class TrainingConfig:
    """Everything that defines a training run; saved in the model card.

    Attributes
    ----------
    data : str
        Folder of clean training images.
    output : str
        Path of the model to write, without suffix (``pretrained/unet-gray``).
    architecture : {"unet", "conv", "dense"}
    channels : int
        1 (grey) or 3 (colour); images are converted.
    latent : int
        Latent size of the model.
    width : int
        Feature maps at half resolution (``conv`` and ``unet``).
    bottom_blocks : int
        Residual blocks at the U-Net's lowest resolution.
    patch_size : int
        Training patch side (the dense model's own patch side is 8).
    batch_size, batches_per_epoch, epochs : int
        Length of training: ``epochs * batches_per_epoch * batch_size`` patches.
    learning_rate : float
        Peak Adam learning rate, decayed by a cosine over the epochs after the warm-up.
    warmup_epochs : int
        Epochs over which the learning rate rises linearly from 0 to its peak. A second stage
        wants a few: Adam's first steps at the full rate knock a trained model back.
    noise : list of NoiseRange
        Noise kinds and level ranges, drawn afresh for every patch.
    weight_by_noise : bool
        Weight each patch's squared error inversely to its noise (:func:`denoise.data.noise_weights`),
        so that low noise levels count as much as high ones.
    validation_fraction : float
        Share of the images held out for validation PSNR.
    seed : int
        Seed of the training patches and of the starting weights; a new run with the same
        config starts from the same weights and sees the same patches.
    command : str
        The command line that started the run.
    initial_weights : str or None
        A finished ``.keras`` model of the same architecture and channels to start from,
        instead of random weights. Its card (same path, ``.json``) is read if present. A U-Net
        may have more bottom blocks than that model: they start as identities (see
        :func:`_start_from`), so training begins from the same function, with more capacity.
    workers : int
        Threads preparing batches; more keep a GPU busy. The batches do not depend on it.
    luminance_loss_weight : float
        Weight of the error's luminance part in the loss (:class:`LuminanceWeightedError`);
        1 is the mean squared error.
    pairs : str or None
        A folder of real noisy/clean pairs (``noisy/`` and ``clean/``, same names;
        :func:`denoise.data.load_pairs`): ``pairs_fraction`` of each batch is cut from them.
    pairs_fraction : float
        Share of each batch from ``pairs``; the rest gets synthetic noise.
    recolour : bool
        Recolour colour training patches (:func:`denoise.data.recolour`: channel order and
        saturation), so that the model sees every hue and strong saturation. Validation
        patches are left as they are.
    teacher : str or None
        Distillation: a finished ``.keras`` model (loaded in safe mode), or a shipped family or
        model by name (``default``: with its routing and luminance blend), whose outputs on
        the synthetic-noise patches are their targets instead of the clean patches, so that a
        cheaper model learns to do what it does (:class:`denoise.data.PatchSequence`'s
        ``teacher``). Real ``pairs`` keep their clean targets.
    identity_start : bool
        A U-Net from random weights starts as the identity: its last layer (``noise``) starts
        at zero, so it first passes its input through while every other layer is alive. A
        narrow U-Net started otherwise can lose its full-resolution blocks to dead ReLUs in
        its first steps and stay the identity (as one 16-channel run did for 16 epochs).
    domain : {"image", "raw"}
        ``"raw"`` trains the raw model (:mod:`denoise.raw`): a U-Net on the packed Bayer mosaic
        and its noise planes, on ``data``'s colour images unprocessed to raw, with ``camera``
        noise ranges giving the ISO (drawn log-uniformly); ``patch_size`` counts mosaic pixels.
    seconds : float or None
        A time budget: training stops after the batch that passes it (the epoch is then
        validated and recorded as usual), or after ``epochs``, whichever comes first.
    objective : str
        What the model learns towards (:mod:`denoise.objectives`): ``supervised`` (clean
        targets) or a noisy-only objective, which never sees a clean image. Its validation PSNR
        is then against the objective's noisy targets: lower than against clean images.
    regularizer : float
        The ``neighbor2neighbor`` objectives' regularizer weight ``gamma`` at the last epoch
        (:class:`denoise.data.PatchSequence`'s ``regularizer``); 0 leaves it out. It costs one
        more forward pass per batch, on patches with 4 times the inputs' pixels.
    noisy_data : bool
        ``data`` holds noisy images (no noise is added; ``noise`` gives their known level, for
        ``recorrupted``); for ``noise2noise``, a folder per scene with two or more aligned
        shots (:func:`denoise.data.load_bursts`).
    distribute : DistributeOptions or None
        Train data-parallel over every device (:func:`denoise.distribute.data_parallel`);
        ``batch_size`` stays the global batch. With several processes each cuts its own
        share of every batch (its own seed), only process 0 writes files, and a stopped run
        starts again rather than resuming.

    """

    data: str
    output: str
    architecture: str = "unet"
    channels: int = 1
    latent: int = 64
    width: int = 32
    bottom_blocks: int = 4
    patch_size: int = 48
    batch_size: int = 32
    batches_per_epoch: int = 100
    epochs: int = 10
    learning_rate: float = 1e-3
    warmup_epochs: int = 0
    weight_by_noise: bool = False
    noise: list[NoiseRange] = field(default_factory=lambda: [NoiseRange("gaussian", 0.0, 55.0)])
    validation_fraction: float = 0.05
    seed: int = 0
    command: str = ""
    initial_weights: str | None = None
    workers: int = 1
    luminance_loss_weight: float = 1.0
    recolour: bool = False
    pairs: str | None = None
    pairs_fraction: float = 0.5
    teacher: str | None = None
    identity_start: bool = False
    distribute: DistributeOptions | None = None
    domain: str = "image"
    objective: str = "supervised"
    regularizer: float = 0.0
    noisy_data: bool = False
    seconds: float | None = None


DENSE_PATCH_SIZE = 8


def _save_model(model: keras.Model, path: Path, *, include_optimizer: bool) -> None:
    if include_optimizer:
        write_atomically(path, model.save)
        return
    # A copy without the optimizer keeps shipped files small.
    clean = keras.Model.from_config(model.get_config())
    clean.set_weights(model.get_weights())
    write_atomically(path, clean.save)


#: What the convolutional models downsample by (:func:`denoise.models.model_stride`).
MODEL_STRIDE = 8


def patch_unit(objective: str) -> int:
    """Return what a training patch's side must be a multiple of under ``objective``.

    The models' stride, times what the objective shrinks a patch by
    (:func:`denoise.objectives.patch_shrink`).
    """
    return MODEL_STRIDE * patch_shrink(objective)


def reference_scores(model: keras.Model, noisy: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Score the noisy inputs and the model as it starts on the validation patches.

    The model must be compiled with the ``psnr`` metric (:func:`psnr_metric`).

    Returns
    -------
    dict
        ``input_psnr``: the inputs' first channels against the targets (the noise planes that a
        raw model also takes are left out); ``start_psnr``: the model's outputs against them.

    """
    inputs = noisy.reshape(targets.shape) if noisy.size == targets.size else noisy[..., : targets.shape[-1]]
    # Evaluated as validation is (the compiled ``psnr`` metric), which also works data-parallel
    # over several processes, where the outputs of ``predict`` cannot be gathered.
    start = model.evaluate(noisy, targets, batch_size=32, verbose=0, return_dict=True)["psnr"]
    input_psnr = ops.convert_to_numpy(ops.mean(psnr_metric(targets, inputs)))
    return {"input_psnr": round(float(input_psnr), 3), "start_psnr": round(float(start), 3)}


class _TimeBudget(keras.callbacks.Callback):
    """Stop training after the batch that passes ``seconds`` since training began."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = time.monotonic()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.started >= self.seconds:
            self.model.stop_training = True


class _Recorder(keras.callbacks.Callback):
    """Keep the best model, the resumable checkpoint, the epoch log and the card current.

    A run from ``initial_weights`` counts its starting weights (``start_psnr`` in the card's
    ``references``) as the best so far: an epoch replaces them only by beating them. A run with
    the Neighbor2Neighbor regularizer keeps its last epoch: it trains towards full-resolution
    consistency, which its half-resolution validation pairs do not score, and its weight
    grows to the last epoch.
    """

    def __init__(self, config: TrainingConfig, paths: dict[str, Path], log: list[dict], card: dict) -> None:
        super().__init__()
        self.config, self.paths, self.log, self.card = config, paths, log, card
        self.patches_before = card.get("initialized_from", {}).get("patches_seen", 0)
        self.references = card.get("references", {})
        self.started = time.monotonic()
        self.batches = 0  # of this epoch: fewer than planned where a time budget stopped it

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.batches += 1

    def _keep(self, validation_psnr: float, epoch: int) -> None:
        """Save the model as it is now as the best so far (epoch 0: the starting weights)."""
        _save_model(self.model, self.paths["model"], include_optimizer=False)
        self.card.update(validation_psnr=round(validation_psnr, 3), best_epoch=epoch)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.log or not self.config.initial_weights:
            return
        self._keep(self.references["start_psnr"], 0)
        self.card.update(write_card(self.paths["card"], self.card, self.paths["model"]))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        logs.update(self.references)  # for the callbacks after this one (the app's curves)
        previous = self.log[-1] if self.log else {"seconds": 0.0, "patches_seen": 0}
        record = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", np.nan)),
            "val_loss": float(logs.get("val_loss", np.nan)),
            "val_psnr": float(logs.get("val_psnr", np.nan)),
            "patches_seen": previous["patches_seen"] + self.batches * self.config.batch_size,
            "seconds": previous["seconds"] + time.monotonic() - self.started,
        }
        self.started = time.monotonic()
        start = self.references.get("start_psnr", -np.inf) if self.config.initial_weights else -np.inf
        best = max([start, *(entry["val_psnr"] for entry in self.log)])
        self.log.append(record)
        if record["val_psnr"] > best or not self.paths["model"].exists() or self.config.regularizer:
            self._keep(record["val_psnr"], record["epoch"])
        self.card.update(
            patches_seen=self.patches_before + record["patches_seen"],
            epochs_run=record["epoch"],
            training_seconds=round(record["seconds"], 1),
        )
        _save_model(self.model, self.paths["checkpoint"], include_optimizer=True)
        write_json(self.paths["log"], self.log)
        self.card.update(write_card(self.paths["card"], self.card, self.paths["model"]))
        process = f" (process {process_index()})" if process_count() > 1 else ""
        best = max(best, record["val_psnr"])
        print(f"epoch {record['epoch']}: val_psnr {record['val_psnr']:.2f} dB (best {best:.2f}){process}", flush=True)


def _initial_card(config: TrainingConfig, model: keras.Model, training_images: int) -> dict:
    return {
        "name": Path(config.output).name,
        "architecture": config.architecture,
        "channels": RAW_PLANES if config.domain == "raw" else config.channels,
        **({"domain": "raw", "level_planes": RAW_PLANES} if config.domain == "raw" else {}),
        "latent_size": config.latent,
        "width": config.width if config.architecture != "dense" else None,
        **({"bottom_blocks": config.bottom_blocks} if config.architecture == "unet" else {}),
        "patch_size": DENSE_PATCH_SIZE if config.architecture == "dense" else None,
        "parameters": int(model.count_params()),
        "training_data": {"folder": str(config.data), "images": training_images},
        "noise": [str(noise) for noise in config.noise],
        **({"pairs": {"folder": str(config.pairs), "fraction": config.pairs_fraction}} if config.pairs else {}),
        "training": {
            "patch_size": config.patch_size,
            "batch_size": config.batch_size,
            "batches_per_epoch": config.batches_per_epoch,
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "warmup_epochs": config.warmup_epochs,
            "weight_by_noise": config.weight_by_noise,
            "luminance_loss_weight": config.luminance_loss_weight,
            "recolour": config.recolour,
            **({"identity_start": True} if config.identity_start else {}),
            **({"objective": config.objective} if config.objective != "supervised" else {}),
            **({"regularizer": config.regularizer} if config.regularizer else {}),
            **({"noisy_data": True} if config.noisy_data else {}),
            "seed": config.seed,
        },
        "patches_seen": 0,
        "backend": keras.backend.backend(),
        "validation_psnr": None,
        "command": config.command,
    }


def _teacher(name_or_path: str) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """Load the teacher of :attr:`TrainingConfig.teacher` once.

    Returns
    -------
    teacher : callable
        From a batch of noisy patches to the teacher's outputs.
    record : dict
        What the card says of it: the file and its sha256, or the family and its members' sha256.

    """
    if name_or_path.endswith(".keras"):
        record = {"file": name_or_path, "sha256": weights_digest(Path(name_or_path))}
        predict = read_model_file(Path(name_or_path)).model.predict_on_batch
    else:
        denoiser = load_model(name_or_path, runtime=REFERENCE_RUNTIME)
        record = {
            "family": denoiser.name,
            "members": {str(channels): card.get("sha256") for channels, card in denoiser.cards.items()},
        }

        def predict(batch: np.ndarray) -> np.ndarray:
            return np.stack([denoiser.denoise(patch) for patch in batch])

    lock = threading.Lock()

    def teacher(batch: np.ndarray) -> np.ndarray:
        # The data threads call it at once; Keras's JAX predict replaces the model's state
        # buffers on each call, so concurrent calls would use buffers another one deleted.
        with lock:
            return predict(batch)

    return teacher, record


def _build(config: TrainingConfig) -> keras.Model:
    options = {"patch_size": DENSE_PATCH_SIZE} if config.architecture == "dense" else {"width": config.width}
    if config.architecture == "unet":
        options["bottom_blocks"] = config.bottom_blocks
    channels = config.channels
    if config.domain == "raw":
        options["level_planes"] = channels = RAW_PLANES
    model = build_model(config.architecture, channels, config.latent, **options)
    if config.identity_start and config.architecture == "unet":
        last = model.get_layer("noise")
        last.set_weights([np.zeros_like(weight) for weight in last.get_weights()])
    return model


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy ``source``'s weights into ``target``, layer by layer by name.

    Layers of ``target`` that ``source`` lacks must be added U-Net bottom blocks
    (``bottom_N_a``, ``bottom_N_b``): the second convolution of each starts at zero, so the
    block adds nothing to its input (which a ReLU made non-negative) and ``target`` computes
    what ``source`` did.

    Raises
    ------
    ValueError
        If a layer's weights differ in shape, ``source`` has a layer ``target`` lacks, or
        ``target`` has a layer that is not a bottom block and ``source`` lacks.

    """
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    target_layers = {layer.name: layer for layer in target.layers if layer.weights}
    missing = sorted(set(source_layers) - set(target_layers))
    if missing:
        raise ValueError(f"layers missing: {', '.join(missing)}")
    for name, layer in target_layers.items():
        if name in source_layers:
            layer.set_weights(source_layers[name].get_weights())
        elif not (name.startswith("bottom_") and name.endswith(("_a", "_b"))):
            raise ValueError(f"layer {name} is new and not a bottom block")
        elif name.endswith("_b"):
            layer.set_weights([np.zeros_like(weight) for weight in layer.get_weights()])


def _unet_channel_groups(model: keras.Model) -> dict[str, tuple[list[str], list[str]]]:
    """Return the U-Net's groups of channels that must be kept or dropped together.

    Each group maps to (layers that write its channels, layers that read them). The additive
    skips make each resolution level one stream: its down step, its blocks' second
    convolutions and its up step all write into it. Each residual block's inner channels
    (between its two convolutions) form a group of their own.
    """
    blocks = [layer.name.removesuffix("_a") for layer in model.layers if layer.name.endswith("_a")]
    groups = {
        "level_1": (["down_1", "level_1_b", "up_1", "level_1_up_b"], ["level_1_a", "down_2", "level_1_up_a", "noise"]),
        "level_2": (["down_2", "level_2_b", "up_2", "level_2_up_b"], ["level_2_a", "down_3", "level_2_up_a", "up_1"]),
        "down_3": (["down_3"], ["latent"]),
        "bottom": (
            ["latent", *(f"{block}_b" for block in blocks if block.startswith("bottom_"))],
            [*(f"{block}_a" for block in blocks if block.startswith("bottom_")), "up_2"],
        ),
    }
    return groups | {f"{block}_inner": ([f"{block}_a"], [f"{block}_b"]) for block in blocks}


def _kernel_axes(layer: keras.layers.Layer) -> tuple[int, int]:
    """Return the (input, output) channel axes of a convolution's kernel."""
    return (3, 2) if isinstance(layer, keras.layers.Conv2DTranspose) else (2, 3)


def _prune_unet(source: keras.Model, target: keras.Model) -> None:
    """Give a narrower U-Net the weights of a wider one's most important channels.

    For each group of channels (:func:`_unet_channel_groups`), the channels whose kernels
    weigh most (the L1 norm of every weight that writes or reads them, each layer's share
    scaled by its mean, so that no layer dominates) are kept, as many as ``target`` has, in
    their order; each layer of ``target`` gets the weights that join the kept channels. The
    result computes roughly what ``source`` does and trains back to it much faster than from
    random weights (structured pruning before distillation).

    Raises
    ------
    ValueError
        If the two are not U-Nets with the same layers, or ``target`` is wider somewhere.

    """
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    target_layers = {layer.name: layer for layer in target.layers if layer.weights}
    if set(source_layers) != set(target_layers):
        raise ValueError("pruning needs two U-Nets with the same layers")
    kept: dict[str, dict[str, np.ndarray]] = {name: {} for name in source_layers}  # layer -> {"in"/"out": indices}
    for writers, readers in _unet_channel_groups(source).values():
        kernels = {name: np.abs(source_layers[name].get_weights()[0]) for name in writers + readers}
        importance = 0.0
        for name in writers + readers:
            input_axis, output_axis = _kernel_axes(source_layers[name])
            axis = output_axis if name in writers else input_axis
            other = tuple(index for index in range(4) if index != axis)
            share = kernels[name].sum(axis=other)
            importance = importance + share / share.mean()
        name = writers[0]
        size = target_layers[name].get_weights()[0].shape[_kernel_axes(target_layers[name])[1]]
        if size > len(importance):
            raise ValueError(f"the target is wider than the source at {name}")
        chosen = np.sort(np.argsort(-importance, kind="stable")[:size])
        for name in writers:
            kept[name]["out"] = chosen
        for name in readers:
            kept[name]["in"] = chosen
    for name, layer in target_layers.items():
        kernel, bias = source_layers[name].get_weights()
        input_axis, output_axis = _kernel_axes(layer)
        inputs = kept[name].get("in", np.arange(kernel.shape[input_axis]))
        outputs = kept[name].get("out", np.arange(kernel.shape[output_axis]))
        kernel = np.take(np.take(kernel, inputs, axis=input_axis), outputs, axis=output_axis)
        layer.set_weights([kernel, bias[outputs]])


def _start_from(config: TrainingConfig) -> tuple[keras.Model, dict, list[dict]]:
    """Build the configured model with the weights of ``config.initial_weights``.

    Returns
    -------
    model : keras.Model
        The configured model holding the loaded weights.
    origin : dict
        The loaded file and its sha256, and from its card (same path, ``.json``, if present) the
        patches it saw, its command and its validation PSNR.
    lineage : list of dict
        The new card's ``lineage``: ``origin``, then the loaded card's own lineage (earlier
        stages are not shipped, so each card keeps them all, newest first).

    Raises
    ------
    ValueError
        If the file cannot be loaded (:class:`denoise.ModelFileError`) or is not a model of
        the configured architecture, channels, latent and width, with no more bottom blocks.

    """
    path = Path(config.initial_weights)
    loaded = read_model_file(path)  # safe mode; a ModelFileError (a ValueError) names the problem
    model = _build(config)
    mismatch = ValueError(
        f"initial weights {path} do not fit a {config.architecture} model with {config.channels} channels, "
        f"latent {config.latent}, width {config.width} and up to {config.bottom_blocks} bottom blocks"
    )
    if loaded.model.name != model.name:
        raise mismatch
    narrower = model.name == "unet" and model.count_params() < loaded.model.count_params()
    try:
        _prune_unet(loaded.model, model) if narrower else _copy_weights(loaded.model, model)
    except ValueError as error:
        raise mismatch from error
    origin = {
        "file": str(path),
        "sha256": weights_digest(path),
        "patches_seen": int(loaded.card.get("patches_seen", 0)),
        "command": loaded.card.get("command"),
        "validation_psnr": loaded.card.get("validation_psnr"),
    }
    return model, origin, [dict(origin), *loaded.card.get("lineage", [])]


def learning_rate_schedule(config: TrainingConfig) -> keras.optimizers.schedules.CosineDecay:
    """Return a cosine decay to 2% of the peak learning rate, after an optional linear warm-up."""
    if not 0 <= config.warmup_epochs < config.epochs:
        raise ValueError(f"warm-up must be shorter than the {config.epochs} epochs, got {config.warmup_epochs}")
    warmup_steps = config.warmup_epochs * config.batches_per_epoch
    decay_steps = config.epochs * config.batches_per_epoch - warmup_steps
    # With no warm-up steps this is the plain cosine from the peak.
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps, alpha=0.02, warmup_target=config.learning_rate, warmup_steps=warmup_steps
    )


def train(config: TrainingConfig, callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Train (or resume training) a model and return its card.

    Parameters
    ----------
    config : TrainingConfig
        What to train and for how long. If ``checkpoints/NAME.keras`` and
        ``checkpoints/NAME.log.json`` exist beside the output, training resumes after the last
        finished epoch; the number of epochs must then be the same as before.
    callbacks : sequence of keras.callbacks.Callback
        Also called during ``fit``, after the one that saves the model each epoch (the app's
        Train page follows and stops runs this way).

    Raises
    ------
    ValueError
        If a checkpoint to resume from was made for another number of epochs: its optimizer's
        learning-rate schedule ends with that run.

    Returns
    -------
    dict
        The model card, also written to ``OUTPUT.json``.

    """
    output = Path(config.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": output.with_suffix(".keras"),
        "card": output.with_suffix(".json"),
        "checkpoint": output.parent / "checkpoints" / f"{output.name}.keras",
        "log": output.parent / "checkpoints" / f"{output.name}.log.json",
    }
    if config.domain == "raw" and (config.architecture != "unet" or config.pairs or config.teacher):
        raise ValueError("the raw domain trains a U-Net on synthetic raw data only (no --pairs, no --teacher)")
    unit = patch_unit(config.objective)
    if config.architecture != "dense" and config.patch_size % unit:
        raise ValueError(f"the {config.objective} objective needs a patch size that is a multiple of {unit}")
    paths["checkpoint"].parent.mkdir(exist_ok=True)
    frames = 1
    if config.noisy_data and config.objective == "noise2noise":
        images, frames = load_bursts(config.data, config.channels)
    else:
        images = load_folder(config.data, config.channels)
    validation_count = max(1, int(round(len(images) * config.validation_fraction)))
    if len(images) < 2:
        raise ValueError("training needs at least two images (one is held out for validation)")
    training_images, validation_images = images[:-validation_count], images[-validation_count:]

    with data_parallel(config.distribute) if config.distribute else contextlib.nullcontext() as parallel:
        return _train(config, paths, training_images, validation_images, parallel, callbacks, frames)


def _train(
    config: TrainingConfig,
    paths: dict[str, Path],
    training_images: list[np.ndarray],
    validation_images: list[np.ndarray],
    parallel: str | None,
    callbacks: Sequence[keras.callbacks.Callback],
    frames: int = 1,
) -> dict:
    """Train inside the distribution's scope, if any (see :func:`train`)."""
    processes, process = process_count(), process_index()
    if process > 0:
        # Saving gathers the weights from every process, so the others save as process 0 does,
        # into a scratch folder that is thrown away: the files are process 0's.
        scratch = Path(tempfile.mkdtemp(prefix=f"denoise-process-{process}-"))
        paths = {key: scratch / path.name for key, path in paths.items()}
    dense = config.architecture == "dense"
    patch_size = DENSE_PATCH_SIZE if dense else config.patch_size
    teacher, teacher_record = _teacher(config.teacher) if config.teacher else (None, None)
    sequence = PatchSequence(
        training_images,
        patch_size=patch_size,
        batch_size=config.batch_size // processes,
        batches_per_epoch=config.batches_per_epoch,
        noise=config.noise,
        seed=config.seed + 1000 * process,
        flatten=dense,
        weight_by_noise=config.weight_by_noise,
        workers=config.workers,
        recolour_patches=config.recolour,
        pairs=load_pairs(config.pairs, config.channels) if config.pairs else None,
        pairs_fraction=config.pairs_fraction,
        teacher=teacher,
        domain=config.domain,
        objective=config.objective,
        noisy_data=config.noisy_data,
        frames=frames,
        regularizer=config.regularizer,
        epochs=config.epochs,
    )
    noisy, clean = validation_pairs(
        validation_images,
        patch_size=patch_size,
        count=256,
        noise=config.noise,
        domain=config.domain,
        objective=config.objective,
        noisy_data=config.noisy_data,
        frames=frames,
    )
    if sequence.pairs:
        # Real pairs are few: their validation patches come from the same images, at other places.
        real_noisy, real_clean = real_validation_pairs(sequence.pairs, patch_size=patch_size, count=128)
        noisy, clean = np.concatenate([noisy, real_noisy]), np.concatenate([clean, real_clean])
    if dense:
        noisy, clean = noisy.reshape(len(noisy), -1), clean.reshape(len(clean), -1)

    log: list[dict] = []
    if paths["checkpoint"].exists() and paths["log"].exists():
        model = keras.saving.load_model(paths["checkpoint"], safe_mode=True)
        log = json.loads(paths["log"].read_text())
        card = read_card(paths["card"])
        planned = card.get("training", {}).get("epochs", config.epochs)
        if planned != config.epochs:
            # The checkpoint's optimizer carries its learning-rate schedule, which ends at the
            # first run's last epoch: more epochs would all run at the schedule's floor.
            raise ValueError(
                f"{paths['checkpoint']} is a run of {planned} epochs; resume it with --epochs {planned}, "
                "or train into another --output"
            )
        card.setdefault("resumed_by", []).append(config.command)
        print(f"resuming {paths['model'].stem} after epoch {len(log)}", flush=True)
    else:
        # Seeds Python's, NumPy's and the backend's generators for the whole process, so that
        # the same config starts from the same random weights (the patches have their own seed).
        keras.utils.set_random_seed(config.seed)
        model, origin, lineage = _start_from(config) if config.initial_weights else (_build(config), None, [])
        schedule = learning_rate_schedule(config)
        psnr = keras.metrics.MeanMetricWrapper(psnr_metric, name="psnr")
        loss = "mse" if config.luminance_loss_weight == 1 else LuminanceWeightedError(config.luminance_loss_weight)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=[psnr])
        card = _initial_card(config, model, len(training_images))
        if teacher_record is not None:
            card["teacher"] = teacher_record
        if parallel:
            card["training"]["distribute"] = parallel
        if origin is not None:
            card["initialized_from"] = origin
            card["patches_seen"] = origin["patches_seen"]
            card["lineage"] = lineage
        card["references"] = reference_scores(model, noisy, clean)
    sequence.epoch = len(log)
    refresh = [sequence.follow(model)] if config.regularizer else []
    budget = [_TimeBudget(config.seconds)] if config.seconds is not None else []
    if len(log) < config.epochs:
        model.fit(
            sequence,
            validation_data=(noisy, clean),
            epochs=config.epochs,
            initial_epoch=len(log),
            callbacks=[*refresh, *budget, _Recorder(config, paths, log, card), *callbacks],
            verbose=2 if not sys.stdout.isatty() else 1,
        )
    if process > 0:
        shutil.rmtree(scratch, ignore_errors=True)
    return card
