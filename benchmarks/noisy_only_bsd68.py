"""The table of ``scripts/noisy_only_bsd68.sh``: noisy-only against supervised training from scratch on BSD68.

The script trains one grey U-Net on a fixed noisy copy of ``train/gray400`` (neighbor2neighbor,
no clean image seen; once without and once with Huang et al.'s regularizer) and one on the clean
images (supervised), the same number of batches each, and evaluates each on BSD68 at sigma 25.
This reads the model cards and evaluations of the runs that have finished from its runs folder
and writes the report.

Example::

    python -m benchmarks.noisy_only_bsd68 runs/noisy-only-bsd68 --output results/noisy-only-bsd68
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.benchmark import write_report_with_table

#: The runs of the script, by the name of their model file, and what each learnt from.
RUNS = {
    "neighbor2neighbor-gray": "noisy copies only (neighbor2neighbor)",
    "neighbor2neighbor-regularized-gray": "noisy copies only (neighbor2neighbor, regularizer 2)",
    "supervised-gray": "clean images, fresh noise (supervised)",
}


def read_runs(folder: Path) -> dict:
    """Return the report: for each finished run, its BSD68 PSNR and SSIM and what its card says of its training."""
    rows = []
    for name, learnt_from in RUNS.items():
        if not (folder / f"{name}-bsd68.json").exists():  # not run, or not finished
            continue
        card = json.loads((folder / f"{name}.json").read_text())
        [evaluation] = json.loads((folder / f"{name}-bsd68.json").read_text())
        rows.append(
            {
                "model": name,
                "learnt_from": learnt_from,
                "psnr": evaluation["psnr"],
                "ssim": evaluation["ssim"],
                "noisy_psnr": evaluation["noisy_psnr"],
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
    parser.add_argument("--output", default="results/noisy-only-bsd68", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = read_runs(arguments.runs)
    write_report_with_table(arguments.output, report, markdown(report), "noisy_only_bsd68", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
