r"""How much of the photo model a raw result's render should take, at each ISO: the finish's schedule.

Clean images (centre crops) are unprocessed to raw as in :mod:`benchmarks.raw`, get each ISO's
sensor noise, go through the raw model (its default, the ISO's law) and LibRaw's render; the
photo model then runs on that render once, and each share from 0 to 1 in steps of 1/8 blends
its result in (``render + share * (photo - render)``, :func:`denoise.strength.apply_strength`
below 1). The table gives the PSNR of every share against the clean render, the best share and
the share :func:`denoise.raw_model.finishing_strength` gives that ISO.

The schedule was set from this table on CBSD68, which no model trained on; the raw benchmark
then scores it on Urban100 and PolyU's test scenes. Seeds differ from the raw benchmark's.

Example::

    python -m benchmarks.raw_finish ../shared/data/test/cbsd68 --count 16 --crop 320 --output results/raw-finish
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import write_report_with_table
from benchmarks.raw import clean_crops, unprocessed
from denoise.noise import camera_noise_variance, poisson_gaussian
from denoise.raw import noise_from_iso, render
from denoise.raw_model import RAW_MODEL, finishing_strength, load_raw_model

#: The shares tried, 0 (the raw model's render) to 1 (the photo model's result on it).
SHARES = tuple(step / 8 for step in range(9))
#: Added to each crop's index for its camera and noise, so the crops are not the raw benchmark's.
SEED_OFFSET = 100


def run(folder: Path, isos: list[float], count: int, crop: int, photo_model: str, raw_model_name: str) -> dict:
    """Score every share at every ISO; return the report."""
    crops = clean_crops([folder], count, crop)
    cleans = [unprocessed(image, SEED_OFFSET + index) for index, (_, image) in enumerate(crops)]
    references = [render(clean) for clean in cleans]
    raw_model = load_raw_model(raw_model_name)
    photo = denoise.load_model(photo_model)
    rows = []
    for iso in isos:
        shot, read = (float(value) for value in camera_noise_variance(iso))
        scores = np.zeros((len(cleans), len(SHARES)))
        for index, (clean, reference) in enumerate(zip(cleans, references, strict=True)):
            rng = np.random.default_rng(SEED_OFFSET + index)
            noisy = clean.with_mosaic(np.minimum(poisson_gaussian(clean.mosaic, shot, read, rng), 1))
            rendered = render(raw_model.denoise(noisy, noise=noise_from_iso(iso)).raw)
            finished = photo.denoise(rendered)
            for column, share in enumerate(SHARES):
                blended = np.clip(rendered + np.float32(share) * (finished - rendered), 0, 1)
                scores[index, column] = denoise.psnr(reference, blended)
        means = scores.mean(axis=0)
        rows.append(
            {
                "iso": iso,
                "psnr_by_share": {f"{share:g}": float(mean) for share, mean in zip(SHARES, means, strict=True)},
                "best_share": SHARES[int(np.argmax(means))],
                "schedule_share": finishing_strength(noise_from_iso(iso)),
            }
        )
        print(f"ISO {iso:g}: best share {rows[-1]['best_share']:g}", flush=True)
    return {"images": [name for name, _ in crops], "crop": crop, "photo_model": photo_model, "rows": rows}


def markdown(report: dict) -> str:
    """Return the PSNR of each share at each ISO, the best share and the schedule's, as a Markdown table."""
    lines = [
        f"{len(report['images'])} clean crops of {report['crop']} px, unprocessed to raw, the raw model's render "
        f"finished by {report['photo_model']}; PSNR (dB) against the clean render, by share",
        "",
        "| ISO | " + " | ".join(f"{share:g}" for share in SHARES) + " | best | schedule |",
        "|---|" + "---|" * (len(SHARES) + 2),
    ]
    for row in report["rows"]:
        cells = " | ".join(f"{value:.2f}" for value in row["psnr_by_share"].values())
        lines.append(f"| {row['iso']:g} | {cells} | {row['best_share']:g} | {row['schedule_share']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the study, print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="clean images no model trained on (CBSD68)")
    parser.add_argument("--iso", type=float, nargs="+", default=[800, 1600, 3200, 6400, 12800, 25600, 51200])
    parser.add_argument("--count", type=int, default=16, help="images")
    parser.add_argument("--crop", type=int, default=320, help="side of the centre crop (mosaic pixels)")
    parser.add_argument("--photo-model", default="photo")
    parser.add_argument("--raw-model", default=RAW_MODEL, help="the raw model's name or .keras path")
    parser.add_argument("--output", default="results/raw-finish", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = run(
        arguments.folder, arguments.iso, arguments.count, arguments.crop, arguments.photo_model, arguments.raw_model
    )
    write_report_with_table(arguments.output, report, markdown(report), "raw_finish", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
