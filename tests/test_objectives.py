"""Noisy-only training objectives: what each makes of noisy patches, and training with them."""

from __future__ import annotations

import numpy as np
import pytest

from denoise.data import NoiseRange, PatchSequence, load_bursts, load_folder
from denoise.image_io import write_png
from denoise.objectives import OBJECTIVES, neighbour_pair, neighbour_views, recorrupt, shuffle_down, training_pair
from tests.conftest import train_tiny


def coordinates(height: int, width: int) -> np.ndarray:
    """A 1 x H x W x 2 batch whose pixels hold their own (row, column)."""
    rows, columns = np.mgrid[:height, :width]
    return np.stack([rows, columns], axis=-1)[None].astype(np.float32)


def test_neighbour_views_take_two_adjacent_pixels_of_each_cell():
    image = coordinates(8, 10)
    first, second = neighbour_views(image, np.random.default_rng(0))
    assert first.shape == second.shape == (1, 4, 5, 2)
    cell_rows, cell_columns = np.mgrid[:4, :5]
    for view in (first, second):  # each view's pixel lies in its own cell
        np.testing.assert_array_equal(view[0, ..., 0] // 2, cell_rows)
        np.testing.assert_array_equal(view[0, ..., 1] // 2, cell_columns)
    distance = np.abs(first - second).sum(axis=-1)
    assert np.all(distance == 1)  # neighbours: never the same pixel, never diagonal
    assert len(np.unique(first[0].reshape(-1, 2) % 2, axis=0)) == 4  # every position of the cell is drawn


def test_the_regularized_target_gives_huang_et_al_s_loss_up_to_a_constant():
    rng = np.random.default_rng(4)
    noisy = rng.random((3, 16, 16, 2)).astype(np.float32)
    denoised = rng.random(noisy.shape).astype(np.float32)  # f(y): the model's output on the whole patches
    gamma = 2.0
    inputs, targets = neighbour_pair(noisy, np.random.default_rng(7), denoised, gamma)
    # The same pixel choices, by the same seed, on y and on f(y) stacked along the channels.
    first, second = neighbour_views(np.concatenate([noisy, denoised], axis=-1), np.random.default_rng(7))
    np.testing.assert_array_equal(inputs, first[..., :2])
    plain_inputs, plain_targets = neighbour_pair(noisy, np.random.default_rng(7))
    np.testing.assert_array_equal(plain_inputs, inputs)  # no regularizer: the same draw, the plain target
    np.testing.assert_array_equal(plain_targets, second[..., :2])

    def huang_loss(prediction: np.ndarray) -> float:
        residual = prediction - second[..., :2]
        expected_residual = first[..., 2:] - second[..., 2:]
        return float(np.sum(residual**2) + gamma * np.sum((residual - expected_residual) ** 2))

    # For any prediction, Huang's loss is (1 + gamma) times the squared error to our target, plus
    # one constant: the two losses have the same gradients up to that factor.
    offsets = []
    for seed in range(3):
        prediction = np.random.default_rng(seed).random(inputs.shape)
        offsets.append(huang_loss(prediction) - (1 + gamma) * float(np.sum((prediction - targets) ** 2)))
    np.testing.assert_allclose(offsets, offsets[0], rtol=1e-4)
    # The shuffled objective draws its views after the shuffle, from f(y) shuffled alike.
    shuffled_inputs, _ = training_pair(
        "shuffled-neighbor2neighbor", noisy[:, :12, :12], rng, denoised=denoised[:, :12, :12], regularizer=gamma
    )
    assert shuffled_inputs.shape == (3 * 9, 2, 2, 2)


def test_a_regularized_sequence_follows_the_model_once_an_epoch(training_folder):
    from denoise.models import build_model

    images = load_folder(training_folder, 1)
    settings = dict(patch_size=32, batch_size=4, batches_per_epoch=2, noise=[NoiseRange("gaussian", 25, 25)],
                    objective="neighbor2neighbor")  # fmt: skip
    with pytest.raises(ValueError, match="Neighbor2Neighbor's"):
        PatchSequence(images, **(settings | {"objective": "recorrupted"}), regularizer=2.0)
    sequence = PatchSequence(images, **settings, regularizer=2.0, epochs=4)
    with pytest.raises(RuntimeError, match="follow"):
        sequence[0]
    plain = PatchSequence(images, **settings)
    plain_inputs, plain_targets = plain[0]
    model = build_model("unet", channels=1, latent=8, width=8)
    refresh = sequence.follow(model)
    inputs, targets = sequence[0]
    np.testing.assert_array_equal(inputs, plain_inputs)  # the same patches, noise and pixel choices
    assert not np.allclose(targets, plain_targets)
    # The U-Net subtracts the noise it predicts: with every weight at zero it is the identity,
    # f(y) = y, and its two views are the input and the plain target.
    model.set_weights([np.zeros_like(weight) for weight in model.get_weights()])
    np.testing.assert_allclose(sequence[0][1], targets)  # the copy is only updated by the callback
    for each in (sequence, plain):
        each.on_epoch_end()
    refresh.on_epoch_begin(1)
    plain_inputs, plain_targets = plain[0]
    inputs, targets = sequence[0]
    share = 1.0 / (1 + 1.0)  # gamma rises to 2 over 4 epochs: 0.5 in the first, 1 in the second
    np.testing.assert_allclose(targets, plain_targets + share * (inputs - plain_targets), atol=1e-6)
    assert [sequence._regularizer_weight() for sequence.epoch in range(5)] == [0.5, 1.0, 1.5, 2.0, 2.0]


@pytest.mark.parametrize(("regularizer", "kept"), [(0.0, 1), (2.0, 3)])
def test_a_regularized_run_keeps_its_last_epoch_whatever_its_validation(tmp_path, regularizer, kept):
    from denoise.models import build_model
    from denoise.training import TrainingConfig, _Recorder

    config = TrainingConfig(data="", output=str(tmp_path / "m"), objective="neighbor2neighbor", regularizer=regularizer)
    paths = {name: tmp_path / f"m.{name}" for name in ("model", "card", "checkpoint", "log")}
    paths["model"], paths["checkpoint"] = tmp_path / "m.keras", tmp_path / "checkpoint.keras"
    recorder = _Recorder(config, paths, [], {"name": "m"})
    recorder.set_model(build_model("unet", channels=1, latent=8, width=8))
    for epoch, validation_psnr in enumerate([18.2, 18.1, 18.0]):  # half-resolution scores that fall
        recorder.on_epoch_end(epoch, {"loss": 0.01, "val_loss": 0.01, "val_psnr": validation_psnr})
    assert recorder.card["best_epoch"] == kept


def test_shuffle_down_puts_every_stride_th_pixel_in_one_sub_image():
    image = coordinates(9, 12)
    shuffled = shuffle_down(image, 3)
    assert shuffled.shape == (9, 3, 4, 2)
    np.testing.assert_array_equal(shuffled[1 * 3 + 2], image[0, 1::3, 2::3])


def test_recorrupted_input_and_target_have_independent_noise():
    rng = np.random.default_rng(1)
    clean = np.full((8, 32, 32, 1), 0.5, np.float32)
    sigma = 0.1
    noisy = clean + sigma * rng.standard_normal(clean.shape).astype(np.float32)
    inputs, targets = recorrupt(noisy, sigma, rng)
    input_noise, target_noise = (inputs - clean).ravel(), (targets - clean).ravel()
    assert abs(np.corrcoef(input_noise, target_noise)[0, 1]) < 0.03
    assert np.std(target_noise) == pytest.approx(sigma * np.sqrt(1 + 1 / 0.5**2), rel=0.05)


def test_objectives_refuse_what_they_cannot_train_on():
    noisy = np.zeros((2, 16, 16, 1), np.float32)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown objective"):
        training_pair("noise2self", noisy, rng)
    for objective, need in (("supervised", "clean"), ("noise2noise", "second noisy shot"), ("recorrupted", "level")):
        with pytest.raises(ValueError, match=need):
            training_pair(objective, noisy, rng)
    assert set(OBJECTIVES) >= {"neighbor2neighbor", "shuffled-neighbor2neighbor"}


@pytest.mark.parametrize("objective", ["noise2noise", "neighbor2neighbor", "shuffled-neighbor2neighbor", "recorrupted"])
def test_noisy_only_batches_never_hold_a_clean_patch(objective):
    images = [np.full((96, 96, 1), 128, np.uint8)] * 2  # flat: what differs between input and target is noise
    sequence = PatchSequence(
        images, patch_size=48, batch_size=4, batches_per_epoch=1, noise=[NoiseRange("gaussian", 25, 25)],
        objective=objective,
    )  # fmt: skip
    inputs, targets = sequence[0]
    side = {"neighbor2neighbor": 24, "shuffled-neighbor2neighbor": 8}.get(objective, 48)
    assert inputs.shape[1:3] == targets.shape[1:3] == (side, side)
    # Input and target noises are independent: their difference has the noise of both.
    difference = np.std(targets - inputs) * 255
    expected = {"recorrupted": 25 * (0.5 + 1 / 0.5)}.get(objective, 25 * np.sqrt(2))
    assert difference == pytest.approx(expected, rel=0.1)


def test_noise2noise_on_bursts_pairs_two_different_shots(tmp_path):
    rng = np.random.default_rng(0)
    for scene in range(2):
        (tmp_path / f"scene-{scene}").mkdir()
        for shot in range(3):  # each shot is a flat image of its own value
            write_png(tmp_path / f"scene-{scene}" / f"{shot}.png", np.full((64, 64), (1 + shot + 3 * scene) / 10))
    (tmp_path / "lonely").mkdir()
    write_png(tmp_path / "lonely" / "0.png", rng.random((64, 64)))
    bursts, frames = load_bursts(tmp_path, 1)
    assert len(bursts) == 2 and frames == 3
    sequence = PatchSequence(
        bursts, patch_size=32, batch_size=16, batches_per_epoch=1, noise=[], objective="noise2noise",
        noisy_data=True, frames=frames,
    )  # fmt: skip
    inputs, targets = sequence[0]
    assert inputs.shape == targets.shape == (16, 32, 32, 1)
    assert np.all(inputs[:, 0, 0, 0] != targets[:, 0, 0, 0])  # two different shots of one scene
    assert np.all(np.abs(inputs[:, 0, 0, 0] - targets[:, 0, 0, 0]) < 0.25)
    with pytest.raises(ValueError, match="two or more shots"):
        PatchSequence(bursts, patch_size=32, batch_size=4, batches_per_epoch=1, noise=[], objective="noise2noise",
                      noisy_data=True)  # fmt: skip


def test_training_on_noisy_images_alone(training_folder, tmp_path):
    noisy_folder = tmp_path / "noisy"
    noisy_folder.mkdir()
    rng = np.random.default_rng(0)
    for index, image in enumerate(load_folder(training_folder, 1)):
        write_png(noisy_folder / f"{index}.png", np.clip(image / 255 + rng.normal(0, 0.1, image.shape), 0, 1))
    card = train_tiny(noisy_folder, tmp_path / "model", "unet", 1, 8, noisy_data=True, objective="neighbor2neighbor")
    assert card["training"]["objective"] == "neighbor2neighbor" and card["training"]["noisy_data"] is True
    assert np.isfinite(card["validation_psnr"])
    card = train_tiny(noisy_folder, tmp_path / "regularized", "unet", 1, 8, noisy_data=True,
                      objective="neighbor2neighbor", regularizer=2.0)  # fmt: skip
    assert card["training"]["regularizer"] == 2.0 and np.isfinite(card["validation_psnr"])
    with pytest.raises(ValueError, match="needs clean images"):
        train_tiny(noisy_folder, tmp_path / "other", "unet", 1, 8, noisy_data=True)


def test_noisy_arrays_keep_their_values_past_black_and_white(training_folder, tmp_path):
    """An image file clips noise at 0 and 1; a folder of .npy arrays is read and sampled as it is."""
    folder = tmp_path / "arrays"
    folder.mkdir()
    rng = np.random.default_rng(0)
    clean = load_folder(training_folder, 1)
    for index, image in enumerate(clean):
        noisy = image[:, :, 0] / 255 + rng.normal(0, 0.2, image.shape[:2])
        np.save(folder / f"{index}.npy", noisy.astype(np.float32))
    arrays = load_folder(folder, 1)
    assert arrays[0].dtype == np.float32 and arrays[0].shape == clean[0].shape
    assert arrays[0].min() < 0 and arrays[0].max() > 1  # unclipped
    np.testing.assert_allclose(load_folder(folder, 3)[0], np.repeat(arrays[0], 3, axis=2))
    colour = tmp_path / "colour"
    colour.mkdir()
    for index in range(2):
        np.save(colour / f"{index}.npy", rng.normal(0.5, 0.3, (40, 40, 3)).astype(np.float32))
    grey = load_folder(colour, 1)[0]  # by the luma weights, as read_image makes colour grey
    np.testing.assert_allclose(grey[:, :, 0], np.load(colour / "0.npy") @ [0.299, 0.587, 0.114], rtol=1e-5)
    level = [NoiseRange("gaussian", 51, 51)]
    sequence = PatchSequence(arrays, patch_size=32, batch_size=8, batches_per_epoch=1, noise=level,
                             objective="recorrupted", noisy_data=True)  # fmt: skip
    inputs, _ = sequence[0]
    assert inputs.min() < -0.1 and inputs.max() > 1.1  # not divided by 255, not clipped
    card = train_tiny(folder, tmp_path / "model", "unet", 1, 8, noisy_data=True, objective="recorrupted", noise=level)
    assert np.isfinite(card["validation_psnr"])


def test_a_recorrupted_model_runs_averaged_over_recorrupted_copies(training_folder, tmp_path, capsys):
    from denoise import load_model
    from denoise.cli import main

    folder = tmp_path / "noisy"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index, image in enumerate(load_folder(training_folder, 1)):
        noisy = image[:, :, 0] / 255 + rng.normal(0, 0.1, image.shape[:2])
        np.save(folder / f"{index}.npy", noisy.astype(np.float32))
    level = [NoiseRange("gaussian", 25.5, 25.5)]
    train_tiny(folder, tmp_path / "r2r", "unet", 1, 8, noisy_data=True, objective="recorrupted", noise=level)
    model = tmp_path / "r2r.keras"
    noisy = np.load(folder / "0.npy")[:40, :48, None]
    once, averaged = load_model(model).denoise(noisy), load_model(model, recorruptions=3).denoise(noisy)
    assert np.abs(averaged - once).max() > 1e-4
    np.testing.assert_array_equal(load_model(model, recorruptions=3).denoise(noisy), averaged)  # seeded
    train_tiny(training_folder, tmp_path / "supervised", "unet", 1, 8)
    with pytest.raises(ValueError, match="trained with the recorrupted objective.*its card says supervised"):
        load_model(tmp_path / "supervised.keras", recorruptions=3)
    with pytest.raises(ValueError, match="not a family|not default"):
        load_model("default", recorruptions=3)
    evaluation = ["eval", str(training_folder), "--recorruptions", "2", "--sigma", "25", "--json", "--model"]
    assert main([*evaluation, str(tmp_path / "supervised.keras")]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line
    assert main([*evaluation, str(model)]) == 0
    assert '"recorruptions": 2' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.array([{"a": 1}], dtype=object), "not a NumPy array file"),  # pickled objects are refused
        (np.zeros((4, 4, 2), np.float32), "expected an H x W or H x W x 1 or 3 numeric array"),
        (np.full((40, 40), np.nan, np.float32), "not finite"),
        (np.array(["text"]), "numeric array"),
    ],
)
def test_a_bad_training_array_is_refused_with_one_line(tmp_path, content, message):
    np.save(tmp_path / "bad.npy", content, allow_pickle=True)
    with pytest.raises(ValueError, match=message):
        load_folder(tmp_path, 1)


