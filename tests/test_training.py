import dataclasses
import json

import keras
import numpy as np
import pytest

from denoise.cards import weights_digest
from denoise.data import WEIGHT_NOISE_FLOOR, NoiseRange, PatchSequence, noise_weights, parse_noise_range
from denoise.training import LuminanceWeightedError, TrainingConfig, learning_rate_schedule
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


def test_same_seed_trains_the_same_weights(training_folder, tmp_path):
    def weights(name: str, seed: int, seed_before: int) -> list[np.ndarray]:
        keras.utils.set_random_seed(seed_before)  # stands for whatever ran before: it must not matter
        train_tiny(training_folder, tmp_path / name, "unet", 1, 8, epochs=1, seed=seed)
        return keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True).get_weights()

    first, again, other = weights("first", 3, 100), weights("again", 3, 200), weights("other", 4, 100)
    for one, two in zip(first, again, strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(one, two) for one, two in zip(first, other, strict=True))


def test_training_resumes_after_last_epoch(training_folder, tmp_path):
    train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=2)
    log_path = tmp_path / "checkpoints" / "model.log.json"
    log_path.write_text(json.dumps(json.loads(log_path.read_text())[:1]))  # as if stopped after epoch 1
    card = train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=2)
    log = json.loads(log_path.read_text())
    assert [entry["epoch"] for entry in log] == [1, 2]
    assert card["epochs_run"] == 2 and card["resumed_by"] == ["pytest"]


def test_resuming_with_another_number_of_epochs_is_refused(training_folder, tmp_path):
    """The checkpoint's learning-rate schedule ends with its own run: more epochs would run at its floor."""
    train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=1)
    with pytest.raises(ValueError, match="run of 1 epochs; resume it with --epochs 1"):
        train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=3)


def test_second_stage_starts_from_the_first_stages_weights(training_folder, tmp_path):
    first = train_tiny(training_folder, tmp_path / "first", "unet", 1, 8, epochs=2)
    # A learning rate too small to move the weights: the second stage's model must equal the first's.
    second = train_tiny(
        training_folder,
        tmp_path / "second",
        "unet",
        1,
        8,
        epochs=1,
        learning_rate=1e-9,
        initial_weights=str(tmp_path / "first.keras"),
    )
    image = np.random.default_rng(1).random((1, 32, 32, 1), dtype=np.float32)
    outputs = [keras.saving.load_model(tmp_path / f"{name}.keras")(image) for name in ("first", "second")]
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, outputs), atol=1e-5)
    assert second["initialized_from"]["file"] == str(tmp_path / "first.keras")
    assert second["initialized_from"]["patches_seen"] == first["patches_seen"] == 2 * 4 * 8
    assert second["patches_seen"] == first["patches_seen"] + 4 * 8
    assert second["validation_psnr"] == pytest.approx(first["validation_psnr"], abs=0.05)
    assert second["initialized_from"]["sha256"] == weights_digest(tmp_path / "first.keras")
    assert second["lineage"] == [second["initialized_from"]]
    # A third stage keeps both earlier ones, newest first.
    third = train_tiny(
        training_folder, tmp_path / "third", "unet", 1, 8, epochs=1, initial_weights=str(tmp_path / "second.keras")
    )
    assert [stage["file"] for stage in third["lineage"]] == [
        str(tmp_path / "second.keras"),
        str(tmp_path / "first.keras"),
    ]
    assert [stage["patches_seen"] for stage in third["lineage"]] == [second["patches_seen"], first["patches_seen"]]


