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
==============  =========================================  ==================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NOISE_KINDS", "NoiseKind", "add_noise", "parse_noise"]


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
    )
}


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
    kind : {"gaussian", "poisson", "salt_pepper", "speckle"}
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
    if not np.isfinite(level) or level < 0 or (kind == "poisson" and level <= 0):
        raise ValueError(f"{kind} noise level must be {'positive' if kind == 'poisson' else '>= 0'}, got {level}")
    if kind == "salt_pepper" and level > 1:
        raise ValueError(f"salt_pepper level is a fraction of pixels in [0, 1], got {level}")
    rng = np.random.default_rng(seed)
    clean = np.asarray(image, dtype=np.float32)

    if kind == "gaussian":
        noisy = clean + rng.normal(0.0, level / 255.0, clean.shape).astype(np.float32)
    elif kind == "poisson":
        noisy = rng.poisson(np.clip(clean, 0, None) * level).astype(np.float32) / np.float32(level)
    elif kind == "speckle":
        noisy = clean * (1 + rng.normal(0.0, np.sqrt(level), clean.shape).astype(np.float32))
    else:  # salt_pepper: the same pixels are hit in every channel, as on a real sensor
        noisy = clean.copy()
        hit = rng.random(clean.shape[:2]) < level
        salt = rng.random(clean.shape[:2]) < 0.5
        noisy[hit & salt] = 1.0
        noisy[hit & ~salt] = 0.0
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return noisy.astype(np.float32, copy=False)


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
