"""Benchmark shipped models against classical denoisers on the same noisy images.

For each test folder and noise level it measures PSNR, SSIM and CPU seconds per megapixel of
every chosen model family and classical method, prints a Markdown table, writes JSON, and
(when matplotlib is installed) draws PSNR against seconds per megapixel. When the default model
and non-local means both run, a paired pass (``benchmarks.speed_ratio``: the two take turns on
each noisy image, one thread) gives the targets' time ratio, after every other row is done.

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
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import keras

import denoise
from denoise.cards import read_card, write_card
from denoise.classical import bm3d, non_local_means, total_variation
from denoise.evaluation import evaluate
from denoise.inference import run_label
from denoise.precision import DEFAULT_PRECISION, PRECISION_CHOICES
from denoise.registry import default_family, read_manifest

CLASSICAL = {
    "nlm": ("Non-local means (fast)", non_local_means),
    "tv": ("Total variation", total_variation),
    "bm3d": ("BM3D", bm3d),
}
#: The models folder's default family (its manifest's), and how its rows are named.
DEFAULT_FAMILY = default_family()
DEFAULT_NAMES = {"default", DEFAULT_FAMILY}
QUALITY_MARGIN = 0.3  # dB the default model must gain over BM3D (the quality goal)
PAIRED_NOTE = (
    "Time ratios from the paired pass (`benchmarks.speed_ratio`): the default model and non-local means "
    "take turns on each noisy image, one thread, the first of the two alternating."
)
# Environment of a parallel job: every library (TensorFlow, OpenMP, BLAS) on one thread.
ONE_THREAD = {
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def model_families() -> list[str]:
    """Every shipped model family, the default first."""
    return sorted(
        read_manifest().families,
        key=lambda name: (name != DEFAULT_FAMILY, name.split("-")[0], len(name), name),
    )


def cpu_model() -> str:
    """Return the CPU's model name, family and model from ``/proc/cpuinfo``, else what Python knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines if ":" in line)}
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def machine() -> dict:
    """Describe where the benchmark ran."""
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "device": denoise.device_name(),
    }


