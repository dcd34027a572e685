"""Raw files: reading, the noise level, the raw model, DNG writing, hostile raws (all made here)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
import tifffile

from denoise.cli import main
from denoise.compose import orient_mosaic
from denoise.data import NoiseRange, PatchSequence
from denoise.image_io import ImageReadError, read_image, to_samples
from denoise.inference import ModelFileError, load_model, read_model_file
from denoise.noise import camera_noise_variance, poisson_gaussian
from denoise.raw import (
    RAW_SUFFIXES,
    SRGB_TO_XYZ,
    NotBayerError,
    RawImage,
    RawNoise,
    _xyz_to_camera,
    encode_dng,
    encode_rendered,
    estimate_noise,
    is_raw_file,
    noise_from_iso,
    pack,
    read_raw,
    render,
    unpack,
    write_dng,
)
from denoise.raw_model import FINISH_MOST, finish_render, finishing_strength, load_raw_model, raw_noise
from tests.conftest import train_tiny
from tests.raws import dng_declaring, jpeg_bytes, linear_dng, synthetic_raw

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


@pytest.fixture(scope="session")
def tiny_raw_model(training_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny raw model trained for a few batches on the test images unprocessed to raw."""
    output = tmp_path_factory.mktemp("raw-model") / "raw-bayer"
    train_tiny(
        training_folder,
        output,
        "unet",
        3,
        8,
        domain="raw",
        noise=[NoiseRange("camera", 800, 12800)],
        identity_start=True,
        learning_rate=1e-3,
    )
    return output.with_suffix(".keras")


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", [(6, 8), (7, 9)])
def test_pack_puts_each_colour_in_its_plane_and_unpack_undoes_it(pattern, shape):
    mosaic = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    packed = pack(mosaic, pattern)
    assert packed.shape == ((shape[0] + 1) // 2, (shape[1] + 1) // 2, 4)
    red_row, red_column = divmod(pattern.index("R"), 2)
    assert packed[0, 0, 0] == mosaic[red_row, red_column]
    np.testing.assert_array_equal(unpack(packed, pattern, shape), mosaic)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_packed_planes_of_the_transposed_mosaic_are_the_reordered_transposed_planes(pattern):
    mosaic = np.arange(6 * 10, dtype=np.float32).reshape(6, 10)
    transposed_pattern = pattern[0] + pattern[2] + pattern[1] + pattern[3]  # the 2 x 2 cell transposed
    expected = pack(mosaic.T, transposed_pattern)
    np.testing.assert_array_equal(orient_mosaic(pack(mosaic, pattern), (False, False, True)), expected)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_dng_round_trip_keeps_size_pattern_levels_orientation_and_metadata(astronaut, pattern):
    raw, _ = synthetic_raw(astronaut[:64, :96], 3200, pattern=pattern, orientation=6, exposure_time=0.01)
    back = read_raw(encode_dng(raw))
    assert back.mosaic.shape == (64, 96) and back.pattern == pattern
    assert back.black_levels == raw.black_levels and back.white_level == raw.white_level
    assert back.orientation == 6 and back.iso == 3200 and back.camera == "Denoise Test"
    assert back.exposure_time == pytest.approx(0.01)
    np.testing.assert_allclose(back.white_balance, raw.white_balance, rtol=1e-4)
    np.testing.assert_allclose(back.xyz_to_camera, raw.xyz_to_camera, atol=1e-4)
    one_step = 1 / (raw.white_level - 512)
    assert np.abs(back.mosaic - np.clip(raw.mosaic, -512 * one_step, 1)).max() <= one_step / 2 + 1e-6


def png_samples(data: bytes) -> bytes:
    """A 16-bit RGB PNG's samples, its rows' filter bytes dropped (Pillow reads such PNGs at 8 bits)."""
    stream, chunks = io.BytesIO(data[8:]), []
    while header := stream.read(8):
        length, tag = struct.unpack(">I4s", header)
        chunks.append((tag, stream.read(length)))
        stream.read(4)
    width, height = struct.unpack(">II", chunks[0][1][:8])
    rows = np.frombuffer(zlib.decompress(b"".join(data for tag, data in chunks if tag == b"IDAT")), np.uint8)
    return rows.reshape(height, 1 + 6 * width)[:, 1:].tobytes()


def test_big_raws_are_written_in_strips_with_the_same_bytes(astronaut, monkeypatch):
    """A 60-megapixel raw's DNG and render are converted strip by strip; the files do not change."""
    import denoise.image_io
    import denoise.raw

    raw, _ = synthetic_raw(astronaut[:64, :96], 3200, pattern="GBRG", black_levels=(500.0, 510.0, 520.0, 530.0))
    rendered = render(raw)
    whole = [encode_dng(raw), encode_rendered(rendered, "tiff"), png_samples(encode_rendered(rendered, "png"))]
    monkeypatch.setattr(denoise.raw, "STRIP_ROWS", 6)
    monkeypatch.setattr(denoise.image_io, "STRIP_ROWS", 6)
    png = encode_rendered(rendered, "png")
    assert png.count(b"IDAT") > 1  # chunks written as zlib gives them out, not one at the end
    assert [encode_dng(raw), encode_rendered(rendered, "tiff"), png_samples(png)] == whole
    assert whole[2] == to_samples(rendered, 16).astype(">u2").tobytes()
    back = read_raw(whole[0])
    assert back.mosaic.dtype == np.float32  # 240 MB for 60 megapixels, not float64's 480
    one_step = 1 / (raw.white_level - 515)
    assert np.abs(back.mosaic - np.clip(raw.mosaic, -500 * one_step, 1)).max() <= one_step / 2 + 1e-6


def test_render_turns_by_orientation_and_keeps_grey_grey():
    grey = RawImage(mosaic=np.full((32, 48), 0.2, np.float32), white_balance=(1.0, 1.0, 1.0), orientation=6)
    rendered = render(grey)
    assert rendered.shape == (48, 32, 3)
    assert np.ptp(rendered.mean(axis=(0, 1))) < 0.02  # equal raw values, unit gains, sRGB primaries: grey


def test_render_keeps_the_white_level_whatever_the_brightest_pixel():
    # LibRaw by default takes a brightest pixel above 0.75 of white for white: one bright pixel
    # brightened a whole denoised render against its noisy original.
    mosaic = np.full((32, 32), 0.3, np.float32)
    bright = mosaic.copy()
    bright[0, 0] = 0.9
    plain, with_bright = render(RawImage(mosaic=mosaic)), render(RawImage(mosaic=bright))
    np.testing.assert_allclose(with_bright[8:, 8:], plain[8:, 8:], atol=2e-3)


def test_noise_estimate_finds_the_sensor_law_on_a_smooth_image():
    ramp = np.linspace(0.02, 0.8, 512, dtype=np.float32)
    clean = np.tile(ramp, (512, 1))
    shot, read = 4e-4, 1e-5
    noisy = poisson_gaussian(clean, shot, read, np.random.default_rng(3)).astype(np.float32)
    estimate = estimate_noise(RawImage(mosaic=noisy))
    assert estimate.shot == pytest.approx(shot, rel=0.15)
    for level in (0.1, 0.5):  # the standard deviation where it matters, within 10 %
        assert np.sqrt(estimate.read + estimate.shot * level) == pytest.approx(np.sqrt(read + shot * level), rel=0.1)


def test_noise_estimate_reads_the_flat_blocks_where_texture_covers_most_of_the_image():
    ramp = np.linspace(0.02, 0.8, 512, dtype=np.float32)
    clean = np.tile(ramp, (512, 1))
    clean[:320] += 0.03 * np.random.default_rng(4).standard_normal((320, 512)).astype(np.float32)  # fine texture
    shot, read = 4e-4, 1e-5
    noisy = poisson_gaussian(clean, shot, read, np.random.default_rng(3)).astype(np.float32)
    estimate = estimate_noise(RawImage(mosaic=noisy))
    for level in (0.1, 0.5):  # a median over all blocks read 2.3 and 1.6 times the noise here
        assert np.sqrt(estimate.read + estimate.shot * level) == pytest.approx(np.sqrt(read + shot * level), rel=0.15)


def test_noise_comes_from_the_iso_where_asked_or_where_the_image_cannot_tell():
    small = RawImage(mosaic=np.full((8, 8), 0.3, np.float32), iso=1600)
    assert raw_noise(small, "estimate").source == "ISO 1600"  # too small to estimate
    big = RawImage(mosaic=np.random.default_rng(0).random((256, 256), np.float32) * 0.5, iso=1600)
    assert raw_noise(big, "iso").shot == pytest.approx(float(camera_noise_variance(1600)[0]))
    assert raw_noise(big, "estimate").source == "estimated from the image"
    assert raw_noise(big).source == "ISO 1600"  # auto: the file's ISO where it has one
    assert raw_noise(RawImage(mosaic=big.mosaic)).source == "estimated from the image"  # else the mosaic
    with pytest.raises(ImageReadError, match="noise"):
        raw_noise(RawImage(mosaic=np.full((8, 8), 0.3, np.float32)), "estimate")


def test_raw_training_pairs_carry_the_noise_their_planes_announce(training_folder):
    from denoise.data import load_folder

    sequence = PatchSequence(
        load_folder(training_folder, 3),
        patch_size=32,
        batch_size=64,
        batches_per_epoch=1,
        noise=[NoiseRange("camera", 3200, 3200)],
        domain="raw",
    )
    inputs, targets = sequence[0]
    assert inputs.shape == (64, 16, 16, 8) and targets.shape == (64, 16, 16, 4)
    unclipped = inputs[..., :4] < 1.0
    normalised = ((inputs[..., :4] - targets) / inputs[..., 4:])[unclipped]
    assert np.std(normalised) == pytest.approx(1.0, abs=0.1)  # the planes tell each sample's noise
    with pytest.raises(ValueError, match="camera noise only"):
        PatchSequence(load_folder(training_folder, 3), patch_size=32, batch_size=4, batches_per_epoch=1,
                      noise=[NoiseRange("gaussian", 0, 50)], domain="raw")  # fmt: skip


def test_raw_model_is_kept_apart_from_image_models(tiny_raw_model, use_tiny_models):
    assert read_model_file(tiny_raw_model).is_raw
    with pytest.raises(ModelFileError, match="raw model"):
        load_model(tiny_raw_model)
    with pytest.raises(ModelFileError, match="not a raw model"):
        load_raw_model(use_tiny_models / "unet-color.keras")


def test_denoise_write_dng_and_read_back(tiny_raw_model, astronaut, tmp_path):
    raw, clean = synthetic_raw(astronaut[:128, :160], 6400, orientation=8, pattern="RGGB")
    denoiser = load_raw_model(tiny_raw_model, runtime="tensorflow")
    tiles = []
    result = denoiser.denoise(raw, progress=lambda done, total: tiles.append((done, total)))
    assert tiles[-1][0] == tiles[-1][1] and result.model == "raw-bayer"
    assert result.noise.source == "ISO 6400"
    write_dng(tmp_path / "out.dng", result.raw)
    back = read_raw(tmp_path / "out.dng")
    assert back.mosaic.shape == raw.mosaic.shape and back.pattern == raw.pattern
    assert (back.black_levels, back.white_level, back.orientation) == (raw.black_levels, raw.white_level, 8)
    noise_std = np.sqrt(result.noise.read + result.noise.shot * 0.5)
    assert np.sqrt(np.mean((back.mosaic - raw.mosaic) ** 2)) < 3 * noise_std  # what was removed is noise-sized
    np.testing.assert_allclose(back.mosaic, np.clip(result.raw.mosaic, 0, 1), atol=1 / (16383 - 512))
    kept = denoiser.denoise(raw, noise=RawNoise(1e-4, 1e-6, "given"), strength=0.0)
    np.testing.assert_allclose(kept.raw.mosaic, np.clip(raw.mosaic, 0, 1))


def test_the_raw_model_averages_its_runs_on_the_turned_mosaic(tiny_raw_model, astronaut):
    raw, _ = synthetic_raw(astronaut[:96, :136], 12800)
    noise = RawNoise(4e-4, 1e-6, "given")
    once = load_raw_model(tiny_raw_model, runtime="tensorflow", orientations=1)
    twice = load_raw_model(tiny_raw_model, runtime="tensorflow")  # the default
    transposed = raw.with_mosaic(np.ascontiguousarray(raw.mosaic.T))  # RGGB stays RGGB
    expected = (once.denoise(raw, noise=noise).raw.mosaic + once.denoise(transposed, noise=noise).raw.mosaic.T) / 2
    tiles = []
    result = twice.denoise(raw, noise=noise, progress=lambda done, total: tiles.append((done, total)))
    np.testing.assert_allclose(result.raw.mosaic, np.clip(expected, 0, 1), atol=1e-5)
    assert np.abs(expected - once.denoise(raw, noise=noise).raw.mosaic).max() > 1e-5  # the two runs differ
    assert [done for done, _ in tiles] == list(range(1, len(tiles) + 1)) and tiles[-1][1] == len(tiles) == 2
    # Four: also the half turn, of the mosaic extended by one reflected pixel all round (RGGB again).
    turned = raw.with_mosaic(np.ascontiguousarray(np.pad(raw.mosaic, 1, mode="reflect")[::-1, ::-1]))
    turned_back = once.denoise(turned, noise=noise).raw.mosaic[::-1, ::-1][1:-1, 1:-1]
    turned_transposed = turned.with_mosaic(np.ascontiguousarray(turned.mosaic.T))
    turned_transposed_back = once.denoise(turned_transposed, noise=noise).raw.mosaic.T[::-1, ::-1][1:-1, 1:-1]
    expected_four = (2 * expected + turned_back + turned_transposed_back) / 4
    four = load_raw_model(tiny_raw_model, runtime="tensorflow", orientations=4).denoise(raw, noise=noise)
    np.testing.assert_allclose(four.raw.mosaic, np.clip(expected_four, 0, 1), atol=1e-5)
    assert load_raw_model(tiny_raw_model, runtime="tensorflow", orientations=8).piece.tile_passes == 8
    with pytest.raises(ValueError, match="one of 1, 2, 4, 8"):
        load_raw_model(tiny_raw_model, orientations=3)


def test_the_raw_model_computes_in_the_precision_asked(tiny_raw_model, astronaut):
    from denoise.runtimes import session_arithmetic

    raw, _ = synthetic_raw(astronaut[:64, :96], 3200)
    noise = RawNoise(1e-4, 1e-6, "given")
    exact = load_raw_model(tiny_raw_model, runtime="tensorflow", precision="float32")
    mixed = load_raw_model(tiny_raw_model, runtime="tensorflow", precision="mixed")
    assert (exact.arithmetic, mixed.arithmetic) == ("float32", "mixed")
    difference = np.abs(mixed.denoise(raw, noise=noise).raw.mosaic - exact.denoise(raw, noise=noise).raw.mosaic)
    assert 0 < difference.max() < 0.02  # bfloat16's rounding, in the deeper layers only
    openvino = load_raw_model(tiny_raw_model, runtime="openvino", precision="mixed")
    assert openvino.runtime == "openvino" and openvino.arithmetic == session_arithmetic("openvino", "mixed")
    with pytest.raises(ValueError, match="precision must be one of"):
        load_raw_model(tiny_raw_model, precision="half")


def test_the_raw_model_adapts_to_its_own_mosaic_and_gains_there(tiny_raw_model, astronaut, monkeypatch):
    import denoise.adaptation

    monkeypatch.setattr(denoise.adaptation, "LEARNING_RATE", 1e-3)  # the tiny model is nearly the identity
    raw, clean = synthetic_raw(astronaut[:128, :128], 12800)
    law = noise_from_iso(12800)
    shipped = load_raw_model(tiny_raw_model, runtime="tensorflow")
    before = shipped.denoise(raw, noise=law).raw.mosaic
    shares = []
    adapted = shipped.adapt(raw, noise=law, steps=200, progress=shares.append)
    assert adapted.card["adapted"] == {"from": "raw-bayer", "objective": "recorrupted", "noise": str(law), "steps": 200,
                                       "seed": 0}  # fmt: skip
    assert adapted.name == "raw-bayer adapted" and adapted.runtime == "tensorflow" and shares[-1] == 1.0
    after = adapted.denoise(raw, noise=law).raw.mosaic
    error = [np.mean((result - clean) ** 2) for result in (before, after)]
    assert error[1] < 0.9 * error[0]  # the tiny model learns this mosaic's noise from the mosaic alone
    np.testing.assert_array_equal(shipped.denoise(raw, noise=law).raw.mosaic, before)  # left as it was
    assert shipped.adapt(raw, noise=law, seconds=1e-6).card["adapted"]["steps"] == 1
    with pytest.raises(ValueError, match="at least 16 pixels"):
        shipped.adapt(raw.with_mosaic(raw.mosaic[:8, :8]), noise=law)


def test_run_adapts_each_raw_on_its_own_and_says_so(raw_models, astronaut, tmp_path, capsys, monkeypatch):
    (tmp_path / "a.dng").write_bytes(encode_dng(synthetic_raw(astronaut[:64, :64], 6400)[0]))
    assert main(["run", str(tmp_path / "a.dng"), "--out", str(tmp_path / "out"), "--adapt", "0.2"]) == 0
    captured = capsys.readouterr()
    assert "(raw-bayer adapted in " in captured.out and captured.err == ""
    assert read_raw(tmp_path / "out" / "a.dng").mosaic.shape == (64, 64)
    monkeypatch.setattr(keras.Model, "train_on_batch", lambda self, *rest, **options: float("nan"))
    assert main(["run", str(tmp_path / "a.dng"), "--out", str(tmp_path / "out"), "--adapt", "0.2"]) == 0
    assert "(raw-bayer as shipped (adapting failed at step 1: the loss is nan)" in capsys.readouterr().out
    assert main(["adapt", str(tmp_path / "a.dng"), "--save", "shoot", "--folder", str(tmp_path / "mine")]) == 2
    assert "a raw file adapts as it is denoised" in capsys.readouterr().err and not (tmp_path / "mine").exists()


def test_the_runtimes_give_the_keras_result_on_the_raw_model(tiny_raw_model, astronaut):
    raw, _ = synthetic_raw(astronaut[:96, :136], 3200)
    noise = RawNoise(4e-4, 1e-6, "given")
    reference = load_raw_model(tiny_raw_model, runtime="tensorflow").denoise(raw, noise=noise)
    fast = load_raw_model(tiny_raw_model, runtime="onnxruntime")
    assert fast.runtime == "onnxruntime"
    np.testing.assert_allclose(fast.denoise(raw, noise=noise).raw.mosaic, reference.raw.mosaic, atol=1e-4)


# ---------------------------------------------------------------- the command line and hostile raws


@pytest.fixture
def raw_models(tiny_raw_model, use_tiny_models, tmp_path, monkeypatch) -> Path:
    """The tiny models with the tiny raw model beside them, as ``raw-bayer``."""
    from tests.conftest import tiny_models_with_manifest

    folder = tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch)
    for suffix in (".keras", ".json"):
        (folder / f"raw-bayer{suffix}").write_bytes(tiny_raw_model.with_suffix(suffix).read_bytes())
    return folder


