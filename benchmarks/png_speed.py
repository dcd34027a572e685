r"""How fast each zlib setting writes photos as 8-bit PNG, and how large the files come out.

Reads every image of the given folders (and, with ``--photo``, a 12-megapixel noisy photo-like
image denoised by the photo model, as `denoise run` writes it), encodes each with
:func:`denoise.encode_png` under each setting, and reports the total time and size, and each
against zlib's default (level 6, default strategy). The pixels are the same under every setting.

Example::

    python -m benchmarks.png_speed ../shared/data/test/urban100 ../shared/data/test/cbsd68 \
        ../shared/data/test/polyu100/clean --count 8 --photo --output results/png-speed
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

import denoise
from benchmarks.benchmark import write_report_with_table
from denoise.image_io import IMAGE_SUFFIXES

#: (label, compress_level, strategy) of each setting; the first is the reference.
SETTINGS = [
    ("level 6, default strategy (zlib's default)", 6, zlib.Z_DEFAULT_STRATEGY),
    ("level 3, default strategy", 3, zlib.Z_DEFAULT_STRATEGY),
    ("level 1, default strategy", 1, zlib.Z_DEFAULT_STRATEGY),
    ("run-length (Z_RLE)", 6, zlib.Z_RLE),
    ("Huffman only (Z_HUFFMAN_ONLY)", 6, zlib.Z_HUFFMAN_ONLY),
]


def images(folders: list[str], count: int, photo: bool) -> list[tuple[str, np.ndarray]]:
    """Return ``(name, pixels)``: the first ``count`` images of each folder, then the denoised photo."""
    found = []
    for folder in folders:
        paths = sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        found += [(path.name, denoise.read_image(path, channels=3).pixels) for path in paths[:count]]
    if photo:
        from benchmarks.memory import noisy_photo

        noisy = noisy_photo(2832, 4240).astype(np.float32)
        found.append(("12 MP photo-like, denoised", denoise.load_model(denoise.PHOTO_MODEL).denoise(noisy)))
    return found


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="folders of images")
    parser.add_argument("--count", type=int, default=8, help="images from each folder")
    parser.add_argument("--photo", action="store_true", help="add a denoised 12-megapixel photo-like image")
    parser.add_argument("--output", default="results/png-speed")
    arguments = parser.parse_args(argv)
    chosen = images(arguments.folders, arguments.count, arguments.photo)
    megapixels = sum(pixels.shape[0] * pixels.shape[1] for _, pixels in chosen) / 1e6
    rows = []
    for label, level, strategy in SETTINGS:
        seconds, size = 0.0, 0
        for _, pixels in chosen:
            started = time.perf_counter()
            size += len(denoise.encode_png(pixels, compress_level=level, strategy=strategy))
            seconds += time.perf_counter() - started
        rows.append({"setting": label, "level": level, "strategy": strategy, "seconds": seconds, "bytes": size})
    reference = rows[0]
    lines = [
        f"{len(chosen)} images, {megapixels:.1f} megapixels in all, 8-bit RGB",
        "",
        "| setting | seconds | s per megapixel | speed against zlib's default | size (MB) | size against the default |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['seconds']:.2f} | {row['seconds'] / megapixels:.3f} "
            f"| {reference['seconds'] / row['seconds']:.1f} x | {row['bytes'] / 1e6:.2f} "
            f"| {row['bytes'] / reference['bytes']:.3f} |"
        )
    report = {"images": [name for name, _ in chosen], "megapixels": megapixels, "rows": rows}
    write_report_with_table(arguments.output, report, "\n".join(lines), "png_speed", argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
