"""Synthetic noise models.

Every function takes a float image in [0, 1] (H x W or H x W x C) and returns a noisy
float32 copy of the same shape. Levels use the units a photographer would expect:

==============  =========================================  ==================
kind            level                                      typical range
==============  =========================================  ==================
``gaussian``    standard deviation on the 0-255 scale      0 - 75
``poisson``     peak photon count (lower is noisier)       1 - 255
``salt_pepper`` fraction of pixels set to 0 or 1           0 - 0.5
``speckle``     variance of the multiplicative noise       0 - 0.5
``camera``      ISO-like sensitivity of a simulated camera  100 - 102400
``correlated``  standard deviation on the 0-255 scale      0 - 75
==============  =========================================  ==================

``camera`` is what photos that are already noisy carry: signal-dependent shot and read noise on
a Bayer mosaic, demosaiced (which correlates neighbouring pixels), colour-processed (which
correlates the channels) and often JPEG-compressed; see :class:`CameraPipeline`. ``correlated``
is Gaussian noise correlated across channels and between neighbours, a simpler stand-in for it.
Both work on colour images; a grey image gets the noise of its grey RGB, converted back to grey.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = [
    "NOISE_KINDS",
    "SRGB_TO_XYZ",
    "CameraPipeline",
    "NoiseKind",
    "add_noise",
    "bayer_masks",
    "camera_noise",
    "camera_noise_variance",
    "demosaic",
    "parse_noise",
    "poisson_gaussian",
    "sensor_noise",
    "sensor_noise_levels",
]


@dataclass(frozen=True)
class NoiseKind:
    """Description of one noise model, used by the CLI and the app to build controls.

    Attributes
    ----------
    name : str
        Identifier passed to :func:`add_noise`.
    label : str
        Human-readable name.
    unit : str
        What the level means.
    minimum, maximum, default, step : float
        Sensible slider range for the level.

    """

    name: str
    label: str
    unit: str
    minimum: float
    maximum: float
    default: float
    step: float


NOISE_KINDS: dict[str, NoiseKind] = {
    kind.name: kind
    for kind in (
        NoiseKind("gaussian", "Gaussian", "sigma (0-255 scale)", 0.0, 75.0, 25.0, 1.0),
        NoiseKind("poisson", "Poisson", "peak photon count", 1.0, 255.0, 30.0, 1.0),
        NoiseKind("salt_pepper", "Salt & pepper", "fraction of pixels", 0.0, 0.5, 0.05, 0.01),
        NoiseKind("speckle", "Speckle", "variance", 0.0, 0.5, 0.05, 0.01),
        NoiseKind("camera", "Camera (real photo noise)", "ISO-like sensitivity", 100.0, 102400.0, 3200.0, 100.0),
        NoiseKind("correlated", "Correlated Gaussian", "sigma (0-255 scale)", 0.0, 75.0, 10.0, 1.0),
    )
}
#: Values of noise drawn at a time (:func:`_gaussian`): a few megabytes, so the draws stay in cache.
_BAND_VALUES = 2**18


def add_noise(
    image: np.ndarray,
    kind: str,
    level: float,
    *,
    seed: int | np.random.Generator | None = None,
    clip: bool = True,
) -> np.ndarray:
    """Return a noisy copy of ``image``.

    Parameters
    ----------
    image : ndarray
        Float image with values in [0, 1], shape (H, W) or (H, W, C).
    kind : {"gaussian", "poisson", "salt_pepper", "speckle", "camera", "correlated"}
        Noise model; see the module docstring for the meaning of ``level``.
    level : float
        Noise strength in the units of ``kind``.
    seed : int or numpy.random.Generator, optional
        Seed or generator; the same seed gives the same noise.
    clip : bool, default True
        Clip the result to [0, 1]. The benchmark convention leaves Gaussian noise unclipped.

    Returns
    -------
    ndarray
        float32 array of the same shape as ``image``.

    Raises
    ------
    ValueError
        If ``kind`` is unknown or ``level`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = add_noise(np.full((64, 64), 0.5, np.float32), "gaussian", 25, seed=0)
    >>> round(float(noisy.std() * 255))
    25

    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    positive = kind in ("poisson", "camera")
    if not np.isfinite(level) or level < 0 or (positive and level <= 0):
        raise ValueError(f"{kind} noise level must be {'positive' if positive else '>= 0'}, got {level}")
    if kind == "salt_pepper" and level > 1:
        raise ValueError(f"salt_pepper level is a fraction of pixels in [0, 1], got {level}")
    rng = np.random.default_rng(seed)
    clean = np.asarray(image, dtype=np.float32)

    if kind == "gaussian":
        noisy = _gaussian(clean, level / 255.0, rng)
    elif kind == "poisson":
        noisy = rng.poisson(np.clip(clean, 0, None) * level).astype(np.float32) / np.float32(level)
    elif kind == "camera":
        noisy = _in_colour(clean, lambda rgb: camera_noise(rgb[None], np.array([level]), rng)[0])
    elif kind == "correlated":
        noisy = _in_colour(clean, lambda rgb: _correlated_gaussian(rgb, level / 255.0, rng))
    elif kind == "speckle":
        noisy = clean * (1 + rng.normal(0.0, np.sqrt(level), clean.shape).astype(np.float32))
    else:  # salt_pepper: the same pixels are hit in every channel, as on a real sensor
        noisy = clean.copy()
        hit = rng.random(clean.shape[:2]) < level
        salt = rng.random(clean.shape[:2]) < 0.5
        noisy[hit & salt] = 1.0
        noisy[hit & ~salt] = 0.0
    if clip:
        np.clip(noisy, 0.0, 1.0, out=noisy)  # every kind above made a fresh array
    return noisy.astype(np.float32, copy=False)


def _gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Return ``clean`` plus white Gaussian noise of standard deviation ``sigma``, made in bands of rows.

    The generator draws the same numbers in the same order as one full-size draw, so the noise
    is the same, but a 12-megapixel photo needs no float64 copy of itself (0.63 -> 0.51 s here).
    """
    noisy = np.empty_like(clean)
    rows = max(1, _BAND_VALUES // max(1, clean[0].size))
    drawn = np.empty((rows, *clean.shape[1:]), np.float64)  # one band's draws, reused band after band
    single = np.empty(drawn.shape, np.float32)
    for top in range(0, clean.shape[0], rows):
        band = clean[top : top + rows]
        draws, noise = drawn[: len(band)], single[: len(band)]
        rng.standard_normal(out=draws)  # the numbers normal(0, sigma) scales, in the same order
        np.multiply(draws, sigma, out=draws)
        np.copyto(noise, draws, casting="same_kind")  # to float32 before adding, as a full-size draw would
        np.add(band, noise, out=noisy[top : top + rows])
    return noisy


def _in_colour(clean: np.ndarray, add: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``add`` (H x W x 3 float64 to the same) to an image of any layout, keeping its layout."""
    grey = clean.ndim == 2 or clean.shape[2] == 1
    rgb = np.repeat(clean.reshape(clean.shape[0], clean.shape[1], -1), 3, axis=2) if grey else clean
    noisy = add(rgb.astype(np.float64))
    if grey:
        noisy = noisy.mean(axis=2).reshape(clean.shape)
    return noisy.astype(np.float32)


def parse_noise(text: str) -> tuple[str, float]:
    """Parse ``"KIND:LEVEL"`` (for example ``"gaussian:25"``) into ``(kind, level)``.

    Raises
    ------
    ValueError
        If the text is not of that form or names an unknown kind.

    """
    kind, separator, level = text.partition(":")
    if not separator:
        raise ValueError(f"noise must be KIND:LEVEL, e.g. gaussian:25, got {text!r}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    try:
        return kind, float(level)
    except ValueError:
        raise ValueError(f"noise level must be a number, got {level!r}") from None


# --- Real camera noise --------------------------------------------------------------------
#
# A clean sRGB image is taken back to a linear raw-like Bayer mosaic, given shot and read noise
# there, and processed forward again, as a camera would (Brooks, Mildenhall, Xue, Chen, Sharlet,
# Barron, "Unprocessing Images for Learned Raw Denoising", CVPR 2019); the result may then be
# JPEG-compressed (Guo, Yan, Zhang, Zuo, Zhang, "Toward Convolutional Blind Denoising of Real
# Photographs" (CBDNet), CVPR 2019). Each parameter and the range it is drawn from:
#
# ======================  ==================================================  ==================
# parameter               drawn from                                          source
# ======================  ==================================================  ==================
# colour matrix           random convex mix of four cameras' XYZ->camera      Brooks et al. 2019
#                         matrices, times sRGB->XYZ, rows summing to 1
# overall gain            1 / N(0.8, 0.1)                                     Brooks et al. 2019
# red, blue gains         U(1.9, 2.4), U(1.5, 1.9)                            Brooks et al. 2019
# shot noise (variance    ISO x 1e-6: ISO 100-12800 spans Brooks's            Brooks et al. 2019,
# per unit of signal)     log-uniform 1e-4-0.012 range, extended to 25600     extended here
# read noise (variance)   exp(2.18 log(shot) + 1.20 + N(0, 0.26))             Brooks et al. 2019
# Bayer pattern           RGGB, bilinear demosaicing                          Brooks et al. 2019
# chroma noise reduction  the colour differences blurred by a Gaussian of     in-camera processing;
#                         width U(0.5, 2.5) pixels                            fitted to PolyU's
#                                                                             channel correlation
# JPEG                    with probability 0.5, quality U(60, 95)             CBDNet (quality
#                                                                             range as in CBDNet)
# ======================  ==================================================  ==================
#
# The ISO-like level is calibrated on real photos: PolyU's ISO 1600-6400 crops from full-frame
# and APS-C cameras have noise of standard deviation 3-5 (0-255) after the camera's processing,
# which this model gives at about ISO 3200; ISO 102400 reaches the top of Brooks et al.'s range,
# that of a phone in the dark. Real sRGB noise there is correlated between neighbours (about 0.6)
# and between channels (0.6-0.8); bilinear demosaicing and the chroma blur give about that.
#
# The tone curve is the smoothstep and the gamma 2.2, with their exact inverses (Brooks et al.).

_XYZ_TO_CAMERAS = np.array(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)
#: Linear sRGB (D65) to CIE XYZ.
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
#: Shot-noise variance per unit of linear signal at ISO 1 (ISO 102400 gives Brooks's 0.0128).
SHOT_NOISE_PER_ISO = 1.25e-7
#: Chance that a camera-noise image is JPEG-compressed, and the range of its quality.
JPEG_PROBABILITY = 0.5
JPEG_QUALITY = (60, 95)


@dataclass(frozen=True)
class CameraPipeline:
    """The processing of a batch of cameras, drawn at random: colour matrices and white balance.

    Its methods take and return N x H x W x 3 batches, image ``n`` through camera ``n``.

    Attributes
    ----------
    rgb_to_camera : ndarray
        N x 3 x 3 matrices from linear sRGB to each camera's colour space, rows summing to 1.
    gains : ndarray
        N x 3 red, green and blue white-balance gains, the overall gain included.

    """

    rgb_to_camera: np.ndarray
    gains: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, count: int = 1) -> CameraPipeline:
        """Draw ``count`` cameras as Brooks et al. do."""
        weights = rng.uniform(1e-8, 1e8, (count, len(_XYZ_TO_CAMERAS)))
        xyz_to_camera = np.einsum("nk,kij->nij", weights / weights.sum(axis=1, keepdims=True), _XYZ_TO_CAMERAS)
        rgb_to_camera = xyz_to_camera @ SRGB_TO_XYZ
        rgb_to_camera /= rgb_to_camera.sum(axis=2, keepdims=True)
        overall = 1.0 / rng.normal(0.8, 0.1, (count, 1))
        gains = overall * np.stack([rng.uniform(1.9, 2.4, count), np.ones(count), rng.uniform(1.5, 1.9, count)], 1)
        return cls(rgb_to_camera, gains)

    def unprocess(self, srgb: np.ndarray) -> np.ndarray:
        """Take sRGB images in [0, 1] back to linear camera RGB, before white balance."""
        srgb = np.clip(srgb, 0.0, 1.0)
        linear = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * srgb) / 3.0)  # inverse smoothstep tone curve
        linear = np.maximum(linear, 1e-8) ** 2.2
        camera = linear @ _as_matmul(self.rgb_to_camera, linear.dtype)
        # Dividing by the gains would push highlights above 1; they are eased out as in Brooks et al.
        gray = np.mean(camera, axis=-1, keepdims=True)
        inverse = (1.0 / self.gains[:, None, None, :]).astype(srgb.dtype)
        mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
        safe = np.maximum(inverse, (1.0 - mask) * inverse + mask)
        return np.clip(camera * safe, 0.0, 1.0)

    def process(self, camera: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unprocess`: white balance, colour matrix, gamma and tone curve."""
        balanced = np.clip(camera * self.gains[:, None, None, :].astype(camera.dtype), 0.0, 1.0)
        linear = np.clip(balanced @ _as_matmul(np.linalg.inv(self.rgb_to_camera), balanced.dtype), 0.0, 1.0)
        gamma = np.maximum(linear, 1e-8) ** (1 / 2.2)
        return 3.0 * gamma**2 - 2.0 * gamma**3


def _as_matmul(matrices: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """N x 3 x 3 colour matrices shaped to multiply N x H x W x 3 pixels from the right."""
    return np.swapaxes(matrices, 1, 2)[:, None].astype(dtype)


def bayer_masks(height: int, width: int) -> np.ndarray:
    """Return H x W x 3 booleans: which channel each pixel of an RGGB mosaic records."""
    rows = np.arange(height)[:, None] % 2
    columns = np.arange(width)[None, :] % 2
    red = (rows == 0) & (columns == 0)
    blue = (rows == 1) & (columns == 1)
    return np.stack([red, ~(red | blue), blue], axis=-1)


_BILINEAR = {
    "red_blue": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 4,
    "green": np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float64) / 4,
}


def demosaic(mosaic: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of RGGB mosaics, ... x H x W, into ... x H x W x 3.

    Each missing value is the mean of its nearest recorded neighbours of that channel; the
    borders mirror. This is the interpolation that correlates neighbouring pixels' noise.
    """
    masks = bayer_masks(*mosaic.shape[-2:])
    leading = (1,) * (mosaic.ndim - 2)
    channels = []
    for index, kernel in enumerate((_BILINEAR["red_blue"], _BILINEAR["green"], _BILINEAR["red_blue"])):
        sparse = np.where(masks[..., index], mosaic, mosaic.dtype.type(0))
        # Dividing by the interpolated mask keeps the borders, where neighbours are missing, unbiased.
        weight = ndimage.convolve(masks[..., index].astype(mosaic.dtype), kernel, mode="mirror")
        channels.append(ndimage.convolve(sparse, kernel.reshape(leading + kernel.shape), mode="mirror") / weight)
    return np.stack(channels, axis=-1)