def test_a_second_stage_that_only_gets_worse_keeps_its_starting_weights(training_folder, tmp_path):
    first = train_tiny(training_folder, tmp_path / "first", "unet", 1, 8, epochs=2)
    # A learning rate that wrecks the weights: no epoch beats the start, so the start is kept.
    second = train_tiny(
        training_folder,
        tmp_path / "second",
        "unet",
        1,
        8,
        epochs=2,
        learning_rate=50.0,
        initial_weights=str(tmp_path / "first.keras"),
    )
    log = json.loads((tmp_path / "checkpoints" / "second.log.json").read_text())
    assert not any(entry["val_psnr"] > second["references"]["start_psnr"] for entry in log)  # worse, or NaN
    assert second["best_epoch"] == 0 and second["validation_psnr"] == second["references"]["start_psnr"]
    image = np.random.default_rng(1).random((1, 32, 32, 1), dtype=np.float32)
    outputs = [keras.saving.load_model(tmp_path / f"{name}.keras")(image) for name in ("first", "second")]
    np.testing.assert_allclose(*map(keras.ops.convert_to_numpy, outputs), atol=1e-6)
    # Both runs measured their references on the same validation patches.
    assert first["references"]["input_psnr"] == second["references"]["input_psnr"]
    assert second["references"]["start_psnr"] == pytest.approx(first["validation_psnr"], abs=1e-3)


def test_more_bottom_blocks_start_as_identities(training_folder, tmp_path):
    first = train_tiny(training_folder, tmp_path / "first", "unet", 1, 8, epochs=1, bottom_blocks=2)
    grown = train_tiny(
        training_folder,
        tmp_path / "grown",
        "unet",
        1,
        8,
        epochs=1,
        learning_rate=1e-9,
        bottom_blocks=4,
        initial_weights=str(tmp_path / "first.keras"),
    )
    models = [keras.saving.load_model(tmp_path / f"{name}.keras") for name in ("first", "grown")]
    assert [first["bottom_blocks"], grown["bottom_blocks"]] == [2, 4]
    assert models[1].count_params() > models[0].count_params()
    image = np.random.default_rng(1).random((1, 32, 32, 1), dtype=np.float32)
    outputs = [keras.ops.convert_to_numpy(model(image)) for model in models]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)


@pytest.mark.parametrize(
    ("initial", "change", "message"),
    [
        ("first.keras", {"latent": 16}, "do not fit"),  # wider than the file (narrower prunes it)
        ("first.keras", {"channels": 3}, "do not fit"),
        ("first.keras", {"bottom_blocks": 1}, "do not fit"),  # fewer blocks than the file
        ("first.json", {}, "not a Keras model file"),
        ("none.keras", {}, "not found"),
    ],
)
def test_second_stage_refuses_weights_that_do_not_fit(training_folder, tmp_path, initial, change, message):
    train_tiny(training_folder, tmp_path / "first", "unet", 1, 8, epochs=1)
    settings = {"channels": 1, "latent": 8} | change
    channels, latent = settings.pop("channels"), settings.pop("latent")
    with pytest.raises(ValueError, match=message):
        train_tiny(
            training_folder,
            tmp_path / "second",
            "unet",
            channels,
            latent,
            epochs=1,
            initial_weights=str(tmp_path / initial),
            **settings,
        )
    assert not (tmp_path / "second.keras").exists()


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


def test_second_stage_refuses_a_corrupt_model_file(training_folder, tmp_path):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(ValueError, match="corrupt.keras"):
        train_tiny(training_folder, tmp_path / "second", "unet", 1, 8, epochs=1, initial_weights=str(corrupt))


def test_noise_weights_are_inverse_to_the_measured_noise_and_average_one():
    clean = np.full((4, 16, 16, 3), 0.5, np.float32)
    offsets = np.array([0.0, 2 / 255, 20 / 255, 40 / 255], np.float32).reshape(4, 1, 1, 1)
    signs = np.where(np.indices((16, 16, 3)).sum(axis=0) % 2 == 0, 1, -1).astype(np.float32)
    noisy = clean + offsets * signs  # root mean square noise = offset
    weights = noise_weights(noisy, clean)
    assert weights.shape == (4,) and weights.dtype == np.float32
    assert weights.mean() == pytest.approx(1.0)
    assert weights[2] / weights[3] == pytest.approx(2.0, rel=1e-4)
    # Below the floor (5/255), patches share the largest weight.
    assert weights[0] == pytest.approx(weights[1])
    assert weights[0] / weights[2] == pytest.approx((20 / 255) / WEIGHT_NOISE_FLOOR, rel=1e-4)


