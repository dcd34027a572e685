"""Peak memory and time of `denoise run` on a 24-megapixel JPEG.

Makes a 6000 x 4000 noisy photo-like JPEG, denoises it in a child process with the default
model, and reports the child's peak resident memory (``getrusage``) and wall time.

Example::

    python -m benchmarks.memory --output results/memory
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

from benchmarks.benchmark import machine, write_report


def noisy_photo(height: int, width: int) -> np.ndarray:
    """Return a noisy, photo-like RGB image of the given size, float64 in [0, 1]."""
    base = resize(sample_images.astronaut(), (-(-height // 4), -(-width // 4)), anti_aliasing=True)
    image = np.kron(base, np.ones((4, 4, 1)))[:height, :width]
    return np.clip(image + np.random.default_rng(0).normal(0, 20 / 255, image.shape), 0, 1)


def make_photo(path: Path, width: int = 6000, height: int = 4000) -> None:
    """Write :func:`noisy_photo` as an RGB JPEG."""
    Image.fromarray(np.round(noisy_photo(height, width) * 255).astype(np.uint8)).save(path, quality=90)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--output", default="results/memory", help="path prefix for the .json file")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo-24mp.jpg"
        make_photo(photo)
        command = [sys.executable, "-m", "denoise", "run", str(photo), "--out", folder, "--model", arguments.model]
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_megabytes = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with Image.open(Path(folder) / "photo-24mp.png") as result:
            size = result.size
    report = {
        "command": "python -m benchmarks.memory " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "image": "6000x4000 RGB JPEG",
        "model": arguments.model,
        "exit_status": completed.returncode,
        "output_size": list(size),
        "seconds": round(seconds, 2),
        "peak_resident_megabytes": round(peak_megabytes, 1),
    }
    print(
        f"| image | model | wall time | peak resident memory |\n|---|---|---|---|\n"
        f"| {report['image']} | {arguments.model} | {seconds:.1f} s | {peak_megabytes:.0f} MB |"
    )
    write_report(arguments.output, report)
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
