"""Training runs that a server queues and runs one at a time, in a background thread.

The app's Train page submits a :class:`TrainingRequest`: clean images with synthetic noise,
noisy images only, or noisy pairs and bursts, for a time budget, fine-tuning the matching
shipped model by default. A :class:`TrainingQueue` (one per server) trains the requests in
order in its own thread, which never calls Streamlit. Keras callbacks write each epoch's loss,
validation PSNR and the two reference scores (the noisy inputs' and the starting model's) into
the job under a lock, and the page polls :meth:`TrainingQueue.jobs` for copies. Leaving the
page, or a rerun, loses nothing: the run belongs to the queue, not to a session. A run stops
early when asked or out of time, after its current batch; the model saved is its best state
(a fine-tune's starting weights unless an epoch beats them), with its card, in the user models folder
(:func:`user_models_dir`), never in the package.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from denoise.data import parse_noise_range
from denoise.image_io import write_png
from denoise.quiet import first_line
from denoise.registry import available_models, model_for_noise, pretrained_dir, read_manifest
from denoise.training import TrainingConfig, patch_unit, train

__all__ = [
    "SOURCES",
    "TrainingJob",
    "TrainingQueue",
    "TrainingRequest",
    "burst_scene",
    "starting_model",
    "user_models",
    "user_models_dir",
]

#: What a user's model may be called.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def user_models_dir() -> Path:
    """Folder of the models users train in the app: ``$DENOISE_USER_MODELS``, else ``~/.local/share/denoise/models``."""
    return Path(os.environ.get("DENOISE_USER_MODELS", Path.home() / ".local" / "share" / "denoise" / "models"))


def user_models(folder: Path | None = None) -> dict[str, Path]:
    """Return the models a user can pick in ``folder`` (default :func:`user_models_dir`), by name.

    Every ``.keras`` file there but the grey luminance models that
    :func:`denoise.adaptation.save_adapted` writes beside an adapted model (they load with it).
    """
    from denoise.adaptation import LUMINANCE_SUFFIX

    folder = user_models_dir() if folder is None else folder
    paths = sorted(folder.glob("*.keras"))
    return {path.stem: path for path in paths if not path.stem.endswith(LUMINANCE_SUFFIX)}


#: What a run trains on: clean images with synthetic noise, noisy images only, or noisy shots of
#: each scene (pairs or bursts).
SOURCES = ("clean", "noisy", "bursts")
#: Batches between two points of the curves.
BATCHES_PER_EPOCH = 10
#: Side of the training patches, where the images are large enough.
PATCH_SIZE = 48
#: Peak learning rates: a fine-tune moves the shipped weights gently; a new model learns fast.
FINE_TUNE_LEARNING_RATE = 1e-4
SCRATCH_LEARNING_RATE = 2e-3


def burst_scene(file_name: str) -> str:
    """Return the scene a shot belongs to, from its file name: the stem without a trailing shot number.

    ``pond-1.png``, ``pond_2.jpg`` and ``pond 03.tif`` are shots of ``pond``; a name with no
    number is a scene of its own.
    """
    stem = Path(file_name).stem
    return re.sub(r"[-_ .]*\d+$", "", stem) or stem


def starting_model(source: str, noise: tuple[str, ...], channels: int) -> str:
    """Return the name of the shipped model that a run fine-tunes by default.

    The model the app would use on such images: for noisy images or bursts, the photo model
    where it has a member of that many channels; for clean images with synthetic noise, the
    member of the family that noise kind goes to (:func:`denoise.registry.model_for_noise`);
    else the default family's member.
    """
    kind = None if source != "clean" else parse_noise_range(noise[0]).kind
    manifest = read_manifest()
    for family in (manifest.family(model_for_noise(kind)), manifest.family("default")):
        if family is not None and channels in family.members:
            return family.members[channels]
    raise ValueError(f"no shipped model takes {channels}-channel images to start from; train from scratch")


@dataclass(frozen=True)
class TrainingRequest:
    """What to train, on which images, for how long.

    Attributes
    ----------
    name : str
        The model's name (letters, digits, ``-`` and ``_``); its file is ``NAME.keras``.
    images : tuple of ndarray
        H x W x C float32 images, all grey or all colour; at least two (one is held out for
        validation), or for ``bursts`` two scenes.
    source : {"clean", "noisy", "bursts"}
        ``clean``: clean images, trained against ``noise`` added to them (supervised);
        ``noisy``: noisy images only (neighbor2neighbor, or its pixel-shuffled form if
        ``correlated``); ``bursts``: aligned noisy shots of each scene, grouped by ``scenes``
        (noise2noise). See :mod:`denoise.objectives`.
    scenes : tuple of str
        For ``bursts``: each image's scene, in the order of ``images``.
    noise : tuple of str
        For ``clean``: noise ranges to train against, as ``denoise train --noise`` takes them.
    correlated : bool
        For ``noisy``: the noise is blotchy, spread over neighbouring pixels by a camera's
        processing (JPEG photos), rather than independent from pixel to pixel.
    fine_tune : bool
        Start from a shipped model: ``start_model``, or the matching one (:func:`starting_model`);
        else from scratch, as ``architecture``, ``latent`` and ``width`` say.
    start_model : str
        The shipped model to fine-tune, by name; empty for the matching one.
    architecture : {"conv", "unet", "dense"}
        The family, from scratch.
    latent : int
        Latent size (bottleneck channels, or hidden units for ``dense``), from scratch.
    width : int
        Feature maps at half resolution (``conv`` and ``unet``), from scratch.
    minutes : float
        The time budget.
    epochs : int
        At most this many points on the curves (each :data:`BATCHES_PER_EPOCH` batches of 16
        patches), if the budget lasts that long.

    """

    name: str
    images: tuple[np.ndarray, ...] = field(repr=False)
    source: str = "clean"
    scenes: tuple[str, ...] = ()
    noise: tuple[str, ...] = ("gaussian:0-25",)
    correlated: bool = False
    fine_tune: bool = True
    start_model: str = ""
    architecture: str = "conv"
    latent: int = 8
    width: int = 16
    minutes: float = 1.0
    epochs: int = 1000

    @property
    def objective(self) -> str:
        """The training objective of :mod:`denoise.objectives` that the source calls for."""
        if self.source == "bursts":
            return "noise2noise"
        if self.source == "noisy":
            return "shuffled-neighbor2neighbor" if self.correlated else "neighbor2neighbor"
        return "supervised"

    @property
    def patch_unit(self) -> int:
        """What a patch side must be a multiple of (:func:`denoise.training.patch_unit`)."""
        return patch_unit(self.objective)

    def check(self) -> None:
        """Raise ValueError, in one line, if the request cannot be trained."""
        if not MODEL_NAME.fullmatch(self.name):
            raise ValueError("a model name has 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; choose one of {', '.join(SOURCES)}")
        if len(self.images) < 2:
            raise ValueError("training needs at least two images (one is held out for validation)")
        if len({image.shape[2] for image in self.images}) != 1:
            raise ValueError("the images must all be grey or all be colour")
        smallest = max(32, self.patch_unit)
        if min(min(image.shape[:2]) for image in self.images) < smallest:
            raise ValueError(f"each image needs at least {smallest} pixels on each side")
        if self.source == "bursts":
            self._check_scenes()
        for noise in self.noise:
            parse_noise_range(noise)
        if self.start_model and self.start_model not in available_models():
            raise ValueError(f"no shipped model is called {self.start_model!r}")
        if not (0 < self.minutes <= 24 * 60 and 1 <= self.epochs <= 1000):
            raise ValueError("train for more than 0 minutes and up to a day, and 1 to 1000 epochs")

    def _check_scenes(self) -> None:
        if len(self.scenes) != len(self.images):
            raise ValueError("each shot of a burst needs its scene")
        shots: dict[str, set[tuple[int, ...]]] = {}
        counts: dict[str, int] = {}
        for scene, image in zip(self.scenes, self.images, strict=True):
            shots.setdefault(scene, set()).add(image.shape)
            counts[scene] = counts.get(scene, 0) + 1
        if sum(count >= 2 for count in counts.values()) < 2:
            raise ValueError("pairs or bursts need two scenes with two or more shots each (one is held out)")
        for scene, shapes in shots.items():
            if len(shapes) > 1:
                raise ValueError(f"the shots of scene {scene!r} must be the same size")


@dataclass(frozen=True)
class TrainingJob:
    """A copy of one job's state, safe to read while training goes on.

    Attributes
    ----------
    number : int
        Its place in the order of submission, from 1.
    request : TrainingRequest
        What it trains.
    state : {"queued", "running", "finished", "stopped", "failed"}
        Where it is.
    epochs : tuple of dict
        Per finished epoch: ``epoch``, ``seconds`` since training began, ``loss``, ``val_psnr``,
        and the reference scores on the same validation patches: ``input_psnr`` (the noisy
        inputs) and ``start_psnr`` (the model as it started). Under a noisy-only source all
        three scores are against noisy targets (:mod:`denoise.objectives`): lower than
        against clean images, but ordered the same way.
    message : str
        What went wrong, or where the model was written.
    model_path : Path or None
        The trained model, once there is one.

    """

    number: int
    request: TrainingRequest
    state: str = "queued"
    epochs: tuple[dict, ...] = ()
    message: str = ""
    model_path: Path | None = None


class _Progress(keras.callbacks.Callback):
    """Report each epoch to the queue, and stop after the current batch when asked."""

    def __init__(self, queue_: TrainingQueue, number: int, stop: threading.Event) -> None:
        super().__init__()
        self.queue, self.number, self.stop = queue_, number, stop
        self.started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stop.is_set():
            self.model.stop_training = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "seconds": time.monotonic() - self.started,
            "loss": float(logs.get("loss", np.nan)),
            "val_psnr": float(logs.get("val_psnr", np.nan)),
            "input_psnr": float(logs.get("input_psnr", np.nan)),
            "start_psnr": float(logs.get("start_psnr", np.nan)),
        }
        self.queue._add_epoch(self.number, record)


class TrainingQueue:
    """Train requests one at a time, in submission order, in a background thread.

    Parameters
    ----------
    models_folder : Path
        Where finished models and their cards go.

    """

    def __init__(self, models_folder: Path) -> None:
        self.models_folder = Path(models_folder)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # told whenever a job changes
        self._jobs: dict[int, TrainingJob] = {}
        self._stops: dict[int, threading.Event] = {}
        self._waiting: queue.Queue[int] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="denoise-training", daemon=True)
        self._worker.start()

    def submit(self, request: TrainingRequest) -> int:
        """Queue a request; return its job number.

        Raises
        ------
        ValueError
            If the request is refused (:meth:`TrainingRequest.check`) or a model of that name
            exists already.

        """
        request.check()
        with self._lock:
            taken = {job.request.name for job in self._jobs.values() if job.state in ("queued", "running")}
            if request.name in taken or (self.models_folder / f"{request.name}.keras").exists():
                raise ValueError(f"a model named {request.name!r} exists already; choose another name")
            number = len(self._jobs) + 1
            self._jobs[number] = TrainingJob(number, request)
            self._stops[number] = threading.Event()
        self._waiting.put(number)
        return number

    def stop(self, number: int) -> None:
        """Stop a job: a queued one never starts, a running one stops after its current batch."""
        with self._lock:
            self._stops[number].set()

    def jobs(self) -> list[TrainingJob]:
        """Return copies of every job, in submission order."""
        with self._lock:
            return list(self._jobs.values())

    def wait(self, number: int, timeout: float) -> TrainingJob:
        """Return job ``number`` once it has ended, or as it is after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._jobs[number].state not in ("queued", "running"), timeout)
            return self._jobs[number]

    def _update(self, number: int, **changes: object) -> None:
        with self._changed:
            self._jobs[number] = dataclasses.replace(self._jobs[number], **changes)
            self._changed.notify_all()

    def _add_epoch(self, number: int, record: dict) -> None:
        with self._changed:
            job = self._jobs[number]
            self._jobs[number] = dataclasses.replace(job, epochs=(*job.epochs, record))
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            number = self._waiting.get()
            stop = self._stops[number]
            if stop.is_set():
                self._update(number, state="stopped", message="stopped before it began")
                continue
            self._update(number, state="running")
            try:
                path = self._train(self._jobs[number].request, _Progress(self, number, stop))
            except Exception as error:  # one line for the page; the queue goes on with the next job
                message = first_line(error)
                self._update(number, state="failed", message=message)
                continue
            state = "stopped" if stop.is_set() else "finished"
            self._update(number, state=state, model_path=path, message=f"saved as {path}")

    def _train(self, request: TrainingRequest, progress: _Progress) -> Path:
        """Write the images to a scratch folder and train; return the model's path."""
        self.models_folder.mkdir(parents=True, exist_ok=True)
        channels = request.images[0].shape[2]
        shape = {"architecture": request.architecture, "latent": request.latent, "width": request.width}
        initial_weights, learning_rate = None, SCRATCH_LEARNING_RATE
        if request.fine_tune:
            start = request.start_model or starting_model(request.source, request.noise, channels)
            card = available_models()[start]
            shape = {"architecture": card["architecture"], "latent": card["latent_size"], "width": card["width"]}
            if "bottom_blocks" in card:
                shape["bottom_blocks"] = card["bottom_blocks"]
            initial_weights, learning_rate = str(pretrained_dir() / f"{start}.keras"), FINE_TUNE_LEARNING_RATE
        unit = request.patch_unit
        side = min(min(image.shape[:2]) for image in request.images)
        with tempfile.TemporaryDirectory(prefix="denoise-training-") as scratch:
            _write_images(Path(scratch), request)
            config = TrainingConfig(
                data=scratch,
                output=str(self.models_folder / request.name),
                channels=channels,
                **shape,
                patch_size=min(PATCH_SIZE, side // unit * unit),
                batch_size=16,
                batches_per_epoch=BATCHES_PER_EPOCH,
                epochs=request.epochs,
                learning_rate=learning_rate,
                warmup_epochs=1 if request.fine_tune else 0,  # Adam's first full steps knock a trained model back
                noise=[parse_noise_range(noise) for noise in request.noise],
                validation_fraction=0.25,
                initial_weights=initial_weights,
                objective=request.objective,
                noisy_data=request.source != "clean",
                seconds=request.minutes * 60,
                command=f"the app's Train page ({request.source} images, {len(request.images)} of them)",
            )
            train(config, callbacks=[progress])
        for leftover in (f"{request.name}.keras", f"{request.name}.log.json"):  # the resumable checkpoint
            (self.models_folder / "checkpoints" / leftover).unlink(missing_ok=True)
        return self.models_folder / f"{request.name}.keras"


def _write_images(folder: Path, request: TrainingRequest) -> None:
    """Write a request's images as PNGs for :func:`denoise.training.train`; bursts get a folder per scene."""
    if request.source != "bursts":
        for index, image in enumerate(request.images):
            write_png(folder / f"image-{index:04d}.png", image)
        return
    numbers = {scene: number for number, scene in enumerate(dict.fromkeys(request.scenes))}
    for index, (scene, image) in enumerate(zip(request.scenes, request.images, strict=True)):
        scene_folder = folder / f"scene-{numbers[scene]:04d}"
        scene_folder.mkdir(exist_ok=True)
        write_png(scene_folder / f"shot-{index:04d}.png", image)
