"""How much of the noise a denoiser removes: one strength control that wraps any denoiser.

A blind denoiser decides for itself how noisy an image is. On a real photo a user may want it to
leave more grain (detail that looks like noise) or to smooth harder. ``strength`` sets how much
of what the denoiser takes for noise is removed:

* ``0`` returns the input untouched; between 0 and 1 the result is the input less that share of
  the noise it found, ``image - strength * (image - denoise(image))``: one model run;
* ``1`` is the denoiser's own result;
* above 1 the denoiser runs again on its own result, which removes what noise it left, and the
  result moves that far towards the second run: ``d + (strength - 1) * (denoise(d) - d)`` with
  ``d = denoise(image)``. Two model runs; at the maximum, 2, it is the second run.

More strength removes more: the result moves further from the input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MAX_STRENGTH", "apply_strength"]

#: The strongest setting: the denoiser's second run on its own result.
MAX_STRENGTH = 2.0


def apply_strength(denoise: Callable[[np.ndarray], np.ndarray], image: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Denoise ``image`` with ``denoise`` at ``strength`` (see the module docstring).

    Parameters
    ----------
    denoise : callable
        Any image-to-image denoiser: a :class:`denoise.Denoiser`'s ``denoise``, a classical
        method, a wrapper of either. Its result is blended in place: it should be a new array
        (one the input shares or a read-only one is copied first).
    image : ndarray
        The noisy image, float in [0, 1].
    strength : float, default 1.0
        From 0 (the input) through 1 (the denoiser's result) to :data:`MAX_STRENGTH`.

    Returns
    -------
    ndarray
        float32, the input's shape, clipped to [0, 1].

    Raises
    ------
    ValueError
        If ``strength`` is outside [0, :data:`MAX_STRENGTH`].

    """
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ValueError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    image = np.asarray(image, np.float32)
    if strength == 0:
        return np.clip(image, 0.0, 1.0)
    denoised = np.asarray(denoise(image), np.float32)
    if strength == 1:
        # A clipped copy only where needed: a large image's fresh copy costs more than the check.
        inside = denoised is not image and denoised.min() >= 0.0 and denoised.max() <= 1.0
        return denoised if inside else np.clip(denoised, 0.0, 1.0)
    # The blend is worked in the denoiser's result: a 60-megapixel render's temporaries would cost
    # 0.7 GB each.
    if strength < 1:
        start, result, share = image, _own(denoised, image), strength
    else:
        start, result, share = denoised, _own(np.asarray(denoise(denoised), np.float32), denoised), strength - 1
    np.subtract(result, start, out=result)
    result *= np.float32(share)
    result += start
    return np.clip(result, 0.0, 1.0, out=result)


def _own(result: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Return ``result`` where it can be overwritten (not ``start``, nor part of it), else a copy."""
    return result if result.flags.writeable and not np.may_share_memory(result, start) else result.copy()
