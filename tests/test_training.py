import json

import numpy as np
import pytest

from denoise.data import NoiseRange, PatchSequence, parse_noise_range
from tests.conftest import train_tiny


def test_tiny_training_lowers_validation_loss_and_writes_card(training_folder, tmp_path):
    card = train_tiny(training_folder, tmp_path / "model", "unet", 1, 8, epochs=4)
    log = json.loads((tmp_path / "checkpoints" / "model.log.json").read_text())
    assert len(log) == 4
    assert log[-1]["val_loss"] < log[0]["val_loss"]
    written = json.loads((tmp_path / "model.json").read_text())
    assert written == card
    assert card["architecture"] == "unet" and card["latent_size"] == 8 and card["channels"] == 1
    assert card["parameters"] > 0 and card["patches_seen"] == 4 * 4 * 8
    assert card["validation_psnr"] == pytest.approx(max(entry["val_psnr"] for entry in log), abs=1e-3)
    assert card["noise"] == ["gaussian:0-55"] and card["backend"] in ("tensorflow", "jax", "torch")
    assert (tmp_path / "model.keras").exists()


def test_training_resumes_after_last_epoch(training_folder, tmp_path):
    train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=1)
    card = train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=2)
    log = json.loads((tmp_path / "checkpoints" / "model.log.json").read_text())
    assert [entry["epoch"] for entry in log] == [1, 2]
    assert card["epochs_run"] == 2 and card["resumed_by"] == ["pytest"]


def test_patch_sequence_gives_fresh_noise_each_epoch():
    images = [np.random.default_rng(0).integers(0, 255, (40, 40, 1), dtype=np.uint8)]
    sequence = PatchSequence(
        images, patch_size=16, batch_size=4, batches_per_epoch=2, noise=[NoiseRange("gaussian", 10, 50)]
    )
    noisy, clean = sequence[0]
    assert noisy.shape == clean.shape == (4, 16, 16, 1)
    np.testing.assert_array_equal(sequence[0][0], noisy)
    sequence.on_epoch_end()
    assert not np.array_equal(sequence[0][0], noisy)


def test_parse_noise_range():
    assert parse_noise_range("gaussian:0-55") == NoiseRange("gaussian", 0, 55)
    assert parse_noise_range("poisson:30") == NoiseRange("poisson", 30, 30)
    for text in ["gaussian", "gaussian:50-10", "blur:1-2", "gaussian:a-b"]:
        with pytest.raises(ValueError):
            parse_noise_range(text)