def test_a_folder_of_images_and_arrays_is_refused(training_folder, tmp_path):
    import shutil

    shutil.copytree(training_folder, tmp_path / "mixed")
    np.save(tmp_path / "mixed" / "extra.npy", np.zeros((40, 40), np.float32))
    with pytest.raises(ValueError, match="both images and .npy arrays"):
        load_folder(tmp_path / "mixed", 1)
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY not really")
    with pytest.raises(ValueError, match="junk.npy: not a NumPy array file"):
        load_folder(tmp_path, 1)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_learns_to_denoise(training_folder, tmp_path, objective):
    """From the identity (a U-Net whose last layer starts at zero), on heavy noise: it must learn to smooth."""
    import json

    import keras

    from denoise import add_noise, psnr

    card = train_tiny(training_folder, tmp_path / "model", "unet", 1, 8, epochs=3, objective=objective,
                      noise=[NoiseRange("gaussian", 50.0, 50.0)], identity_start=True, batches_per_epoch=20,
                      learning_rate=5e-3, patch_size=48)  # fmt: skip
    log = json.loads((tmp_path / "checkpoints" / "model.log.json").read_text())
    assert log[-1]["loss"] < log[0]["loss"]
    clean = load_folder(training_folder, 1)[-1].astype(np.float32) / 255  # held out for validation
    noisy = add_noise(clean, "gaussian", 50, seed=3)
    model = keras.saving.load_model(tmp_path / "model.keras")
    denoised = np.clip(keras.ops.convert_to_numpy(model(noisy[None]))[0], 0, 1)
    assert psnr(clean, denoised) > psnr(clean, noisy) + 1.0, card["validation_psnr"]