def camera_noise_variance(iso: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (shot, read) noise variances of the linear signal at ``iso``, without jitter."""
    shot = SHOT_NOISE_PER_ISO * np.asarray(iso, np.float64)
    return shot, np.exp(2.18 * np.log(shot) + 1.20)


def sensor_noise_levels(iso: float | np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the (shot, read) variances of :func:`camera_noise_variance` with the read noise jittered.

    The jitter, a log-normal factor of width 0.26, is Brooks et al.'s: cameras of one ISO differ.
    """
    shot, read = camera_noise_variance(iso)
    return shot, read * np.exp(rng.normal(0.0, 0.26, read.shape))


def poisson_gaussian(
    linear: np.ndarray, shot: float | np.ndarray, read: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Add noise of variance ``read + shot * signal`` to a linear signal, unclipped.

    This is the Poisson-Gaussian model of a sensor (Foi et al. 2008) in its Gaussian form.
    ``shot`` and ``read`` are numbers, or one per image of an N x ... batch.
    """
    shot, read = np.asarray(shot, np.float64), np.asarray(read, np.float64)
    shape = shot.shape + (1,) * (linear.ndim - shot.ndim)
    variance = read.reshape(shape) + shot.reshape(shape) * np.maximum(linear, 0.0)
    white = rng.standard_normal(linear.shape, dtype=linear.dtype if linear.dtype == np.float32 else np.float64)
    return linear + white * np.sqrt(variance).astype(linear.dtype)


def sensor_noise(linear: np.ndarray, iso: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add shot and read noise to a linear raw signal in [0, 1]; the result is clipped to [0, 1].

    The variances come from :func:`sensor_noise_levels`, the noise from :func:`poisson_gaussian`:
    it grows with the signal, unlike white Gaussian noise. ``iso`` is one number, or one per
    image of an N x ... batch.
    """
    shot, read = sensor_noise_levels(iso, rng)
    return np.clip(poisson_gaussian(linear, shot, read, rng), 0.0, 1.0)


def camera_noise(clean: np.ndarray, iso: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera noise on an N x H x W x 3 batch in [0, 1], image ``n`` at ``iso[n]``; see the table above.

    One call for a whole batch is several times faster than one call per image.
    """
    count = len(clean)
    camera = CameraPipeline.random(rng, count)
    linear = camera.unprocess(clean.astype(np.float32))
    mosaic = np.sum(linear * bayer_masks(*clean.shape[1:3]), axis=-1)
    noisy_mosaic = sensor_noise(mosaic, np.asarray(iso, np.float64).reshape(count), rng)
    # The noise is what the pipeline makes of the noisy mosaic less what it makes of the clean
    # one, so demosaicing's own loss of detail is not counted as noise; the camera's chroma noise
    # reduction then acts on the noise alone, as an edge-aware one would.
    noise = camera.process(demosaic(noisy_mosaic)) - camera.process(demosaic(mosaic))
    widths = rng.uniform(0.5, 2.5, count)
    jpeg = rng.random(count) < JPEG_PROBABILITY
    qualities = rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, count)
    noisy = np.empty_like(noise)
    for index in range(count):
        noisy[index] = np.clip(clean[index] + _reduce_chroma_noise(noise[index], widths[index]), 0.0, 1.0)
        if jpeg[index]:
            noisy[index] = _jpeg(noisy[index], int(qualities[index]))
    return noisy


def _reduce_chroma_noise(noise: np.ndarray, width: float) -> np.ndarray:
    """Blur H x W x 3 noise's colour differences (not its luminance) by a Gaussian of ``width`` pixels."""
    luminance = noise.mean(axis=-1, keepdims=True)
    return luminance + ndimage.gaussian_filter(noise - luminance, sigma=(width, width, 0), mode="mirror")


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress an H x W x 3 image in [0, 1] at ``quality`` (4:2:0, as cameras do) and decode it."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), np.float64) / 255


def _correlated_gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` (0-1), correlated between pixels and channels.

    As in BSRGAN and SCUNet's degradation models (Zhang et al. 2021, 2023), the channels get, with
    equal chance, one shared noise (luminance only), independent noises, or noises mixed by a
    random 3 x 3 covariance. The field is then blurred by a Gaussian of width U(0, 1.5) pixels and
    scaled back to ``sigma``, which correlates neighbours as demosaicing and in-camera processing do.
    """
    white = rng.normal(0.0, 1.0, clean.shape)  # H x W x 3: add_noise hands grey images over as grey RGB
    mode = int(rng.integers(3))
    if mode == 0:
        white = np.repeat(white[..., :1], 3, axis=-1)
    elif mode == 2:
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        scales = np.diag(rng.uniform(0.1, 1.0, 3))
        mixing = rotation @ scales
        white = white @ mixing.T
    width_pixels = rng.uniform(0.0, 1.5)
    if width_pixels > 0.05:
        white = ndimage.gaussian_filter(white, sigma=(width_pixels, width_pixels, 0), mode="mirror")
    white /= max(float(white.std()), 1e-12)
    return clean + sigma * white
