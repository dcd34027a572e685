"""Each model on each runtime: seconds per megapixel, multiply-accumulates, and how near the CPU's peak.

For every model and runtime asked for, the script denoises one noisy 1024 x 1024 image (the
``astronaut`` sample of scikit-image, resized; grey models get its luminance) ``--rounds``
times and keeps the median, after a warm-up call. Next to each time it prints the model's
multiply-accumulates per pixel (:func:`denoise.models.multiply_accumulates`, summed over the
models a family runs), the floating-point operations per second that this time means, and the
CPU's peak: its FP32 FMA width × FMA units per core × cores × clock, with the CPU's model. So a
speed figure says how far it is from what the hardware can do. Non-local means (scikit-image,
``fast_mode``) runs on the same image in the same run, as the classical yardstick, and the
largest difference of each runtime's output from TensorFlow's is reported. The models compute
in float32 unless ``--precision`` asks otherwise (``auto``: bfloat16 where the CPU has it, in
OpenVINO and TensorFlow; ONNX Runtime stays in float32); the peak is FP32's.

Example::

    python -m benchmarks.runtimes --models default unet-color photo photo-fast --output results/runtimes
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from skimage import data as sample_images
from skimage.transform import resize

import denoise
from benchmarks.benchmark import CLASSICAL, cpu_model, machine, write_report
from denoise.compose import leaf_models
from denoise.models import multiply_accumulates
from denoise.precision import PRECISION_CHOICES
from denoise.runtimes import FAST_RUNTIMES, REFERENCE_RUNTIME, installed_runtimes

__all__ = ["cpu_peak", "main", "time_call"]

#: FMA units per core assumed for the peak: two on every x86 core since Intel Haswell and AMD Zen.
FMA_UNITS_PER_CORE = 2
#: Noise added to the test image (Gaussian σ on the 0-255 scale).
SIGMA = 25


def cpu_peak() -> dict:
    """Return the CPU's FP32 peak and what it is made of.

    The FMA width is 16 single-precision lanes with AVX-512, 8 with AVX2 + FMA, 4 otherwise;
    the clock is the highest the OS reports (``cpuinfo_max_freq``, else ``cpu MHz``), so a
    processor that boosts past it can measure above this peak. Each FMA is two operations.
    """
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    flags_match = re.search(r"^flags\s*:(.*)$", cpuinfo, re.MULTILINE)
    flags = set(flags_match.group(1).split()) if flags_match else set()
    width = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    frequency = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if frequency.is_file():
        gigahertz = int(frequency.read_text()) / 1e6
    else:
        mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.MULTILINE)
        gigahertz = float(mhz.group(1)) / 1e3 if mhz else float("nan")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "processor": cpu_model(),
        "fp32_fma_width": width,
        "fma_units_per_core": FMA_UNITS_PER_CORE,
        "cores": cores,
        "clock_ghz": round(gigahertz, 3),
        "peak_gflops": round(2 * width * FMA_UNITS_PER_CORE * cores * gigahertz, 1),
    }


def time_call(function, image: np.ndarray, rounds: int) -> tuple[float, np.ndarray]:
    """Return the median seconds of ``rounds`` calls of ``function(image)`` after one untimed call, and its output."""
    output = function(image)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function(image)
        times.append(time.perf_counter() - started)
    return statistics.median(times), output


def test_image(channels: int, side: int) -> np.ndarray:
    """The noisy test image: scikit-image's astronaut at ``side`` x ``side``, Gaussian σ 25, seed 0."""
    clean = resize(sample_images.astronaut(), (side, side), anti_aliasing=True).astype(np.float32)
    if channels == 1:
        clean = clean.mean(axis=2, keepdims=True)
    return denoise.add_noise(clean, "gaussian", SIGMA, seed=0)


def arithmetic(row: dict) -> str:
    """Return what a row's model computed in, for its runtime cell: nothing for float32."""
    computed = row.get("arithmetic", "float32")
    return "" if computed == "float32" else f" ({computed})"


