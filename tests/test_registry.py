"""The models folder's manifest: families, the default, and what is refused."""

import json

import pytest

from denoise import ModelFileError, load_model
from denoise.registry import (
    ManifestError,
    default_family,
    model_for_noise,
    pretrained_dir,
    quick_family,
    read_manifest,
)
from tests.conftest import tiny_models_with_manifest, write_manifest


def test_a_folder_without_a_manifest_gets_families_from_file_names(use_tiny_models):
    manifest = read_manifest()
    assert manifest.default == "unet" == default_family()
    assert manifest.families["conv-2"].members == {1: "conv-2-gray", 3: "conv-2-color"}
    assert manifest.families["photo"].members == {3: "photo-color"}
    assert manifest.families["unet"].summary == "-"


def test_the_shipped_manifest_puts_the_default_together():
    manifest = read_manifest(pretrained_dir())
    unet = manifest.family("default")
    assert unet.name == "unet" and unet.members == {1: "unet-gray", 3: "unet-color"}
    assert unet.low_noise[1].model == "unet-low-gray" and unet.grey_luminance == 0.75
    assert "unet-low-gray below σ 22" in unet.summary and manifest.families["photo"].members == {3: "photo-color"}


def test_a_family_names_its_quick_family(use_tiny_models, tmp_path, monkeypatch):
    tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, quick="conv-2")
    assert quick_family("unet") == quick_family("default") == "conv-2"
    assert quick_family("conv-2") is None and quick_family("no-such-family") is None
    assert "quick look: conv-2" in read_manifest().families["unet"].summary


def test_photos_go_to_the_photo_family():
    assert model_for_noise(None) == model_for_noise("camera") == "photo"
    assert model_for_noise("gaussian") == "default"


def test_the_cli_lists_families(luminance_models, capsys):
    from denoise.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "unet (default)" in out and "grey model's luminance × 0.75" in out


@pytest.mark.parametrize(
    "change, message",
    [
        ({"grey_luminance": 0}, "needs a weight above 0 and at most 1"),
        ({"grey_luminance": 1.5}, "needs a weight above 0 and at most 1"),
        ({"grey_luminance": "0.7"}, "needs a weight above 0 and at most 1"),
        ({"grey_luminance": True}, "needs a weight above 0 and at most 1"),
        ({"low_noise": {"gray": {"model": "../unet-gray", "below_sigma": 20}}}, "is not a model name"),
        ({"low_noise": {"gray": {"model": "conv-2-gray"}}}, "below_sigma number"),
        ({"low_noise": {"gray": "conv-2-gray"}}, "below_sigma number"),
        ({"low_noise": {"gray": {"model": "missing", "below_sigma": 20}}}, "has no missing.keras"),
        ({"low_noise": {"infrared": {"model": "conv-2-gray", "below_sigma": 20}}}, "must map members"),
        ({"members": {"gray": "unet-gray", "alpha": "unet-color"}}, "'members' must map"),
        ({"members": {}}, "'members' must map"),
        ({"description": 3}, "'description' must be text"),
        ({"quick": "missing"}, "'quick' must name another of its families"),
        ({"quick": "unet"}, "'quick' must name another of its families"),
        ({"quick": "../conv-2"}, "is not a model name"),
    ],
)
def test_bad_manifests_are_refused_with_one_line(use_tiny_models, tmp_path, monkeypatch, change, message):
    tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, **change)
    with pytest.raises(ModelFileError, match=message) as refusal:
        load_model("default")
    assert "\n" not in str(refusal.value)


def test_a_low_noise_model_with_other_channels_is_refused(low_noise_models):
    write_manifest(low_noise_models, low_noise={"gray": {"model": "conv-2-color", "below_sigma": 20}})
    with pytest.raises(ModelFileError, match="takes 3 channels"):
        load_model("default")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not a readable JSON manifest"),
        ("[]", "a JSON object with a 'families' object"),
        ('{"schema_version": 99, "default": "unet", "families": {}}', "schema_version"),
        ('{"schema_version": 1, "default": "missing", "families": {}}', "'default' must name"),
    ],
)
def test_unreadable_manifests_are_refused(use_tiny_models, tmp_path, monkeypatch, text, message):
    folder = tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch)
    (folder / "families.json").write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(folder)
    assert json.loads((use_tiny_models / "unet-gray.json").read_text())  # the models are untouched
