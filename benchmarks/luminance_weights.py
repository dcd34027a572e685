"""How much of a colour image's luminance to take from the grey model: the evidence for the weight.

The default family's colour model may have its grey model denoise each colour image's luminance
too (:class:`denoise.compose.LuminanceBlend`, the manifest's ``grey_luminance``). For each
weight, the default family runs on a folder of colour images with the benchmark's seeded Gaussian noise
(:func:`denoise.evaluation.evaluate`); the table gives PSNR per sigma, and the first row is
the colour model alone. Use images the models were not trained on, such as the last 22 of
``train/color432``, which training held out for validation.

Example::

    python -m benchmarks.luminance_weights /tmp/held-out-color --weights 0.5 0.6 0.7 0.75 0.8 0.9 1
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from benchmarks.benchmark import write_folder_report
from denoise.evaluation import evaluate
from denoise.inference import load_model
from denoise.registry import read_manifest


def weight_rows(folder: str, weights: list[float], sigmas: list[float]) -> list[dict]:
    """Return one row per weight (None: the colour model alone) and sigma, as :func:`evaluate` gives."""
    family = read_manifest().family("default")
    rows = []
    for weight in [None, *weights]:
        denoiser = load_model(family.name, family=dataclasses.replace(family, grey_luminance=weight))
        rows += [{"weight": weight, **row} for row in evaluate(denoiser.denoise, folder, sigmas)]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="folder of clean colour images")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0])
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--output", default="results/luminance-weights")
    arguments = parser.parse_args(argv)

    rows = weight_rows(arguments.folder, arguments.weights, arguments.sigma)
    print("| grey luminance weight | " + " | ".join(f"PSNR σ {sigma:g}" for sigma in arguments.sigma) + " |")
    print("|---" * (len(arguments.sigma) + 1) + "|")
    for weight in [None, *arguments.weights]:
        scores = " | ".join(f"{row['psnr']:.3f}" for row in rows if row["weight"] == weight)
        print(f"| {'colour model alone' if weight is None else f'{weight:g}'} | {scores} |")
    write_folder_report("luminance_weights", argv, arguments.output, arguments.folder, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
