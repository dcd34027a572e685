"""Inference milliseconds on a 12-megapixel colour photo and training patches per second.

The GPU goals, measured with the same public API on whatever device Keras's backend
runs on (the CPU here; the H100 with ``KERAS_BACKEND=jax`` through ``scripts/gpu_session.sh``):

* ``denoise`` of a 4000 x 3000 RGB float image by the default colour model, from a NumPy array
  in host memory to a NumPy array in host memory (transfers included); the first call (which
  compiles) and the median of the others;
* the same call with a model that returns its input: the host-side work and the transfers;
* ``denoise.train`` of the same model's colour architecture (from its card) on patches cut
  from the given folder: patches per second over the epochs after the first (the first
  includes compilation), taken from the training log, so the project's own data pipeline,
  validation and checkpointing are included.

Example::

    python -m benchmarks.device_speed --output results/device-speed
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from PIL import Image
from skimage import data as sample_images

import denoise
from benchmarks.benchmark import command_line, machine, write_report
from benchmarks.memory import noisy_photo
from denoise.inference import LoadedModel, compose_family
from denoise.precision import DEFAULT_PRECISION, PRECISION_CHOICES
from denoise.training import TrainingConfig, train

SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def parse_variant(text: str) -> tuple[str, int, str]:
    """Parse an inference variant ``"direct:1024"`` or ``"compiled:4096:bfloat16"`` (call, tile size, precision)."""
    parts = text.split(":")
    if len(parts) == 2:
        parts.append(DEFAULT_PRECISION)
    valid = (
        len(parts) == 3 and parts[0] in ("direct", "compiled") and parts[1].isdigit() and parts[2] in PRECISION_CHOICES
    )
    if not valid:
        raise argparse.ArgumentTypeError(
            f"variant must be direct:TILE or compiled:TILE, optionally with :{'/:'.join(PRECISION_CHOICES)}, "
            f"got {text!r}"
        )
    call, tile, precision = parts
    return call, int(tile), precision


def time_transfer(height: int, width: int, repeats: int) -> dict:
    """Time the photo's round trip to the backend's device and back, without a model.

    The part of an inference time that no model change can remove (on a CPU, two copies).
    """
    image = noisy_photo(height, width).astype(np.float32)
    seconds = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(image[None]))
        seconds.append(time.perf_counter() - started)
    return {"image": f"{width}x{height} RGB float32", "median_ms": round(statistics.median(seconds[1:]) * 1000, 1)}


def identity_denoiser(*, compiled: bool, tile_size: int) -> denoise.Denoiser:
    """Return a colour Denoiser whose model returns its input: what ``denoise`` costs besides it.

    Timed on a photo, it gives the host-side work (checks, padding, tiling, clipping) and the
    transfers to the device and back, which no change to the model can remove.
    """
    inputs = keras.Input(shape=(None, None, 3), name="noisy")
    model = keras.Model(inputs, keras.layers.Identity(name="denoised")(inputs))
    card = {"name": "identity (no model)", "architecture": "identity", "channels": 3}
    entry = LoadedModel(model, card, Path("identity"))
    # float32: the identity has no layer that another precision would change, so its row says so.
    piece = compose_family({3: entry}, tile_size=tile_size, compiled=compiled)
    return denoise.Denoiser(
        piece, name="identity", cards={3: card}, compiled=compiled, tile_size=tile_size, precision="float32"
    )


def time_inference(denoiser: denoise.Denoiser, height: int, width: int, repeats: int) -> dict:
    """Time ``Denoiser.denoise`` on one colour photo: the first call and the median of ``repeats``."""
    image = noisy_photo(height, width).astype(np.float32)
    started = time.perf_counter()
    denoiser.denoise(image)
    first = time.perf_counter() - started
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        denoiser.denoise(image)
        seconds.append(time.perf_counter() - started)
    return {
        "model": denoiser.model_name(image),  # with the grey model on the luminance where it runs
        "call": "compiled" if denoiser.compiled else "direct",
        "tile_size": denoiser.tile_size,
        "precision": denoiser.precision,
        "arithmetic": denoiser.arithmetic,
        "image": f"{width}x{height} RGB float32",
        "megapixels": round(height * width / 1e6, 2),
        "first_call_ms": round(first * 1000, 1),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "repeats": repeats,
    }


def time_training(
    card: dict, data: str | None, epochs: int, batches: int, batch_size: int, patch_size: int, workers: int
) -> dict:
    """Train the architecture of the model ``card`` describes briefly; return its steady patches per second."""
    with tempfile.TemporaryDirectory() as folder:
        if data is None:
            data = str(Path(folder) / "images")
            Path(data).mkdir()
            for name in SAMPLE_PHOTOS:
                Image.fromarray(getattr(sample_images, name)()).save(Path(data) / f"{name}.png")
        config = TrainingConfig(
            data=data,
            output=str(Path(folder) / "model"),
            architecture=card["architecture"],
            channels=card["channels"],
            latent=card["latent_size"],
            width=card["width"],
            patch_size=patch_size,
            batch_size=batch_size,
            batches_per_epoch=batches,
            epochs=epochs,
            workers=workers,
            command="benchmarks.device_speed",
        )
        train(config)
        log = json.loads((Path(folder) / "checkpoints" / "model.log.json").read_text())
    steady_seconds = log[-1]["seconds"] - log[0]["seconds"]
    patches = (len(log) - 1) * batches * batch_size
    return {
        "architecture": f"{card['architecture']}, latent {card['latent_size']}, width {card['width']}, "
        f"{card['channels']} channels (as {card['name']})",
        "patch_size": patch_size,
        "batch_size": batch_size,
        "workers": workers,
        "first_epoch_seconds": round(log[0]["seconds"], 2),
        "patches_per_second": round(patches / steady_seconds, 1),
        "measured_patches": patches,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="model family to time")
    parser.add_argument("--size", type=int, nargs=2, default=[3000, 4000], metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--variants",
        type=parse_variant,
        nargs="+",
        default=[("compiled", 1024, "float32")],
        metavar="CALL:TILE[:PRECISION]",
        help="inference calls to time: direct or compiled, a tile size and optionally bfloat16 "
        "(default compiled:1024, as load_model)",
    )
    parser.add_argument("--data", help="folder of training images (default: scikit-image samples)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs; the first is not counted")
    parser.add_argument("--batches", type=int, default=20, help="batches per training epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--workers", type=int, default=1, help="threads preparing training batches")
    parser.add_argument("--output", default="results/device-speed", help="path prefix for the .json file")
    arguments = parser.parse_args(argv)
    if arguments.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch compiles and is not counted")
    inference = []
    for call, tile_size, precision in arguments.variants:
        denoiser = denoise.load_model(
            arguments.model, tile_size=tile_size, compiled=call == "compiled", precision=precision
        )
        inference.append(time_inference(denoiser, *arguments.size, arguments.repeats))
    call, tile_size, _ = arguments.variants[0]
    identity = identity_denoiser(compiled=call == "compiled", tile_size=tile_size)
    inference.append(time_inference(identity, *arguments.size, arguments.repeats))
    transfer = time_transfer(*arguments.size, arguments.repeats)
    sizes = (arguments.epochs, arguments.batches, arguments.batch_size, arguments.patch_size, arguments.workers)
    training = time_training(denoiser.cards[3], arguments.data, *sizes)
    report = {
        "command": command_line("device_speed", argv),
        "machine": machine(),
        "inference": inference,
        "transfer": transfer,
        "training": training,
    }
    where = f"| {report['machine']['device']} | {report['machine']['backend']} |"
    side = training["patch_size"]
    rows = [
        f"{where} {timing['model']} on {timing['image']}, {timing['call']} call, tiles of {timing['tile_size']}, "
        f"{timing['arithmetic']} "
        f"| {timing['median_ms']:.0f} ms (first call {timing['first_call_ms']:.0f} ms) |"
        for timing in inference
    ]
    rows.append(f"{where} the same photo to the device and back, no model | {transfer['median_ms']:.0f} ms |")
    rows.append(
        f"{where} training, {training['batch_size']} patches of {side}x{side} per batch, "
        f"{training['workers']} data threads | {training['patches_per_second']:.0f} patches/s |"
    )
    print("| device | backend | measurement | result |\n|---|---|---|---|\n" + "\n".join(rows))
    write_report(arguments.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
