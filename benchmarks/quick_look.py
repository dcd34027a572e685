"""Whether the app's quick look could denoise the photo as the screen shows it, shrunk first.

The app shows a large photo shrunk to its widest image (1460 pixels), so denoising only what
is shown would cost a 12-megapixel photo 7.5 times less. This scores, against the clean image
shrunk the same way, the screen image made each way: denoised at full size and then shrunk (as
the app does), or shrunk and then denoised, with the photo model and its quick family, on real
noisy/clean pairs (PolyU's test scenes by default), each crop shrunk by the factor of a
12-megapixel photo on that screen (4000 / 1460).

Example::

    python -m benchmarks.quick_look ../shared/data/test/polyu100 --output results/quick-look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import write_report_with_table
from benchmarks.real_noise import read_pairs, scene_split
from denoise.image_io import IMAGE_SUFFIXES
from denoise.registry import quick_family
from denoise.visualize import fit_width

#: How much smaller a 4000-pixel-wide (12-megapixel) photo is on the app's 1460-pixel screen.
SCREEN_FACTOR = 4000 / 1460


def screen(image: np.ndarray, width: int) -> np.ndarray:
    """Return ``image`` as the screen shows it: shrunk to ``width``, in [0, 1] floats, channels kept."""
    small = fit_width(image, width)
    return small.reshape(small.shape[0], small.shape[1], image.shape[2]).astype(np.float32) / 255


def binned(image: np.ndarray) -> np.ndarray:
    """Return ``image`` at half its size, each 2 x 2 block averaged (an odd last row or column dropped)."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    blocks = image[:height, :width].reshape(height // 2, 2, width // 2, 2, image.shape[2])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def binned_then_denoised(denoiser: denoise.Denoiser, noisy: np.ndarray, width: int) -> np.ndarray:
    """Bin ``noisy`` 2 x 2, denoise it at half size, then shrink the result to ``width``."""
    return screen(denoiser.denoise(binned(noisy)), width)


def shrunk_then_denoised(denoiser: denoise.Denoiser, noisy: np.ndarray, width: int) -> np.ndarray:
    """Shrink ``noisy`` to ``width`` as the screen does, then denoise it."""
    return denoiser.denoise(screen(noisy, width))


def run(folder: Path, model: str, part: str, factor: float) -> dict:
    """Score every way of making the screen image on one half of the PolyU split; return the report."""
    names = sorted(path.name for path in (folder / "noisy").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    pairs = read_pairs(folder, names if part == "all" else scene_split(names)[part])
    quick = quick_family(model)
    if quick is None:
        raise SystemExit(f"{model} has no quick family")
    full_denoiser, quick_denoiser = denoise.load_model(model), denoise.load_model(quick)
    full_denoiser.warm_up()
    quick_denoiser.warm_up()
    ways = {
        "noisy input, shrunk": lambda noisy, width: screen(noisy, width),
        f"{model} at full size, shrunk": lambda noisy, width: screen(full_denoiser.denoise(noisy), width),
        f"{quick} at full size, shrunk": lambda noisy, width: screen(quick_denoiser.denoise(noisy), width),
        f"shrunk, then {quick}": lambda noisy, width: shrunk_then_denoised(quick_denoiser, noisy, width),
        f"shrunk, then {model}": lambda noisy, width: shrunk_then_denoised(full_denoiser, noisy, width),
        f"binned 2 x 2, then {quick}, shrunk": lambda noisy, width: binned_then_denoised(quick_denoiser, noisy, width),
        f"binned 2 x 2, then {model}, shrunk": lambda noisy, width: binned_then_denoised(full_denoiser, noisy, width),
    }
    rows = []
    for way, make in ways.items():
        scores, seconds, megapixels = [], 0.0, 0.0
        for _, noisy, clean in pairs:
            width = max(1, round(clean.shape[1] / factor))
            started = time.perf_counter()
            shown = make(noisy, width)
            seconds += time.perf_counter() - started
            megapixels += clean.shape[0] * clean.shape[1] / 1e6
            scores.append(denoise.psnr(screen(clean, width), shown))
        rows.append({"way": way, "psnr": float(np.mean(scores)), "seconds_per_megapixel": seconds / megapixels})
        print(f"{way}: {rows[-1]['psnr']:.2f} dB", flush=True)
    return {"folder": str(folder), "part": part, "images": len(pairs), "factor": factor, "rows": rows}


def markdown(report: dict) -> str:
    """Return the report's table: PSNR on the screen image and seconds per megapixel of the photo."""
    lines = [
        f"{report['images']} crops of PolyU's {report['part']} scenes, shown {report['factor']:.2f} times smaller",
        "",
        "| screen image | PSNR (dB) | s per photo megapixel |",
        "|---|---|---|",
    ]
    lines += [f"| {row['way']} | {row['psnr']:.2f} | {row['seconds_per_megapixel']:.3f} |" for row in report["rows"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder with noisy/ and clean/ (PolyU's layout)")
    parser.add_argument("--model", default=denoise.PHOTO_MODEL, help="a family with a quick family")
    parser.add_argument("--part", choices=("test", "tune", "all"), default="test", help="half of the scene split")
    parser.add_argument("--factor", type=float, default=SCREEN_FACTOR, help="how much smaller the screen shows it")
    parser.add_argument("--output", default="results/quick-look", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = run(arguments.folder, arguments.model, arguments.part, arguments.factor)
    write_report_with_table(arguments.output, report, markdown(report), "quick_look", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