def test_adapting_fine_tunes_a_copy_on_the_images_themselves(use_tiny_models, astronaut, tmp_path):
    from denoise import Denoiser, add_noise, load_model
    from denoise.adaptation import adapt, adaptation_objective, adapted_steps, describe_adaptation, save_adapted
    from denoise.compose import GuidedWiener

    denoiser = load_model("unet-color", runtime="tensorflow")
    noisy = add_noise(astronaut[:96, :96], "gaussian", 25, seed=0)
    before = denoiser.denoise(noisy)
    shares = []
    adapted = denoiser.adapt([noisy], steps=3, noise=("gaussian", 25), progress=shares.append)
    assert shares == pytest.approx([1 / 3, 2 / 3, 1.0])
    card = adapted.cards[3]["adapted"]
    assert card == {"from": "unet-color", "objective": "recorrupted", "steps": 3, "images": 1, "seed": 0}
    after = adapted.denoise(noisy)
    assert after.shape == noisy.shape and not np.allclose(after, before)
    np.testing.assert_array_equal(denoiser.denoise(noisy), before)  # the original is left as it was
    assert adapted.denoise(noisy[..., 0]).shape == (96, 96)  # a grey image through the colour copy
    # A known Gaussian level: the adapted result guides the collaborative filter at that level.
    assert isinstance(adapted.piece, GuidedWiener) and adapted.piece.sigma == pytest.approx(25 / 255)
    alone = denoiser.adapt([noisy], steps=3, noise=("gaussian", 25), collaborative=False)
    np.testing.assert_array_equal(alone.denoise(noisy), Denoiser._check(adapted.piece.inner(noisy)).clip(0, 1))
    assert describe_adaptation(adapted) == "3 steps + collaborative filter" and describe_adaptation(alone) == "3 steps"
    # A photo that came noisy: the filter alone, with the noise measured; no model is fine-tuned.
    shares.clear()
    filtered = denoiser.adapt([noisy], seconds=0.5, progress=shares.append)
    assert shares == [1.0] and adapted_steps(filtered) == 0
    assert filtered.cards[3]["adapted"] == {"from": "unet-color", "objective": "collaborative", "steps": 0, "images": 1}
    assert isinstance(filtered.piece, GuidedWiener) and filtered.piece.sigma is None
    assert filtered.piece.inner is denoiser.piece and "no fine-tune" in describe_adaptation(filtered)
    np.testing.assert_array_equal(
        filtered.denoise(noisy), Denoiser._check(filtered.piece(Denoiser._check(noisy))).clip(0, 1)
    )
    with pytest.raises(ValueError, match="nothing to save"):
        save_adapted(filtered, tmp_path, "shoot")
    assert not list(tmp_path.iterdir())
    # Without the filter, its noise is correlated, so the pixel-shuffled objective; a time budget.
    assert adaptation_objective(None) == "shuffled-neighbor2neighbor"
    blind = denoiser.adapt([noisy], seconds=0.5, collaborative=False)
    assert blind.cards[3]["adapted"]["steps"] >= 1 and not isinstance(blind.piece, GuidedWiener)
    plain, regularized = (
        adapt(denoiser, [noisy], steps=2, regularizer=gamma, collaborative=False) for gamma in (0.0, 2.0)
    )
    assert regularized.cards[3]["adapted"]["regularizer"] == 2.0 and "regularizer" not in plain.cards[3]["adapted"]
    assert not np.allclose(regularized.denoise(noisy), plain.denoise(noisy))  # the same patches, other targets
    with pytest.raises(ValueError, match="at least 48 pixels"):  # a fine-tune's patches; the filter takes 8
        denoiser.adapt([noisy[:40, :40]], collaborative=False)