@pytest.mark.parametrize(("flatten", "weight_shape"), [(False, (4, 1, 1)), (True, (4,))])
def test_patch_sequence_weights_broadcast_over_the_squared_error(flatten, weight_shape):
    images = [np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)]
    options = {"patch_size": 8, "batch_size": 4, "batches_per_epoch": 1, "noise": [NoiseRange("gaussian", 0, 55)]}
    noisy, clean, weights = PatchSequence(images, flatten=flatten, weight_by_noise=True, **options)[0]
    unweighted_noisy, _ = PatchSequence(images, flatten=flatten, **options)[0]
    np.testing.assert_array_equal(noisy, unweighted_noisy)  # weighting changes the loss, not the data
    assert weights.shape == weight_shape
    error = keras.ops.convert_to_numpy(keras.losses.mean_squared_error(clean, noisy))
    assert (error * weights).shape == error.shape
    np.testing.assert_allclose(weights.reshape(-1), noise_weights(noisy, clean))


def test_schedule_warms_up_linearly_then_decays():
    settings = {"data": "", "output": "", "epochs": 10, "batches_per_epoch": 100, "learning_rate": 1e-3}
    schedule = learning_rate_schedule(TrainingConfig(**settings, warmup_epochs=2))
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 100, 200, 600, 1000)]
    assert rates[0] == 0.0
    assert rates[1] == pytest.approx(5e-4)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[2] > rates[3] > rates[4] == pytest.approx(2e-5)
    without = learning_rate_schedule(TrainingConfig(**settings))
    assert float(keras.ops.convert_to_numpy(without(0))) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="warm-up"):
        learning_rate_schedule(TrainingConfig(data="", output="", epochs=2, warmup_epochs=2))


@pytest.mark.parametrize(("architecture", "latent"), [("unet", 8), ("dense", 16)])
def test_training_weighted_by_noise_with_warmup(training_folder, tmp_path, architecture, latent):
    card = train_tiny(
        training_folder, tmp_path / "model", architecture, 1, latent, epochs=4, weight_by_noise=True, warmup_epochs=1
    )
    log = json.loads((tmp_path / "checkpoints" / "model.log.json").read_text())
    assert np.isfinite([entry["loss"] for entry in log]).all()
    # The weighted loss favours low noise levels, which move the mean PSNR more than the mean squared error.
    assert log[-1]["val_psnr"] > log[0]["val_psnr"]
    assert card["training"]["weight_by_noise"] is True and card["training"]["warmup_epochs"] == 1


def test_data_threads_do_not_change_the_batches_of_each_epoch():
    class Recorded(PatchSequence):
        def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
            calls.append((self.epoch, index))
            return super().__getitem__(index)

    images = [np.random.default_rng(0).integers(0, 255, (40, 40, 1), dtype=np.uint8)]
    options = dict(patch_size=16, batch_size=2, batches_per_epoch=4, noise=[NoiseRange("gaussian", 10, 50)])
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(optimizer="adam", loss="mse")
    epochs_seen = {}
    for workers in (1, 3):
        calls: list[tuple[int, int]] = []
        model.fit(Recorded(images, workers=workers, **options), epochs=3, verbose=0)
        # Keras may look at a batch or a whole epoch first; then each training epoch asks for every batch once.
        batches_by_epoch = {epoch: sorted(index for seen, index in calls if seen == epoch) for epoch, _ in calls}
        epochs_seen[workers] = list(batches_by_epoch.items())[-3:]
    assert epochs_seen[3] == epochs_seen[1]
    assert [batches for _, batches in epochs_seen[1]] == [[0, 1, 2, 3]] * 3


