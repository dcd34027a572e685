"""`denoise batch` (Apache Beam, FnApiRunner) against `denoise run` on the same folder.

Writes ``--count`` noisy photo-like PNGs of ``--size`` (default 8 of 2000 x 1500), runs both
commands on them in fresh processes (start-up and model loading included, as a user sees
it), checks that the two wrote the same files byte for byte, and prints throughput.

Example::

    python -m benchmarks.batch_speed --output results/batch-speed
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.benchmark import command_line, machine, write_report
from benchmarks.memory import noisy_photo


def timed(command: list[str]) -> float:
    """Run a command; return its wall time in seconds (a failure raises)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=[2000, 1500], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--model", default="photo")
    parser.add_argument("--output", default="results/batch-speed")
    arguments = parser.parse_args(argv)
    width, height = arguments.size
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        base = np.round(noisy_photo(height, width) * 255).astype(np.uint8)
        inputs = []
        for index in range(arguments.count):
            path = folder / f"photo-{index}.png"
            Image.fromarray(np.roll(base, 53 * index, axis=1)).save(path)
            inputs.append(str(path))
        denoise = [sys.executable, "-m", "denoise"]
        seconds = {
            "run": timed([*denoise, "run", *inputs, "--out", str(folder / "run"), "--model", arguments.model]),
            "batch": timed([*denoise, "batch", *inputs, "--out", str(folder / "batch"), "--model", arguments.model]),
        }
        identical = all(
            (folder / "run" / Path(path).name).read_bytes() == (folder / "batch" / Path(path).name).read_bytes()
            for path in inputs
        )
    megapixels = arguments.count * width * height / 1e6
    report = {
        "command": command_line("batch_speed", argv),
        "machine": machine(),
        "images": f"{arguments.count} x {width}x{height} RGB PNG",
        "model": arguments.model,
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "megapixels_per_second": {name: round(megapixels / value, 3) for name, value in seconds.items()},
        "batch_over_run_time": round(seconds["batch"] / seconds["run"], 3),
        "identical_outputs": identical,
    }
    print("| command | wall time | MP/s |\n|---|---|---|")
    for name, value in seconds.items():
        print(f"| denoise {name} | {value:.1f} s | {megapixels / value:.2f} |")
    print(f"\noutputs identical byte for byte: {identical}")
    write_report(arguments.output, report)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
