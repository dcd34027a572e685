"""Training runs that a server queues and runs one at a time, in a background thread.

The app's Train page submits a :class:`TrainingRequest`; a :class:`TrainingQueue` (one per
server) trains the requests in order in its own thread, which never calls Streamlit. Keras
callbacks write each epoch's loss and validation PSNR into the job under a lock, and the page
polls :meth:`TrainingQueue.jobs` for copies. Leaving the page, or a rerun, loses nothing: the
run belongs to the queue, not to a session. A run stops early when asked, after its current
batch; the model saved is its best epoch's, with its card, in the user models folder
(:func:`user_models_dir`), never in the package.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from denoise.data import parse_noise_range
from denoise.image_io import write_png
from denoise.training import TrainingConfig, train

__all__ = ["TrainingJob", "TrainingQueue", "TrainingRequest", "user_models_dir"]

#: What a user's model may be called.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def user_models_dir() -> Path:
    """Folder of the models users train in the app: ``$DENOISE_USER_MODELS``, else ``~/.local/share/denoise/models``."""
    return Path(os.environ.get("DENOISE_USER_MODELS", Path.home() / ".local" / "share" / "denoise" / "models"))


@dataclass(frozen=True)
class TrainingRequest:
    """What to train, on which clean images.

    Attributes
    ----------
    name : str
        The model's name (letters, digits, ``-`` and ``_``); its file is ``NAME.keras``.
    architecture : {"conv", "unet", "dense"}
        The family.
    latent : int
        Latent size (bottleneck channels, or hidden units for ``dense``).
    width : int
        Feature maps at half resolution (``conv`` and ``unet``).
    noise : tuple of str
        Noise ranges to train against, as ``denoise train --noise`` takes them.
    epochs, batches_per_epoch : int
        How long: ``epochs * batches_per_epoch * 16`` patches.
    images : tuple of ndarray
        Clean H x W x C float32 images; at least two (one is held out for validation).

    """

    name: str
    architecture: str
    latent: int
    width: int
    noise: tuple[str, ...]
    epochs: int
    batches_per_epoch: int
    images: tuple[np.ndarray, ...] = field(repr=False)

    def check(self) -> None:
        """Raise ValueError, in one line, if the request cannot be trained."""
        if not MODEL_NAME.fullmatch(self.name):
            raise ValueError("a model name has 1-64 letters, digits, '-' or '_', starting with a letter or digit")
        if len(self.images) < 2:
            raise ValueError("training needs at least two images (one is held out for validation)")
        if len({image.shape[2] for image in self.images}) != 1:
            raise ValueError("the images must all be grey or all be colour")
        if min(min(image.shape[:2]) for image in self.images) < 32:
            raise ValueError("each image needs at least 32 pixels on each side")
        for noise in self.noise:
            parse_noise_range(noise)
        if not (1 <= self.epochs <= 1000 and 1 <= self.batches_per_epoch <= 1000):
            raise ValueError("epochs and batches per epoch must be between 1 and 1000")


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
        Per finished epoch: ``epoch``, ``loss``, ``val_psnr``.
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

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stop.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", np.nan)),
            "val_psnr": float(logs.get("val_psnr", np.nan)),
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
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                self._update(number, state="failed", message=message)
                continue
            state = "stopped" if stop.is_set() else "finished"
            self._update(number, state=state, model_path=path, message=f"saved as {path}")

    def _train(self, request: TrainingRequest, progress: _Progress) -> Path:
        """Write the images to a scratch folder and train; return the model's path."""
        self.models_folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="denoise-training-") as scratch:
            for index, image in enumerate(request.images):
                write_png(Path(scratch) / f"image-{index:04d}.png", image)
            channels = request.images[0].shape[2]
            config = TrainingConfig(
                data=scratch,
                output=str(self.models_folder / request.name),
                architecture=request.architecture,
                channels=channels,
                latent=request.latent,
                width=request.width,
                patch_size=min(48, min(min(image.shape[:2]) for image in request.images) // 8 * 8),
                batch_size=16,
                batches_per_epoch=request.batches_per_epoch,
                epochs=request.epochs,
                learning_rate=2e-3,
                noise=[parse_noise_range(noise) for noise in request.noise],
                validation_fraction=0.25,
                command=f"the app's Train page ({request.architecture}, {len(request.images)} images)",
            )
            train(config, callbacks=[progress])
        for leftover in (f"{request.name}.keras", f"{request.name}.log.json"):  # the resumable checkpoint
            (self.models_folder / "checkpoints" / leftover).unlink(missing_ok=True)
        return self.models_folder / f"{request.name}.keras"
