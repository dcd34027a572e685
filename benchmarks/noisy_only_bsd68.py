"""The table of ``scripts/noisy_only_bsd68.sh``: noisy-only against supervised training from scratch on BSD68.

The script trains one grey U-Net on a fixed noisy copy of ``train/gray400`` (no clean image
seen: neighbor2neighbor, once without and once with Huang et al.'s regularizer, and
Recorrupted-to-Recorrupted with the known sigma; on the copy clipped to [0, 1] as an image file
holds it, and on the unclipped copy) and one on the clean images (supervised), the same number
of batches each, and evaluates each on BSD68 at sigma 25 (the unclipped recorrupted run a second
time on the mean of its results on 50 recorrupted copies of each image, as Pang et al. evaluate
theirs: ``denoise eval --recorruptions 50``). This reads the model cards
and evaluations of the runs that have finished from its runs folder and writes the report;
``--keep`` keeps the rows of an earlier report for the runs that folder no longer has (each row
carries its training command).

Example::

    python -m benchmarks.noisy_only_bsd68 runs/noisy-only-bsd68 --keep results/noisy-only-bsd68.json \
        --output results/noisy-only-bsd68
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.benchmark import write_report_with_table

#: The runs of the script, by the name of their model file, and what each learnt from.
RUNS = {
    "neighbor2neighbor-gray": "noisy copies only, clipped (neighbor2neighbor)",
    "neighbor2neighbor-regularized-gray": "noisy copies only, clipped (neighbor2neighbor, regularizer 2)",
    "recorrupted-gray": "noisy copies only, clipped (recorrupted, sigma known)",
    "neighbor2neighbor-unclipped-gray": "noisy copies only, unclipped (neighbor2neighbor)",
    "recorrupted-unclipped-gray": "noisy copies only, unclipped (recorrupted, sigma known)",
    "recorrupted-unclipped-gray-averaged": "the same, averaged over 50 recorrupted copies (Pang et al.'s test)",
    "supervised-gray": "clean images, fresh noise (supervised)",
}
#: A run's second evaluation (``denoise eval --recorruptions``) is named after its model with this suffix.
AVERAGED = "-averaged"


def read_runs(folder: Path, kept: dict | None = None) -> dict:
    """Return the report: for each finished run, its BSD68 PSNR and SSIM and what its card says of its training.

    A run that ``folder`` lacks takes its row from ``kept``, an earlier report, where it has one.
    """
    earlier = {row["model"]: row for row in (kept or {}).get("rows", [])}
    rows = []
    for name, learnt_from in RUNS.items():
        if not (folder / f"{name}-bsd68.json").exists():  # not run, or not finished
            if name in earlier:
                rows.append(earlier[name] | {"learnt_from": learnt_from})
            continue
        card = json.loads((folder / f"{name.removesuffix(AVERAGED)}.json").read_text())
        [evaluation] = json.loads((folder / f"{name}-bsd68.json").read_text())
        rows.append(
            {
                "model": name,
                "learnt_from": learnt_from,
                "psnr": evaluation["psnr"],
                "ssim": evaluation["ssim"],
                "noisy_psnr": evaluation["noisy_psnr"],
                "recorruptions": evaluation.get("recorruptions", 0),
                "seconds_per_megapixel": evaluation.get("seconds_per_megapixel"),
                "patches_seen": card["patches_seen"],
                "training_seconds": card["training_seconds"],
                "training_command": card["command"],
            }
        )
    return {"folder": str(folder), "test": "BSD68, sigma 25", "rows": rows}


def markdown(report: dict) -> str:
    """Return the report's table."""
    noisy = report["rows"][0]["noisy_psnr"]
    lines = [
        f"{report['test']} (noisy input {noisy:.2f} dB)",
        "",
        "| trained on | PSNR (dB) | SSIM | patches | training minutes |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {row['learnt_from']} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['patches_seen']:,} "
        f"| {row['training_seconds'] / 60:.0f} |"
        for row in report["rows"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the report of a finished run of the script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="the script's runs folder")
    parser.add_argument(
        "--keep", type=Path, help="an earlier report whose rows stay for the runs that the folder no longer has"
    )
    parser.add_argument("--output", default="results/noisy-only-bsd68", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    kept = json.loads(arguments.keep.read_text()) if arguments.keep and arguments.keep.exists() else None
    report = read_runs(arguments.runs, kept)
    write_report_with_table(arguments.output, report, markdown(report), "noisy_only_bsd68", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
