"""Real camera noise: PSNR on noisy/clean photo pairs, and how well the noise is estimated.

The pairs are a folder with ``noisy/`` and ``clean/`` images of the same names, such as PolyU's
(``test/polyu100``: 100 crops of about 37 scenes, five cameras, ISO 800-12800). Crops of one
scene look alike, so a model tuned on some crops must be tested on other scenes, never on other
crops of the same ones: :func:`scene_split` puts every second scene (in name order) in the test
half and the rest in the tuning half. No shipped model was trained or tuned on any PolyU crop;
the test half is the one reported.

Rows:

* the noisy input itself;
* each model of ``--models`` (``photo`` at each ``--strength``; others at strength 1);
* each classical method of ``--classical``, given the true noise standard deviation of each
  image (the oracle: what no user knows) and given the estimate from the image itself.

The estimate table compares, per image, the true standard deviation of noisy - clean (0-255)
with the white-noise estimate (stride 1) and the pixel-shuffled one the app shows (stride
:data:`denoise.classical.PHOTO_NOISE_STRIDE`).

Examples::

    python -m benchmarks.real_noise ../shared/data/test/polyu100 --classical nlm --output results/real-noise
    python -m benchmarks.real_noise ../shared/data/test/polyu100 --part tune --write-part /tmp/polyu-tune
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import command_line, machine, write_report
from denoise.classical import PHOTO_NOISE_STRIDE, classical_methods, estimate_noise_sigma
from denoise.image_io import IMAGE_SUFFIXES

CLASSICAL_NAMES = {"nlm": "Non-local means", "bm3d": "BM3D", "tv": "Total variation"}


def scene_of(name: str) -> str:
    """Return the scene of a PolyU crop: its name without the crop number (``Canon5D2_5_160_3200_chair``)."""
    return Path(name).stem.rsplit("_", 1)[0]


def scene_split(names: list[str]) -> dict[str, list[str]]:
    """Split crop names by scene into ``{"tune": [...], "test": [...]}``: every second scene is a test scene."""
    scenes = sorted({scene_of(name) for name in names})
    test_scenes = set(scenes[1::2])
    return {
        "tune": [name for name in names if scene_of(name) not in test_scenes],
        "test": [name for name in names if scene_of(name) in test_scenes],
    }


def write_part(folder: Path, part: str, target: Path) -> int:
    """Copy one half of the split (``noisy/`` and ``clean/``) to ``target``, e.g. to train on; return its size."""
    names = sorted(path.name for path in (folder / "noisy").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    chosen = scene_split(names)[part]
    for kind in ("noisy", "clean"):
        (target / kind).mkdir(parents=True, exist_ok=True)
        for name in chosen:
            shutil.copyfile(folder / kind / name, target / kind / name)
    return len(chosen)


def read_pairs(folder: Path, names: list[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return ``(name, noisy, clean)`` colour float images."""
    return [
        (
            name,
            denoise.read_image(folder / "noisy" / name, channels=3).pixels,
            denoise.read_image(folder / "clean" / name, channels=3).pixels,
        )
        for name in names
    ]


def score(method: str, outputs: list[np.ndarray], pairs: list, seconds: float) -> dict:
    """Mean PSNR and SSIM of ``outputs`` against the clean images, and seconds per megapixel."""
    megapixels = sum(clean.shape[0] * clean.shape[1] for _, _, clean in pairs) / 1e6
    return {
        "method": method,
        "psnr": float(
            np.mean([denoise.psnr(clean, output) for output, (_, _, clean) in zip(outputs, pairs, strict=True)])
        ),
        "ssim": float(
            np.mean([denoise.ssim(clean, output) for output, (_, _, clean) in zip(outputs, pairs, strict=True)])
        ),
        "seconds_per_megapixel": seconds / megapixels,
    }


def timed(function, pairs: list) -> tuple[list[np.ndarray], float]:
    """Run ``function(noisy, clean)`` on every pair; return the outputs and the seconds it took."""
    started = time.perf_counter()
    outputs = [function(noisy, clean) for _, noisy, clean in pairs]
    return outputs, time.perf_counter() - started


def estimates(pairs: list) -> list[dict]:
    """Per image: the true noise standard deviation and the two estimates, 0-255."""
    rows = []
    for name, noisy, clean in pairs:
        rows.append(
            {
                "image": name,
                "true": float(np.std(noisy - clean) * 255),
                "white_noise_estimate": estimate_noise_sigma(noisy) * 255,
                "photo_estimate": estimate_noise_sigma(noisy, stride=PHOTO_NOISE_STRIDE) * 255,
            }
        )
    return rows


def estimate_summary(rows: list[dict]) -> dict:
    """Mean ratio estimate / true, its spread, and the correlation with the truth, per estimate."""
    true = np.array([row["true"] for row in rows])
    summary = {"mean_true": float(true.mean())}
    for key in ("white_noise_estimate", "photo_estimate"):
        values = np.array([row[key] for row in rows])
        ratio = values / true
        summary[key] = {
            "mean": float(values.mean()),
            "ratio_mean": float(ratio.mean()),
            "ratio_std": float(ratio.std()),
            "correlation": float(np.corrcoef(true, values)[0, 1]) if len(rows) > 1 else float("nan"),
        }
    return summary


