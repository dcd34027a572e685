"""Benchmark shipped models against classical denoisers on the same noisy images.

For each test folder and noise level it measures PSNR, SSIM and CPU seconds per megapixel of
every chosen model family and classical method, prints a Markdown table, writes JSON, and
(when matplotlib is installed) draws PSNR against seconds per megapixel.

Example::

    python -m benchmarks.benchmark ../shared/data/test/bsd68 ../shared/data/test/cbsd68 \
        --sigma 15 25 50 --output results/benchmark

The noise follows ``shared/data/DATA.md``: unclipped Gaussian noise, one fixed seed per image
and sigma, so every method sees the same noisy images. Classical methods are told the true
sigma, as in the published tables; the models are blind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import keras

import denoise
from denoise.classical import bm3d, non_local_means, total_variation
from denoise.evaluation import evaluate

CLASSICAL = {
    "nlm": ("Non-local means (fast)", non_local_means),
    "tv": ("Total variation", total_variation),
    "bm3d": ("BM3D", bm3d),
}


def model_families() -> list[str]:
    """Every shipped model family, the default first."""
    families = sorted(
        {name.rsplit("-", 1)[0] for name in denoise.available_models()},
        key=lambda name: (name != denoise.DEFAULT_MODEL, name.split("-")[0], len(name), name),
    )
    return families


def machine() -> dict:
    """Describe where the benchmark ran."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "device": denoise.device_name(),
    }


def run(folders: list[str], sigmas: list[float], models: list[str], classical: list[str]) -> list[dict]:
    """Evaluate every method on every folder; return one row per method, folder and sigma."""
    rows = []
    for folder in folders:
        for name in models:
            denoiser = denoise.load_model(name)
            for row in evaluate(denoiser.denoise, folder, sigmas):
                rows.append({"method": name, "kind": "model", "folder": Path(folder).name, **row})
                print_row(rows[-1])
        for key in classical:
            label, method = CLASSICAL[key]
            for sigma in sigmas:
                [row] = evaluate(lambda noisy, sigma=sigma, method=method: method(noisy, sigma / 255), folder, [sigma])
                rows.append({"method": label, "kind": "classical", "folder": Path(folder).name, **row})
                print_row(rows[-1])
    return rows


def print_row(row: dict) -> None:
    """Print one result as it arrives (long runs show progress)."""
    print(
        f"{row['folder']:<8} sigma {row['sigma']:>4g}  {row['method']:<24} {row['psnr']:6.2f} dB  "
        f"SSIM {row['ssim']:.4f}  {row['seconds_per_megapixel']:6.2f} s/MP",
        file=sys.stderr,
        flush=True,
    )


def markdown_table(rows: list[dict], sigmas: list[float]) -> str:
    """PSNR / SSIM per method and folder, sigmas side by side, with seconds per megapixel."""
    lines = []
    for folder in dict.fromkeys(row["folder"] for row in rows):
        header = " | ".join(f"σ={sigma:g} PSNR / SSIM" for sigma in sigmas)
        lines += [
            f"**{folder}**",
            "",
            f"| method | {header} | s/MP (σ=25 or first) |",
            "|---|" + "---|" * len(sigmas) + "---|",
        ]
        for method in dict.fromkeys(row["method"] for row in rows if row["folder"] == folder):
            cells = {row["sigma"]: row for row in rows if row["folder"] == folder and row["method"] == method}
            scores = " | ".join(
                f"{cells[s]['psnr']:.2f} / {cells[s]['ssim']:.3f}" if s in cells else "–" for s in sigmas
            )
            timing = cells.get(25.0, next(iter(cells.values())))["seconds_per_megapixel"]
            lines.append(f"| {method} | {scores} | {timing:.2f} |")
        lines.append("")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path, sigma: float) -> bool:
    """Draw PSNR against seconds per megapixel at one sigma; False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    folders = list(dict.fromkeys(row["folder"] for row in rows))
    figure, axes = plt.subplots(1, len(folders), figsize=(6 * len(folders), 4.5), squeeze=False)
    for axis, folder in zip(axes[0], folders, strict=True):
        for row in (r for r in rows if r["folder"] == folder and r["sigma"] == sigma):
            marker = "o" if row["kind"] == "model" else "s"
            axis.scatter(row["seconds_per_megapixel"], row["psnr"], marker=marker)
            axis.annotate(
                row["method"],
                (row["seconds_per_megapixel"], row["psnr"]),
                fontsize=8,
                xytext=(4, 2),
                textcoords="offset points",
            )
        axis.set(
            xscale="log", xlabel="CPU seconds per megapixel (log)", ylabel="PSNR (dB)", title=f"{folder}, σ = {sigma:g}"
        )
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def update_cards(rows: list[dict], command: str) -> None:
    """Write each model's measured PSNR/SSIM into its card in the models folder."""
    for row in rows:
        if row["kind"] != "model":
            continue
        member = (
            f"{'unet' if row['method'] == 'default' else row['method']}-{'gray' if row['channels'] == 1 else 'color'}"
        )
        card_path = denoise.pretrained_dir() / f"{member}.json"
        if not card_path.exists():
            continue
        card = json.loads(card_path.read_text())
        measured = card.setdefault("measured", {"command": command, "results": {}})
        measured["command"] = command
        measured["results"].setdefault(row["folder"], {})[f"sigma_{row['sigma']:g}"] = {
            "psnr": round(row["psnr"], 2),
            "ssim": round(row["ssim"], 4),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="folders of clean test images")
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--models", nargs="*", help="model families (default: every shipped family)")
    parser.add_argument(
        "--classical",
        nargs="*",
        default=["nlm", "tv"],
        choices=sorted(CLASSICAL),
        help="classical methods (bm3d needs the bench extra)",
    )
    parser.add_argument("--output", default="results/benchmark", help="path prefix for .json, .md and .png")
    parser.add_argument("--update-cards", action="store_true", help="write measured PSNR into the model cards")
    arguments = parser.parse_args(argv)
    models = model_families() if arguments.models is None else arguments.models
    command = "python -m benchmarks.benchmark " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = run(arguments.folders, arguments.sigma, models, arguments.classical)
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, arguments.sigma)
    print(table)
    output.with_suffix(".json").write_text(
        json.dumps({"command": command, "machine": machine(), "rows": rows}, indent=2) + "\n"
    )
    output.with_suffix(".md").write_text(f"Command: `{command}`\n\nMachine: {machine()}\n\n{table}")
    if arguments.update_cards:
        update_cards(rows, command)
    plot_sigma = 25.0 if 25.0 in arguments.sigma else arguments.sigma[0]
    if plot(rows, output.with_suffix(".png"), plot_sigma):
        print(f"plot: {output.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
