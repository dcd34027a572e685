"""How well the noise estimate separates noise levels: the evidence for a low-noise threshold.

For each sigma, every image of a folder gets the benchmark's seeded Gaussian noise
(:func:`denoise.evaluation.noisy_test_set`) and the noise estimate that routes images to a
low-noise model (:func:`denoise.classical.estimate_noise_sigma`); the table gives the lowest,
mean and highest estimate per sigma. Textured images read higher than their true sigma.

Example::

    python -m benchmarks.noise_estimates /tmp/held-out --sigma 5 10 15 20 25 30 50
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks.benchmark import write_folder_report
from denoise.classical import estimate_noise_sigma
from denoise.evaluation import noisy_test_set


def estimate_ranges(folder: str, sigmas: list[float]) -> list[dict]:
    """Return, per sigma, the lowest, mean and highest estimated sigma (0-255) over ``folder``."""
    rows = []
    for sigma in sigmas:
        estimates = [estimate_noise_sigma(noisy) * 255 for _, _, noisy in noisy_test_set(folder, sigma)]
        rows.append(
            {
                "sigma": sigma,
                "images": len(estimates),
                "lowest": float(np.min(estimates)),
                "mean": float(np.mean(estimates)),
                "highest": float(np.max(estimates)),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="folder of clean images")
    parser.add_argument("--sigma", type=float, nargs="+", default=[5, 10, 15, 20, 25, 30, 50])
    parser.add_argument("--output", default="results/noise-estimates")
    arguments = parser.parse_args(argv)

    rows = estimate_ranges(arguments.folder, arguments.sigma)
    print("| σ | images | lowest estimate | mean | highest |\n|---|---|---|---|---|")
    for row in rows:
        estimates = " | ".join(f"{row[key]:.1f}" for key in ("lowest", "mean", "highest"))
        print(f"| {row['sigma']:g} | {row['images']} | {estimates} |")
    write_folder_report("noise_estimates", argv, arguments.output, arguments.folder, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
