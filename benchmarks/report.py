"""Turn benchmark JSONs into the README's compact results table and the full tables in docs/.

Example::

    python -m benchmarks.report results/benchmark.json --readme README.md --details docs/benchmarks.md

prints one row per method (PSNR at every sigma for every folder, and CPU seconds per megapixel)
followed by the targets table. ``--details`` writes them, with the machines and commands that
measured them, between the ``<!-- results:start -->`` and ``<!-- results:end -->`` markers of
that file; ``--readme`` writes the headline methods at sigma 25 (:func:`compact_table`) between
the same markers of the README, and the models table. So every number in those parts comes
from the JSON that ``benchmarks.benchmark`` wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.benchmark import DEFAULT_FAMILY, DEFAULT_NAMES, targets_table
from benchmarks.raw import markdown as raw_markdown
from benchmarks.real_noise import markdown as real_noise_markdown
from denoise import available_models
from denoise.inference import run_label
from denoise.precision import DEFAULT_PRECISION

START, END = "<!-- results:start -->", "<!-- results:end -->"
#: Markers of the models table and of the real-noise table in the README.
MODELS_MARKERS = ("<!-- models:start -->", "<!-- models:end -->")
REAL_NOISE_MARKERS = ("<!-- real-noise:start -->", "<!-- real-noise:end -->")
#: Markers of the raw table (benchmarks.raw) in the README and the details.
RAW_MARKERS = ("<!-- raw:start -->", "<!-- raw:end -->")
#: The rows of the README's compact table, by their display name (:func:`display_name`).
HEADLINE_METHODS = (
    f"{DEFAULT_FAMILY} (default)",
    f"{DEFAULT_FAMILY}, 8 orientations averaged",
    "photo",
    "BM3D (CBM3D on colour)",
    "Non-local means (fast)",
    "Total variation",
    "conv-16",
    "dense",
)
#: The noise level and the folder of the compact table's timing column, when measured.
HEADLINE_SIGMA, HEADLINE_TIMING_FOLDER = 25.0, "bsd68"
FOLDER_NAMES = {
    "set12": "Set12",
    "bsd68": "BSD68",
    "cbsd68": "CBSD68",
    "urban100": "Urban100",
    "urban100-gray": "Urban100 grey",
}


def summary_table(report: dict) -> str:
    """One Markdown row per method: PSNR per folder (sigmas joined by " / ") and s/MP at sigma 25."""
    rows = report["rows"]
    folders = list(dict.fromkeys(row["folder"] for row in rows))
    sigmas = sorted({row["sigma"] for row in rows})
    timing_sigma = 25.0 if 25.0 in sigmas else sigmas[0]
    sigma_label = " / ".join(f"{sigma:g}" for sigma in sigmas)
    names = [FOLDER_NAMES.get(folder, folder) for folder in folders]
    lines = [
        "| method | "
        + " | ".join(f"{name} σ={sigma_label}" for name in names)
        + f" | CPU s/MP at σ={timing_sigma:g} ({' / '.join(names)}) |",
        "|---|" + "---|" * len(folders) + "---|",
    ]
    found = {(row["method"], row["folder"], row["sigma"]): row for row in rows}
    first_rows: dict[str, dict] = {}
    for row in rows:
        first_rows.setdefault(row["method"], row)
    for method, first_row in first_rows.items():
        cells, timings = [], []
        for folder in folders:
            scores = [found.get((method, folder, sigma)) for sigma in sigmas]
            cells.append(" / ".join(f"{row['psnr']:.2f}" if row else "–" for row in scores))
            timed = found.get((method, folder, timing_sigma))
            timings.append(f"{timed['seconds_per_megapixel']:.2f}" if timed else "–")
        lines.append(f"| {display_name(first_row)} | " + " | ".join(cells) + f" | {' / '.join(timings)} |")
    return "\n".join(lines) + "\n"


def compact_table(report: dict) -> str:
    """Return the README's table: the headline methods' PSNR at sigma 25 on every folder, and their CPU time.

    Methods the report lacks are left out; the timing comes from one folder, so that its
    numbers compare.
    """
    rows = [row for row in report["rows"] if row["sigma"] == HEADLINE_SIGMA]
    folders = list(dict.fromkeys(row["folder"] for row in rows))
    timing_folder = HEADLINE_TIMING_FOLDER if HEADLINE_TIMING_FOLDER in folders else folders[0]
    found = {(display_name(row), row["folder"]): row for row in rows}
    lines = [
        "| method | "
        + " | ".join(FOLDER_NAMES.get(folder, folder) for folder in folders)
        + f" | CPU s/MP ({FOLDER_NAMES.get(timing_folder, timing_folder)}) |",
        "|---|" + "---|" * len(folders) + "---|",
    ]
    for method in HEADLINE_METHODS:
        if not any((method, folder) in found for folder in folders):
            continue
        cells = [f"{found[method, folder]['psnr']:.2f}" if (method, folder) in found else "–" for folder in folders]
        timed = found.get((method, timing_folder))
        timing = f"{timed['seconds_per_megapixel']:.2f}" if timed else "–"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {timing} |")
    if report.get("updates"):
        machines = {report["machine"]["processor"], *(update["machine"]["processor"] for update in report["updates"])}
        lines.append(
            f"\nThe rows come from {len(report['updates']) + 1} runs on {len(machines)} "
            f"machine{'s' if len(machines) > 1 else ''}: compare times within one run."
        )
    return "\n".join(lines) + "\n"


def display_name(row: dict) -> str:
    """How the method of a benchmark row is named in the README."""
    method, count, precision = row["method"], row.get("orientations", 1), row.get("precision", DEFAULT_PRECISION)
    if method in {run_label(name, count, precision) for name in DEFAULT_NAMES}:
        if precision != DEFAULT_PRECISION:
            return f"{DEFAULT_FAMILY} in {precision}"
        return f"{DEFAULT_FAMILY} (default)" if count == 1 else f"{DEFAULT_FAMILY}, {count} orientations averaged"
    if method == "BM3D":
        return "BM3D (CBM3D on colour)"
    return method


def render(report: dict) -> str:
    """Render the summary and targets tables with the machine and command they came from."""
    machine = report["machine"]
    threads = machine.get("threads_per_method")
    threading = f", {threads} thread{'s' if threads != 1 else ''} per method" if threads else ""
    parts = [
        f"Measured on {machine['processor']}, {machine['cpus']} cores{threading}, Keras {machine['keras']} "
        f"({machine['backend']} backend, {machine['device']}), with\n\n```bash\n.venv/bin/{report['command']}\n```\n",
        summary_table(report),
    ]
    for index, update in enumerate(report.get("updates", [])):
        parts.insert(
            1 + index,
            f"and the rows of {', '.join(update['methods'])} on {', '.join(update['folders'])} "
            f"on {update['machine']['processor']}, {update['machine']['cpus']} cores, with\n\n"
            f"```bash\n.venv/bin/{update['command']}\n```\n",
        )
    if report.get("targets"):
        parts.append(targets_table(report["targets"]))
    return "\n".join(parts)


def merge(report: dict, update: dict) -> dict:
    """Return ``report`` with ``update``'s rows in place of its rows of the same method, folder and sigma.

    Rows ``report`` lacks (a new folder, a new method) are added; the targets table stays
    ``report``'s. The update's command and machine are kept under ``updates``, so every row
    still says which command measured it.
    """
    key = lambda row: (row["method"], row["folder"], row["sigma"])  # noqa: E731
    replaced = {key(row) for row in update["rows"]}
    rows = [row for row in report["rows"] if key(row) not in replaced] + update["rows"]
    note = {
        "command": update["command"],
        "machine": update["machine"],
        "methods": sorted({row["method"] for row in update["rows"]}),
        "folders": sorted({row["folder"] for row in update["rows"]}, key=[row["folder"] for row in rows].index),
    }
    return {**report, "rows": rows, "updates": [*report.get("updates", []), note]}


def models_table(cards: dict[str, dict]) -> str:
    """One Markdown row per shipped model, from its card: what it is, its size and what it is for."""
    lines = [
        "| model | architecture | channels | latent size | parameters | trained on | for |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, card in sorted(cards.items()):
        noise = ", ".join(card.get("noise", [])) + (" + real pairs" if card.get("pairs") else "")
        purpose = card.get("purpose", "").split(":")[0].split(".")[0]
        lines.append(
            f"| `{name}` | {card['architecture']} | {card['channels']} | {card['latent_size']} "
            f"| {card['parameters']:,} | {noise} | {purpose} |"
        )
    return "\n".join(lines) + "\n"


def replace_section(text: str, section: str, markers: tuple[str, str] = (START, END)) -> str:
    """Put ``section`` between the ``markers`` of ``text`` (by default the results markers).

    Raises
    ------
    ValueError
        If the markers are missing or out of order.

    """
    start_marker, end_marker = markers
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"the file needs {start_marker} and, after it, {end_marker}")
    return text[: start + len(start_marker)] + "\n" + section + text[end:]


def fill_sections(path: Path, sections: dict[tuple[str, str], str]) -> None:
    """Write each section between its markers in the file at ``path``; the results markers must be there."""
    text = path.read_text()
    for markers, section in sections.items():
        if markers == (START, END) or markers[0] in text:
            text = replace_section(text, section, markers)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Print the full tables; write them into ``--details`` and the compact ones into ``--readme``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="JSON written by benchmarks.benchmark")
    parser.add_argument("--readme", help="Markdown file for the compact table and the models table")
    parser.add_argument("--details", help="Markdown file for the full tables, with each run's machine and command")
    parser.add_argument(
        "--update",
        nargs="+",
        default=[],
        metavar="JSON",
        help="later benchmark JSONs whose rows replace the report's rows of the same method, folder and sigma",
    )
    parser.add_argument("--real-noise", metavar="JSON", help="benchmarks.real_noise's JSON, for its tables")
    parser.add_argument("--raw", metavar="JSON", help="benchmarks.raw's JSON, for its table")
    arguments = parser.parse_args(argv)
    report = json.loads(Path(arguments.report).read_text())
    for update in arguments.update:
        report = merge(report, json.loads(Path(update).read_text()))
    section = render(report)
    print(section)
    real_noise = json.loads(Path(arguments.real_noise).read_text()) if arguments.real_noise else None
    raw = json.loads(Path(arguments.raw).read_text()) if arguments.raw else None
    if arguments.details:
        details = {(START, END): section}
        if raw:
            table = raw_markdown(raw, by_folder=True)
            details[RAW_MARKERS] = f"```bash\n.venv/bin/{raw['command']}\n```\n\n" + table + "\n"
        if real_noise:
            command = f"```bash\n.venv/bin/{real_noise['command']}\n```\n\n"
            details[REAL_NOISE_MARKERS] = command + real_noise_markdown(real_noise) + "\n"
        fill_sections(Path(arguments.details), details)
    if arguments.readme:
        readme = {(START, END): compact_table(report), MODELS_MARKERS: models_table(available_models())}
        if real_noise:
            readme[REAL_NOISE_MARKERS] = real_noise_markdown(real_noise, estimates=False) + "\n"
        if raw:
            readme[RAW_MARKERS] = raw_markdown(raw, variants=False) + "\n"
        fill_sections(Path(arguments.readme), readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
