import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import denoise
from denoise.cli import (
    ADAPT_SECONDS,
    EXPORT_FORMAT_CHOICES,
    MAX_STRENGTH,
    OBJECTIVE_CHOICES,
    ORIENTATION_CHOICES,
    PRECISION_CHOICES,
    RAW_NOISE_SOURCES,
    RAW_OUTPUT_FORMATS,
    RUNTIME_CHOICES,
    main,
)
from tests.images import gradient, png_bytes


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes(30, 50))
    (folder / "broken.png").write_bytes(b"not really a png")
    Image.fromarray(gradient(25, 20, 1)).save(folder / "b.jpg")
    return folder


def test_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "denoise", "--help"], capture_output=True, text=True, check=True)
    for command in ["run", "eval", "models", "train"]:
        assert command in result.stdout


def test_run_good_files_and_a_bad_one(use_tiny_models, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(
        [
            "run",
            str(inputs / "a.png"),
            str(inputs / "broken.png"),
            str(inputs / "b.jpg"),
            "--out",
            str(out),
            "--noise",
            "gaussian:25",
        ]
    )
    assert status == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "broken.png" in line]
    assert len(error_lines) == 1 and "not a supported image" in error_lines[0]
    assert sorted(path.name for path in out.iterdir()) == ["a.png", "b.png"]
    with Image.open(out / "a.png") as first, Image.open(out / "b.png") as second:
        assert first.size == (50, 30) and first.mode == "RGB"
        assert second.size == (20, 25) and second.mode == "L"


