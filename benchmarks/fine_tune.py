r"""The Train page's default run: how much a fine-tune of the shipped model gains in its time budget.

Each case is a sample set (:mod:`denoise.samples`) with a noise range, trained as the page's
defaults say (:class:`denoise.training_jobs.TrainingRequest`) except for those two: the matching
shipped model fine-tuned for ``--minutes``, validated on the set's held-out quarter. The table
gives the validation PSNR of the noisy input, of the shipped model as it started, and of the best
epoch (what the run keeps).

Example::

    python -m benchmarks.fine_tune --minutes 1 --output results/fine-tune
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.benchmark import write_report_with_table
from denoise.samples import SAMPLE_SETS, sample_set
from denoise.training_jobs import TrainingQueue, TrainingRequest, starting_model

#: (sample set, noise) pairs measured by default: the first set with each noise, then the others.
CASES = [
    ("astronomy", "gaussian:0-25"),
    ("astronomy", "poisson:10-30"),
    ("microscopy", "poisson:10-30"),
    ("colour photos", "gaussian:0-25"),
]


def label_of(prefix: str) -> str:
    """Return the sample set whose label starts with ``prefix``."""
    return next(label for label in SAMPLE_SETS if label.startswith(prefix))


def run(minutes: float, cases: list[tuple[str, str]]) -> list[dict]:
    """Train each case on a fresh queue; return one row per case."""
    rows = []
    for prefix, noise in cases:
        label = label_of(prefix)
        images = tuple(sample_set(label))
        request = TrainingRequest(name="fine-tune", images=images, noise=(noise,), minutes=minutes)
        with tempfile.TemporaryDirectory(prefix="denoise-fine-tune-") as folder:
            queue = TrainingQueue(Path(folder))
            job = queue.wait(queue.submit(request), timeout=minutes * 60 + 600)
        if job.state != "finished":
            raise RuntimeError(f"{label}, {noise}: {job.message}")
        first = job.epochs[0]
        best = max(epoch["val_psnr"] for epoch in job.epochs)
        rows.append(
            {
                "sample_set": label,
                "noise": noise,
                "model": starting_model("clean", (noise,), images[0].shape[2]),
                "input_psnr": first["input_psnr"],
                "start_psnr": first["start_psnr"],
                "best_epoch_psnr": best,
                "kept_psnr": max(best, first["start_psnr"]),
                "epochs": len(job.epochs),
                "seconds": job.epochs[-1]["seconds"],
            }
        )
        print(f"{label}, {noise}: {first['start_psnr']:.2f} -> {best:.2f} dB", flush=True)
    return rows


def markdown(report: dict) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        f"The Train page's default fine-tune, {report['minutes']:g} min each (validation PSNR, dB)",
        "",
        "| sample set | noise | noisy input | shipped model | best epoch | kept | gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['sample_set']} | {row['noise']} | {row['input_psnr']:.2f} | {row['start_psnr']:.2f} "
            f"({row['model']}) | {row['best_epoch_psnr']:.2f} | {row['kept_psnr']:.2f} "
            f"| {row['kept_psnr'] - row['start_psnr']:+.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="time budget of each run")
    parser.add_argument("--output", default="results/fine-tune", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = {"minutes": arguments.minutes, "rows": run(arguments.minutes, CASES)}
    write_report_with_table(arguments.output, report, markdown(report), "fine_tune", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
