r"""Noisy-only against supervised training on the same images, scored on a held-out clean image.

A sample set (:mod:`denoise.samples`; the last image is held out, as the Train page does) gets
one fixed noisy copy (``--noise``, e.g. Poisson noise of a few to tens of photons per pixel, as
in fluorescence microscopy). With the same time budget, the Train page's fine-tune of the
shipped model learns from

* ``supervised``: the clean images, with fresh noise of that kind drawn for every patch;
* ``noisy only``: the fixed noisy copies alone (``neighbor2neighbor``; no clean image is seen).

Both start from the same shipped model, the one the page fine-tunes for that noise.

Each resulting model, the shipped model and the noisy input are scored by PSNR against the
held-out clean image, on its noisy copy.

Example::

    python -m benchmarks.noisy_only --sample microscopy --noise poisson:20 --minutes 3 \
        --output results/noisy-only-microscopy
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import denoise
from benchmarks.benchmark import write_report_with_table
from benchmarks.fine_tune import label_of
from denoise.noise import parse_noise
from denoise.samples import sample_set
from denoise.training_jobs import TrainingQueue, TrainingRequest, starting_model


def trained(request: TrainingRequest, folder: Path) -> denoise.Denoiser:
    """Train ``request`` on a fresh queue in ``folder``; return the model it kept."""
    queue = TrainingQueue(folder)
    job = queue.wait(queue.submit(request), timeout=request.minutes * 60 + 600)
    if job.state != "finished":
        raise RuntimeError(f"{request.name}: {job.message}")
    return denoise.load_model(job.model_path, runtime="tensorflow")


def run(sample: str, noise: str, minutes: float, seed: int = 0) -> dict:
    """Train both ways; return the held-out image's PSNR for each, the shipped model and the input."""
    label = label_of(sample)
    clean = sample_set(label)
    kind, level = parse_noise(noise)
    noisy = [denoise.add_noise(image, kind, level, seed=seed + index) for index, image in enumerate(clean)]
    start = starting_model("clean", (f"{kind}:{level:g}",), clean[0].shape[2])
    shipped = denoise.load_model(start).denoise(noisy[-1])
    rows = [
        {"method": "noisy input", "psnr": denoise.psnr(clean[-1], noisy[-1])},
        {"method": f"shipped model ({start})", "psnr": denoise.psnr(clean[-1], shipped)},
    ]
    requests = {
        "supervised (clean images, fresh noise)": TrainingRequest(
            name="supervised", images=tuple(clean), noise=(f"{kind}:{level:g}-{level:g}",), minutes=minutes
        ),
        "noisy only (fixed noisy copies, neighbor2neighbor)": TrainingRequest(
            name="noisy-only", images=tuple(noisy), source="noisy", start_model=start, minutes=minutes
        ),
    }
    for method, request in requests.items():
        with tempfile.TemporaryDirectory(prefix="denoise-noisy-only-") as folder:
            denoiser = trained(request, Path(folder))
            rows.append({"method": method, "psnr": denoise.psnr(clean[-1], denoiser.denoise(noisy[-1]))})
        print(f"{method}: {rows[-1]['psnr']:.2f} dB", flush=True)
    return {"sample_set": label, "noise": noise, "minutes": minutes, "held_out": "the set's last image", "rows": rows}


def markdown(report: dict) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        f"{report['sample_set']}, {report['noise']} noise, {report['minutes']:g} min of fine-tuning each; "
        "PSNR of the held-out image",
        "",
        "| method | PSNR (dB) |",
        "|---|---|",
    ]
    lines += [f"| {row['method']} | {row['psnr']:.2f} |" for row in report["rows"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="microscopy", help="the sample set whose label starts so")
    parser.add_argument("--noise", default="poisson:20", help="KIND:LEVEL of the fixed noisy copy")
    parser.add_argument("--minutes", type=float, default=3.0, help="time budget of each training")
    parser.add_argument("--output", default="results/noisy-only", help="prefix of the .json and .md written")
    arguments = parser.parse_args(argv)
    report = run(arguments.sample, arguments.noise, arguments.minutes)
    write_report_with_table(arguments.output, report, markdown(report), "noisy_only", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
