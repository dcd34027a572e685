"""The shipped models: present, documented, and good enough on scikit-image's samples."""

import hashlib
import json

import numpy as np
import pytest

from denoise import add_noise, available_models, load_model, pretrained_dir, psnr
from denoise.registry import read_manifest

CARD_FIELDS = {
    "architecture",
    "latent_size",
    "parameters",
    "training_data",
    "noise",
    "patches_seen",
    "backend",
    "validation_psnr",
    "command",
}


pytestmark = pytest.mark.slow  # every test here runs the shipped weights


def test_every_shipped_model_has_a_complete_card():
    cards = available_models()
    assert cards, f"no models in {pretrained_dir()}"
    for name, card in cards.items():
        assert CARD_FIELDS <= set(card), f"{name} card lacks {CARD_FIELDS - set(card)}"
        assert card["command"].startswith("denoise train")
    for keras_file in pretrained_dir().glob("*.keras"):
        assert keras_file.stem in cards, f"{keras_file.name} has no card"


def test_families_ship_grey_and_colour():
    names = set(available_models())
    latent_sizes = sorted(
        {card["latent_size"] for card in available_models().values() if card["architecture"] == "conv"}
    )
    assert len(latent_sizes) >= 5
    for family in ["unet", "dense", *(f"conv-{size}" for size in latent_sizes)]:
        assert {f"{family}-gray", f"{family}-color"} <= names


