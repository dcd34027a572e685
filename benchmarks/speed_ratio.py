"""Time the default model against non-local means image by image, on one thread, alternating.

The speed goal is a ratio: the default model's seconds per megapixel over those of
scikit-image's fast non-local means, same machine, same images. The rows of
``benchmarks.benchmark`` time each method in turn, and with ``--jobs 2`` a method timed while
the other job starts up or runs BM3D looks slower than one timed alone. Here the two methods
take turns on each noisy image (the benchmark's images: ``shared/data/DATA.md``), the one that
goes first alternating, so both see the same machine; run it with nothing else running. The
benchmark runs this after its other rows for its targets table; alone, it checks the speed goal
in minutes instead of an hour.

Example::

    python -m benchmarks.speed_ratio ../shared/data/test/set12 ../shared/data/test/bsd68 \
        ../shared/data/test/cbsd68 --sigma 15 25 50 --output results/speed-ratio
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import denoise
from benchmarks.benchmark import CLASSICAL, ONE_THREAD, machine, write_report
from denoise.evaluation import noisy_test_set
from denoise.precision import DEFAULT_PRECISION, PRECISION_CHOICES

__all__ = ["main", "paired_times"]


def paired_times(denoiser: denoise.Denoiser, folder: str | Path, sigma: float, rounds: int) -> dict:
    """Time ``denoiser`` and non-local means in turns on each noisy image of ``folder``.

    Returns the folder, sigma, image count, megapixels per round and each method's seconds per
    megapixel over all ``rounds``, with their ratio (the speed goal: at most 1).
    """
    label, non_local_means = CLASSICAL["nlm"]
    methods = {"model": denoiser.denoise, "nlm": lambda noisy: non_local_means(noisy, sigma / 255)}
    seconds = dict.fromkeys(methods, 0.0)
    pairs = noisy_test_set(folder, sigma)
    for round_index in range(rounds):
        for image_index, (_, _, noisy) in enumerate(pairs):
            order = list(methods) if (round_index + image_index) % 2 == 0 else list(reversed(methods))
            for name in order:
                started = time.perf_counter()
                methods[name](noisy)
                seconds[name] += time.perf_counter() - started
    megapixels = sum(clean.shape[0] * clean.shape[1] for _, clean, _ in pairs) / 1e6
    model, nlm = (seconds[name] / (megapixels * rounds) for name in ("model", "nlm"))
    return {
        "folder": Path(folder).name,
        "sigma": sigma,
        "images": len(pairs),
        "megapixels": round(megapixels, 3),
        "rounds": rounds,
        "model": denoiser.label,
        "arithmetic": denoiser.arithmetic,
        "model_seconds_per_megapixel": model,
        "nlm_seconds_per_megapixel": nlm,
        "nlm": label,
        "time_ratio_to_nlm": model / nlm,
        "speed_goal_met": model <= nlm,
    }


def markdown_table(rows: list[dict]) -> str:
    """Render the paired timings as a Markdown table."""
    lines = [
        "| folder | σ | model | arithmetic | model s/MP | NLM s/MP | time ÷ NLM time (goal ≤ 1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['folder']} | {row['sigma']:g} | {row['model']} | {row['arithmetic']} "
            f"| {row['model_seconds_per_megapixel']:.2f} | {row['nlm_seconds_per_megapixel']:.2f} "
            f"| {row['time_ratio_to_nlm']:.2f} {'✓' if row['speed_goal_met'] else '✗'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the paired timing from the command line, in a one-thread process."""
    arguments_given = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders of clean test images")
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--model", default="default", help="model to time (default: the default model)")
    parser.add_argument(
        "--precision", choices=PRECISION_CHOICES, default=DEFAULT_PRECISION, help="model precision (default auto)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="passes over each folder, each timed")
    parser.add_argument("--output", default="results/speed-ratio", help="path prefix for .json and .md")
    arguments = parser.parse_args(arguments_given)
    if any(os.environ.get(name) != value for name, value in ONE_THREAD.items()):
        # Thread counts are read when the libraries start: run again in a process that has them.
        command = [sys.executable, "-m", "benchmarks.speed_ratio", *arguments_given]
        return subprocess.call(command, env={**os.environ, **ONE_THREAD})
    denoiser = denoise.load_model(arguments.model, precision=arguments.precision)
    denoiser.warm_up()
    rows = []
    for folder in arguments.folders:
        for sigma in arguments.sigma:
            rows.append(paired_times(denoiser, folder, sigma, arguments.rounds))
            print(markdown_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    table = markdown_table(rows)
    print(table)
    command = "python -m benchmarks.speed_ratio " + " ".join(arguments_given)
    where = {**machine(), "threads_per_method": 1}
    write_report(arguments.output, {"command": command, "machine": where, "rows": rows})
    Path(arguments.output).with_suffix(".md").write_text(f"Command: `{command}`\n\nMachine: {where}\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
