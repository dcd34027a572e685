"""Raw files: the sensor's Bayer mosaic, read with LibRaw (rawpy), denoised, written back as DNG.

Before demosaicing, a camera's noise is still independent from pixel to pixel and follows the
sensor's Poisson-Gaussian law (variance ``read + shot * signal``); demosaicing, colour
processing and JPEG later spread it into blotches. So the raw model works on the mosaic itself,
packed into four half-resolution planes (:func:`pack`: red, the green beside red, the green
beside blue, blue), after a variance-stabilising transform (:meth:`RawNoise.stabilise`) that
makes the noise white Gaussian of one known level, given in four more planes: one model covers
every ISO.

A :class:`RawImage` holds the visible mosaic with its black level subtracted and its white
level scaled to 1, and what is needed to write it back (:func:`encode_dng`) and render it
(:func:`render`): pattern, levels, white balance, colour matrix, orientation, ISO. Rendering
always goes through our own DNG and LibRaw, so an original and its denoised copy are rendered
by exactly the same steps.

The noise level comes from the file's ISO through the generic law of
:func:`denoise.noise.camera_noise_variance` (:func:`noise_from_iso`; no per-camera tables are
shipped) or from the data (:func:`estimate_noise`); :func:`denoise.raw_model.raw_noise` chooses.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from denoise.files import write_atomically
from denoise.image_io import MAX_PIXELS, STRIP_ROWS, ImageReadError, encode_png, to_samples, write_png
from denoise.noise import (
    SRGB_TO_XYZ,
    CameraPipeline,
    bayer_masks,
    camera_noise_variance,
    poisson_gaussian,
    sensor_noise_levels,
)

__all__ = [
    "PLANES",
    "RAW_OUTPUT_FORMATS",
    "RAW_OUTPUT_SUFFIXES",
    "RAW_SUFFIXES",
    "NotBayerError",
    "RawImage",
    "RawNoise",
    "encode_dng",
    "encode_rendered",
    "estimate_noise",
    "is_raw_file",
    "noise_from_iso",
    "pack",
    "read_raw",
    "render",
    "save_raw",
    "unpack",
    "unprocessed_pairs",
    "write_dng",
    "write_rendered",
]

#: Raw formats LibRaw reads that the command line and the app take: by maker, Adobe (DNG), ARRI,
#: Canon, Casio, Epson, Fujifilm, GoPro, Hasselblad and Imacon, Kodak, Leaf, Leica, Mamiya,
#: Minolta, Nikon, Olympus, Panasonic, Pentax, Phase One, Samsung, Sigma and Sony. A raw must
#: never reach the image reader: many are TIFF files whose first page is a small preview.
RAW_SUFFIXES = frozenset(
    {
        ".dng", ".ari", ".cr2", ".cr3", ".crw", ".bay", ".erf", ".raf", ".gpr", ".3fr", ".fff",
        ".dcr", ".dcs", ".k25", ".kdc", ".mos", ".rwl", ".mef", ".mdc", ".mrw", ".nef", ".nrw",
        ".orf", ".ori", ".raw", ".rw2", ".pef", ".ptx", ".iiq", ".cap", ".eip", ".srw", ".x3f",
        ".arw", ".srf", ".sr2",
    }
)  # fmt: skip
#: Planes of a packed Bayer mosaic.
PLANES = 4
#: Largest value written to a DNG: 16-bit samples.
DNG_WHITE_LEVEL = 65535
#: LibRaw's ``flip`` code for each EXIF orientation (dcraw's table "50132467", inverted).
_ORIENTATION_OF_FLIP = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}
_DNG_COLOURS = {"R": 0, "G": 1, "B": 2}


class NotBayerError(ImageReadError):
    """A raw file whose sensor is not a 2 x 2 Bayer mosaic (X-Trans, Foveon, linear DNG).

    Attributes
    ----------
    rendered : ndarray or None
        LibRaw's sRGB rendering, H x W x 3 float32 in [0, 1], where it could make one.

    """

    def __init__(self, message: str, rendered: np.ndarray | None = None) -> None:
        super().__init__(message)
        self.rendered = rendered


#: :attr:`RawNoise.source` of a law measured in the mosaic.
ESTIMATED_SOURCE = "estimated from the image"


@dataclass(frozen=True)
class RawNoise:
    """The sensor's noise law on the normalised mosaic: variance ``read + shot * signal``.

    Attributes
    ----------
    shot, read : float
        Variance per unit of signal, and variance at zero signal (signal 1 is the white level).
    source : str
        Where the numbers came from, as a user reads it ("estimated from the image", "ISO 3200").

    """

    shot: float
    read: float
    source: str

    def _stabilised(self, signal: np.ndarray | float) -> np.ndarray:
        """Apply the generalised Anscombe transform (Murtagh et al. 1995): noise of unit variance."""
        shot = max(self.shot, 1e-8)
        return 2.0 * np.sqrt(np.maximum(np.asarray(signal) / shot + 0.375 + self.read / shot**2, 0.0))

    @property
    def _range(self) -> tuple[float, float]:
        return float(self._stabilised(0.0)), float(self._stabilised(1.0))

    @property
    def stabilised_sigma(self) -> float:
        """Noise standard deviation after :meth:`stabilise`: the same at every signal level."""
        black, white = self._range
        return 1.0 / (white - black)

    def stabilise(self, packed: np.ndarray) -> np.ndarray:
        """Map the mosaic to where its noise is white Gaussian of :attr:`stabilised_sigma`; 0 and 1 stay put.

        This is the variance-stabilising transform of Poisson-Gaussian noise, scaled so that
        black is 0 and white is 1: the raw model denoises there, where the noise is the same
        everywhere and squared errors weigh darks as a rendered photo shows them.
        """
        black, white = self._range
        return ((self._stabilised(packed) - black) / (white - black)).astype(np.float32)

    def unstabilise(self, stabilised: np.ndarray) -> np.ndarray:
        """Invert :meth:`stabilise` (algebraically: the model learns to output the clean value's transform)."""
        black, white = self._range
        transformed = np.maximum(stabilised * (white - black) + black, 0.0)
        shot = max(self.shot, 1e-8)
        return ((transformed**2 / 4.0 - 0.375 - self.read / shot**2) * shot).astype(np.float32)

    @property
    def estimated(self) -> bool:
        """Whether the law was measured in the mosaic (:func:`estimate_noise`) rather than told."""
        return self.source == ESTIMATED_SOURCE

    def __str__(self) -> str:
        return f"shot {self.shot:.2e}, read {self.read:.2e} ({self.source})"


@dataclass(frozen=True)
class RawImage:
    """A Bayer raw photo: the visible mosaic and what it takes to write and render it.

    Attributes
    ----------
    mosaic : ndarray
        H x W float32, black level subtracted and divided by ``white_level - black``: 0 is black,
        1 the sensor's saturation; noise may take values a little below 0.
    pattern : str
        Colours of the top-left 2 x 2 cell, row by row: ``"RGGB"``, ``"BGGR"``, ``"GRBG"`` or ``"GBRG"``.
    black_levels : tuple of float
        Black level of each position of the 2 x 2 cell, row by row, in raw units.
    white_level : float
        Saturation in raw units.
    white_balance : tuple of float
        The camera's as-shot red, green and blue gains.
    xyz_to_camera : ndarray
        3 x 3 matrix from CIE XYZ to the camera's RGB (the DNG ``ColorMatrix1``); by default a
        camera with sRGB's primaries.
    orientation : int
        EXIF orientation, 1 to 8.
    iso : float or None
        ISO speed, where the file says.
    exposure_time : float or None
        Seconds, where the file says.
    camera : str
        Make and model.

    """

    mosaic: np.ndarray
    pattern: str = "RGGB"
    black_levels: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    white_level: float = float(DNG_WHITE_LEVEL)
    white_balance: tuple[float, float, float] = (2.0, 1.0, 1.7)
    xyz_to_camera: np.ndarray = field(default_factory=lambda: np.linalg.inv(SRGB_TO_XYZ))
    orientation: int = 1
    iso: float | None = None
    exposure_time: float | None = None
    camera: str = "unknown camera"

    @property
    def megapixels(self) -> float:
        """Size of the mosaic in megapixels."""
        return self.mosaic.size / 1e6

    def with_mosaic(self, mosaic: np.ndarray) -> RawImage:
        """Return a copy holding ``mosaic`` (a denoised one) and the same metadata."""
        return replace(self, mosaic=np.asarray(mosaic, np.float32))


def is_raw_file(name: str | Path) -> bool:
    """Whether a file's name ends in a raw format's suffix (:data:`RAW_SUFFIXES`, any case)."""
    return Path(name).suffix.lower() in RAW_SUFFIXES


def _plane_offsets(pattern: str) -> list[tuple[int, int]]:
    """Row and column in the 2 x 2 cell of red, the green beside red, the green beside blue, and blue."""
    red = divmod(pattern.index("R"), 2)
    blue = divmod(pattern.index("B"), 2)
    return [red, (red[0], 1 - red[1]), (blue[0], 1 - blue[1]), blue]


def pack(mosaic: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Pack an H x W mosaic (or an N x H x W batch) into ... x H/2 x W/2 x 4 planes: R, G, G, B.

    An odd height or width is first extended by reflection, which keeps the pattern.
    """
    pad = [(0, 0)] * (mosaic.ndim - 2) + [(0, mosaic.shape[-2] % 2), (0, mosaic.shape[-1] % 2)]
    if any(after for _, after in pad):
        mosaic = np.pad(mosaic, pad, mode="reflect")
    return np.stack([mosaic[..., row::2, column::2] for row, column in _plane_offsets(pattern)], axis=-1)


def unpack(planes: np.ndarray, pattern: str, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`pack`: H/2 x W/2 x 4 planes back to the H x W mosaic of ``shape``."""
    height, width = planes.shape[0] * 2, planes.shape[1] * 2
    mosaic = np.empty((height, width), planes.dtype)
    for plane, (row, column) in enumerate(_plane_offsets(pattern)):
        mosaic[row::2, column::2] = planes[..., plane]
    return mosaic[: shape[0], : shape[1]]


# ---------------------------------------------------------------- the noise level


def noise_from_iso(iso: float) -> RawNoise:
    """Return the generic ISO law of :func:`denoise.noise.camera_noise_variance` (no camera's own table)."""
    shot, read = camera_noise_variance(iso)
    return RawNoise(float(shot), float(read), f"ISO {iso:g}")


#: Most intensity bins of :func:`estimate_noise`, and the fewest blocks a bin needs to count.
ESTIMATE_BINS = 16
ESTIMATE_MINIMUM_BLOCKS = 20
#: Blocks a bin aims at: small images get fewer, fuller bins (two at the least).
ESTIMATE_BLOCKS_PER_BIN = 50
#: Side of :func:`estimate_noise`'s blocks, in details; and the share of each bin's blocks,
#: the flattest, whose variance it reads the noise from.
ESTIMATE_BLOCK = 4
ESTIMATE_QUANTILE = 0.05


def estimate_noise(raw: RawImage) -> RawNoise:
    """Estimate the sensor's noise law from the mosaic itself.

    In each packed plane, every 2 x 2 cell gives a diagonal Haar detail ``(a - b - c + d) / 2``,
    which smooth content cancels and independent noise keeps at the cell's variance. Blocks of
    4 x 4 details give a local variance and a local mean. Texture only adds variance, so in each
    bin of the local mean the flattest blocks tell the noise: the bin's 5th percentile of block
    variances, divided by the same percentile of a noise-only block's (a chi-squared variable of
    16 degrees of freedom). A line fitted through the bins, weighted by their sizes, gives
    ``read`` (its value at 0) and ``shot`` (its slope). On photos with fine texture everywhere
    (Urban100's facades) it still reads some texture as noise.

    Raises
    ------
    ImageReadError
        If the image is too small or too flat to fit a line (fewer than two usable bins).

    """
    from scipy.stats import chi2

    planes = pack(raw.mosaic, raw.pattern)
    side = 2 * ESTIMATE_BLOCK  # packed pixels per block side
    planes = planes[: planes.shape[0] // side * side, : planes.shape[1] // side * side]
    a, b = planes[0::2, 0::2], planes[0::2, 1::2]
    c, d = planes[1::2, 0::2], planes[1::2, 1::2]
    rows, columns = a.shape[0] // ESTIMATE_BLOCK, a.shape[1] // ESTIMATE_BLOCK
    if rows * columns * PLANES < 2 * ESTIMATE_MINIMUM_BLOCKS:
        raise ImageReadError("raw image is too small to estimate its noise; give the noise level")

    def per_block(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, ESTIMATE_BLOCK, columns, ESTIMATE_BLOCK, PLANES).mean(axis=(1, 3)).ravel()

    variances = per_block(((a - b - c + d) / 2) ** 2)  # the details' mean is 0: noise has none
    means = per_block((a + b + c + d) / 4)
    usable = (means > 0.0) & (means < 0.9)  # leave out clipped blacks and highlights
    variances, means = variances[usable], means[usable]
    if len(means) < 2 * ESTIMATE_MINIMUM_BLOCKS:
        raise ImageReadError("raw image is too small to estimate its noise; give the noise level")
    bins = max(2, min(ESTIMATE_BINS, len(means) // ESTIMATE_BLOCKS_PER_BIN))
    edges = np.quantile(means, np.linspace(0.0, 1.0, bins + 1))
    which = np.clip(np.searchsorted(edges, means, side="right") - 1, 0, bins - 1)
    degrees = ESTIMATE_BLOCK**2
    noise_only = chi2.ppf(ESTIMATE_QUANTILE, degrees) / degrees
    levels, noise, counts = [], [], []
    for index in range(bins):
        chosen = which == index
        if chosen.sum() < ESTIMATE_MINIMUM_BLOCKS:
            continue
        levels.append(float(np.median(means[chosen])))
        noise.append(float(np.quantile(variances[chosen], ESTIMATE_QUANTILE) / noise_only))
        counts.append(float(chosen.sum()))
    if len(set(levels)) < 2:
        raise ImageReadError("raw image is too flat to estimate its noise; give the noise level")
    weights = np.sqrt(counts)
    design = np.stack([np.ones(len(levels)), levels], axis=1) * weights[:, None]
    (read, shot), *_ = np.linalg.lstsq(design, np.asarray(noise) * weights, rcond=None)
    smallest = min(noise)
    return RawNoise(max(float(shot), 0.0), max(float(read), 0.01 * smallest, 1e-10), ESTIMATED_SOURCE)


# ---------------------------------------------------------------- reading


def _read_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as error:
            raise ImageReadError(f"cannot read the file: {error.strerror or error}") from error
    return source.read()


class _QuietWhileProbing(logging.Filter):
    """Drop tifffile's log records from a thread while it probes a raw in :func:`_tiff_metadata`.

    Per thread, so that the app's other sessions, reading other files, keep their messages.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_probing, "active", False)


_probing = threading.local()
logging.getLogger("tifffile").addFilter(_QuietWhileProbing())


def _tiff_metadata(data: bytes) -> tuple[float | None, str | None]:
    """Read the ISO (EXIF ``ISOSpeedRatings``) and the make and model of a TIFF-based raw file, in one parse.

    Either is None where the file has none, or is not TIFF-based (CR3, RAF, a damaged file).
    """
    import tifffile

    _probing.active = True  # a probe: tifffile's complaints about raws are expected (_QuietWhileProbing)
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            tags = tiff.pages.first.tags
            exif = tags.get("ExifTag")
            iso = exif.value.get("ISOSpeedRatings") if exif is not None and isinstance(exif.value, dict) else None
            if iso is None and "ISOSpeedRatings" in tags:
                iso = tags["ISOSpeedRatings"].value
            make, model = (str(tags[name].value).strip() if name in tags else "" for name in ("Make", "Model"))
    except Exception:  # noqa: BLE001 - not a TIFF-based raw, or a damaged one: nothing to read
        return None, None
    finally:
        _probing.active = False
    if isinstance(iso, tuple | list):
        iso = iso[0] if len(iso) else None
    try:
        iso = float(iso) if iso else None
    except (TypeError, ValueError):
        iso = None
    # Many cameras (and encode_dng) repeat the make in the model.
    camera = (model if model.lower().startswith(make.lower()) else f"{make} {model}").strip()[:100]
    return iso, camera or None


def _add_by_cell(mosaic: np.ndarray, levels: np.ndarray) -> None:
    """Add to each pixel of ``mosaic``, in place, the level of its place in the 2 x 2 cell (``levels`` row by row)."""
    for index, level in enumerate(levels):
        mosaic[index // 2 :: 2, index % 2 :: 2] += level


#: What each of LibRaw's errors means to a user.
_LIBRAW_ERRORS = {
    "LibRawFileUnsupportedError": "not a raw file LibRaw can read",
    "LibRawIOError": "the raw file is truncated or damaged",
    "LibRawDataError": "the raw file's data is damaged",
    "LibRawTooBigError": "the raw image is too large",
    "LibRawMemoryError": "the raw image is too large",
    "LibRawUnsupportedThumbnailError": "not a raw file LibRaw can read",
}


def _open_libraw(data: bytes):
    """Open ``data`` with LibRaw, check its size from the header, and unpack it.

    LibRaw's own messages on standard error are silenced (:func:`denoise.quiet.quiet_native_logs`).
    """
    import rawpy

    from denoise.quiet import quiet_native_logs

    raw = rawpy.RawPy()
    try:
        with quiet_native_logs():
            raw.open_buffer(io.BytesIO(data))
            sizes = raw.sizes
            if sizes.raw_width * sizes.raw_height > MAX_PIXELS:
                raise ImageReadError(
                    f"raw image is {sizes.raw_width}x{sizes.raw_height}; "
                    f"the limit is {MAX_PIXELS // 1_000_000} megapixels"
                )
            raw.unpack()
    except ImageReadError:
        raw.close()
        raise
    except Exception as error:  # LibRaw's own errors, whatever their type
        raw.close()
        raise ImageReadError(_LIBRAW_ERRORS.get(type(error).__name__, "LibRaw cannot read the raw file")) from error
    return raw


def read_raw(source: str | Path | bytes | BinaryIO) -> RawImage:
    """Read a raw photo's visible Bayer mosaic and metadata with LibRaw.

    Parameters
    ----------
    source : path, bytes or binary file
        A raw file LibRaw reads (:data:`RAW_SUFFIXES`); treated as untrusted.

    Returns
    -------
    RawImage

    Raises
    ------
    NotBayerError
        If the sensor is not a 2 x 2 Bayer mosaic; its ``rendered`` holds LibRaw's rendering
        where it could make one.
    ImageReadError
        If LibRaw cannot read the file, or it is larger than :data:`denoise.image_io.MAX_PIXELS`.

    """
    data = _read_bytes(source)
    raw = _open_libraw(data)
    try:
        colours = raw.color_desc.decode("ascii", "replace")
        visible = raw.raw_image_visible if raw.raw_image is not None else None
        cell = raw.raw_colors_visible[:2, :2] if visible is not None and visible.ndim == 2 else None
        pattern = "".join(colours[index] for index in cell.ravel()) if cell is not None else ""
        if visible is None or sorted(pattern) != ["B", "G", "G", "R"] or raw.raw_pattern.shape != (2, 2):
            raise NotBayerError("not a Bayer sensor (X-Trans, Foveon or linear raw)", _render_libraw(raw))
        black = np.array([raw.black_level_per_channel[index] for index in cell.ravel()], np.float64)
        white = float(raw.white_level)
        if not white > black.max():
            raise ImageReadError(f"raw file has a white level ({white:g}) below its black level")
        mosaic = visible.astype(np.float32)  # worked on in place: 240 MB for 60 megapixels
        _add_by_cell(mosaic, -black.astype(np.float32))
        mosaic /= np.float32(white - black.mean())
        balance = np.asarray(raw.camera_whitebalance[:3], np.float64)
        if not np.all(balance > 0):
            balance = np.asarray(raw.daylight_whitebalance[:3], np.float64)
        if not np.all(balance > 0):
            balance = np.array([2.0, 1.0, 1.7])
        xyz_to_camera = _xyz_to_camera(raw.rgb_xyz_matrix[:3], raw.color_matrix[:3, :3])
        other = raw.other
        file_iso, camera = _tiff_metadata(data)
        iso = float(other.iso_speed) or file_iso
        return RawImage(
            mosaic=mosaic,
            pattern=pattern,
            black_levels=tuple(float(value) for value in black),
            white_level=white,
            white_balance=tuple(float(value) for value in balance / balance[1]),
            xyz_to_camera=xyz_to_camera,
            orientation=_ORIENTATION_OF_FLIP.get(int(raw.sizes.flip), 1),
            iso=iso or None,
            exposure_time=float(other.shutter_speed) or None,
            camera=camera or "unknown camera",
        )
    finally:
        raw.close()


def _xyz_to_camera(xyz_to_camera: np.ndarray, camera_to_srgb: np.ndarray) -> np.ndarray:
    """Return the camera's colour matrix (XYZ -> camera) from LibRaw's two, or camera -> sRGB inverted.

    DNGs leave LibRaw only camera -> sRGB. A camera that LibRaw has no matrix for (old Kodaks)
    has neither: its colours are taken as sRGB already (paler than LibRaw's own render, which
    keeps a matrix it does not expose).
    """
    xyz_to_camera = np.asarray(xyz_to_camera, np.float64)
    if np.any(xyz_to_camera) and abs(np.linalg.det(xyz_to_camera)) > 1e-9:
        return xyz_to_camera
    camera_to_srgb = np.asarray(camera_to_srgb, np.float64)
    if not np.all(np.isfinite(camera_to_srgb)) or abs(np.linalg.det(camera_to_srgb)) < 1e-9:
        camera_to_srgb = np.eye(3)
    return np.linalg.inv(camera_to_srgb) @ np.linalg.inv(SRGB_TO_XYZ)


#: How LibRaw renders: camera white balance, 16 bits, no brightening, the sRGB curve.
RENDER_OPTIONS = {"use_camera_wb": True, "output_bps": 16, "no_auto_bright": True, "gamma": (2.4, 12.92)}


def _render_libraw(raw) -> np.ndarray | None:
    """LibRaw's sRGB rendering of an open file, float32 in [0, 1], or None if it cannot make one."""
    try:
        rgb = raw.postprocess(**RENDER_OPTIONS)
    except Exception:  # noqa: BLE001 - nothing to fall back on
        return None
    return _from_sixteen_bits(rgb)


# ---------------------------------------------------------------- writing and rendering


def _rationals(values: np.ndarray) -> list[int]:
    pairs = []
    for value in np.ravel(values):
        fraction = Fraction(float(value)).limit_denominator(1_000_000)
        pairs += [fraction.numerator, fraction.denominator]
    return pairs


def encode_dng(raw: RawImage) -> bytes:
    """Encode a raw image as an uncompressed 16-bit Bayer DNG that LibRaw, darktable and Lightroom read.

    The samples are the mosaic scaled back to raw units (its black levels and white level),
    rounded and clipped to 16 bits; the pattern, levels, colour matrix, as-shot white balance,
    orientation, camera, ISO and exposure time go in DNG 1.4 tags.
    """
    import tifffile

    black = np.asarray(raw.black_levels, np.float64)
    scale, white = raw.white_level - black.mean(), min(raw.white_level, DNG_WHITE_LEVEL)
    samples = np.empty(raw.mosaic.shape, np.uint16)
    for top in range(0, len(samples), STRIP_ROWS):  # an even count: each strip starts on the pattern's top row
        strip = raw.mosaic[top : top + STRIP_ROWS] * scale  # float64 (scale is), a new array
        _add_by_cell(strip, black)
        samples[top : top + STRIP_ROWS] = np.clip(np.round(strip), 0, white)
    neutral = 1.0 / np.asarray(raw.white_balance, np.float64)
    tags = [
        (271, 2, 0, raw.camera.split(" ")[0], True),  # Make: the first word
        (272, 2, 0, raw.camera, True),
        (274, 3, 1, int(raw.orientation), True),
        (33421, 3, 2, (2, 2), True),
        (33422, 1, 4, bytes(_DNG_COLOURS[colour] for colour in raw.pattern), True),
        (50706, 1, 4, (1, 4, 0, 0), True),
        (50707, 1, 4, (1, 1, 0, 0), True),
        (50708, 2, 0, raw.camera, True),
        (50713, 3, 2, (2, 2), True),
        (50714, 5, 4, _rationals(black), True),
        (50717, 4, 1, int(round(min(raw.white_level, DNG_WHITE_LEVEL))), True),
        (50721, 10, 9, _rationals(raw.xyz_to_camera), True),
        (50728, 5, 3, _rationals(neutral / neutral[1]), True),
        (50778, 3, 1, 21, True),  # CalibrationIlluminant1: D65
    ]
    if raw.iso:
        tags.append((34855, 3, 1, int(min(raw.iso, 65535)), True))
    if raw.exposure_time:
        tags.append((33434, 5, 1, _rationals([raw.exposure_time]), True))
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, samples, photometric=32803, subfiletype=0, extratags=tags, metadata=None, software="denoise"
    )
    return buffer.getvalue()


def write_dng(path: str | Path, raw: RawImage) -> None:
    """Write :func:`encode_dng`'s file to ``path`` atomically: never half a file."""
    data = encode_dng(raw)
    write_atomically(Path(path), lambda temporary: Path(temporary).write_bytes(data))


#: What a denoised raw photo can be saved as: the mosaic as a DNG, or a 16-bit sRGB render.
RAW_OUTPUT_FORMATS = ("dng", "tiff", "png")
#: File suffix of each output format.
RAW_OUTPUT_SUFFIXES = {"dng": ".dng", "tiff": ".tif", "png": ".png"}


def encode_rendered(rgb: np.ndarray, output_format: str) -> bytes:
    """Encode an sRGB render (H x W x 3 in [0, 1]) as a 16-bit ``"tiff"`` or ``"png"`` file's bytes."""
    if output_format == "png":
        return encode_png(rgb, bit_depth=16)
    buffer = io.BytesIO()
    _write_tiff(buffer, rgb)
    return buffer.getvalue()


def _write_tiff(target: str | BinaryIO, rgb: np.ndarray) -> None:
    import tifffile

    tifffile.imwrite(target, to_samples(rgb, 16), photometric="rgb")


def write_rendered(path: str | Path, rgb: np.ndarray, output_format: str) -> None:
    """Write :func:`encode_rendered`'s file to ``path`` atomically, straight to the file."""
    if output_format == "png":
        write_png(path, rgb, bit_depth=16)
    else:
        write_atomically(Path(path), lambda temporary: _write_tiff(temporary, rgb))


def save_raw(path: str | Path, raw: RawImage, output_format: str = "dng") -> None:
    """Save a raw photo as a DNG (:func:`write_dng`) or its 16-bit render (:func:`render`), atomically.

    Raises
    ------
    ValueError
        If ``output_format`` is not one of :data:`RAW_OUTPUT_FORMATS`.
    ImageReadError
        If LibRaw cannot render it.

    """
    if output_format not in RAW_OUTPUT_FORMATS:
        raise ValueError(f"raw output format must be one of {', '.join(RAW_OUTPUT_FORMATS)}, got {output_format!r}")
    if output_format == "dng":
        write_dng(path, raw)
    else:
        write_rendered(path, render(raw), output_format)


def render(raw: RawImage, *, half_size: bool = False, **libraw_options: object) -> np.ndarray:
    """Render a raw image to sRGB with LibRaw: camera white balance, its colour matrix, sRGB gamma.

    Returns H x W x 3 float32 in [0, 1] (16-bit precision), turned by the orientation. The
    image goes through :func:`encode_dng`, so every render takes the same steps, and its white
    is the white level whatever the brightest pixel is (a noisy photo and its denoised copy
    render alike). ``half_size``
    renders each 2 x 2 cell as one pixel (fast previews); ``libraw_options`` go to rawpy's
    ``postprocess`` (LibRaw's own noise reduction: ``noise_thr``, ``fbdd_noise_reduction``).
    """
    import rawpy

    # adjust_maximum_thr 0: LibRaw would otherwise take the data's maximum for white wherever it
    # is above 0.75 of the white level, brightening one render and not another of the same photo.
    options = RENDER_OPTIONS | {"half_size": half_size, "adjust_maximum_thr": 0.0}
    try:
        with rawpy.imread(io.BytesIO(encode_dng(raw))) as opened:
            rgb = opened.postprocess(**(options | libraw_options))
    except Exception as error:  # LibRaw's errors, whatever their type
        raise ImageReadError(f"LibRaw cannot render the raw image ({type(error).__name__})") from error
    return _from_sixteen_bits(rgb)


def _from_sixteen_bits(rgb: np.ndarray) -> np.ndarray:
    """Return LibRaw's 16-bit render as float32 in [0, 1], with no temporary copy."""
    return np.divide(rgb, np.float32(65535), out=np.empty(rgb.shape, np.float32), dtype=np.float32)


# ---------------------------------------------------------------- training data


def unprocessed_pairs(clean: np.ndarray, iso: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Make raw training pairs from N x H x W x 3 sRGB patches (H, W even), image ``n`` at ``iso[n]``.

    Each patch goes back to the linear signal of a randomly drawn camera (Brooks et al.'s
    unprocessing, :class:`denoise.noise.CameraPipeline`), is sampled on an RGGB mosaic and
    gets the sensor's noise (:func:`denoise.noise.sensor_noise_levels`), left unclipped below
    0 as raw data is.

    Returns
    -------
    inputs : ndarray
        N x H/2 x W/2 x 8: the packed noisy mosaic, stabilised (:meth:`RawNoise.stabilise`), then
        four planes of its stabilised noise level.
    targets : ndarray
        N x H/2 x W/2 x 4: the packed clean mosaic, stabilised by the same law.

    """
    linear = CameraPipeline.random(rng, len(clean)).unprocess(clean.astype(np.float32))
    mosaic = np.sum(linear * bayer_masks(*clean.shape[1:3]), axis=-1, dtype=np.float32)
    shot, read = sensor_noise_levels(np.asarray(iso, np.float64), rng)
    noisy = np.minimum(poisson_gaussian(mosaic, shot, read, rng), 1.0)
    inputs, targets = [], []
    for index in range(len(clean)):
        law = RawNoise(float(shot[index]), float(read[index]), "drawn")
        stabilised = law.stabilise(pack(noisy[index]))
        inputs.append(np.concatenate([stabilised, np.full_like(stabilised, law.stabilised_sigma)], axis=-1))
        targets.append(law.stabilise(pack(mosaic[index])))
    return np.stack(inputs), np.stack(targets)