def test_shipped_weights_are_small_and_only_what_is_used():
    """Everything under pretrained/, in every folder, is under 48 MB, and every file is a model or its card."""
    files = [path for path in pretrained_dir().rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    assert sum(path.stat().st_size for path in files) < 48e6  # 40 MB before the raw model (6.5 MB)
    assert {path.suffix for path in files if path.name != "__init__.py"} <= {".keras", ".json"}
    assert all(path.parent == pretrained_dir() for path in files)


@pytest.mark.parametrize("sample", ["camera", "astronaut"])
def test_default_reaches_28_db_at_sigma_25(sample, camera, astronaut):
    clean = {"camera": camera, "astronaut": astronaut}[sample]
    noisy = add_noise(clean, "gaussian", 25, seed=0, clip=False)
    assert psnr(clean, load_model("default").denoise(noisy)) >= 28.0


def test_every_model_improves_a_noisy_sample(camera):
    clean = camera[128:384, 128:384]
    noisy = add_noise(clean, "gaussian", 25, seed=0, clip=False)
    for family in read_manifest().families:
        assert psnr(clean, load_model(family).denoise(noisy)) > psnr(clean, noisy) + 1, family


def test_a_wider_bottleneck_keeps_more(astronaut):
    """The conv family's honest bottleneck: the largest latent size beats the smallest."""
    sizes = sorted({card["latent_size"] for card in available_models().values() if card["architecture"] == "conv"})
    clean = astronaut[128:384, 128:384]
    noisy = add_noise(clean, "gaussian", 25, seed=0, clip=False)
    smallest, largest = (psnr(clean, load_model(f"conv-{size}").denoise(noisy)) for size in (sizes[0], sizes[-1]))
    assert largest > smallest + 0.5


def test_every_training_stage_keeps_its_lineage():
    """A model trained from other weights names them in its card, whether or not they still ship.

    Earlier stages are not shipped: each card keeps, newest first, every earlier stage's file,
    sha256, command, patches and validation PSNR. Where a stage's file does ship, its hash matches.
    """
    cards = [json.loads(path.read_text()) for path in pretrained_dir().glob("*.json")]
    staged = [card for card in cards if "initialized_from" in card]
    assert {"unet-gray", "unet-color"} <= {card["name"] for card in staged}
    for card in staged:
        origin = card["initialized_from"]
        assert f"--initial-weights {origin.get('moved_from', origin['file'])}" in card["command"]
        assert card["patches_seen"] > origin["patches_seen"]
        lineage = card["lineage"]
        assert lineage[0]["file"] == origin["file"] and lineage[0]["command"] == origin["command"]
        assert [stage["patches_seen"] for stage in lineage] == sorted(
            (stage["patches_seen"] for stage in lineage), reverse=True
        )
        for stage in lineage:
            assert len(stage["sha256"]) == 64 and stage["command"].startswith("denoise train")
            shipped = pretrained_dir().parent / stage["file"]
            if shipped.exists() and shipped.stem != card["name"]:  # a stage's own path now holds its successor
                assert hashlib.sha256(shipped.read_bytes()).hexdigest() == stage["sha256"]


def test_tile_seams_of_the_default_model_are_invisible(camera):
    """Tiles keep the U-Net's receptive field (100 pixels, measured) as context: no seams at all."""
    clean = np.tile(camera, (3, 3))[:1100, :1100]
    noisy = add_noise(clean, "gaussian", 25, seed=0)
    whole = load_model("default", tile_size=2048).denoise(noisy)
    tiled = load_model("default", tile_size=512).denoise(noisy)
    change = np.abs(whole - tiled)
    assert change.max() < 1e-4
    assert psnr(clean, tiled) == pytest.approx(psnr(clean, whole), abs=0.01)


def test_the_default_grey_model_hands_low_noise_to_its_low_noise_model(camera):
    """The manifest names unet-low-gray for low noise; on a low-noise sample it does better."""
    cards = available_models()
    assert read_manifest().family("default").low_noise[1].model == "unet-low-gray"
    assert cards["unet-low-gray"]["initialized_from"]["file"] == "pretrained/unet-gray.keras"
    clean = camera[128:384, 128:384]
    low, high = (add_noise(clean, "gaussian", sigma, seed=0, clip=False) for sigma in (10, 40))
    family = load_model("default")
    assert family.model_name(low) == "unet-low-gray" and family.model_name(high) == "unet-gray"
    main_model_alone = load_model(pretrained_dir() / "unet-gray.keras")
    assert psnr(clean, family.denoise(low)) > psnr(clean, main_model_alone.denoise(low))
    np.testing.assert_array_equal(family.denoise(high), main_model_alone.denoise(high))


def test_the_default_colour_model_takes_the_grey_models_luminance(astronaut):
    """The manifest asks for the grey model's luminance in colour results; on a colour sample that does better."""
    assert read_manifest().family("default").grey_luminance == 0.75
    clean = astronaut[128:320, 128:320]
    noisy = add_noise(clean, "gaussian", 25, seed=0, clip=False)
    family = load_model("default")
    assert family.model_name(noisy) == "unet-color + unet-low-gray luminance"  # its noise is 25 / √3
    colour_model_alone = load_model("unet-color")
    assert psnr(clean, family.denoise(noisy)) > psnr(clean, colour_model_alone.denoise(noisy)) + 0.1


def test_the_photo_model_beats_the_default_on_camera_noise(astronaut):
    """Real-looking camera noise is what the photo model was trained for; the default only saw white noise."""
    clean = astronaut[96:352, 96:352]
    noisy = add_noise(clean, "camera", 25600, seed=3)
    photo, default = load_model("photo"), load_model("default")
    assert psnr(clean, photo.denoise(noisy)) > psnr(clean, default.denoise(noisy)) + 1
    assert psnr(clean, photo.denoise(noisy)) > psnr(clean, noisy) + 1.5


def test_the_photo_models_strength_removes_more_as_it_grows(astronaut):
    noisy = add_noise(astronaut[96:224, 96:224], "camera", 12800, seed=4)
    photo = load_model("photo")
    removed = [np.abs(photo.denoise(noisy, strength) - noisy).mean() for strength in (0, 0.5, 1, 1.5, 2)]
    assert removed == sorted(removed) and removed[0] == 0 and removed[-1] > removed[2]
