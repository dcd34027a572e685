"""Reading and writing images safely.

Every file is treated as untrusted: the format is checked against a short list, the pixel
count is checked from the header before any pixel is decoded (Pillow's decompression-bomb
guard plus our own limit), and any decoding failure becomes one :class:`ImageReadError`
with a message fit for a user. Writing goes to a temporary file that is renamed into place,
so a failed write never leaves half a file behind.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image, ImageOps

from denoise.files import write_atomically

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "ImageReadError",
    "LoadedImage",
    "convert_channels",
    "encode_png",
    "read_image",
    "to_samples",
    "write_png",
]

#: File suffixes the command line and the training data loader pick up.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"})
#: Pillow format names that are decoded; anything else is refused.
ALLOWED_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF")
#: Largest image accepted, in pixels (width x height): 64 megapixels.
MAX_PIXELS = 64_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Rows converted or encoded at a time where a whole image's temporaries would be large (even,
#: so that a Bayer mosaic's strips keep its 2 x 2 pattern).
STRIP_ROWS = 512


class ImageReadError(ValueError):
    """An input could not be used as an image; the message says why in one line."""


@dataclass
class LoadedImage:
    """A decoded image ready for a denoiser.

    Attributes
    ----------
    pixels : ndarray
        float32, H x W x C with C = 1 (grey) or 3 (colour); values in [0, 1].
    alpha : ndarray or None
        float32 H x W transparency, set aside so it can be re-attached unchanged.
    bit_depth : int
        Bits per sample of the source (8 or 16), used to write the result back.
    notes : list of str
        Things the user should know, e.g. that only the first frame of a GIF was used.

    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    notes: list[str] = field(default_factory=list)


def _open(data: bytes) -> Image.Image:
    """Open an image header, refusing unknown formats and oversized images."""
    stream = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"image is too large (limit {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"not a supported image (expected one of {', '.join(ALLOWED_FORMATS)})") from None
    except Exception as error:  # a decoder fed hostile bytes can fail in any way
        raise ImageReadError(f"unreadable image header ({str(error)[:120]})") from None
    _check_size(*image.size)
    return image


def _check_size(width: int, height: int) -> None:
    """Refuse images with no pixels or more than :data:`MAX_PIXELS`, from the header alone."""
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels; the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        )
    if width < 1 or height < 1:
        raise ImageReadError(f"image has no pixels ({width}x{height})")


def _samples_to_float(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Scale integer or float samples (H x W [x C]) to [0, 1]; split off alpha; give the bit depth."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    if samples.ndim != 3 or samples.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"unsupported sample layout {samples.shape}")
    if np.issubdtype(samples.dtype, np.floating):
        pixels, bit_depth = samples.astype(np.float32), 16
    elif samples.dtype == bool:
        pixels, bit_depth = samples.astype(np.float32), 8
    else:
        maximum = np.iinfo(samples.dtype).max
        pixels, bit_depth = samples.astype(np.float32) / maximum, 8 if maximum <= 255 else 16
    pixels = np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0)
    alpha = None
    if pixels.shape[2] in (2, 4):
        pixels, alpha = pixels[:, :, :-1], np.clip(pixels[:, :, -1], 0, 1)
    return np.clip(pixels, 0, 1), alpha, bit_depth


def _read_tiff(data: bytes) -> LoadedImage | None:
    """Decode grey or RGB TIFF with tifffile, keeping 16-bit and float samples.

    Returns None for other photometric kinds (palette, CMYK...), which Pillow decodes.
    """
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            page = tiff.pages.first
            _check_size(page.imagewidth, page.imagelength)
            if page.photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
                return None
            samples = page.asarray()
            pages = len(tiff.pages)
    except ImageReadError:
        raise
    except Exception as error:  # a decoder fed hostile bytes can fail in any way
        raise ImageReadError(f"corrupt or truncated TIFF ({str(error)[:120]})") from None
    if samples.ndim == 3 and samples.shape[0] in (2, 3, 4) and samples.shape[2] not in (1, 2, 3, 4):
        samples = samples.transpose(1, 2, 0)  # planar (separate) configuration
    pixels, alpha, bit_depth = _samples_to_float(samples)
    notes = [f"multi-page TIFF: used the first of {pages} pages"] if pages > 1 else []
    return LoadedImage(pixels, alpha, bit_depth, notes)