def test_adapting_a_family_keeps_what_surrounds_the_adapted_model(use_tiny_models, astronaut):
    from denoise import add_noise, load_model
    from denoise.adaptation import adapted_card, adapted_steps
    from denoise.compose import LuminanceBlend, leaf_models

    family = load_model("default", runtime="tensorflow")
    grey = next(leaf for leaf in leaf_models(family.piece) if leaf.channels == 1)
    family.piece = LuminanceBlend(family.piece, grey, 0.5)  # a family with a luminance blend
    noisy = add_noise(astronaut[:96, :96], "gaussian", 25, seed=0)
    adapted = family.adapt([noisy], steps=3, noise=("gaussian", 25))
    # Both models the image runs through, each on its own input, the steps shared out.
    assert (
        adapted.piece.resolve(noisy).name == "unet-color adapted + unet-gray adapted luminance + collaborative Wiener"
    )
    assert adapted_card(adapted)[1]["adapted"]["from"] == "unet-color" and adapted.cards[3]["adapted"]["steps"] == 2
    assert adapted.cards[1]["adapted"]["from"] == "unet-gray" and adapted.cards[1]["adapted"]["steps"] == 1
    assert adapted_steps(adapted) == 3 and adapted.name == "unet adapted"
    assert family.adapt([noisy], steps=1, noise=("gaussian", 25)).cards[1] == family.cards[1]  # no step left for it
    # A time budget shorter than any set-up still adapts each model by one step, never by none.
    hurried = family.adapt([noisy], seconds=1e-6, noise=("gaussian", 25))
    assert hurried.cards[3]["adapted"]["steps"] == 1 and hurried.cards[1]["adapted"]["steps"] == 1


