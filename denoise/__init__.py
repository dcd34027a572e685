"""denoise: image denoising with Keras autoencoders.

The public API, shared by the command line, the Streamlit app and the benchmarks:

>>> import denoise
>>> denoiser = denoise.load_model("default")               # doctest: +SKIP
>>> clean = denoise.read_image("photo.jpg").pixels           # doctest: +SKIP
>>> noisy = denoise.add_noise(clean, "gaussian", 25, seed=0)  # doctest: +SKIP
>>> restored = denoiser.denoise(noisy)                      # doctest: +SKIP
"""

from denoise.image_io import ImageReadError, LoadedImage, encode_png, read_image, write_png
from denoise.inference import (
    DEFAULT_MODEL,
    ORIENTATION_COUNTS,
    PHOTO_MODEL,
    PRECISION_CHOICES,
    Denoised,
    Denoiser,
    ModelFileError,
    available_models,
    device_name,
    load_model,
    model_for_noise,
    pretrained_dir,
)
from denoise.metrics import psnr, ssim
from denoise.models import build_model
from denoise.noise import NOISE_KINDS, add_noise, parse_noise
from denoise.training import TrainingConfig, train

__all__ = [
    "DEFAULT_MODEL",
    "NOISE_KINDS",
    "ORIENTATION_COUNTS",
    "PHOTO_MODEL",
    "PRECISION_CHOICES",
    "Denoised",
    "Denoiser",
    "ImageReadError",
    "LoadedImage",
    "ModelFileError",
    "TrainingConfig",
    "add_noise",
    "available_models",
    "build_model",
    "device_name",
    "encode_png",
    "load_model",
    "model_for_noise",
    "parse_noise",
    "pretrained_dir",
    "psnr",
    "read_image",
    "ssim",
    "train",
    "write_png",
]
