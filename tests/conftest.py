"""Shared fixtures: small images from scikit-image and tiny models trained on them."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Models trained on the app's Train page go here, not to the user's own folder.
os.environ.setdefault("DENOISE_USER_MODELS", tempfile.mkdtemp(prefix="denoise-user-models-"))
# The app sets up its models for small photos only: a 12-megapixel photo's tiles are the default.
os.environ.setdefault("DENOISE_APP_WARM_UP", "200x300")
# Runtime conversions (ONNX exports) go to a folder of the test session, not the user's cache.
os.environ["DENOISE_CACHE"] = tempfile.mkdtemp(prefix="denoise-cache-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from skimage import data as sample_images  # noqa: E402
from skimage.transform import resize  # noqa: E402

import denoise.precision  # noqa: E402
from denoise.image_io import write_png  # noqa: E402
from denoise.training import TrainingConfig, train  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def cpu_without_bfloat16():
    """Make ``precision="auto"`` mean float32 whatever CPU the tests run on.

    The tests that check what "auto" picks set the flags themselves (``cpu_flags``).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(denoise.precision, "_cpu_flags", lambda: set())
        yield


@pytest.fixture
def cpu_flags(monkeypatch: pytest.MonkeyPatch):
    """Return a function that makes the CPU seem to have the given flags for this test."""

    def set_flags(*flags: str) -> None:
        monkeypatch.setattr(denoise.precision, "_cpu_flags", lambda: set(flags))

    return set_flags


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """scikit-image's 512 x 512 grey 'camera' as float32 in [0, 1]."""
    return (sample_images.camera() / 255).astype(np.float32)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's 512 x 512 RGB 'astronaut' as float32 in [0, 1]."""
    return (sample_images.astronaut() / 255).astype(np.float32)


@pytest.fixture(scope="session")
def training_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight small colour PNGs cut from scikit-image samples."""
    folder = tmp_path_factory.mktemp("training-images")
    sources = [sample_images.astronaut(), sample_images.chelsea(), sample_images.coffee(), sample_images.rocket()]
    for index, source in enumerate(sources):
        small = resize(source, (96, 128), anti_aliasing=True).astype(np.float32)
        write_png(folder / f"image-{index}-a.png", small)
        write_png(folder / f"image-{index}-b.png", small[:, ::-1])
    return folder


def train_tiny(
    folder: Path, output: Path, architecture: str, channels: int, latent: int, epochs: int = 2, **overrides
) -> dict:
    """Train a very small model for a few batches (seconds on a CPU); ``overrides`` replace settings."""
    settings = dict(
        data=str(folder),
        output=str(output),
        architecture=architecture,
        channels=channels,
        latent=latent,
        width=8,
        patch_size=32,
        batch_size=8,
        batches_per_epoch=4,
        epochs=epochs,
        learning_rate=3e-3,
        validation_fraction=0.25,
        command="pytest",
    )
    return train(TrainingConfig(**(settings | overrides)))


@pytest.fixture(scope="session")
def tiny_models(training_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder laid out like pretrained/, with tiny grey and colour models."""
    folder = tmp_path_factory.mktemp("models")
    for channels, suffix in ((1, "gray"), (3, "color")):
        train_tiny(training_folder, folder / f"unet-{suffix}", "unet", channels, 8)
        train_tiny(training_folder, folder / f"conv-2-{suffix}", "conv", channels, 2)
    train_tiny(training_folder, folder / "dense-gray", "dense", 1, 16)
    # The photo model is a colour U-Net; the tiny one is the tiny colour U-Net under its name.
    shutil.copy(folder / "unet-color.keras", folder / "photo-color.keras")
    card = json.loads((folder / "unet-color.json").read_text())
    (folder / "photo-color.json").write_text(json.dumps(card | {"name": "photo-color"}))
    return folder


@pytest.fixture
def use_tiny_models(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the model registry at the tiny models."""
    monkeypatch.setenv("DENOISE_MODELS", str(tiny_models))
    return tiny_models


def set_card_field(folder: Path, model: str, field: str, value: object) -> None:
    """Set ``field`` in the card of ``model`` in ``folder``."""
    card_path = folder / f"{model}.json"
    card_path.write_text(json.dumps(json.loads(card_path.read_text()) | {field: value}))


def write_manifest(folder: Path, **unet: object) -> None:
    """Write a manifest to ``folder`` whose default family, ``unet``, has the fields ``unet`` gives.

    The other families are the folder's ``NAME-gray`` / ``NAME-color`` pairs, as inferred.
    """
    from denoise.registry import read_manifest

    inferred = read_manifest(folder)
    families = {
        name: {"members": {{1: "gray", 3: "color"}[channels]: model for channels, model in family.members.items()}}
        for name, family in inferred.families.items()
    }
    families["unet"] |= unet
    document = {"schema_version": 1, "default": "unet", "families": families}
    (folder / "families.json").write_text(json.dumps(document))


def tiny_models_with_manifest(tiny_models: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, **unet: object) -> Path:
    """Copy the tiny models to ``folder``, give them a manifest (:func:`write_manifest`) and use them."""
    shutil.copytree(tiny_models, folder)
    write_manifest(folder, **unet)
    monkeypatch.setenv("DENOISE_MODELS", str(folder))
    return folder


@pytest.fixture
def low_noise_models(use_tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny models, with conv-2-gray as unet-gray's model for images below sigma 20."""
    link = {"gray": {"model": "conv-2-gray", "below_sigma": 20}}
    return tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, low_noise=link)


@pytest.fixture
def luminance_models(use_tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny models, with the default family taking 0.75 of colour images' luminance from its grey model."""
    return tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, grey_luminance=0.75)