def test_a_saved_adaptation_keeps_its_adapted_luminance_model(luminance_models, astronaut, tmp_path):
    import json

    from denoise import ModelFileError, add_noise, load_model
    from denoise.adaptation import save_adapted
    from denoise.training_jobs import user_models

    family = load_model("default", runtime="tensorflow")
    noisy = add_noise(astronaut[:96, :96], "gaussian", 25, seed=0)
    filtered = family.adapt([noisy], steps=2, noise=("gaussian", 25))
    adapted = family.adapt([noisy], steps=2, noise=("gaussian", 25), collaborative=False)
    assert filtered.piece.inner.name == adapted.piece.name  # the same models, the filter around them
    path = save_adapted(filtered, tmp_path, "shoot", "test")  # the models alone: later photos' noise is not known
    assert sorted(saved.name for saved in tmp_path.glob("*.keras")) == ["shoot.keras", "shoot.luminance.keras"]
    assert list(user_models(tmp_path)) == ["shoot"]  # the luminance half loads with it, not alone
    saved = load_model(path, runtime="tensorflow")
    assert saved.piece.resolve(noisy).name == "shoot + shoot.luminance luminance"
    np.testing.assert_allclose(saved.denoise(noisy), adapted.denoise(noisy), atol=1e-5)
    assert saved.denoise(noisy[..., :1]).shape == (96, 96, 1)  # grey photos: the grey model alone
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["luminance"] == {"model": "shoot.luminance", "weight": 0.75}
    for link, message in [
        ({"model": "../escape", "weight": 0.5}, "must name a grey model beside it"),
        ({"model": "shoot.luminance", "weight": 2}, "must name a grey model beside it"),
        ({"model": "missing", "weight": 0.5}, "model file not found"),
        ({"model": "shoot", "weight": 0.5}, "must be a grey image model"),
    ]:
        path.with_suffix(".json").write_text(json.dumps(card | {"luminance": link}))
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
    with pytest.raises(ValueError, match="not ending .luminance"):
        save_adapted(adapted, tmp_path, "other.luminance")


