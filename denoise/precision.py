"""Which device runs the models, and which arithmetic they run in there.

A :class:`denoise.Denoiser` takes a precision: ``"auto"`` or one of
:data:`denoise.models.PRECISIONS`. ``"auto"`` means bfloat16 where this machine runs it
natively (:func:`native_bfloat16`), float32 elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras

from denoise.models import PRECISIONS

__all__ = ["DEFAULT_PRECISION", "PRECISION_CHOICES", "device_name", "native_bfloat16", "resolve_precision"]

#: Precisions a Denoiser runs in: ``"auto"`` (:func:`resolve_precision`) or one of
#: :data:`~denoise.models.PRECISIONS`.
PRECISION_CHOICES = ("auto", *PRECISIONS)
#: The precision a Denoiser runs in unless told otherwise; labels do not name it.
DEFAULT_PRECISION = "auto"
#: Linux CPU flags of the bfloat16 instructions that TensorFlow's CPU kernels (oneDNN) use.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def device_name() -> str:
    """Name of the device that runs the models: a GPU's name, or ``"CPU"``."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "CPU" if device.platform == "cpu" else f"GPU ({device.device_kind})"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU ({details.get('device_name', gpus[0].name)})"
    return "CPU"


def _cpu_flags() -> set[str]:
    """Return the CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def native_bfloat16() -> bool:
    """Whether the models run faster in bfloat16 here: TensorFlow on a CPU with bfloat16 instructions.

    Measured on an AMD EPYC with AVX-512 BF16 (``docs/benchmarks.md``): TensorFlow runs the
    U-Nets about twice as fast in bfloat16, JAX on the same CPU about a tenth slower. Without
    those instructions bfloat16 is emulated. GPUs count as not native.
    """
    if keras.backend.backend() != "tensorflow" or device_name() != "CPU":
        return False
    return bool(BFLOAT16_CPU_FLAGS & _cpu_flags())


def resolve_precision(precision: str) -> str:
    """Return the arithmetic that ``precision`` means on this machine.

    ``"auto"`` means ``"mixed"`` where bfloat16 is native (:func:`native_bfloat16`) and
    ``"float32"`` elsewhere; the others mean themselves (see
    :func:`denoise.models.with_precision`).

    Raises
    ------
    ValueError
        If ``precision`` is not one of :data:`PRECISION_CHOICES`.

    """
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}")
    if precision == "auto":
        return "mixed" if native_bfloat16() else "float32"
    return precision