def test_luminance_weighted_error_weights_only_the_errors_channel_mean():
    clean = np.zeros((2, 4, 4, 3), np.float32)
    shared = clean + 0.1  # the same error in every channel: all luminance
    chroma = clean + np.array([0.1, -0.2, 0.1], np.float32)  # sums to zero over the channels
    mixed = clean + np.array([0.3, -0.1, 0.1], np.float32)
    mse = keras.losses.MeanSquaredError()
    for weight, estimate, expected in [(1, mixed, mse(clean, mixed)), (0, shared, 0), (0, chroma, mse(clean, chroma))]:
        loss = LuminanceWeightedError(weight)(clean, estimate)
        assert float(loss) == pytest.approx(float(expected), abs=1e-7)
    assert float(LuminanceWeightedError(0.5)(clean, shared)) == pytest.approx(0.5 * 0.01)


def test_training_with_a_luminance_loss_weight_resumes(training_folder, tmp_path):
    train_tiny(training_folder, tmp_path / "model", "unet", 3, 8, epochs=2, luminance_loss_weight=0.25)
    log_path = tmp_path / "checkpoints" / "model.log.json"
    log_path.write_text(json.dumps(json.loads(log_path.read_text())[:1]))  # as if stopped after epoch 1
    card = train_tiny(training_folder, tmp_path / "model", "unet", 3, 8, epochs=2, luminance_loss_weight=0.25)
    log = json.loads(log_path.read_text())
    assert [entry["epoch"] for entry in log] == [1, 2] and np.isfinite([entry["loss"] for entry in log]).all()
    assert card["training"]["luminance_loss_weight"] == 0.25


@pytest.fixture
def pairs_folder(training_folder, tmp_path):
    """Real-looking pairs: each training image with camera noise, under noisy/ and clean/."""
    from denoise import add_noise, read_image, write_png

    for kind in ("noisy", "clean"):
        (tmp_path / "pairs" / kind).mkdir(parents=True)
    for index, path in enumerate(sorted(training_folder.glob("*.png"))[:3]):
        clean = read_image(path).pixels
        write_png(tmp_path / "pairs" / "clean" / path.name, clean)
        write_png(tmp_path / "pairs" / "noisy" / path.name, add_noise(clean, "camera", 12800, seed=index))
    return tmp_path / "pairs"


def test_pairs_batches_mix_real_pairs_cut_alike_with_synthetic_noise(pairs_folder):
    from denoise.data import load_pairs

    pairs = load_pairs(pairs_folder, 3)
    assert len(pairs) == 3 and pairs[0].shape[2] == 6 and pairs[0].dtype == np.uint8
    clean_only = [pair[..., 3:] for pair in pairs]
    sequence = PatchSequence(
        clean_only,
        patch_size=32,
        batch_size=8,
        batches_per_epoch=2,
        noise=[NoiseRange("gaussian", 0, 0)],  # no synthetic noise: real pairs are the only noisy ones
        pairs=pairs,
        pairs_fraction=0.5,
    )
    noisy, clean = sequence[0]
    assert noisy.shape == clean.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(noisy[:4], clean[:4])
    differences = np.abs(noisy[4:] - clean[4:]).mean(axis=(1, 2, 3))
    # Each real patch was cut, flipped and turned alike in both: only the noise differs, a little.
    assert np.all((differences > 0) & (differences < 0.1))


def test_pairs_with_a_missing_clean_image_are_refused(pairs_folder):
    from denoise.data import load_pairs

    next((pairs_folder / "clean").iterdir()).unlink()
    with pytest.raises(ValueError, match="has no clean image"):
        load_pairs(pairs_folder, 3)


def test_training_on_pairs_records_them_in_the_card(training_folder, pairs_folder, tmp_path):
    card = train_tiny(training_folder, tmp_path / "model", "unet", 3, 8, epochs=1, pairs=str(pairs_folder))
    assert card["pairs"] == {"folder": str(pairs_folder), "fraction": 0.5}