def write_report(prefix: str | Path, report: dict) -> Path:
    """Write ``report`` as indented JSON to ``prefix`` with the suffix ``.json``; return the path."""
    output = Path(prefix).with_suffix(".json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    return output


def command_line(script: str, argv: list[str] | None) -> str:
    """Return the command that ran ``benchmarks.SCRIPT`` with ``argv`` (None: this process's arguments)."""
    return f"python -m benchmarks.{script} " + " ".join(sys.argv[1:] if argv is None else argv)


def write_report_with_table(prefix: str | Path, report: dict, table: str, script: str, argv: list[str] | None) -> Path:
    """Print ``table``, write ``report`` as JSON and ``table`` as Markdown beside it; say where on stderr.

    The report gets the machine (:func:`machine`) and the command (:func:`command_line`) first.
    """
    report.update(machine=machine(), command=command_line(script, argv))
    print(table)
    path = write_report(prefix, report)
    Path(prefix).with_suffix(".md").write_text(table + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return path


def write_folder_report(script: str, argv: list[str] | None, output: str, folder: str, rows: list[dict]) -> None:
    """Write the rows of a study of one folder with the command that made them; say where on stderr."""
    path = write_report(output, {"command": command_line(script, argv), "folder": folder, "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


def model_runs(
    models: list[str], orientations: list[int], precisions: tuple[str, ...] = ()
) -> list[tuple[str, str, int, str]]:
    """Return ``(row name, model family, orientations, precision)`` for each model run.

    Every family runs once on each image in the default precision (``"auto"``); the default
    family also runs averaging each count of ``orientations`` above 1, in rows named like
    ``unet x8``, and once in each other of ``precisions``, in rows named like ``unet bfloat16``.
    """
    runs = []
    for name in models:
        default = name in DEFAULT_NAMES
        counts = sorted(set(orientations) | {1}) if default else [1]
        runs += [(run_label(name, count), name, count, DEFAULT_PRECISION) for count in counts]
        others = [precision for precision in dict.fromkeys(precisions) if precision != DEFAULT_PRECISION]
        others = others if default else []
        runs += [(run_label(name, 1, precision), name, 1, precision) for precision in others]
    return runs


def parse_folder(spec: str) -> tuple[str, int | None, str]:
    """Split a folder argument into its path, channels and row label.

    ``PATH`` is evaluated as its images are; ``PATH:gray`` as their luminance, labelled
    ``NAME-gray`` (the grey version of a colour set, e.g. ``urban100:gray``).
    """
    if spec.endswith(":gray"):
        path = spec.removesuffix(":gray")
        return path, 1, f"{Path(path).name}-gray"
    return spec, None, Path(spec).name


def run(
    folders: list[str],
    sigmas: list[float],
    models: list[str],
    classical: list[str],
    orientations: list[int],
    precisions: tuple[str, ...] = (),
) -> list[dict]:
    """Evaluate every method on every folder; return one row per method, folder and sigma."""
    rows = []
    for spec in folders:
        folder, channels, folder_name = parse_folder(spec)
        for label, name, count, precision in model_runs(models, orientations, precisions):
            denoiser = denoise.load_model(name, orientations=count, precision=precision)
            denoiser.warm_up()  # the first image's time is the model's, as for the classical methods
            for row in evaluate(denoiser.denoise, folder, sigmas, channels):
                rows.append(
                    {
                        "method": label,
                        "kind": "model",
                        "orientations": count,
                        "precision": precision,
                        "arithmetic": denoiser.arithmetic,
                        "folder": folder_name,
                        **row,
                    }
                )
                print_row(rows[-1])
        for key in classical:
            label, method = CLASSICAL[key]
            for sigma in sigmas:
                [row] = evaluate(
                    lambda noisy, sigma=sigma, method=method: method(noisy, sigma / 255), folder, [sigma], channels
                )
                rows.append({"method": label, "kind": "classical", "folder": folder_name, **row})
                print_row(rows[-1])
    return rows


def folder_groups(folders: list[str], jobs: int) -> list[list[str]]:
    """Split ``folders`` into at most ``jobs`` groups of about equal work (bytes of image files)."""
    cost = {
        folder: sum(path.stat().st_size for path in Path(parse_folder(folder)[0]).iterdir() if path.is_file())
        for folder in folders
    }
    groups: list[list[str]] = [[] for _ in range(min(jobs, len(folders)))]
    loads = [0] * len(groups)
    for folder in sorted(folders, key=cost.__getitem__, reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(folder)
        loads[lightest] += cost[folder]
    return [sorted(group, key=folders.index) for group in groups]


def run_in_parallel(folders: list[str], jobs: int, job_arguments: list[str]) -> list[dict]:
    """Run the benchmark as ``jobs`` one-thread processes, each on a group of folders; return all rows.

    Every method then runs on one core, so seconds per megapixel stay comparable between
    methods; the rows come back in the order of ``folders``.

    Raises
    ------
    RuntimeError
        If a job fails.

    """
    with tempfile.TemporaryDirectory() as scratch:
        processes = []
        for index, group in enumerate(folder_groups(folders, jobs)):
            output = Path(scratch) / f"job-{index}"
            command = [sys.executable, "-m", "benchmarks.benchmark", *group, *job_arguments, "--output", str(output)]
            process = subprocess.Popen(command, env={**os.environ, **ONE_THREAD}, stdout=subprocess.DEVNULL)
            processes.append((process, output))
        rows = []
        for process, output in processes:
            if process.wait() != 0:
                raise RuntimeError(f"benchmark job {' '.join(process.args)} failed with exit code {process.returncode}")
            rows += json.loads(output.with_suffix(".json").read_text())["rows"]
    order = [parse_folder(folder)[2] for folder in folders]
    return sorted(rows, key=lambda row: order.index(row["folder"]))


def paired_timing(folders: list[str], sigmas: list[float], rounds: int) -> list[dict]:
    """Time the default model against non-local means in turns, in a one-thread process.

    Runs ``benchmarks.speed_ratio`` on ``folders`` and returns its rows (one per folder and
    sigma, with ``time_ratio_to_nlm``). Both methods see the same machine at the same moment,
    which the rows of a ``--jobs`` run, each method timed at its own moment, do not.

    Raises
    ------
    RuntimeError
        If the timing process fails.

    """
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "paired"
        command = [sys.executable, "-m", "benchmarks.speed_ratio", *folders, "--sigma", *map(str, sigmas)]
        command += ["--rounds", str(rounds), "--output", str(output)]
        if subprocess.call(command, env={**os.environ, **ONE_THREAD}, stdout=subprocess.DEVNULL) != 0:
            raise RuntimeError(f"paired timing {' '.join(command)} failed")
        return json.loads(output.with_suffix(".json").read_text())["rows"]


def targets(rows: list[dict], paired: Sequence[dict] = ()) -> list[dict]:
    """Compare the default model with BM3D (quality) and non-local means (speed), per folder and sigma.

    Returns one entry per folder and sigma where the default model and at least one of the two
    classical methods ran: PSNR margin over BM3D and whether it reaches ``QUALITY_MARGIN``,
    and the default's seconds per megapixel divided by those of non-local means (goal: <= 1).
    The time ratio comes from the ``paired`` timing of that folder and sigma where there is
    one (``timing: "paired"``), else from the two methods' rows (``timing: "rows"``).
    """
    found = {(row["folder"], row["sigma"], row["method"]): row for row in rows}
    paired_ratios = {(row["folder"], row["sigma"]): row["time_ratio_to_nlm"] for row in paired}
    entries = []
    for (folder, sigma, method), row in found.items():
        if method not in DEFAULT_NAMES:
            continue
        bm3d_row = found.get((folder, sigma, CLASSICAL["bm3d"][0]))
        nlm_row = found.get((folder, sigma, CLASSICAL["nlm"][0]))
        if bm3d_row is None and nlm_row is None:
            continue
        entry = {"folder": folder, "sigma": sigma, "psnr": row["psnr"]}
        if bm3d_row is not None:
            margin = row["psnr"] - bm3d_row["psnr"]
            entry.update(bm3d_psnr=bm3d_row["psnr"], margin_over_bm3d=margin, quality_goal_met=margin >= QUALITY_MARGIN)
        if (folder, sigma) in paired_ratios:
            ratio = paired_ratios[folder, sigma]
            entry.update(time_ratio_to_nlm=ratio, speed_goal_met=ratio <= 1, timing="paired")
        elif nlm_row is not None:
            ratio = row["seconds_per_megapixel"] / nlm_row["seconds_per_megapixel"]
            entry.update(time_ratio_to_nlm=ratio, speed_goal_met=ratio <= 1, timing="rows")
        entries.append(entry)
    return entries


def targets_table(entries: list[dict]) -> str:
    """Render the quality and speed targets as a Markdown table (empty when nothing to compare)."""
    if not entries:
        return ""
    lines = [
        f"| folder | σ | default PSNR | BM3D PSNR | margin (goal ≥ {QUALITY_MARGIN}) | time ÷ NLM time (goal ≤ 1) |",
        "|---|---|---|---|---|---|",
    ]
    for entry in entries:
        bm3d_cells = (
            f"{entry['bm3d_psnr']:.2f} | {entry['margin_over_bm3d']:+.2f} {'✓' if entry['quality_goal_met'] else '✗'}"
            if "bm3d_psnr" in entry
            else "– | –"
        )
        speed = (
            f"{entry['time_ratio_to_nlm']:.2f} {'✓' if entry['speed_goal_met'] else '✗'}"
            if "time_ratio_to_nlm" in entry
            else "–"
        )
        lines.append(f"| {entry['folder']} | {entry['sigma']:g} | {entry['psnr']:.2f} | {bm3d_cells} | {speed} |")
    if any(entry.get("timing") == "paired" for entry in entries):
        lines += ["", PAIRED_NOTE]
    return "\n".join(lines) + "\n"


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


def _pyplot():
    """Return ``matplotlib.pyplot`` on the file-only Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot(rows: list[dict], path: Path, sigma: float) -> bool:
    """Draw PSNR against seconds per megapixel at one sigma; False if matplotlib is missing."""
    plt = _pyplot()
    if plt is None:
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


def latent_sizes(rows: list[dict]) -> dict[str, int]:
    """Map each latent-size family member in ``rows`` (``conv-N``) to its latent size ``N``."""
    sizes = {}
    for method in {row["method"] for row in rows}:
        family, _, size = method.rpartition("-")
        if family == "conv" and size.isdigit():
            sizes[method] = int(size)
    return sizes


def plot_latent_curve(rows: list[dict], path: Path) -> bool:
    """Draw PSNR against latent size for the ``conv-N`` family; False if nothing to draw or no matplotlib."""
    sizes = latent_sizes(rows)
    plt = _pyplot() if len(sizes) >= 2 else None
    if plt is None:
        return False
    folders = list(dict.fromkeys(row["folder"] for row in rows if row["method"] in sizes))
    figure, axes = plt.subplots(1, len(folders), figsize=(5 * len(folders), 4), squeeze=False)
    for axis, folder in zip(axes[0], folders, strict=True):
        for sigma in sorted({row["sigma"] for row in rows if row["folder"] == folder}):
            points = sorted(
                (sizes[row["method"]], row["psnr"])
                for row in rows
                if row["folder"] == folder and row["sigma"] == sigma and row["method"] in sizes
            )
            axis.plot(*zip(*points, strict=True), marker="o", label=f"σ = {sigma:g}")
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted(set(sizes.values())), [str(size) for size in sorted(set(sizes.values()))])
        axis.set(xlabel="latent channels at 1/4 resolution", ylabel="PSNR (dB)", title=f"conv-N on {folder}")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def update_cards(rows: list[dict], command: str) -> None:
    """Write each model's measured PSNR/SSIM into its card in the models folder (each card once)."""
    cards: dict[Path, dict] = {}
    manifest = read_manifest()
    for row in rows:
        if row["kind"] != "model" or row["orientations"] != 1 or row["precision"] != DEFAULT_PRECISION:
            continue
        family = manifest.family("default" if row["method"] in DEFAULT_NAMES else row["method"])
        member = family.members.get(row["channels"]) if family else None
        card_path = denoise.pretrained_dir() / f"{member}.json"
        if member is None or not card_path.exists():
            continue
        if card_path not in cards:
            cards[card_path] = read_card(card_path)
        card = cards[card_path]
        measured = card.setdefault("measured", {"command": command, "results": {}})
        measured["command"] = command
        measured["arithmetic"] = row["arithmetic"]
        folder = measured["results"].setdefault(row["folder"], {})
        folder["command"] = command  # each folder says which run measured it
        folder[f"sigma_{row['sigma']:g}"] = {"psnr": round(row["psnr"], 2), "ssim": round(row["ssim"], 4)}
    for card_path, card in cards.items():
        write_card(card_path, card, card_path.with_suffix(".keras"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders", nargs="+", help="folders of clean test images; PATH:gray evaluates a colour set's luminance"
    )
    parser.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50])
    parser.add_argument("--models", nargs="*", help="model families (default: every shipped family)")
    parser.add_argument(
        "--classical",
        nargs="*",
        default=["nlm", "tv"],
        choices=sorted(CLASSICAL),
        help="classical methods (bm3d needs the bench extra)",
    )
    parser.add_argument(
        "--orientations",
        type=int,
        nargs="+",
        choices=denoise.ORIENTATION_COUNTS,
        default=[1],
        help="also run the default model averaging this many flipped or turned copies (rows 'unet xN')",
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=PRECISION_CHOICES,
        default=[],
        help="also run the default model in this precision (rows 'unet bfloat16')",
    )
    parser.add_argument(
        "--paired-rounds",
        type=int,
        default=2,
        help="rounds of the paired timing that gives the targets' time ratio (0: take it from the rows)",
    )
    parser.add_argument("--output", default="results/benchmark", help="path prefix for .json, .md and .png")
    parser.add_argument("--update-cards", action="store_true", help="write measured PSNR into the model cards")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="run the folders in this many one-thread processes at once (1: one process, all threads)",
    )
    arguments = parser.parse_args(argv)
    models = model_families() if arguments.models is None else arguments.models
    command = command_line("benchmark", argv)
    if arguments.jobs > 1 and len(arguments.folders) > 1:
        job_arguments = [
            "--sigma",
            *map(str, arguments.sigma),
            "--models",
            *models,
            "--classical",
            *arguments.classical,
            "--orientations",
            *map(str, arguments.orientations),
            *(["--precision", *arguments.precision] if arguments.precision else []),
            "--paired-rounds",
            "0",
        ]
        rows = run_in_parallel(arguments.folders, arguments.jobs, job_arguments)
        threads = 1
    else:
        rows = run(
            arguments.folders,
            arguments.sigma,
            models,
            arguments.classical,
            arguments.orientations,
            tuple(arguments.precision),
        )
        threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS", 0)) or os.cpu_count()
    paired = []
    if arguments.paired_rounds > 0 and "nlm" in arguments.classical and DEFAULT_NAMES & set(models):
        paired = paired_timing(arguments.folders, arguments.sigma, arguments.paired_rounds)
    output = Path(arguments.output)
    comparison = targets(rows, paired)
    table = markdown_table(rows, arguments.sigma) + "\n" + targets_table(comparison)
    print(table)
    where = {**machine(), "threads_per_method": threads}
    report = {"command": command, "machine": where, "rows": rows, "paired_timing": paired, "targets": comparison}
    write_report(output, report)
    output.with_suffix(".md").write_text(f"Command: `{command}`\n\nMachine: {where}\n\n{table}")
    if arguments.update_cards:
        update_cards(rows, command)
    plot_sigma = 25.0 if 25.0 in arguments.sigma else arguments.sigma[0]
    if plot(rows, output.with_suffix(".png"), plot_sigma):
        print(f"plot: {output.with_suffix('.png')}", file=sys.stderr)
    latent_plot = output.with_name(output.name + "-latent.png")
    if plot_latent_curve(rows, latent_plot):
        print(f"plot: {latent_plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