def test_run_denoises_raws_to_dng_and_refuses_hostile_ones_one_line_each(raw_models, astronaut, tmp_path, capsys):
    good, _ = synthetic_raw(astronaut[:64, :64], 3200)
    files = {
        "good.dng": encode_dng(good),
        "truncated.dng": encode_dng(good)[:3000],
        "photo.NEF": jpeg_bytes(),
        "huge.dng": dng_declaring(100_000, 100_000),
    }
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, data in files.items():
        (inputs / name).write_bytes(data)
    out = tmp_path / "out"
    status = main(["run", *(str(inputs / name) for name in files), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert sorted(path.name for path in out.iterdir()) == ["good.dng"]  # nothing half-written
    errors = captured.err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("denoise: ") for line in errors)
    assert "truncated or damaged" in captured.err and "not a raw file LibRaw can read" in captured.err
    assert "Traceback" not in captured.err and "noise shot" in captured.out
    assert read_raw(out / "good.dng").mosaic.shape == (64, 64)


def test_run_renders_raws_as_16_bit_tiff_and_falls_back_for_non_bayer(raw_models, astronaut, tmp_path, capsys):
    good, _ = synthetic_raw(astronaut[:64, :64], 3200, orientation=6)
    (tmp_path / "good.dng").write_bytes(encode_dng(good))
    (tmp_path / "linear.dng").write_bytes(linear_dng())
    out = tmp_path / "out"
    assert (
        main(["run", str(tmp_path / "good.dng"), str(tmp_path / "linear.dng"), "--out", str(out), "--format", "tiff"])
        == 0
    )
    captured = capsys.readouterr().out
    assert "not a Bayer sensor" in captured and "rendered by LibRaw, then denoised by" in captured
    rendered = tifffile.imread(out / "good.tif")
    assert rendered.dtype == np.uint16 and rendered.shape == (64, 64, 3)
    assert tifffile.imread(out / "linear.tif").shape == (32, 48, 3)


def test_the_finish_grows_with_the_iso_and_leaves_low_iso_alone():
    shares = [finishing_strength(noise_from_iso(iso)) for iso in (100, 200, 800, 3200, 25600, 102400, 409600)]
    assert shares[0] == shares[1] == 0 and shares[2] > 0
    assert all(earlier < later for earlier, later in zip(shares[1:4], shares[2:5], strict=True))
    assert shares[-1] == shares[-2] == FINISH_MOST
    assert finishing_strength(RawNoise(0.0, 1e-6, "given")) == 0
    measured = estimate_noise(synthetic_raw(np.full((64, 64, 3), 0.4, np.float32), 6400)[0])
    assert measured.estimated and finishing_strength(measured) == 0  # texture read as noise: no finish
    law = noise_from_iso(6400)  # a raw denoised more gently gets a gentler finish; more strength, no more
    assert finishing_strength(law, 0.5) == pytest.approx(finishing_strength(law) / 2)
    assert finishing_strength(law, 1.5) == finishing_strength(law)


def test_a_render_is_finished_by_the_image_model_at_the_share_of_its_noise(tiny_raw_model, use_tiny_models, astronaut):
    raw, _ = synthetic_raw(astronaut[:64, :96], 12800)
    result = load_raw_model(tiny_raw_model, runtime="tensorflow").denoise(raw)
    finisher = load_model(use_tiny_models / "unet-color.keras", runtime="tensorflow")
    rendered = render(result.raw)
    share = finishing_strength(result.noise)
    expected = np.clip(rendered + share * (finisher.denoise(rendered) - rendered), 0, 1)
    np.testing.assert_allclose(finish_render(rendered, result.noise, finisher), expected, atol=1e-5)
    halfway = finish_render(rendered, result.noise, finisher, strength=0.5)  # a weaker raw result, a weaker finish
    np.testing.assert_allclose(halfway, rendered + 0.5 * (expected - rendered), atol=1e-5)
    assert np.abs(expected - rendered).max() > 1e-3  # the finish changed something
    assert finish_render(rendered, noise_from_iso(200), finisher) is rendered  # nothing to finish at ISO 200


def test_run_finishes_a_raws_render_unless_asked_not_to(raw_models, astronaut, tmp_path, capsys):
    good, _ = synthetic_raw(astronaut[:64, :64], 12800)
    (tmp_path / "good.dng").write_bytes(encode_dng(good))
    for folder, flags in (("finished", []), ("plain", ["--no-finish"])):
        assert (
            main(["run", str(tmp_path / "good.dng"), "--out", str(tmp_path / folder), "--format", "png", *flags]) == 0
        )
    captured = capsys.readouterr().out.splitlines()
    assert "render finished by" in captured[0] and "render finished by" not in captured[1]
    finished, plain = (read_image(tmp_path / folder / "good.png").pixels for folder in ("finished", "plain"))
    assert finished.shape == plain.shape == (64, 64, 3) and np.abs(finished - plain).max() > 1e-3


def test_a_result_never_writes_over_its_input(raw_models, astronaut, tmp_path, capsys):
    good, _ = synthetic_raw(astronaut[:32, :32], 800)
    original = encode_dng(good)
    (tmp_path / "a.dng").write_bytes(original)
    assert main(["run", str(tmp_path / "a.dng"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "a.dng").read_bytes() == original and (tmp_path / "a-1.dng").is_file()


def test_the_command_line_gives_raws_the_passes_asked_and_two_at_least(raw_models, astronaut, tmp_path, monkeypatch):
    import denoise.raw_model

    loaded, original = [], denoise.raw_model.load_raw_model

    def load_raw_model(**options):
        loaded.append(options["orientations"])
        return original(**options)

    monkeypatch.setattr(denoise.raw_model, "load_raw_model", load_raw_model)
    (tmp_path / "a.dng").write_bytes(encode_dng(synthetic_raw(astronaut[:32, :32], 800)[0]))
    for asked in ([], ["--orientations", "4"], ["--orientations", "8"]):
        assert main(["run", str(tmp_path / "a.dng"), "--out", str(tmp_path / "out"), *asked]) == 0
    assert loaded == [2, 4, 8] and (tmp_path / "out" / "a.dng").is_file()


def test_every_maker_suffix_goes_to_the_raw_reader_never_to_its_tiff_preview(raw_models, astronaut, tmp_path, capsys):
    # Many raws (Phase One's IIQ, Kodak's KDC, ...) are TIFFs whose first page is a small preview,
    # which the image reader would denoise in the raw's place.
    assert {".iiq", ".kdc", ".3fr", ".mos", ".mrw", ".x3f", ".crw", ".rwl"} <= RAW_SUFFIXES
    assert is_raw_file("PHOTO.IIQ") and not is_raw_file("photo.tif")
    good, _ = synthetic_raw(astronaut[:32, :32], 800)
    (tmp_path / "photo.IIQ").write_bytes(encode_dng(good))
    assert main(["run", str(tmp_path / "photo.IIQ"), "--out", str(tmp_path / "out")]) == 0
    assert "noise shot" in capsys.readouterr().out
    assert read_raw(tmp_path / "out" / "photo.dng").mosaic.shape == (32, 32)


def test_tifffile_is_quiet_only_in_the_thread_probing_a_raw(astronaut, caplog):
    import logging
    import threading

    from denoise import raw as raw_module

    log = logging.getLogger("tifffile")
    caplog.set_level(logging.WARNING, logger="tifffile")  # the batch command's tests lower the root logger
    raw_module._probing.active = True
    try:
        log.warning("while probing")
        other = threading.Thread(target=log.warning, args=("another session's file",))
        other.start()
        other.join()
    finally:
        raw_module._probing.active = False
    log.warning("after probing")
    assert [record.getMessage() for record in caplog.records] == ["another session's file", "after probing"]
    good, _ = synthetic_raw(astronaut[:32, :32], 800)
    assert read_raw(encode_dng(good)).iso == 800
    assert not getattr(raw_module._probing, "active", False)  # the probe leaves the thread as it found it


def test_a_camera_without_a_colour_matrix_is_taken_as_srgb():
    srgb = np.linalg.inv(SRGB_TO_XYZ)
    np.testing.assert_allclose(_xyz_to_camera(np.zeros((3, 3)), np.zeros((3, 3))), srgb)  # an old Kodak
    np.testing.assert_allclose(_xyz_to_camera(np.zeros((3, 3)), np.ones((3, 3))), srgb)  # singular
    np.testing.assert_allclose(_xyz_to_camera(np.zeros((3, 3)), np.eye(3)), srgb)  # a DNG: camera -> sRGB
    camera = np.array([[0.7, -0.1, -0.05], [-0.4, 1.2, 0.2], [-0.06, 0.1, 0.6]])
    np.testing.assert_allclose(_xyz_to_camera(camera, np.zeros((3, 3))), camera)


def test_batch_writes_the_raws_run_writes_and_refuses_hostile_ones(raw_models, astronaut, tmp_path, capsys):
    pytest.importorskip("apache_beam", reason="the scale extra is not installed")
    good, _ = synthetic_raw(astronaut[:64, :64], 3200)
    inputs = tmp_path / "in"
    inputs.mkdir()
    files = {"good.dng": encode_dng(good), "truncated.dng": encode_dng(good)[:3000], "linear.dng": linear_dng()}
    for name, data in files.items():
        (inputs / name).write_bytes(data)
    paths = [str(inputs / name) for name in files]
    assert main(["run", *paths, "--out", str(tmp_path / "run")]) == 2
    capsys.readouterr()
    assert main(["batch", *paths, "--out", str(tmp_path / "batch")]) == 2
    captured = capsys.readouterr()
    assert sorted(path.name for path in (tmp_path / "batch").iterdir()) == ["good.dng", "linear.tif"]
    for name in ("good.dng", "linear.tif"):
        assert (tmp_path / "batch" / name).read_bytes() == (tmp_path / "run" / name).read_bytes()
    refusals = [line for line in captured.err.splitlines() if line.startswith("denoise:")]
    assert len(refusals) == 1 and "truncated.dng" in refusals[0] and "Traceback" not in captured.err
    assert "noise shot" in captured.out and "rendered by LibRaw" in captured.out
    for command in ("run", "batch"):  # a render is finished alike by both
        assert main([command, paths[0], "--out", str(tmp_path / f"{command}-tiff"), "--format", "tiff"]) == 0
    assert "render finished by" in capsys.readouterr().out
    assert (tmp_path / "batch-tiff" / "good.tif").read_bytes() == (tmp_path / "run-tiff" / "good.tif").read_bytes()


def test_libraw_failing_inside_decoding_is_one_line(raw_models, astronaut, tmp_path, capsys, monkeypatch):
    import rawpy

    class Failing(rawpy.RawPy):
        def unpack(self):
            raise rawpy.LibRawDataError("data corrupted")

    good, _ = synthetic_raw(astronaut[:32, :32], 800)
    (tmp_path / "a.dng").write_bytes(encode_dng(good))
    monkeypatch.setattr(rawpy, "RawPy", Failing)
    assert main(["run", str(tmp_path / "a.dng"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"denoise: {tmp_path / 'a.dng'}: the raw file's data is damaged"


def test_not_bayer_error_carries_libraw_render():
    with pytest.raises(NotBayerError) as caught:
        read_raw(linear_dng())
    assert caught.value.rendered.shape == (32, 48, 3)


def test_raw_benchmark_scores_every_path_after_rendering(tiny_raw_model, training_folder, tmp_path, capsys):
    from benchmarks.raw import main as raw_benchmark
    from benchmarks.report import RAW_MARKERS, fill_sections, raw_markdown

    output = tmp_path / "raw"
    arguments = [str(training_folder), "--count", "2", "--crop", "64", "--iso", "3200", "--raw-model"]
    options = ["--photo-model", "conv-2", "--adapt", "0.1", "--output", str(output)]
    assert raw_benchmark([*arguments, str(tiny_raw_model), *options]) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    methods = [row["method"] for row in report["rows"]]
    assert (
        methods[0] == "noisy raw, rendered"
        and "raw model, noise estimated from the mosaic" in methods
        and "raw model, noise from the ISO, one run" in methods
        and "raw model, noise from the ISO, 8 orientations" in methods
        and "raw model, noise from the ISO, 8 orientations, render finished by conv-2" in methods
        and methods[-1] == "raw model, noise from the ISO, adapted 0.1 s"
        and len(methods) == 13
    )
    assert all(20 < row["psnr"] < 60 for row in report["rows"])
    folder = training_folder.name  # two crops of one folder: its mean is the whole mean
    assert all(row["psnr_by_folder"] == {folder: pytest.approx(row["psnr"])} for row in report["rows"])
    assert f"Of them, the 2 crops of `{folder}`:" in raw_markdown(report, by_folder=True)
    assert report["command"].startswith("python -m benchmarks.raw")
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{RAW_MARKERS[0]}\nold\n{RAW_MARKERS[1]}\nafter\n")
    fill_sections(readme, {RAW_MARKERS: raw_markdown(report, variants=False)})
    assert "| raw model, noise estimated from the mosaic |" in readme.read_text() and "old" not in readme.read_text()
    assert "one run" not in readme.read_text() and "one run" in raw_markdown(report)  # the README's is compact


def test_the_finish_study_scores_every_share_and_names_the_best(tiny_raw_model, training_folder, tmp_path):
    from benchmarks.raw_finish import SHARES
    from benchmarks.raw_finish import main as finish_study

    output = tmp_path / "raw-finish"
    arguments = [str(training_folder), "--count", "2", "--crop", "64", "--iso", "800", "12800"]
    options = ["--raw-model", str(tiny_raw_model), "--photo-model", "conv-2", "--output", str(output)]
    assert finish_study([*arguments, *options]) == 0
    report = json.loads(output.with_suffix(".json").read_text())
    for row in report["rows"]:
        scores = row["psnr_by_share"]
        assert len(scores) == len(SHARES) and all(10 < score < 60 for score in scores.values())
        assert scores[f"{row['best_share']:g}"] == max(scores.values())
    assert [row["schedule_share"] for row in report["rows"]] == [0.125, pytest.approx(0.125 + 4 * 0.105)]
    assert "| 12800 |" in output.with_suffix(".md").read_text()