def test_run_all_good_exits_zero_and_numbers_clashing_names(use_tiny_models, inputs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes(png_bytes(10, 10))
    out = tmp_path / "out"
    assert main(["run", str(inputs / "a.png"), str(other / "a.png"), "--out", str(out), "--model", "dense"]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["a-1.png", "a.png"]


def test_run_unknown_model_is_one_line_error(use_tiny_models, inputs, tmp_path, capsys):
    assert main(["run", str(inputs / "a.png"), "--out", str(tmp_path), "--model", "nope"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_eval_json(use_tiny_models, tmp_path, capsys):
    folder = tmp_path / "test-set"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(gradient(32, 40, 1)).save(folder / f"{index}.png")
    assert main(["eval", str(folder), "--sigma", "15", "50", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["sigma"] for row in rows] == [15, 50]
    assert rows[0]["noisy_psnr"] > rows[1]["noisy_psnr"]
    assert all(row["images"] == 2 and np.isfinite(row["psnr"]) and 0 < row["ssim"] <= 1 for row in rows)


def test_models_lists_cards(use_tiny_models, capsys):
    assert main(["models"]) == 0
    output = capsys.readouterr().out
    assert "unet-gray" in output and "conv-2-color" in output


def test_train_command_writes_model_and_card(training_folder, tmp_path, capsys):
    output = tmp_path / "cli-model"
    status = main(
        [
            "train",
            "--data",
            str(training_folder),
            "--output",
            str(output),
            "--architecture",
            "dense",
            "--latent",
            "8",
            "--epochs",
            "1",
            "--batches-per-epoch",
            "2",
            "--batch-size",
            "16",
            "--weight-by-noise",
        ]
    )
    assert status == 0
    card = json.loads((tmp_path / "cli-model.json").read_text())
    assert card["command"].startswith("denoise train --data") and card["latent_size"] == 8
    assert card["training"]["weight_by_noise"] is True and card["training"]["warmup_epochs"] == 0


def test_train_with_a_warmup_as_long_as_training_is_one_line_error(training_folder, tmp_path, capsys):
    arguments = ["train", "--data", str(training_folder), "--output", str(tmp_path / "model")]
    status = main([*arguments, "--epochs", "2", "--warmup-epochs", "2"])
    error = capsys.readouterr().err.strip()
    assert status == 2 and error.count("\n") == 0 and "warm-up must be shorter" in error
    assert not (tmp_path / "model.keras").exists()


def test_train_from_initial_weights_that_are_missing_is_one_line_error(training_folder, tmp_path, capsys):
    arguments = ["train", "--data", str(training_folder), "--output", str(tmp_path / "second")]
    status = main([*arguments, "--initial-weights", str(tmp_path / "missing.keras")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and error.count("\n") == 0 and "missing.keras: model file not found" in error
    assert not (tmp_path / "second.keras").exists()


def test_train_command_takes_bottom_blocks_and_data_threads(training_folder, tmp_path):
    arguments = ["train", "--data", str(training_folder), "--output", str(tmp_path / "unet"), "--latent", "8"]
    arguments += ["--width", "8", "--patch-size", "32", "--batch-size", "4", "--batches-per-epoch", "2"]
    assert main([*arguments, "--epochs", "1", "--bottom-blocks", "2", "--workers", "2"]) == 0
    card = json.loads((tmp_path / "unet.json").read_text())
    assert card["bottom_blocks"] == 2 and "--workers 2" in card["command"]
    layers = {layer.name for layer in keras.saving.load_model(tmp_path / "unet.keras").layers}
    assert "bottom_2_b" in layers and "bottom_3_b" not in layers


def test_train_stops_at_its_time_budget(training_folder, tmp_path):
    arguments = ["train", "--data", str(training_folder), "--output", str(tmp_path / "model"), "--architecture"]
    arguments += ["dense", "--latent", "8", "--batch-size", "4", "--batches-per-epoch", "50", "--epochs", "20"]
    assert main([*arguments, "--seconds", "0.001"]) == 0
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["epochs_run"] == 1 and card["patches_seen"] < 4 * 50
    with pytest.raises(SystemExit):
        main([*arguments, "--seconds", "0"])


def test_eval_averages_orientations(use_tiny_models, tmp_path, capsys):
    folder = tmp_path / "test-set"
    folder.mkdir()
    Image.fromarray(gradient(32, 40, 1)).save(folder / "0.png")
    assert main(["eval", str(folder), "--sigma", "25", "--orientations", "2"]) == 0
    assert "unet x2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", str(folder), "--orientations", "3"])


def test_orientation_choices_match_the_library():
    """The CLI writes the counts out (so --help needs no Keras); they must stay the library's."""
    assert ORIENTATION_CHOICES == denoise.ORIENTATION_COUNTS
    assert PRECISION_CHOICES == denoise.PRECISION_CHOICES
    assert MAX_STRENGTH == denoise.strength.MAX_STRENGTH
    assert EXPORT_FORMAT_CHOICES == tuple(denoise.export.EXPORT_FORMATS)
    assert RUNTIME_CHOICES == denoise.runtimes.RUNTIME_CHOICES
    assert OBJECTIVE_CHOICES == denoise.objectives.OBJECTIVES
    assert ADAPT_SECONDS == denoise.adaptation.ADAPTATION_SECONDS
    assert RAW_OUTPUT_FORMATS == denoise.raw.RAW_OUTPUT_FORMATS
    assert RAW_NOISE_SOURCES == denoise.raw_model.NOISE_SOURCES


def test_run_fast_takes_the_quick_family_and_names_the_runtime(use_tiny_models, tmp_path, monkeypatch, capsys):
    from tests.conftest import tiny_models_with_manifest

    tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, quick="conv-2")
    monkeypatch.setenv("DENOISE_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "in.png"
    Image.fromarray(gradient(32, 40, 1)).save(image)
    arguments = ["run", str(image), "--out", str(tmp_path / "out"), "--noise", "gaussian:25"]
    assert main(["--verbose", *arguments, "--fast", "--runtime", "onnxruntime"]) == 0
    captured = capsys.readouterr()
    assert "(conv-2-gray)" in captured.out and "model conv-2, float32 precision on CPU, onnxruntime" in captured.err
    assert main([*arguments, "--model", "conv-2", "--fast"]) == 2
    assert "--fast: conv-2 has no quicker model" in capsys.readouterr().err


def test_eval_and_run_in_bfloat16(use_tiny_models, tmp_path, capsys):
    folder = tmp_path / "test-set"
    folder.mkdir()
    Image.fromarray(gradient(32, 40, 1)).save(folder / "0.png")
    rows = {}
    for precision in PRECISION_CHOICES:
        assert main(["eval", str(folder), "--sigma", "25", "--precision", precision, "--json"]) == 0
        [rows[precision]] = json.loads(capsys.readouterr().out)
        assert rows[precision]["precision"] == precision
        assert rows[precision]["arithmetic"] == ("float32" if precision == "auto" else precision)
    for precision in ("mixed", "bfloat16"):
        assert abs(rows[precision]["psnr"] - rows["float32"]["psnr"]) < 0.5  # the same model, rounded
    run = ["run", str(folder / "0.png"), "--out", str(tmp_path / "out"), "--precision", "bfloat16"]
    assert main(["--verbose", *run]) == 0
    assert ", bfloat16 precision on " in capsys.readouterr().err
    assert Image.open(tmp_path / "out" / "0.png").size == (40, 32)
    with pytest.raises(SystemExit):
        main(["eval", str(folder), "--precision", "float16"])


@pytest.mark.parametrize(
    "noise, model",
    [([], "photo-color"), (["--noise", "camera:3200"], "photo-color"), (["--noise", "gaussian:25"], "unet-color")],
)
def test_run_picks_the_photo_model_for_photos_and_the_default_for_synthetic_noise(
    use_tiny_models, inputs, tmp_path, capsys, noise, model
):
    assert main(["run", str(inputs / "a.png"), "--out", str(tmp_path), *noise]) == 0
    assert f"({model})" in capsys.readouterr().out


def test_run_strength_zero_writes_the_input_and_out_of_range_is_refused(use_tiny_models, inputs, tmp_path, capsys):
    assert main(["run", str(inputs / "a.png"), "--out", str(tmp_path), "--strength", "0"]) == 0
    with Image.open(inputs / "a.png") as original, Image.open(tmp_path / "a.png") as written:
        np.testing.assert_array_equal(np.asarray(original), np.asarray(written))
    with pytest.raises(SystemExit):
        main(["run", str(inputs / "a.png"), "--out", str(tmp_path), "--strength", "2.5"])
    assert "between 0 and 2" in capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["run", "batch"])
def test_prints_no_library_logs_and_one_line_per_refused_file(subcommand, tiny_models, inputs, tmp_path):
    """TensorFlow's start-up lines (oneDNN, cuInit, absl) and Beam's warnings go nowhere; --verbose brings them back."""
    if subcommand == "batch":
        pytest.importorskip("apache_beam", reason="the scale extra is not installed")
    command = [sys.executable, "-m", "denoise", subcommand, str(inputs / "a.png"), str(inputs / "broken.png")]
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("TF_", "GRPC", "GLOG"))}
    environment["DENOISE_MODELS"] = str(tiny_models)
    quiet = subprocess.run(
        [*command, "--out", str(tmp_path / "quiet")], capture_output=True, text=True, env=environment
    )
    assert quiet.returncode == 2
    assert quiet.stderr.splitlines() == [f"denoise: {inputs / 'broken.png'}: " + quiet.stderr.split(": ", 2)[2].strip()]
    assert "not a supported image" in quiet.stderr and (tmp_path / "quiet" / "a.png").exists()
    verbose = subprocess.run(
        [sys.executable, "-m", "denoise", "--verbose", *command[3:], "--out", str(tmp_path / "verbose")],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert verbose.returncode == 2 and len(verbose.stderr.splitlines()) > 2  # the libraries' lines and the model
