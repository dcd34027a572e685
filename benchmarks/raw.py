r"""Raw denoising: clean photos unprocessed to raw at several ISOs, every path scored after rendering.

Each clean image (a centre crop) is taken back to a camera's linear mosaic by Brooks et al.'s
unprocessing, with a camera drawn per image (:class:`denoise.noise.CameraPipeline`), and gets
the sensor noise of ``--iso`` by the law of :func:`denoise.noise.camera_noise_variance`. Every
result is rendered by LibRaw through the same DNG steps (:func:`denoise.raw.render`) and
scored against the render of the clean mosaic. Rows:

* the noisy raw, rendered;
* render, then the photo model (what the app did with a raw before it took them);
* LibRaw's own noise reduction while rendering, FBDD (full). Its wavelet threshold
  (``noise_thr``) is left out: with rawpy 0.28 (LibRaw 0.22) it corrupts memory and aborts the
  process on these DNGs, at any threshold and demosaicing;
* render, then non-local means with the noise estimated from the render;
* the raw model with the noise law of the file's ISO (the default for a file that has one; here
  it is also the law the noise was drawn from, so it flatters the raw model as much as a real
  camera matches the generic law), the same run once instead of averaged with its run on the
  transposed mosaic (:data:`denoise.raw_model.RAW_ORIENTATIONS`), in float32 where the default
  computes in bfloat16 (a CPU with bfloat16 instructions), averaged over 4 and 8
  orientations that keep the pattern (:class:`denoise.compose.MosaicEnsemble`), and with the
  law estimated from the mosaic;
* the default and the 8 orientations' results with their render finished by the photo model
  (:func:`denoise.raw_model.finish_render`, what a TIFF or PNG output gets; the time is the raw
  model's and the photo model's); with ``--adapt SECONDS``, also adapted to each crop for that long
  (:meth:`denoise.raw_model.RawDenoiser.adapt`, the time counted in its speed).

Speeds are seconds per output megapixel of the denoising step alone (renders not counted).
The clean images must not be training images: ``test/urban100`` and PolyU's clean references.

Examples::

    python -m benchmarks.raw ../shared/data/test/urban100 ../shared/data/test/polyu100/clean \\
        --count 10 --output results/raw
    python -m benchmarks.raw ../shared/data/test/urban100 ../shared/data/test/polyu100/clean \\
        --count 10 --iso 12800 25600 --adapt 20 --output results/raw-adapt
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import write_report_with_table
from benchmarks.real_noise import scene_split
from denoise.classical import PHOTO_NOISE_STRIDE, estimate_noise_sigma, non_local_means
from denoise.image_io import IMAGE_SUFFIXES
from denoise.noise import SRGB_TO_XYZ, CameraPipeline, bayer_masks, camera_noise_variance, poisson_gaussian
from denoise.raw import RawImage, noise_from_iso, render
from denoise.raw_model import RAW_MODEL, RAW_ORIENTATIONS, finish_render, load_raw_model


def clean_crops(folders: list[Path], count: int, crop: int) -> list[tuple[str, np.ndarray]]:
    """Return the first ``count`` images of each folder (PolyU: its test scenes only), centre-cropped to ``crop``."""
    crops = []
    for folder in folders:
        names = sorted(path.name for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        label = folder.name
        if folder.name == "clean" and (folder.parent / "noisy").is_dir():
            names = scene_split(names)["test"]  # PolyU: the scenes no model was tuned on
            label = folder.parent.name
        for name in names[:count]:
            image = denoise.read_image(folder / name, channels=3).pixels
            top, left = max(0, (image.shape[0] - crop) // 2), max(0, (image.shape[1] - crop) // 2)
            crops.append((f"{label}/{name}", image[top : top + crop, left : left + crop]))
    return crops


def unprocessed(image: np.ndarray, seed: int) -> RawImage:
    """Return the clean image as a camera's RGGB raw (even size), with that camera's white balance and matrix."""
    image = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
    camera = CameraPipeline.random(np.random.default_rng(seed))
    linear = camera.unprocess(image[None].astype(np.float32))[0]
    mosaic = np.sum(linear * bayer_masks(*linear.shape[:2]), axis=-1, dtype=np.float32)
    gains = camera.gains[0] / camera.gains[0][1]
    xyz_to_camera = camera.rgb_to_camera[0] @ np.linalg.inv(SRGB_TO_XYZ)
    return RawImage(mosaic=mosaic, white_balance=tuple(gains), xyz_to_camera=xyz_to_camera, camera="Benchmark")


def run(
    folders: list[Path],
    isos: list[float],
    count: int,
    crop: int,
    photo_model: str,
    raw_model_name: str,
    adapt_seconds: float | None = None,
    adapt_orientations: int = RAW_ORIENTATIONS,
) -> dict:
    """Score every path at every ISO; return the report."""
    crops = clean_crops(folders, count, crop)
    crop_folders = np.array([name.split("/")[0] for name, _ in crops])  # for the means by folder
    cleans = [unprocessed(image, seed) for seed, (_, image) in enumerate(crops)]
    references = [render(clean) for clean in cleans]
    megapixels = sum(clean.mosaic.size for clean in cleans) / 1e6
    photo = denoise.load_model(photo_model)
    photo.warm_up()
    by_orientations = {views: load_raw_model(raw_model_name, orientations=views) for views in (1, 2, 4, 8)}
    raw_model = by_orientations[RAW_ORIENTATIONS]
    raw_model_float32 = load_raw_model(raw_model_name, precision="float32")
    rows = []
    for iso in isos:
        shot, read = (float(value) for value in camera_noise_variance(iso))
        truth = noise_from_iso(iso)  # what a file of this ISO gets; here also the law the noise was drawn from
        noisies = [
            clean.with_mosaic(np.minimum(poisson_gaussian(clean.mosaic, shot, read, np.random.default_rng(index)), 1))
            for index, clean in enumerate(cleans)
        ]
        renders = [render(noisy) for noisy in noisies]
        results: dict[str, tuple[list[np.ndarray], float]] = {"noisy raw, rendered": (renders, 0.0)}
        started = time.perf_counter()
        outputs = [photo.denoise(rendered) for rendered in renders]
        results[f"render, then {photo_model}"] = (outputs, time.perf_counter() - started)
        started = time.perf_counter()
        outputs = [render(noisy, fbdd_noise_reduction=_fbdd_full()) for noisy in noisies]
        results["LibRaw's FBDD noise reduction (full)"] = (outputs, time.perf_counter() - started)
        started = time.perf_counter()
        outputs = [
            non_local_means(rendered, estimate_noise_sigma(rendered, stride=PHOTO_NOISE_STRIDE)) for rendered in renders
        ]
        results["render, then non-local means (estimated sigma)"] = (outputs, time.perf_counter() - started)
        paths = (
            ("noise from the ISO (default)", raw_model, truth),
            ("noise from the ISO, one run", by_orientations[1], truth),
            ("noise from the ISO, float32", raw_model_float32, truth),
            ("noise from the ISO, 4 orientations", by_orientations[4], truth),
            ("noise from the ISO, 8 orientations", by_orientations[8], truth),
            ("noise estimated from the mosaic", raw_model, "estimate"),
        )
        finishable = {}  # the raw results that a render's finish starts from, and their time
        for label, model, noise in paths:
            started, denoised = time.perf_counter(), []
            for noisy in noisies:
                denoised.append(model.denoise(noisy, noise=noise))
            seconds = time.perf_counter() - started
            results[f"raw model, {label}"] = ([render(result.raw) for result in denoised], seconds)
            finishable[label] = (denoised, seconds)
        for label in ("noise from the ISO (default)", "noise from the ISO, 8 orientations"):
            denoised, seconds = finishable[label]
            outputs = []
            for result in denoised:
                rendered = render(result.raw)  # not counted, as no render is
                started = time.perf_counter()
                outputs.append(finish_render(rendered, result.noise, photo))
                seconds += time.perf_counter() - started
            finished = f"raw model, {label.replace(' (default)', '')}, render finished by {photo_model}"
            results[finished] = (outputs, seconds)
        if adapt_seconds is not None:  # each crop on its own, from the shipped weights; the time counts
            started, denoised = time.perf_counter(), []
            for noisy in noisies:
                adapted = by_orientations[adapt_orientations].adapt(noisy, noise=truth, seconds=adapt_seconds)
                denoised.append(adapted.denoise(noisy, noise=truth).raw)
            seconds = time.perf_counter() - started
            views = f", {adapt_orientations} orientations" if adapt_orientations != RAW_ORIENTATIONS else ""
            label = f"raw model, noise from the ISO, adapted {adapt_seconds:g} s{views}"
            results[label] = ([render(result) for result in denoised], seconds)
        for method, (outputs, seconds) in results.items():
            pairs = zip(references, outputs, strict=True)
            scores = np.array([denoise.psnr(reference, output) for reference, output in pairs])
            by_folder = {name: float(np.mean(scores[crop_folders == name])) for name in dict.fromkeys(crop_folders)}
            rows.append(
                {
                    "iso": iso,
                    "method": method,
                    "psnr": float(np.mean(scores)),
                    "psnr_by_folder": by_folder,
                    "seconds_per_megapixel": seconds / megapixels,
                }
            )
            print(f"ISO {iso:g} {method}: {rows[-1]['psnr']:.2f} dB", flush=True)
    return {
        "images": [name for name, _ in crops],
        "crop": crop,
        "megapixels": megapixels,
        "raw_model": raw_model.name,
        "raw_model_runtime": raw_model.runtime,
        "raw_model_arithmetic": raw_model.arithmetic,
        "photo_model_runtime": photo.runtime,
        "rows": rows,
    }


def _fbdd_full():
    import rawpy

    return rawpy.FBDDNoiseReductionMode.Full


#: Rows that run the default raw model otherwise (once, in float32, over 4 orientations, 8 and
#: finished): the README's compact table leaves them to docs/benchmarks.md.
VARIANT_ROWS = (
    "raw model, noise from the ISO, one run",
    "raw model, noise from the ISO, float32",
    "raw model, noise from the ISO, 4 orientations",
    "raw model, noise from the ISO, 8 orientations, render finished by photo",
)


def markdown(report: dict, *, by_folder: bool = False, variants: bool = True) -> str:
    """Return the PSNR of each path at each ISO and its mean speed as a Markdown table.

    With ``by_folder``, a table for each folder of clean images follows (PSNR only); without
    ``variants``, the rows of :data:`VARIANT_ROWS` are left out.
    """
    isos = sorted({row["iso"] for row in report["rows"]})
    methods = [
        method
        for method in dict.fromkeys(row["method"] for row in report["rows"])
        if variants or method not in VARIANT_ROWS
    ]
    table = {(row["iso"], row["method"]): row for row in report["rows"]}
    header = ["| method | " + " | ".join(f"ISO {iso:g}" for iso in isos) + " |", "|---|" + "---|" * len(isos)]
    lines = [
        f"{len(report['images'])} clean crops of {report['crop']} px, unprocessed to raw; PSNR (dB) after LibRaw's "
        "render against the clean render; s/MP of the denoising step",
        "",
        header[0] + " s/MP |",
        header[1] + "---|",
    ]
    for method in methods:
        cells = [f"{table[(iso, method)]['psnr']:.2f}" for iso in isos]
        speed = np.mean([table[(iso, method)]["seconds_per_megapixel"] for iso in isos])
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {speed:.2f} |")
    folders = report["rows"][0].get("psnr_by_folder", {}) if by_folder else {}
    for folder in folders:
        count = sum(name.startswith(f"{folder}/") for name in report["images"])
        lines += ["", f"Of them, the {count} crops of `{folder}`:", "", *header]
        for method in methods:
            cells = [f"{table[(iso, method)]['psnr_by_folder'][folder]:.2f}" for iso in isos]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of clean images the models never trained on")
    parser.add_argument("--iso", type=float, nargs="+", default=[800, 3200, 12800, 25600])
    parser.add_argument("--count", type=int, default=10, help="images per folder")
    parser.add_argument("--crop", type=int, default=512, help="side of the centre crop (mosaic pixels)")
    parser.add_argument("--photo-model", default="photo")
    parser.add_argument("--raw-model", default=RAW_MODEL, help="the raw model's name or .keras path")
    parser.add_argument("--output", default="results/raw", help="prefix of the .json and .md written")
    parser.add_argument(
        "--adapt", type=float, metavar="SECONDS", help="also adapt the raw model to each crop this long (a row)"
    )
    parser.add_argument(
        "--adapt-orientations", type=int, choices=(1, 2, 4, 8), default=RAW_ORIENTATIONS,
        help="orientations the adapted raw model averages",
    )  # fmt: skip
    arguments = parser.parse_args(argv)
    report = run(
        arguments.folders, arguments.iso, arguments.count, arguments.crop, arguments.photo_model, arguments.raw_model,
        arguments.adapt, arguments.adapt_orientations,
    )  # fmt: skip
    write_report_with_table(arguments.output, report, markdown(report, by_folder=True), "raw", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