def markdown_table(rows: list[dict], peak: dict) -> str:
    """Render the rows as a Markdown table, with the CPU's peak above it."""
    lines = [
        f"CPU: {peak['processor']}; FP32 peak {peak['peak_gflops']:g} GFLOP/s = {peak['fp32_fma_width']} lanes "
        f"× {peak['fma_units_per_core']} FMA units × {peak['cores']} cores × {peak['clock_ghz']:g} GHz × 2",
        "",
        "| model | runtime | GMAC/MP | s/MP | GFLOP/s | % of peak | time ÷ NLM | max diff to TensorFlow |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        difference = row.get("max_difference_to_tensorflow")
        lines.append(
            f"| {row['model']} | {row['runtime']}{arithmetic(row)} | {row['gmac_per_megapixel']:.1f} "
            f"| {row['seconds_per_megapixel']:.3f} "
            f"| {row['gflops']:.0f} | {row['percent_of_peak']:.0f} | {row['time_ratio_to_nlm']:.2f} "
            f"| {'-' if difference is None else f'{difference:.1e}'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Time the models on the runtimes from the command line."""
    arguments_given = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["default", "unet-color", "photo"])
    parser.add_argument("--runtimes", nargs="+", default=[REFERENCE_RUNTIME, *FAST_RUNTIMES])
    parser.add_argument("--side", type=int, default=1024, help="side of the square test image")
    parser.add_argument("--rounds", type=int, default=3, help="timed calls per row; the median is kept")
    parser.add_argument(
        "--precision", default="float32", choices=PRECISION_CHOICES,
        help="what the models compute in; auto: bfloat16 where the CPU has it (OpenVINO, TensorFlow), else float32",
    )  # fmt: skip
    parser.add_argument("--output", default="results/runtimes", help="path prefix for .json and .md")
    arguments = parser.parse_args(arguments_given)
    runtimes = [runtime for runtime in arguments.runtimes if runtime in installed_runtimes()]
    peak = cpu_peak()
    megapixels = arguments.side**2 / 1e6
    _, non_local_means = CLASSICAL["nlm"]
    nlm_seconds = {}
    rows = []
    for name in arguments.models:
        reference_output = None
        for runtime in runtimes:
            denoiser = denoise.load_model(name, runtime=runtime, precision=arguments.precision)
            channels = max(denoiser.cards)  # colour where the family has it
            image = test_image(channels, arguments.side)
            if channels not in nlm_seconds:
                nlm_seconds[channels], _ = time_call(lambda noisy: non_local_means(noisy, SIGMA / 255), image, 1)
            seconds, output = time_call(denoiser.denoise, image, arguments.rounds)
            leaves = list(leaf_models(denoiser.piece.resolve(image)))
            macs = sum(multiply_accumulates(leaf.model) for leaf in leaves)
            gflops = 2 * macs * arguments.side**2 / seconds / 1e9
            row = {
                "model": denoiser.piece.resolve(image).name,
                "asked": name,
                "runtime": denoiser.runtime,
                "arithmetic": denoiser.computed_arithmetic,
                "gmac_per_megapixel": macs / 1e3,
                "seconds_per_megapixel": seconds / megapixels,
                "gflops": gflops,
                "percent_of_peak": 100 * gflops / peak["peak_gflops"],
                "nlm_seconds_per_megapixel": nlm_seconds[channels] / megapixels,
                "time_ratio_to_nlm": seconds / nlm_seconds[channels],
                "max_difference_to_tensorflow": None
                if reference_output is None
                else float(np.abs(output - reference_output).max()),
            }
            if runtime == REFERENCE_RUNTIME:
                reference_output = output
            rows.append(row)
            print(markdown_table([row], peak).splitlines()[-1], file=sys.stderr, flush=True)
    table = markdown_table(rows, peak)
    print(table)
    command = "python -m benchmarks.runtimes " + " ".join(arguments_given)
    where = {**machine(), "threads": os.environ.get("OMP_NUM_THREADS", "all")}
    write_report(arguments.output, {"command": command, "machine": where, "cpu_peak": peak, "rows": rows})
    Path(arguments.output).with_suffix(".md").write_text(f"Command: `{command}`\n\nMachine: {where}\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
