"""Model cards are untrusted: their weights' digest is checked and malformed ones refused in one line."""

import json
import shutil

import pytest

from denoise import ModelFileError
from denoise.inference import read_model_file


def test_a_card_that_names_other_weights_is_refused(use_tiny_models, tmp_path):
    from denoise.cards import write_card

    folder = tmp_path / "models"
    shutil.copytree(use_tiny_models, folder)
    card_path = folder / "unet-gray.json"
    write_card(card_path, json.loads(card_path.read_text()), folder / "unet-gray.keras")
    assert len(json.loads(card_path.read_text())["sha256"]) == 64
    read_model_file(folder / "unet-gray.keras")  # its own weights: fine
    shutil.copy(folder / "conv-2-gray.keras", folder / "unet-gray.keras")  # other weights under its name
    with pytest.raises(ModelFileError, match="do not match their card"):
        read_model_file(folder / "unet-gray.keras")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not a JSON model card"),
        ("[1, 2]", "must be a JSON object"),
        ('{"channels": "3"}', "'channels'"),
        ('{"training": "recorrupted"}', "'training'"),  # load_model(recorruptions=) reads its objective
    ],
)
def test_a_malformed_card_is_one_clear_error(use_tiny_models, tmp_path, text, message):
    folder = tmp_path / "models"
    shutil.copytree(use_tiny_models, folder)
    (folder / "unet-gray.json").write_text(text)
    with pytest.raises(ModelFileError, match=message):
        read_model_file(folder / "unet-gray.keras")
