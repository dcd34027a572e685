import json

import keras
import numpy as np
import pytest

import denoise
from denoise import ModelFileError, add_noise, load_model
from denoise.inference import read_model_file
from tests.conftest import tiny_models_with_manifest, write_manifest


@pytest.fixture
def noisy_colour(astronaut) -> np.ndarray:
    return add_noise(astronaut[:100, :140], "gaussian", 25, seed=0, clip=False)


@pytest.mark.parametrize("name", ["default", "conv-2", "dense"])
@pytest.mark.parametrize("shape", [(37, 53), (37, 53, 1), (37, 53, 3), (1, 1), (3, 5), (2, 300, 3)])
def test_shapes_and_dtypes(use_tiny_models, name, shape):
    image = np.random.default_rng(0).normal(0.5, 0.3, shape).astype(np.float64)  # outside [0, 1] too
    result = load_model(name).denoise(image)
    assert result.shape == shape and result.dtype == np.float32
    assert 0 <= result.min() and result.max() <= 1


@pytest.mark.parametrize("name", ["default", "conv-2", "dense"])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiled_equals_untiled(use_tiny_models, astronaut, name, channels):
    image = astronaut[:300, :250] if channels == 3 else astronaut[:300, :250].mean(axis=2)
    noisy = add_noise(image, "gaussian", 20, seed=1)
    whole = load_model(name, tile_size=4096).denoise(noisy)
    tiled = load_model(name, tile_size=64).denoise(noisy)
    assert np.abs(whole - tiled).max() < 1e-3


def test_default_picks_model_by_channels(use_tiny_models):
    denoiser = load_model("default")
    assert denoiser.name == "unet"
    assert set(denoiser.cards) == {1, 3}
    assert denoiser.cards[3]["name"] == "unet-color"


def test_single_model_handles_other_channel_count(use_tiny_models):
    grey_only = load_model("dense-gray")
    assert grey_only.denoise(np.full((16, 16, 3), 0.5, np.float32)).shape == (16, 16, 3)
    colour_only = load_model("unet-color")
    assert colour_only.denoise(np.full((16, 16), 0.5, np.float32)).shape == (16, 16)


def test_save_then_load_gives_identical_output(use_tiny_models, tmp_path, noisy_colour):
    original = load_model("unet-color")
    entry = read_model_file(use_tiny_models / "unet-color.keras")
    entry.model.save(tmp_path / "copy.keras")
    copy = load_model(tmp_path / "copy.keras")
    assert copy.runtime == original.runtime  # "auto" chooses by architecture, so the same one
    np.testing.assert_array_equal(original.denoise(noisy_colour), copy.denoise(noisy_colour))


