r"""Adapting to each photo (:mod:`denoise.adaptation`): PSNR before and after, and its seconds per image.

Two settings, each on images no model was trained or tuned on:

* ``--folder`` with ``--sigma``: clean images (``test/urban100``) with Gaussian noise of a known
  level, one seed per image; the model adapts with that level known (``recorrupted``).
* ``--pairs``: real noisy/clean pairs (``test/polyu100``, its test scenes only), blind: the
  photo model adapts with nothing known (``shuffled-neighbor2neighbor``).

Each image is adapted to on its own, from the shipped weights, for ``--seconds`` (or ``--steps``).
Each is also scored with the collaborative Wiener filter (:func:`denoise.adaptation.with_collaborative_filter`)
as :func:`denoise.adaptation.adapt` gives it by default: guided by the adapted result at the known
level, or, for the pairs, guided by the shipped model's result with the noise measured in each
photo (no fine-tune); the filter's seconds are its own column. ``--filter-only`` skips the fine-tune.

Examples::

    python -m benchmarks.adaptation --folder ../shared/data/test/urban100 --sigma 15 25 --count 10 \\
        --seconds 60 --output results/adaptation-urban100
    python -m benchmarks.adaptation --pairs ../shared/data/test/polyu100 --count 55 --filter-only \\
        --output results/adaptation-polyu-filter
    python -m benchmarks.adaptation --folder ../shared/data/test/urban100 --sigma 15 25 --count 3 \\
        --seconds 30 --orientations 8 --output results/adaptation-urban100-8

``--orientations`` averages the model over that many orientations (flips and rotations), as
shipped and adapted alike: the adapted denoiser keeps the wrappers around the adapted models.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import write_report_with_table
from benchmarks.real_noise import read_pairs, scene_split
from denoise.adaptation import adapt, adapted_steps, with_collaborative_filter
from denoise.image_io import IMAGE_SUFFIXES


def cases(arguments: argparse.Namespace) -> list[tuple[str, np.ndarray, np.ndarray, tuple[str, float] | None]]:
    """Return ``(label, noisy, clean, known noise)`` for every image of the chosen setting."""
    if arguments.pairs:
        folder = Path(arguments.pairs)
        names = sorted(path.name for path in (folder / "noisy").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        chosen = scene_split(names)["test"][: arguments.count]
        return [(f"real {name}", noisy, clean, None) for name, noisy, clean in read_pairs(folder, chosen)]
    folder = Path(arguments.folder)
    names = sorted(path.name for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)[: arguments.count]
    found = []
    for sigma in arguments.sigma:
        for seed, name in enumerate(names):
            clean = denoise.read_image(folder / name, channels=3).pixels
            noisy = denoise.add_noise(clean, "gaussian", sigma, seed=seed, clip=False)
            found.append((f"sigma {sigma:g}", noisy, clean, ("gaussian", float(sigma))))
    return found


def run(arguments: argparse.Namespace) -> dict:
    """Adapt to each image in turn; return the rows, one per image, and the means per setting."""
    model = arguments.model or (denoise.PHOTO_MODEL if arguments.pairs else "default")
    denoiser = denoise.load_model(model, runtime="tensorflow", orientations=arguments.orientations)
    denoiser.warm_up()
    rows = []
    for label, noisy, clean, known in cases(arguments):
        before = denoise.psnr(clean, denoiser.denoise(noisy))
        adapted, after, steps, seconds = denoiser, None, 0, 0.0
        if not arguments.filter_only:
            started = time.perf_counter()
            adapted = adapt(
                denoiser, [noisy], seconds=arguments.seconds, steps=arguments.steps, noise=known,
                regularizer=arguments.regularizer, collaborative=False,
            )  # fmt: skip
            after = denoise.psnr(clean, adapted.denoise(noisy))
            seconds = time.perf_counter() - started
            steps = adapted_steps(adapted)
        row = {"setting": label.split(" ")[0] + (" " + label.split(" ")[1] if known else ""), "image": label,
               "before": before, "after": after, "steps": steps, "seconds": seconds}  # fmt: skip
        # What adapt gives by default: the filter guided by the adapted result at the known level,
        # or by the shipped model's result with the noise measured, for photos that came noisy.
        started = time.perf_counter()
        guided = (
            with_collaborative_filter(denoiser, None)
            if known is None
            else with_collaborative_filter(adapted, known[1] / 255)
        )
        filtered = guided.denoise(noisy)
        row |= {
            "collaborative": denoise.psnr(clean, filtered),
            "collaborative_seconds": time.perf_counter() - started,
        }
        fine_tuned = "" if after is None else f"{after:.2f} dB ({steps} steps, {seconds:.0f} s), "
        print(f"{label}: {before:.2f} -> {fine_tuned}{row['collaborative']:.2f} dB with the filter", flush=True)
        rows.append(row)
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    means = [
        {
            "setting": setting,
            "images": len(chosen),
            "before": float(np.mean([row["before"] for row in chosen])),
            "after": None if arguments.filter_only else float(np.mean([row["after"] for row in chosen])),
            "seconds_per_image": float(np.mean([row["seconds"] for row in chosen])),
            "collaborative": float(np.mean([row["collaborative"] for row in chosen])),
            "collaborative_seconds": float(np.mean([row["collaborative_seconds"] for row in chosen])),
        }
        for setting in settings
        for chosen in [[row for row in rows if row["setting"] == setting]]
    ]
    return {"model": model, "orientations": arguments.orientations, "seconds": arguments.seconds,
            "steps": arguments.steps, "regularizer": arguments.regularizer, "filter_only": arguments.filter_only,
            "rows": rows, "means": means}  # fmt: skip


def markdown(report: dict) -> str:
    """Return the means as a Markdown table."""
    lines = [
        f"{report['model']}"
        + (f", {report['orientations']} orientations averaged," if report.get("orientations", 1) > 1 else "")
        + (
            " and the collaborative filter alone, guided by it"
            if report.get("filter_only")
            else f" adapted to each image alone ({report['seconds'] or report['steps']} "
            f"{'s' if report['seconds'] else 'steps'} each"
            + (f", regularizer {report['regularizer']:g})" if report.get("regularizer") else ")")
        ),
        "",
        "| setting | images | as shipped (dB) | fine-tuned (dB) | gain | s per image "
        "| with the collaborative filter (dB) | gain | filter's s per image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mean in report["means"]:
        fine_tuned = (
            "| - | - | -"
            if mean["after"] is None
            else f"| {mean['after']:.2f} | {mean['after'] - mean['before']:+.2f} | {mean['seconds_per_image']:.0f}"
        )
        lines.append(
            f"| {mean['setting']} | {mean['images']} | {mean['before']:.2f} {fine_tuned} "
            f"| {mean['collaborative']:.2f} | {mean['collaborative'] - mean['before']:+.2f} "
            f"| {mean['collaborative_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--folder", help="clean images; Gaussian noise of --sigma is added, and known")
    where.add_argument("--pairs", help="noisy/clean pairs (PolyU): blind, test scenes only")
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25])
    parser.add_argument("--count", type=int, default=10, help="images (per sigma)")
    parser.add_argument("--seconds", type=float, help="seconds of adaptation per image")
    parser.add_argument("--steps", type=int, help="steps of adaptation per image (instead of --seconds)")
    parser.add_argument("--model", help="default: the default family (--folder), the photo model (--pairs)")
    parser.add_argument(
        "--orientations", type=int, default=1, choices=(1, 2, 4, 8),
        help="average the model over this many orientations, before and after adapting",
    )  # fmt: skip
    parser.add_argument("--regularizer", type=float, default=0.0, help="--pairs: Neighbor2Neighbor's regularizer")
    parser.add_argument("--filter-only", action="store_true", help="score the collaborative filter alone: no fine-tune")
    parser.add_argument("--output", default="results/adaptation", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = run(arguments)
    write_report_with_table(arguments.output, report, markdown(report), "adaptation", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
