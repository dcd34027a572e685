"""Where a colour denoiser's error lies: in the luminance or in the colour differences.

For each method and sigma, every image of a folder gets the benchmark's seeded Gaussian noise
(:func:`denoise.evaluation.noisy_test_set`); the table gives the mean PSNR and the mean PSNR of
the error's luminance and chroma parts on their own (:func:`denoise.metrics.luminance_chroma_psnr`).
The methods are the default family, its colour model alone (without the grey model's
luminance) and, where the ``bm3d`` package is installed, CBM3D given the true sigma. Use
images the models were not trained on, such as the last 22 of ``train/color432``.

Example::

    python -m benchmarks.colour_error /tmp/held-out-color --sigma 15 25 50

With ``DENOISE_MODELS`` pointing at a copy of ``pretrained/`` in which another colour model
stands as ``unet-color.keras``, it measures that model in the default family instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable

import numpy as np

from benchmarks.benchmark import write_folder_report
from denoise.classical import bm3d
from denoise.evaluation import noisy_test_set
from denoise.inference import load_model
from denoise.metrics import luminance_chroma_psnr, psnr

Method = Callable[[np.ndarray, float], np.ndarray]


def methods(cbm3d: bool = True) -> dict[str, Method]:
    """Return the compared methods by name; each maps a noisy image and its sigma (0-1) to an estimate."""
    default = load_model("default")
    colour_alone = load_model(default.cards[3]["name"])  # one model by name runs alone
    compared: dict[str, Method] = {
        f"default ({default.label})": lambda noisy, sigma: default.denoise(noisy),
        "colour model alone": lambda noisy, sigma: colour_alone.denoise(noisy),
    }
    if cbm3d and importlib.util.find_spec("bm3d") is not None:
        compared["CBM3D"] = bm3d
    return compared


def error_rows(folder: str, sigmas: list[float], compared: dict[str, Method]) -> list[dict]:
    """Return one row per method and sigma: ``psnr``, ``luminance_psnr`` and ``chroma_psnr`` (means over the folder).

    Raises
    ------
    ValueError
        If the folder holds no image or an image is not in colour.

    """
    rows = []
    for sigma in sigmas:
        pairs = noisy_test_set(folder, sigma)
        for name, method in compared.items():
            scores = []
            for _, clean, noisy in pairs:
                estimate = method(noisy, sigma / 255)
                scores.append((psnr(clean, estimate), *luminance_chroma_psnr(clean, estimate)))
            total, luminance, chroma = np.mean(scores, axis=0)
            rows.append(
                {
                    "method": name,
                    "sigma": sigma,
                    "images": len(pairs),
                    "psnr": float(total),
                    "luminance_psnr": float(luminance),
                    "chroma_psnr": float(chroma),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="folder of clean colour images")
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--output", default="results/colour-error")
    parser.add_argument("--no-cbm3d", action="store_true", help="leave CBM3D out (most of the time)")
    arguments = parser.parse_args(argv)

    rows = error_rows(arguments.folder, arguments.sigma, methods(cbm3d=not arguments.no_cbm3d))
    print("| method | sigma | PSNR | luminance error alone | chroma error alone |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['method']} | {row['sigma']:g} | {row['psnr']:.3f} | {row['luminance_psnr']:.3f} "
            f"| {row['chroma_psnr']:.3f} |"
        )
    write_folder_report("colour_error", argv, arguments.output, arguments.folder, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
