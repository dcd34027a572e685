"""`denoise batch` on Apache Beam's FnApiRunner: the same files as `denoise run`, refusals per file."""

import logging

import numpy as np
import pytest

from denoise import load_model, read_image, write_png
from denoise.cli import main

pytest.importorskip("apache_beam", reason="the scale extra is not installed")


@pytest.fixture
def inputs(tmp_path, astronaut, camera):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "colour.png", astronaut[:150, :190])
    write_png(folder / "grey.png", camera[:97, :131])  # the photo model on a grey image: via colour
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def test_batch_writes_what_run_writes_and_refuses_bad_files_one_by_one(use_tiny_models, inputs, tmp_path, capsys):
    files = [str(inputs / name) for name in ("colour.png", "broken.png", "grey.png")]
    # Beam's RunInference calls the Keras model itself, so `run` takes the same runtime: OpenVINO and
    # ONNX Runtime agree with it to 2e-6, which can still flip a PNG's rounding.
    assert main(["run", *files, "--out", str(tmp_path / "run"), "--runtime", "tensorflow"]) == 2
    capsys.readouterr()
    root_level = logging.getLogger().level
    assert main(["batch", *files, "--out", str(tmp_path / "batch")]) == 2
    assert logging.getLogger().level == root_level  # quiet for the batch only, not for the caller after it
    captured = capsys.readouterr()
    refusals = [line for line in captured.err.splitlines() if line.startswith("denoise:")]
    assert len(refusals) == 1 and "broken.png" in refusals[0]
    for name in ("colour.png", "grey.png"):
        assert (tmp_path / "batch" / name).read_bytes() == (tmp_path / "run" / name).read_bytes()
    assert not (tmp_path / "batch" / "broken.png").exists()
    assert "(photo-color)" in captured.out


def test_tiles_of_one_size_stack_and_stitch_back_to_the_tiled_result(use_tiny_models, astronaut, tmp_path):
    from denoise.batch import run_batch

    image = astronaut[:300, :420]
    write_png(tmp_path / "large.png", image)
    pixels = read_image(tmp_path / "large.png").pixels
    assert run_batch([str(tmp_path / "large.png")], tmp_path / "out", model="conv-2", tile_size=64) == []
    expected = load_model("conv-2", tile_size=64).denoise(pixels)
    result = read_image(tmp_path / "out" / "large.png").pixels
    assert np.abs(result - expected).max() <= 0.5 / 255 + 1e-6  # the same up to the PNG's 8 bits


def test_families_that_combine_models_are_refused_with_one_line(luminance_models, inputs, tmp_path, capsys):
    assert main(["batch", str(inputs / "colour.png"), "--out", str(tmp_path / "out"), "--model", "default"]) == 2
    assert "combines several (name one with --model)" in capsys.readouterr().err