def _read_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    """Return the whole content of a path, bytes or binary file."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, (str, Path)):
        try:
            return Path(source).read_bytes()
        except FileNotFoundError:
            raise ImageReadError("file not found") from None
        except IsADirectoryError:
            raise ImageReadError("is a directory, not an image") from None
        except OSError as error:
            raise ImageReadError(f"cannot read file ({error.strerror or error})") from None
    return source.read()


def _to_array(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Convert a decoded Pillow image to (float pixels H x W x C, alpha or None, bit depth)."""
    alpha = None
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA" if image.mode not in ("LA", "L") else "LA")
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255
        image = image.convert("RGB" if image.mode == "RGBA" else "L")

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image).astype(np.float32)
        bit_depth = 16 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 8
        pixels = np.clip(values / (65535 if bit_depth == 16 else 255), 0, 1)
    elif image.mode == "F":
        pixels, bit_depth = np.clip(np.asarray(image, dtype=np.float32), 0, 1), 16
    else:  # 8-bit: grey, or RGB, CMYK, YCbCr, LAB, HSV ... as RGB
        grey = image.mode in ("1", "L")
        wanted = "L" if grey else "RGB"
        pixels, bit_depth = np.asarray(image if image.mode == wanted else image.convert(wanted)).astype(np.float32), 8
        pixels /= 255  # in place: no second full-size copy (0.1 s and 144 MB for 12 megapixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels, alpha, bit_depth


def read_image(source: str | Path | bytes | BinaryIO, *, channels: int | None = None) -> LoadedImage:
    """Read an image file (PNG, JPEG, TIFF, BMP, WebP or the first frame of a GIF).

    Parameters
    ----------
    source : path, bytes or binary file
        The image.
    channels : {None, 1, 3}, optional
        Convert to grey (1) or colour (3); by default the image keeps its own.

    Returns
    -------
    LoadedImage
        Pixels in [0, 1] with EXIF orientation applied, alpha set aside, the source bit depth.

    Raises
    ------
    ImageReadError
        If the source is not a supported image, is too large, or is corrupt.

    """
    data = _read_bytes(source)
    loaded = _read_tiff(data) if data[:4] in (b"II*\x00", b"MM\x00*") else None
    if loaded is None:
        loaded = _read_with_pillow(data)
    loaded.pixels = np.ascontiguousarray(convert_channels(loaded.pixels, channels), dtype=np.float32)
    return loaded


