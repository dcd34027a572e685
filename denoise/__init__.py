"""denoise: image denoising with Keras autoencoders.

The public API, shared by the command line, the Streamlit app and the benchmarks:

>>> import denoise
>>> denoiser = denoise.load_model("default")               # doctest: +SKIP
>>> clean = denoise.read_image("photo.jpg").pixels           # doctest: +SKIP
>>> noisy = denoise.add_noise(clean, "gaussian", 25, seed=0)  # doctest: +SKIP
>>> restored = denoiser.denoise(noisy)                      # doctest: +SKIP

The names below are imported when first used, so that ``import denoise`` (and the command
line's ``--help``) does not load TensorFlow, and the command line can load it quietly.
"""

from __future__ import annotations

import importlib

#: Where each public name lives.
_EXPORTS = {
    "Denoised": "denoise.inference",
    "Denoiser": "denoise.inference",
    "ImageReadError": "denoise.image_io",
    "LoadedImage": "denoise.image_io",
    "ModelFileError": "denoise.inference",
    "NOISE_KINDS": "denoise.noise",
    "ORIENTATION_COUNTS": "denoise.inference",
    "PHOTO_MODEL": "denoise.registry",
    "PRECISION_CHOICES": "denoise.precision",
    "RAW_SUFFIXES": "denoise.raw",
    "RawImage": "denoise.raw",
    "TrainingConfig": "denoise.training",
    "add_noise": "denoise.noise",
    "available_models": "denoise.registry",
    "build_model": "denoise.models",
    "device_name": "denoise.precision",
    "encode_png": "denoise.image_io",
    "is_raw_file": "denoise.raw",
    "load_model": "denoise.inference",
    "load_raw_model": "denoise.raw_model",
    "model_for_noise": "denoise.registry",
    "parse_noise": "denoise.noise",
    "pretrained_dir": "denoise.registry",
    "psnr": "denoise.metrics",
    "read_image": "denoise.image_io",
    "read_raw": "denoise.raw",
    "ssim": "denoise.metrics",
    "train": "denoise.training",
    "write_png": "denoise.image_io",
}

__all__ = [
    "NOISE_KINDS",
    "ORIENTATION_COUNTS",
    "PHOTO_MODEL",
    "PRECISION_CHOICES",
    "RAW_SUFFIXES",
    "Denoised",
    "Denoiser",
    "ImageReadError",
    "LoadedImage",
    "ModelFileError",
    "RawImage",
    "TrainingConfig",
    "add_noise",
    "available_models",
    "build_model",
    "device_name",
    "encode_png",
    "is_raw_file",
    "load_model",
    "load_raw_model",
    "model_for_noise",
    "parse_noise",
    "pretrained_dir",
    "psnr",
    "read_image",
    "read_raw",
    "ssim",
    "train",
    "write_png",
]


def __getattr__(name: str) -> object:
    """Import a public name, or a submodule (``denoise.strength``), on first use."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif not name.startswith("_"):
        try:
            value = importlib.import_module(f"denoise.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'denoise' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'denoise' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