def test_a_teacher_gives_the_synthetic_targets_and_the_real_pairs_keep_theirs(pairs_folder):
    from denoise.data import load_pairs

    pairs = load_pairs(pairs_folder, 3)
    options = dict(patch_size=32, batch_size=8, batches_per_epoch=1, noise=[NoiseRange("gaussian", 25, 25)])
    clean_only = [pair[..., 3:] for pair in pairs]
    taught = PatchSequence(clean_only, pairs=pairs, teacher=lambda noisy: noisy * 0.5, **options)
    plain = PatchSequence(clean_only, pairs=pairs, **options)
    (noisy, targets), (same_noisy, clean) = taught[0], plain[0]
    np.testing.assert_array_equal(noisy, same_noisy)  # the same patches and noise
    np.testing.assert_allclose(targets[:4], noisy[:4] * 0.5)  # the teacher's output on synthetic noise
    np.testing.assert_array_equal(targets[4:], clean[4:])  # the real pairs' clean images


def test_distilling_from_a_teacher_learns_it_and_records_it(training_folder, tmp_path):
    from denoise.cards import weights_digest

    teacher_card = train_tiny(training_folder, tmp_path / "teacher", "unet", 1, 8, epochs=3)
    card = train_tiny(
        training_folder, tmp_path / "student", "unet", 1, 4, epochs=3, teacher=str(tmp_path / "teacher.keras")
    )
    assert card["teacher"] == {
        "file": str(tmp_path / "teacher.keras"),
        "sha256": weights_digest(tmp_path / "teacher.keras"),
    }
    log = json.loads((tmp_path / "checkpoints" / "student.log.json").read_text())
    assert log[-1]["loss"] < log[0]["loss"] and teacher_card["validation_psnr"] > 0


def test_a_narrower_unet_starts_from_the_wider_ones_heaviest_channels(training_folder, tmp_path):
    from denoise.models import build_unet
    from denoise.training import _prune_unet

    keras.utils.set_random_seed(0)
    wide, narrow = build_unet(1, 8, width=4, bottom_blocks=1), build_unet(1, 4, width=2, bottom_blocks=1)
    kernel, bias = wide.get_layer("down_1").get_weights()
    kernel[..., [1, 3]] *= 100  # level-1 channels 1 and 3 weigh most
    wide.get_layer("down_1").set_weights([kernel, bias])
    _prune_unet(wide, narrow)
    np.testing.assert_array_equal(narrow.get_layer("down_1").get_weights()[0], kernel[..., [1, 3]])
    np.testing.assert_array_equal(narrow.get_layer("down_1").get_weights()[1], bias[[1, 3]])
    np.testing.assert_array_equal(
        narrow.get_layer("noise").get_weights()[0], wide.get_layer("noise").get_weights()[0][:, :, :, [1, 3]]
    )
    with pytest.raises(ValueError, match="wider than the source"):
        _prune_unet(narrow, wide)
    # Through training: --initial-weights of a wider U-Net.
    train_tiny(training_folder, tmp_path / "wide", "unet", 1, 8, epochs=1)
    card = train_tiny(
        training_folder,
        tmp_path / "narrow",
        "unet",
        1,
        4,
        epochs=1,
        width=4,
        initial_weights=str(tmp_path / "wide.keras"),
    )
    assert card["initialized_from"]["file"] == str(tmp_path / "wide.keras") and card["width"] == 4


def test_identity_start_makes_a_new_unet_pass_its_input_through(tmp_path):
    from denoise.training import _build

    config = TrainingConfig(data="", output=str(tmp_path / "m"), architecture="unet", channels=3, identity_start=True)
    image = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(_build(config).predict_on_batch(image)), image)
    plain = dataclasses.replace(config, identity_start=False)
    assert not np.allclose(np.asarray(_build(plain).predict_on_batch(image)), image)


def test_a_family_can_teach_with_its_routing_and_blend(use_tiny_models, training_folder, tmp_path):
    card = train_tiny(training_folder, tmp_path / "student", "unet", 3, 4, epochs=1, teacher="default")
    assert card["teacher"]["family"] == "unet" and set(card["teacher"]["members"]) == {"1", "3"}