def convert_channels(pixels: np.ndarray, channels: int | None) -> np.ndarray:
    """Return H x W x C ``pixels`` with ``channels`` channels: colour to grey by Rec. 601 luma, grey repeated.

    ``None``, or the channels it has already, returns it unchanged.
    """
    if channels == 1 and pixels.shape[2] == 3:
        return (pixels @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
    if channels == 3 and pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    return pixels


def _read_with_pillow(data: bytes) -> LoadedImage:
    """Decode any allowed format with Pillow, applying EXIF orientation."""
    image = _open(data)
    notes = []
    if data[:8] == PNG_SIGNATURE and data[24:26] in (b"\x10\x02", b"\x10\x06"):  # IHDR: 16-bit RGB or RGBA
        notes.append("16-bit colour PNG: read at 8 bits per sample (Pillow's limit); a 16-bit TIFF keeps them all")
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes.append(f"animated image: used the first of {frames} frames")
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # without a copy of the whole photo
        pixels, alpha, bit_depth = _to_array(image)
    except Exception as error:  # a decoder fed hostile bytes can fail in any way
        raise ImageReadError(f"corrupt or truncated image data ({str(error)[:120]})") from None
    return LoadedImage(pixels, alpha, bit_depth, notes)


#: zlib strategy of 8-bit PNGs: run-length only. After PNG's row filters, what repeats in a photo
#: is mostly runs; on 25 test images (``benchmarks/png_speed.py``, docs/benchmarks.md) it wrote
#: 4.7 times faster than zlib's default search, with files 0.2 % larger.
EIGHT_BIT_STRATEGY = zlib.Z_RLE


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def _write_png16(stream: BinaryIO, samples: np.ndarray, compress_level: int, strategy: int) -> None:
    """Write H x W x C uint16 samples (C = 1, 2, 3 or 4) to ``stream`` as a 16-bit PNG.

    Pillow cannot write 16-bit colour PNG, so this writes the few chunks by hand. The rows go
    through zlib strip by strip (:data:`STRIP_ROWS`), each strip's output in an IDAT chunk of its
    own: a 60-megapixel render needs no full-size copy, compressed or not.
    """
    height, width, channels = samples.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    stream.write(PNG_SIGNATURE + _png_chunk(b"IHDR", header))
    compressor = zlib.compressobj(compress_level, zlib.DEFLATED, zlib.MAX_WBITS, 8, strategy)
    for top in range(0, height, STRIP_ROWS):
        rows = samples[top : top + STRIP_ROWS].astype(">u2").reshape(-1, width * channels).view(np.uint8)
        filtered = np.concatenate([np.zeros((len(rows), 1), np.uint8), rows], axis=1)  # filter type 0
        compressed = compressor.compress(filtered.tobytes())
        if compressed:
            stream.write(_png_chunk(b"IDAT", compressed))
    stream.write(_png_chunk(b"IDAT", compressor.flush()) + _png_chunk(b"IEND", b""))


def to_samples(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """Return float pixels clipped to [0, 1] and rounded to 8- or 16-bit samples (uint8 or uint16).

    Worked strip by strip (:data:`STRIP_ROWS`): a 60-megapixel render's float temporaries would
    otherwise cost 0.7 GB each.
    """
    maximum, dtype = (65535, np.uint16) if bit_depth == 16 else (255, np.uint8)
    samples = np.empty(np.shape(pixels), dtype)
    for top in range(0, len(samples), STRIP_ROWS):
        strip = np.clip(np.asarray(pixels[top : top + STRIP_ROWS], np.float32), 0, 1)
        strip *= maximum
        samples[top : top + STRIP_ROWS] = np.round(strip, out=strip)
    return samples


def encode_png(
    pixels: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    compress_level: int = 6,
    strategy: int | None = None,
) -> bytes:
    """Encode pixels as PNG bytes.

    Parameters
    ----------
    pixels : ndarray
        H x W or H x W x C (C = 1 or 3): floats (clipped to [0, 1]) or uint8.
    alpha : ndarray, optional
        H x W transparency in [0, 1] to attach.
    bit_depth : {8, 16}, default 8
        Bits per sample of the PNG.
    compress_level : int, default 6
        zlib level from 0 (fastest, largest) to 9 (slowest, smallest); the pixels are the same.
    strategy : int, optional
        zlib strategy. None: :data:`EIGHT_BIT_STRATEGY` at 8 bits, ``zlib.Z_DEFAULT_STRATEGY``
        at 16 bits (whose rows are written unfiltered, so they have few runs).

    """
    buffer = io.BytesIO()
    _write_png(buffer, pixels, alpha, bit_depth, compress_level, strategy)
    return buffer.getvalue()


def _write_png(
    stream: BinaryIO,
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    bit_depth: int,
    compress_level: int = 6,
    strategy: int | None = None,
) -> None:
    """Write :func:`encode_png`'s file to ``stream``."""
    pixels = np.asarray(pixels)
    pixels = pixels / np.float32(255) if pixels.dtype == np.uint8 else pixels.astype(np.float32, copy=False)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if alpha is not None:
        pixels = np.concatenate([pixels, np.asarray(alpha, np.float32)[:, :, None]], axis=2)
    if strategy is None:
        strategy = zlib.Z_DEFAULT_STRATEGY if bit_depth == 16 else EIGHT_BIT_STRATEGY
    samples = to_samples(pixels, bit_depth)
    if bit_depth == 16:
        _write_png16(stream, samples, compress_level, strategy)
        return
    image = Image.fromarray(samples[:, :, 0] if samples.shape[2] == 1 else samples)
    image.save(stream, format="PNG", compress_level=compress_level, compress_type=strategy)


def write_png(path: str | Path, pixels: np.ndarray, *, alpha: np.ndarray | None = None, bit_depth: int = 8) -> None:
    """Write pixels as a PNG file atomically (a temporary file renamed into place).

    Parameters are those of :func:`encode_png`.
    """

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            _write_png(stream, pixels, alpha, bit_depth)

    write_atomically(Path(path), write, suffix=".part")