@pytest.mark.parametrize("name,latent,stride", [("conv-2", 2, 4), ("default", 8, 8)])
def test_encode_returns_the_bottleneck(use_tiny_models, noisy_colour, name, latent, stride):
    code = load_model(name).encode(noisy_colour)
    assert code.shape == (-(-100 // stride), -(-140 // stride), latent)


def test_encode_dense_lays_codes_on_patch_grid(use_tiny_models):
    code = load_model("dense").encode(np.full((20, 28), 0.5, np.float32))
    assert code.shape == ((20 - 8) // 4 + 1, (28 - 8) // 4 + 1, 16)


def test_available_models_lists_cards(use_tiny_models):
    cards = denoise.available_models()
    assert {"unet-gray", "unet-color", "conv-2-gray", "conv-2-color", "dense-gray", "photo-color"} == set(cards)
    assert cards["conv-2-gray"]["latent_size"] == 2


def test_bad_images_raise_value_error(use_tiny_models):
    denoiser = load_model("default")
    for image in [np.zeros((4, 4, 2)), np.zeros((0, 4)), np.zeros(5), np.full((4, 4), np.nan)]:
        with pytest.raises(ValueError):
            denoiser.denoise(image)


def test_bad_model_files(use_tiny_models, tmp_path):
    with pytest.raises(ModelFileError, match="no model named"):
        load_model("nonexistent")
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "text.keras").write_text("hello")
    with pytest.raises(ModelFileError, match="not a Keras model"):
        load_model(tmp_path / "text.keras")
    good = (use_tiny_models / "unet-gray.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "truncated.keras")


@pytest.mark.parametrize("tile_size", [64, 4096])
def test_compiled_calls_give_the_direct_calls_result(use_tiny_models, noisy_colour, tile_size):
    direct = load_model("default", tile_size=tile_size, compiled=False).denoise(noisy_colour)
    compiled = load_model("default", tile_size=tile_size)  # compiled is the default
    np.testing.assert_allclose(compiled.denoise(noisy_colour), direct, atol=1e-5)


def test_orientations_must_be_a_group_size(use_tiny_models):
    with pytest.raises(ValueError, match="orientations must be one of 1, 2, 4, 8"):
        load_model("default", orientations=3)


@pytest.mark.parametrize("orientations", [1, 2])
@pytest.mark.parametrize("shape", [(40, 48, 3), (37, 53, 3)])  # a multiple of the stride, and not
def test_denoise_leaves_its_input_alone(use_tiny_models, shape, orientations):
    image = np.random.default_rng(0).random(shape, np.float32)
    kept = image.copy()
    result = load_model("default", orientations=orientations).denoise(image)
    np.testing.assert_array_equal(image, kept)
    assert not np.shares_memory(result, image)


def test_low_noise_images_go_to_the_low_noise_model(low_noise_models, camera):
    family = load_model("default")
    low = add_noise(camera[:96, :96], "gaussian", 5, seed=0, clip=False)
    high = add_noise(camera[:96, :96], "gaussian", 40, seed=0, clip=False)
    assert family.model_name(low) == "conv-2-gray" and family.model_name(high) == "unet-gray"
    np.testing.assert_array_equal(family.denoise(low), load_model("conv-2-gray").denoise(low))
    np.testing.assert_array_equal(family.denoise(high), load_model(low_noise_models / "unet-gray.keras").denoise(high))
    assert family.encode(low).shape[-1] == 2 and family.encode(high).shape[-1] == 8  # the same model's latent
    assert family.model_name(np.zeros((3, 5))) == "unet-gray"  # too small to estimate: the main model
    assert family.model_name(np.stack([low] * 3, axis=2)) == "unet-color"  # colour has no low-noise model


def test_colour_images_get_the_grey_models_luminance(luminance_models, astronaut, capsys):
    from denoise.cli import main

    family = load_model("default")
    noisy = add_noise(astronaut[:64, :96], "gaussian", 25, seed=0, clip=False)
    colour = load_model("unet-color").denoise(noisy)  # one model by name: it runs alone
    grey = load_model("unet-gray").denoise(noisy.mean(axis=2, keepdims=True))
    # The luminance (channel mean) becomes 0.75 grey + 0.25 colour; the colour differences stay.
    expected = np.clip(colour + 0.75 * (grey - colour.mean(axis=2, keepdims=True)), 0, 1)
    unclipped = np.all((colour > 0) & (colour < 1), axis=2) & (grey[:, :, 0] > 0) & (grey[:, :, 0] < 1)
    assert unclipped.mean() > 0.5  # the family blends before clipping, the models alone clip
    np.testing.assert_allclose(family.denoise(noisy)[unclipped], expected[unclipped], atol=1e-5)
    assert family.model_name(noisy) == "unet-color + unet-gray luminance"
    assert main(["models"]) == 0
    assert "grey model's luminance × 0.75" in capsys.readouterr().out
    assert family.encode(noisy).shape == load_model("unet-color").encode(noisy).shape  # the colour model's latent
    assert load_model("default", orientations=2).denoise(noisy).shape == noisy.shape
    grey_image = noisy[:, :, :1]
    np.testing.assert_array_equal(family.denoise(grey_image), load_model("unet-gray").denoise(grey_image))


def test_warm_up_sets_up_every_model_so_that_later_sizes_trace_nothing(low_noise_models, camera, monkeypatch):

    from denoise.inference import read_model_file

    family = load_model("default")
    model_class = type(read_model_file(low_noise_models / "unet-gray.keras").model)
    traced = []  # the models whose Python code ran: on a first call or a new trace
    original_call = model_class.call

    def counting_call(model, *arguments, **keywords):
        traced.append(id(model))
        return original_call(model, *arguments, **keywords)

    monkeypatch.setattr(model_class, "call", counting_call)
    family.warm_up()
    assert len(set(traced)) == 3  # grey, colour and grey's low-noise model
    if keras.backend.backend() == "tensorflow":  # under JAX every new size compiles
        traced.clear()
        low = add_noise(camera[:80, :112], "gaussian", 5, seed=0, clip=False)
        high = add_noise(camera[:80, :112], "gaussian", 40, seed=0, clip=False)
        for image in (low, high, np.stack([high] * 3, axis=2)):
            family.denoise(image)
        assert traced == []


def test_warming_up_for_a_size_sets_up_a_colour_photos_models_once_per_tile_shape(low_noise_models, monkeypatch):
    from denoise.compose import ConvolutionalModel, Tiled, leaf_models, pieces_within

    family = load_model("default", tile_size=64, runtime="tensorflow")  # the leaves are ConvolutionalModel
    shapes = []  # (model, tile shape) of every call
    original_call = ConvolutionalModel.__call__
    monkeypatch.setattr(
        ConvolutionalModel,
        "__call__",
        lambda leaf, image: shapes.append((leaf.name, image.shape[:2])) or original_call(leaf, image),
    )
    family.warm_up([(300, 400), (400, 300)])
    colour_photo = family.piece.resolve(np.zeros((64, 64, 3), np.float32))
    tiles = {
        (leaf.name, (rows.stop - rows.start, columns.stop - columns.start))
        for tiled in pieces_within(colour_photo)
        if isinstance(tiled, Tiled)
        for leaf in leaf_models(tiled)
        for size in ((300, 400), (400, 300))
        for rows, columns, _, _ in tiled.layout(*size)
    }
    # This family's colour photos run through its colour model alone: the grey ones stay unset.
    assert {name for name, _ in tiles} == {"unet-color"}
    squares = 3 * 2  # each model's two small blank squares come first
    assert set(shapes[squares:]) == tiles and len(shapes) == squares + len(tiles)  # each shape once


def test_reported_seconds_leave_out_the_wait_for_another_call(use_tiny_models, camera):
    import threading
    import time

    family = load_model("default")
    image = camera[:64, :64]
    reports, finished = [], []

    def call() -> None:
        reports.append(family.denoise_and_report(image))
        finished.append(time.perf_counter())

    with family._lock:  # another session's call holds the model for two seconds
        started = time.perf_counter()
        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(2.0)
    thread.join()
    [report] = reports
    assert report.model == "unet-gray"
    np.testing.assert_array_equal(report.pixels, family.denoise(image))
    assert 0 < report.seconds < finished[0] - started - 1.9


def test_pipeline_and_cli_name_the_model_that_ran(low_noise_models, camera, tmp_path, capsys):
    from denoise.cli import main
    from denoise.image_io import write_png
    from denoise.pipeline import denoise_image

    clean = camera[:64, :64, None]
    slightly_noisy = add_noise(clean, "gaussian", 5, seed=0, clip=False)
    assert denoise_image(load_model("default"), slightly_noisy).model == "conv-2-gray"
    write_png(tmp_path / "noisy.png", add_noise(clean, "gaussian", 40, seed=0))
    assert main(["run", str(tmp_path / "noisy.png"), "--out", str(tmp_path / "out"), "--model", "default"]) == 0
    assert "(unet-gray)" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert "conv-2-gray below σ 20" in capsys.readouterr().out


def test_a_colour_low_noise_model_is_routed_like_the_grey_one(luminance_models, astronaut):
    low_noise = {"color": {"model": "conv-2-color", "below_sigma": 20}}
    write_manifest(luminance_models, grey_luminance=0.75, low_noise=low_noise)
    family = load_model("default")
    low = add_noise(astronaut[:64, :96], "gaussian", 5, seed=0, clip=False)
    high = add_noise(astronaut[:64, :96], "gaussian", 40, seed=0, clip=False)
    assert family.model_name(low) == "conv-2-color + unet-gray luminance"
    assert family.model_name(high) == "unet-color + unet-gray luminance"
    write_manifest(luminance_models, low_noise=low_noise)
    np.testing.assert_array_equal(load_model("default").denoise(low), load_model("conv-2-color").denoise(low))


def test_a_single_model_by_name_runs_alone(low_noise_models, camera):
    low = add_noise(camera[:96, :96], "gaussian", 5, seed=0, clip=False)
    assert load_model("default").model_name(low) == "conv-2-gray"
    assert load_model("unet-gray").model_name(low) == "unet-gray"  # the family routes, the model does not


def test_a_manifest_member_with_the_wrong_channels_is_refused(use_tiny_models, tmp_path, monkeypatch):
    folder = tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch)
    document = json.loads((folder / "families.json").read_text())
    document["families"]["unet"]["members"]["gray"] = "unet-color"
    (folder / "families.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="takes 3 channels, but the manifest names it for gray"):
        load_model("default")


def test_progress_rises_to_one_as_tiles_finish(luminance_models, astronaut):
    noisy = add_noise(astronaut, "gaussian", 25, seed=0, clip=False)
    family = load_model("default", tile_size=128, orientations=2)
    reports: list[float] = []
    family.denoise_and_report(noisy, 1.5, progress=reports.append)
    # 4 x 4 tiles; colour and luminance passes, 2 orientations, 2 runs above strength 1.
    assert len(reports) == 16 * 2 * 2 * 2
    assert reports == sorted(reports) and reports[-1] == 1.0 and reports[0] == pytest.approx(1 / 128)


@pytest.mark.parametrize("name", ["default", "conv-2"])
def test_encoding_in_tiles_gives_the_whole_images_codes(use_tiny_models, astronaut, name):
    image = astronaut[:300, :260]
    whole = load_model(name, tile_size=4096).encode(image)
    tiled = load_model(name, tile_size=64).encode(image)
    assert whole.shape == tiled.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