def test_adapting_refuses_clean_photos_and_a_failed_or_stopped_run_leaves_the_model_as_it_was(
    use_tiny_models, astronaut, monkeypatch
):
    import keras

    from denoise import add_noise, load_model
    from denoise.adaptation import AdaptationError

    denoiser = load_model("unet-color", runtime="tensorflow")
    with pytest.raises(ValueError, match="no measurable noise"):
        denoiser.adapt([np.full((96, 96, 3), 0.5, np.float32)], steps=1)
    noisy = add_noise(astronaut[:96, :96], "gaussian", 25, seed=0)
    before = denoiser.denoise(noisy)

    class StopError(Exception):
        pass

    def stop_halfway(share: float) -> None:
        if share >= 0.5:
            raise StopError

    with pytest.raises(StopError):  # what progress raises goes through: the app's Stop
        denoiser.adapt([noisy], steps=4, progress=stop_halfway, collaborative=False)

    def failing_step(self, *arguments, **keywords):
        raise RuntimeError("out of memory\nand a long backend trace")

    monkeypatch.setattr(keras.Model, "train_on_batch", failing_step)
    with pytest.raises(AdaptationError, match=r"^adapting failed at step 1: out of memory$"):
        denoiser.adapt([noisy], steps=2, noise=("gaussian", 25))
    np.testing.assert_array_equal(denoiser.denoise(noisy), before)  # the unadapted model still works


