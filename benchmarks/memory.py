"""Peak memory and time of `denoise run` on a 24-megapixel JPEG, or a 24-megapixel raw file.

Makes a 6000 x 4000 (``--size``) noisy photo-like JPEG (or, with ``--raw``, the same photo
unprocessed to a Bayer DNG with ISO 3200 sensor noise), denoises it in a child process (the
default model; the raw model for the DNG, written back as DNG, or ``--format tiff``: a 16-bit
render; with ``--adapt SECONDS``, the model adapted to the photo first), and reports the child's
peak resident memory (``getrusage``) and wall time.

Examples::

    python -m benchmarks.memory --output results/memory
    python -m benchmarks.memory --raw --output results/memory-raw
    python -m benchmarks.memory --adapt 30 --size 4240x2832 --output results/memory-adapt-12mp
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as sample_images
from skimage.transform import resize

from benchmarks.benchmark import command_line, machine, write_report


def noisy_photo(height: int, width: int) -> np.ndarray:
    """Return a noisy, photo-like RGB image of the given size, float64 in [0, 1]."""
    base = resize(sample_images.astronaut(), (-(-height // 4), -(-width // 4)), anti_aliasing=True)
    image = np.kron(base, np.ones((4, 4, 1)))[:height, :width]
    return np.clip(image + np.random.default_rng(0).normal(0, 20 / 255, image.shape), 0, 1)


def make_photo(path: Path, width: int = 6000, height: int = 4000) -> None:
    """Write :func:`noisy_photo` as an RGB JPEG."""
    Image.fromarray(np.round(noisy_photo(height, width) * 255).astype(np.uint8)).save(path, quality=90)


def make_raw(path: Path, width: int = 6000, height: int = 4000) -> None:
    """Write :func:`noisy_photo`'s clean image as a Bayer DNG with ISO 3200 sensor noise."""
    from denoise.noise import CameraPipeline, bayer_masks, camera_noise_variance, poisson_gaussian
    from denoise.raw import RawImage, write_dng

    rng = np.random.default_rng(0)
    camera = CameraPipeline.random(rng)
    mosaic = np.zeros((height, width), np.float32)
    clean = resize(sample_images.astronaut(), (height // 4, width // 4), anti_aliasing=True).astype(np.float32)
    for top in range(0, height, 1000):  # in strips: the file's making stays small beside the run
        rows = np.kron(clean[top // 4 : (top + 1000) // 4], np.ones((4, 4, 1), np.float32))
        linear = camera.unprocess(rows[None])[0]
        mosaic[top : top + 1000] = np.sum(linear * bayer_masks(*linear.shape[:2]), axis=-1)
    shot, read = camera_noise_variance(3200)
    noisy = np.minimum(poisson_gaussian(mosaic, float(shot), float(read), rng), 1.0).astype(np.float32)
    balance = camera.gains[0] / camera.gains[0][1]
    write_dng(path, RawImage(noisy, white_balance=tuple(balance), white_level=16383.0, iso=3200.0, camera="Synthetic"))


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--raw", action="store_true", help="a 24-megapixel Bayer DNG instead of the JPEG")
    parser.add_argument("--format", default="dng", choices=["dng", "tiff", "png"], help="what the raw becomes")
    parser.add_argument("--adapt", type=float, help="seconds of adapting to the JPEG first (run --adapt)")
    parser.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT of the photo")
    parser.add_argument("--output", default="results/memory", help="path prefix for the .json file")
    arguments = parser.parse_args(argv)
    width, height = (int(side) for side in arguments.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as folder:
        if arguments.raw:
            photo = Path(folder) / "photo.dng"
            make_raw(photo, width, height)
            command = [sys.executable, "-m", "denoise", "run", str(photo), "--out", folder]
            command += ["--format", arguments.format]
            image = f"{width}x{height} Bayer DNG, ISO 3200, written as {arguments.format}"
        else:
            photo = Path(folder) / "photo.jpg"
            make_photo(photo, width, height)
            command = [sys.executable, "-m", "denoise", "run", str(photo), "--out", folder, "--model", arguments.model]
            command += ["--adapt", str(arguments.adapt)] if arguments.adapt is not None else []
            image = f"{width}x{height} RGB JPEG" + (f", adapted {arguments.adapt:g} s" if arguments.adapt else "")
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_megabytes = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        written = sorted(path for path in Path(folder).iterdir() if path.name != photo.name)
        size = list(read_size(written[0])) if written else None
    report = {
        "command": command_line("memory", argv),
        "machine": machine(),
        "image": image,
        "model": "raw-bayer" if arguments.raw else arguments.model,
        "output": completed.stdout.strip()[-300:],
        "exit_status": completed.returncode,
        "output_size": size,
        "seconds": round(seconds, 2),
        "peak_resident_megabytes": round(peak_megabytes, 1),
    }
    print(
        f"| image | model | wall time | peak resident memory |\n|---|---|---|---|\n"
        f"| {report['image']} | {report['model']} | {seconds:.1f} s | {peak_megabytes:.0f} MB |"
    )
    write_report(arguments.output, report)
    return completed.returncode


def read_size(path: Path) -> tuple[int, int]:
    """Width and height of a written result: a DNG's mosaic, or an image's."""
    if path.suffix == ".dng":
        from denoise.raw import read_raw

        height, width = read_raw(path).mosaic.shape
        return width, height
    with Image.open(path) as result:
        return result.size


if __name__ == "__main__":
    sys.exit(main())