def run(folder: Path, models: list[str], strengths: list[float], classical: list[str], part: str) -> dict:
    """Evaluate everything on one half of the split (or ``all``); return the report."""
    names = sorted(path.name for path in (folder / "noisy").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    split = scene_split(names)
    chosen = names if part == "all" else split[part]
    pairs = read_pairs(folder, chosen)
    rows = [score("noisy input", [noisy for _, noisy, _ in pairs], pairs, 0.0)]
    for model in models:
        denoiser = denoise.load_model(model)
        denoiser.warm_up()
        for strength in strengths if model == denoise.PHOTO_MODEL else [1.0]:
            outputs, seconds = timed(lambda noisy, _, d=denoiser, s=strength: d.denoise(noisy, s), pairs)
            label = model if strength == 1 else f"{model}, strength {strength:g}"
            rows.append(score(label, outputs, pairs, seconds))
            print_row(rows[-1])
    methods = classical_methods()
    for key in classical:
        method = methods[CLASSICAL_NAMES[key]]
        oracle, seconds = timed(lambda noisy, clean, m=method: m(noisy, float(np.std(noisy - clean))), pairs)
        rows.append(score(f"{CLASSICAL_NAMES[key]}, true sigma (oracle)", oracle, pairs, seconds))
        print_row(rows[-1])
        estimated, seconds = timed(
            lambda noisy, _, m=method: m(noisy, estimate_noise_sigma(noisy, stride=PHOTO_NOISE_STRIDE)), pairs
        )
        rows.append(score(f"{CLASSICAL_NAMES[key]}, estimated sigma", estimated, pairs, seconds))
        print_row(rows[-1])
    estimate_rows = estimates(pairs)
    return {
        "folder": str(folder),
        "part": part,
        "images": len(pairs),
        "scenes": sorted({scene_of(name) for name in chosen}),
        "split": {key: sorted({scene_of(name) for name in value}) for key, value in split.items()},
        "rows": rows,
        "noise_estimates": estimate_rows,
        "noise_estimate_summary": estimate_summary(estimate_rows),
    }


def print_row(row: dict) -> None:
    """Print one result as it comes."""
    print(f"{row['method']}: {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}", flush=True)


def markdown(report: dict, *, estimates: bool = True) -> str:
    """Return the results and, with ``estimates``, the noise estimates' summary as Markdown tables."""
    noisy = report["rows"][0]["psnr"]
    lines = [
        f"{report['images']} crops of {len(report['scenes'])} scenes ({report['part']} half)",
        "",
        "| method | PSNR (dB) | gain | SSIM | s/MP |",
        "|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['method']} | {row['psnr']:.2f} | {row['psnr'] - noisy:+.2f} | {row['ssim']:.4f} "
            f"| {row['seconds_per_megapixel']:.2f} |"
        )
    if not estimates:
        return "\n".join(lines)
    summary = report["noise_estimate_summary"]
    lines += [
        "",
        f"Noise estimates against the true std of noisy - clean (mean {summary['mean_true']:.2f}, 0-255):",
        "",
        "| estimate | mean | estimate / true | spread of the ratio | correlation |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("white_noise_estimate", "white-noise (stride 1, before)"),
        ("photo_estimate", f"pixel-shuffled (stride {PHOTO_NOISE_STRIDE}, now)"),
    ):
        entry = summary[key]
        lines.append(
            f"| {label} | {entry['mean']:.2f} | {entry['ratio_mean']:.2f} | {entry['ratio_std']:.2f} "
            f"| {entry['correlation']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the tables and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder with noisy/ and clean/ images of the same names")
    parser.add_argument("--models", nargs="*", default=["photo", "default"], help="models to run")
    parser.add_argument("--strength", type=float, nargs="+", default=[0.5, 1.0, 1.5], help="strengths of photo")
    parser.add_argument("--classical", nargs="*", choices=sorted(CLASSICAL_NAMES), default=["nlm"])
    parser.add_argument("--part", choices=["test", "tune", "all"], default="test", help="half of the scene split")
    parser.add_argument("--output", default="results/real-noise", help="path prefix of the .json and .md files")
    parser.add_argument(
        "--write-part",
        metavar="DIR",
        type=Path,
        help="instead of evaluating, copy the --part half of the split to DIR (to train on the tune half)",
    )
    arguments = parser.parse_args(argv)
    if arguments.write_part:
        count = write_part(arguments.folder, arguments.part, arguments.write_part)
        print(f"{count} pairs of the {arguments.part} half copied to {arguments.write_part}")
        return 0
    report = run(arguments.folder, arguments.models, arguments.strength, arguments.classical, arguments.part)
    report = {
        "command": command_line("real_noise", argv),
        "machine": machine(),
        **report,
    }
    table = markdown(report)
    print(table)
    write_report(arguments.output, report)
    Path(arguments.output).with_suffix(".md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