def test_command_line_falls_back_to_the_shipped_model_when_adapting_fails(
    use_tiny_models, tmp_path, astronaut, capsys, monkeypatch
):
    import keras

    from denoise.cli import main

    photo = tmp_path / "photo.png"
    write_png(photo, np.clip(astronaut[:96, :96] + np.random.default_rng(0).normal(0, 0.1, (96, 96, 3)), 0, 1))
    monkeypatch.setattr(keras.Model, "train_on_batch", lambda self, *a, **k: float("nan"))
    run = ["run", str(photo), "--out", str(tmp_path / "out"), "--model", "unet-color", "--noise", "gaussian:25"]
    assert main([*run, "--adapt", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "adapting failed at step 1: the loss is nan; denoising with unet-color as shipped" in captured.err
    assert (tmp_path / "out" / "photo.png").exists() and "Traceback" not in captured.err
    status = main(["adapt", str(photo), "--save", "shoot", "--folder", str(tmp_path / "mine"), "--seconds", "0.5",
                   "--model", "unet-color"])  # fmt: skip
    assert status == 2 and not (tmp_path / "mine").exists()  # nothing half-written
    assert capsys.readouterr().err.count("\n") == 1


def test_command_line_adapts_to_its_inputs_and_keeps_the_result(use_tiny_models, tmp_path, astronaut, capsys):
    from denoise.cli import main
    from denoise.inference import load_model

    photo = tmp_path / "photo.png"
    write_png(photo, np.clip(astronaut[:96, :96] + np.random.default_rng(0).normal(0, 0.1, (96, 96, 3)), 0, 1))
    assert main(["run", str(photo), "--out", str(tmp_path / "out"), "--model", "unet-color", "--adapt", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "adapted unet-color to 1 images: a collaborative filter" in captured.err
    assert "(unet-color + collaborative Wiener)" in captured.out  # came noisy: the filter alone
    assert "MP: not filtered" not in captured.err
    large = tmp_path / "large.png"  # 2.2 megapixels: above what the filter takes, and said so
    write_png(large, np.clip(np.random.default_rng(1).normal(0.5, 0.1, (1200, 1800)), 0, 1))
    assert main(["run", str(large), "--out", str(tmp_path / "out"), "--model", "unet-color", "--adapt"]) == 0
    said = capsys.readouterr().err
    assert "1 images: a collaborative filter" in said and "(1 above 2 MP: not filtered)" in said
    status = main(["adapt", str(photo), "--save", "shoot", "--folder", str(tmp_path / "mine"), "--seconds", "0.5",
                   "--model", "unet-color"])  # fmt: skip
    assert status == 0
    saved = load_model(tmp_path / "mine" / "shoot.keras")
    assert saved.cards[3]["adapted"]["from"] == "unet-color" and saved.cards[3]["command"].startswith("denoise adapt")
    assert main(["adapt", str(photo), "--save", "../escape", "--folder", str(tmp_path / "mine"),
                 "--seconds", "0.1", "--model", "unet-color"]) == 2  # fmt: skip
    assert "model name" in capsys.readouterr().err


@pytest.mark.parametrize("budget", ["0", "-5", "soon"])
def test_command_line_refuses_an_adaptation_time_that_is_not_above_zero(budget, tmp_path, capsys):
    from denoise.cli import main

    photo = tmp_path / "photo.png"
    run = ["run", str(photo), "--out", str(tmp_path / "out"), "--adapt", budget]
    keep = ["adapt", str(photo), "--save", "shoot", "--folder", str(tmp_path / "mine"), "--seconds", budget]
    for arguments in (run, keep):
        with pytest.raises(SystemExit) as stopped:
            main(arguments)
        assert stopped.value.code == 2 and "seconds" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "out").exists() and not (tmp_path / "mine").exists()


def test_adaptation_benchmark_reports_before_and_after(use_tiny_models, training_folder, tmp_path):
    import json

    from benchmarks.adaptation import main as adaptation_benchmark

    output = tmp_path / "adaptation"
    arguments = ["--folder", str(training_folder), "--sigma", "25", "--count", "2", "--steps", "2"]
    assert adaptation_benchmark([*arguments, "--model", "unet-color", "--output", str(output)]) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    [mean] = report["means"]
    assert mean["setting"] == "sigma 25" and mean["images"] == 2 and 10 < mean["before"] < 50
    assert 10 < mean["collaborative"] < 50 and mean["collaborative"] != mean["after"]  # the known level's filter
    assert all(row["steps"] == 2 for row in report["rows"])
    assert "| sigma 25 | 2 |" in output.with_suffix(".md").read_text()


def test_adaptation_benchmark_scores_the_filter_alone_on_real_pairs(use_tiny_models, astronaut, tmp_path):
    import json

    from benchmarks.adaptation import main as adaptation_benchmark

    pairs = tmp_path / "pairs"
    for kind in ("noisy", "clean"):
        (pairs / kind).mkdir(parents=True)
    for index, scene in enumerate(["cam_1_100_800_first", "cam_1_100_800_second"]):  # every second scene is a test one
        clean = astronaut[index * 64 : index * 64 + 64, :64]
        write_png(pairs / "clean" / f"{scene}_1.png", clean)
        noisy = clean + np.random.default_rng(index).normal(0, 0.05, clean.shape)
        write_png(pairs / "noisy" / f"{scene}_1.png", np.clip(noisy, 0, 1))
    output = tmp_path / "adaptation"
    arguments = ["--pairs", str(pairs), "--filter-only", "--model", "unet-color", "--output", str(output)]
    assert adaptation_benchmark(arguments) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    [row] = report["rows"]
    assert row["image"] == "real cam_1_100_800_second_1.png" and row["after"] is None and row["steps"] == 0
    assert 10 < row["collaborative"] < 50 and row["collaborative"] != row["before"]
    table = output.with_suffix(".md").read_text()
    assert "| real | 1 |" in table and "| - | - | - |" in table


def test_adaptation_benchmark_averages_orientations_before_and_after(use_tiny_models, training_folder, tmp_path):
    import json

    from benchmarks.adaptation import main as adaptation_benchmark

    arguments = ["--folder", str(training_folder), "--sigma", "25", "--count", "1", "--steps", "1",
                 "--model", "unet-color"]  # fmt: skip
    reports = {}
    for orientations in (1, 2):
        output = tmp_path / f"adaptation-{orientations}"
        assert adaptation_benchmark([*arguments, "--orientations", str(orientations), "--output", str(output)]) == 0
        reports[orientations] = json.loads(output.with_suffix(".json").read_text())
    assert reports[2]["orientations"] == 2 and "2 orientations averaged" in (tmp_path / "adaptation-2.md").read_text()
    [one], [two] = reports[1]["rows"], reports[2]["rows"]
    assert one["before"] != pytest.approx(two["before"], abs=1e-6)  # the shipped model ran twice, averaged
