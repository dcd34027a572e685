"""Hostile and awkward input: refused with one line, or denoised keeping size, alpha and depth."""

import threading

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from denoise import ImageReadError, ModelFileError, load_model, read_image
from denoise.cli import main
from denoise.pipeline import claim_name, safe_file_stem, zip_files
from tests.hostile import HANDLED, REFUSED, noise_pixels
from tests.images import encode


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_the_reader_with_a_clear_error(name):
    with pytest.raises(ImageReadError) as error:
        read_image(REFUSED[name]())
    message = str(error.value)
    assert "\n" not in message and len(message) < 200


def test_size_limit_is_named_in_the_message():
    with pytest.raises(ImageReadError, match="limit is 64 megapixels|limit 64 megapixels"):
        read_image(REFUSED["huge-12000.png"]())


def write_inputs(folder, files):
    paths = []
    for name, factory in files.items():
        path = folder / name
        path.write_bytes(factory())
        paths.append(path)
    return paths


def test_cli_refuses_each_bad_file_and_processes_the_rest(use_tiny_models, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    bad = write_inputs(inputs, REFUSED)
    good = write_inputs(inputs, {"good.png": HANDLED["plain.bmp"][0]})
    out = tmp_path / "out"
    assert main(["run", *map(str, bad + good), "--out", str(out)]) == 2
    errors = capsys.readouterr().err.splitlines()
    for path in bad:
        [line] = [line for line in errors if str(path) in line]
        assert "Traceback" not in line
    assert [path.name for path in out.iterdir()] == ["good.png"]  # nothing partial, nothing for bad files


def test_cli_denoises_every_awkward_file(use_tiny_models, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    paths = write_inputs(inputs, {name: factory for name, (factory, _) in HANDLED.items()})
    out = tmp_path / "out"
    assert main(["run", *map(str, paths), "--out", str(out)]) == 0, capsys.readouterr().err
    assert "first of 3 frames" in capsys.readouterr().out
    for name, (_, (height, width, has_alpha, bit_depth)) in HANDLED.items():
        result_path = out / f"{name.rsplit('.', 1)[0]}.png"
        result = read_image(result_path)
        assert result.pixels.shape[:2] == (height, width), name
        assert (result.alpha is not None) == has_alpha, name
        assert result_path.read_bytes()[24] == bit_depth, name  # bit depth in the PNG header


def test_alpha_survives_unchanged(use_tiny_models, tmp_path):
    source = tmp_path / "rgba.png"
    source.write_bytes(HANDLED["rgba.png"][0]())
    assert main(["run", str(source), "--out", str(tmp_path / "out")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "rgba.png").alpha, read_image(source).alpha)


def test_24_megapixel_jpeg_goes_through_tiles(use_tiny_models, tmp_path):
    path = tmp_path / "big.jpg"
    small = noise_pixels(400, 600)
    Image.fromarray(np.tile(small, (10, 10, 1))).save(path, quality=80)  # 4000 x 6000
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--model", "conv-2"]) == 0
    with Image.open(tmp_path / "out" / "big.png") as result:
        assert result.size == (6000, 4000)


def test_model_for_wrong_channel_count_is_refused(tmp_path):
    inputs = keras.Input((None, None, 4))
    keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs)).save(tmp_path / "four.keras")
    with pytest.raises(ModelFileError, match="4 channels"):
        load_model(tmp_path / "four.keras")


def test_model_with_code_is_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((None, None, 1))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="cannot load model"):
        load_model(tmp_path / "lambda.keras")


def test_upload_names_are_sanitised():
    assert safe_file_stem("../../etc/passwd") == "passwd"
    assert safe_file_stem("C:\\Users\\x\\photo 1.JPG") == "photo_1"
    assert safe_file_stem("....") == "image"
    names = zip_files([("../a.png", b"1"), ("a.png", b"2"), ("/abs/a.png", b"3")])
    import io
    import zipfile

    listed = zipfile.ZipFile(io.BytesIO(names)).namelist()
    assert listed == ["a.png", "a-1.png", "a-2.png"]
    assert all("/" not in name and ".." not in name for name in listed)


def test_claimed_names_are_numbered_past_every_taken_one():
    taken = {"b (2).png"}
    claimed = [claim_name("b", ".png", taken, "{stem} ({number}){extension}", first_number=2) for _ in range(3)]
    assert claimed == ["b.png", "b (3).png", "b (4).png"] and taken == {"b.png", "b (2).png", "b (3).png", "b (4).png"}
    assert [claim_name("c", "", taken) for _ in range(2)] == ["c", "c-1"]


def test_shared_model_gives_each_thread_its_own_result(use_tiny_models):
    denoiser = load_model("default")
    images = [np.full((40 + index, 30, 3), index / 10, np.float32) for index in range(8)]
    expected = [denoiser.denoise(image) for image in images]
    results = [None] * 8

    def work(index):
        results[index] = denoiser.denoise(images[index])

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result, reference in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result, reference)


SEEDS = {
    "png": encode(Image.fromarray(noise_pixels(24, 24)), "PNG"),
    "jpeg": encode(Image.fromarray(noise_pixels(24, 24)), "JPEG"),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_fuzzed_png_and_jpeg_bytes_only_raise_the_clear_error(kind, edits, cut):
    data = bytearray(SEEDS[kind])
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        loaded = read_image(bytes(data))
    except ImageReadError as error:
        assert "\n" not in str(error)
    else:
        assert loaded.pixels.ndim == 3 and np.isfinite(loaded.pixels).all()
