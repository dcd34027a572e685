"""Runtimes: OpenVINO and ONNX Runtime give TensorFlow's results, are cached, and fall back."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import denoise.runtimes
from denoise.compose import leaf_models
from denoise.inference import load_model, read_model_file
from denoise.metrics import psnr
from denoise.noise import add_noise
from denoise.runtimes import FAST_RUNTIMES, RuntimeModel, cache_folder, onnx_file, resolve_runtime

pytest.importorskip("openvino")
pytest.importorskip("onnxruntime")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runtime cache for this test."""
    monkeypatch.setenv("DENOISE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def hide_module(monkeypatch: pytest.MonkeyPatch, hidden: str) -> None:
    """Make ``hidden`` look not installed to the runtimes' checks."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        denoise.runtimes.importlib.util, "find_spec", lambda name, *rest: None if name == hidden else find_spec(name)
    )


def test_auto_takes_the_fastest_installed_runtime_on_a_cpu_and_keras_on_a_gpu(monkeypatch):
    assert resolve_runtime("auto") == "fastest"  # both installed: timed per model
    assert resolve_runtime("auto", device="GPU (NVIDIA H200)") == "tensorflow"
    # bfloat16 asked for: OpenVINO where the CPU has it, else Keras's emulation as asked.
    assert resolve_runtime("auto", arithmetic="mixed", native_bfloat16=True) == "openvino"
    assert resolve_runtime("auto", arithmetic="bfloat16") == "tensorflow"
    assert resolve_runtime("onnxruntime", device="GPU (NVIDIA H200)") == "onnxruntime"
    hide_module(monkeypatch, "openvino")
    assert resolve_runtime("auto") == "onnxruntime"  # the only one installed
    hide_module(monkeypatch, "onnxruntime")
    assert resolve_runtime("auto") == "tensorflow"
    with pytest.raises(ValueError, match="runtime must be one of"):
        resolve_runtime("tensorrt")


@pytest.mark.parametrize("runtime", FAST_RUNTIMES)
def test_each_runtime_gives_tensorflows_result_on_odd_sizes_through_every_wrapper(
    runtime, use_tiny_models, cache, astronaut, camera
):
    # Tiles of 64 (the tiny U-Net reaches further), two orientations, grey and colour, an odd size.
    options = {"tile_size": 64, "orientations": 2, "precision": "float32"}
    reference = load_model("default", runtime="tensorflow", **options)
    fast = load_model("default", runtime=runtime, **options)
    assert fast.runtime == runtime and reference.runtime == "tensorflow"
    for image in (astronaut[:157, :203], camera[:131, :77]):
        noisy = add_noise(image, "gaussian", 25, seed=1)
        expected = reference.denoise(noisy, strength=1.5)
        assert np.abs(fast.denoise(noisy, strength=1.5) - expected).max() < 1e-4
    # The latent view stays Keras's.
    np.testing.assert_array_equal(fast.encode(astronaut[:64, :64]), reference.encode(astronaut[:64, :64]))


def test_openvino_in_bfloat16_is_within_a_fiftieth_of_a_db(use_tiny_models, cache, astronaut):
    # On a CPU without bfloat16 instructions OpenVINO computes in float32 (as "auto" does everywhere
    # bfloat16 is not native); on one with them this measures the bfloat16 loss.
    clean = astronaut[:128, :128]
    noisy = add_noise(clean, "gaussian", 25, seed=2)
    full = load_model("unet-color", runtime="openvino", precision="float32").denoise(noisy)
    half = load_model("unet-color", runtime="openvino", precision="bfloat16").denoise(noisy)
    assert abs(psnr(clean, half) - psnr(clean, full)) < 0.02


def test_a_conversion_is_cached_by_the_weights_digest_and_made_again_when_they_change(use_tiny_models, cache, tmp_path):
    source = read_model_file(use_tiny_models / "unet-gray.keras")
    first = onnx_file(source.model, source.path, source.name)
    assert first.parent == cache and cache_folder() == cache.parent
    written = first.stat().st_mtime_ns
    assert onnx_file(source.model, source.path, source.name) == first and first.stat().st_mtime_ns == written
    # Other weights under the same name: another entry.
    other = tmp_path / "unet-gray.keras"
    shutil.copy(use_tiny_models / "conv-2-gray.keras", other)
    changed = read_model_file(other)
    second = onnx_file(changed.model, changed.path, "unet-gray")
    assert second != first and second.is_file()


@pytest.mark.parametrize("damage", ["truncated", "flipped", "checksum missing"])
def test_a_damaged_cache_entry_is_made_again(damage, use_tiny_models, cache, camera):
    noisy = add_noise(camera[:96, :96], "gaussian", 25, seed=3)
    reference = load_model("unet-gray", runtime="tensorflow").denoise(noisy)
    source = read_model_file(use_tiny_models / "unet-gray.keras")
    entry = onnx_file(source.model, source.path, source.name)
    content = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(content[: len(content) // 2])
    elif damage == "flipped":  # still a valid file, wrong weights: only the checksum tells
        entry.write_bytes(content[:-64] + bytes(64))
    else:
        entry.with_suffix(".onnx.sha256").unlink()
    denoiser = load_model("unet-gray", runtime="openvino")
    assert denoiser.runtime == "openvino"
    assert np.abs(denoiser.denoise(noisy) - reference).max() < 1e-4
    assert entry.read_bytes() != content[: len(content) // 2]


def test_a_missing_runtime_falls_back_to_tensorflow_with_one_log_line(use_tiny_models, cache, monkeypatch, caplog):
    hide_module(monkeypatch, "openvino")
    with caplog.at_level(logging.INFO, logger="denoise"):
        denoiser = load_model("unet-gray", runtime="openvino")
    assert denoiser.runtime == "tensorflow"
    assert [record.getMessage() for record in caplog.records] == [
        "denoise: unet-gray runs on tensorflow instead of openvino: openvino is not installed "
        "(pip install 'denoise[fast]')"
    ]
    assert not cache.exists()


def test_a_failed_conversion_falls_back_and_writes_nothing(use_tiny_models, cache, monkeypatch, caplog, camera):
    def broken_export(model, target):
        target.write_bytes(b"half")  # as if the exporter died halfway; onnx_file must not keep it
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(denoise.runtimes, "_export_onnx", broken_export)
    with caplog.at_level(logging.INFO, logger="denoise"):
        denoiser = load_model("unet-gray", runtime="onnxruntime")
    assert denoiser.runtime == "tensorflow"
    assert "cannot convert unet-gray to ONNX: converter crashed" in caplog.text
    assert not list(cache.iterdir())
    assert denoiser.denoise(camera[:40, :40]).shape == (40, 40)


def test_the_dense_model_stays_on_keras(use_tiny_models, cache):
    denoiser = load_model("dense-gray", runtime="openvino")
    assert denoiser.runtime == "tensorflow"
    assert not any(isinstance(leaf, RuntimeModel) for leaf in leaf_models(denoiser.piece))


def test_the_command_line_says_a_fallback_only_when_verbose(use_tiny_models, cache, monkeypatch, tmp_path, capsys):
    from PIL import Image

    from denoise.cli import main

    hide_module(monkeypatch, "openvino")
    image = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((24, 32)) * 255).astype(np.uint8)).save(image)
    arguments = ["run", str(image), "--out", str(tmp_path / "out"), "--model", "unet-gray", "--runtime", "openvino"]
    assert main(arguments) == 0
    assert capsys.readouterr().err == ""
    assert main(["--verbose", *arguments]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "instead of openvino" in line]
    assert lines == [
        "denoise: unet-gray runs on tensorflow instead of openvino: openvino is not installed "
        "(pip install 'denoise[fast]')"
    ]


def test_auto_times_both_runtimes_once_per_model_and_remembers_the_faster(use_tiny_models, cache):
    import json

    denoiser = load_model("unet-gray")
    chosen = denoiser.runtime
    assert chosen in FAST_RUNTIMES
    record = cache.parent / "fastest.json"
    remembered = json.loads(record.read_text())
    assert list(remembered.values()) == [chosen]  # one entry: the architecture on this machine
    # The remembered choice is taken as it is, without timing again.
    other = next(runtime for runtime in FAST_RUNTIMES if runtime != chosen)
    record.write_text(json.dumps(dict.fromkeys(remembered, other)))
    assert load_model("unet-gray").runtime == other
    record.write_text("{not json")  # a damaged record is timed again and rewritten
    assert load_model("unet-gray").runtime in FAST_RUNTIMES and json.loads(record.read_text())


def test_runtimes_benchmark_reports_what_each_row_computed_in(use_tiny_models, cache, tmp_path):
    import json

    from benchmarks.runtimes import main as runtimes_benchmark

    reports = {}
    for precision in ("float32", "bfloat16"):
        output = tmp_path / precision
        arguments = ["--models", "unet-color", "--runtimes", "tensorflow", "onnxruntime", "--side", "64"]
        assert runtimes_benchmark([*arguments, "--rounds", "1", "--precision", precision, "--output", str(output)]) == 0
        report = json.loads(output.with_suffix(".json").read_text())
        reports[precision] = (report, output.with_suffix(".md").read_text())
    rows, table = reports["float32"]
    assert [row["arithmetic"] for row in rows["rows"]] == ["float32", "float32"] and "(float32)" not in table
    assert rows["rows"][1]["max_difference_to_tensorflow"] < 1e-4
    rows, table = reports["bfloat16"]
    assert [row["arithmetic"] for row in rows["rows"]] == ["bfloat16", "float32"]  # ONNX Runtime has no bfloat16
    assert "| tensorflow (bfloat16) |" in table and "| onnxruntime |" in table
    assert rows["rows"][1]["max_difference_to_tensorflow"] > 1e-4  # ONNX Runtime in float32 against bfloat16


@pytest.mark.parametrize(
    ("runtime", "asked", "native", "computed"),
    [
        ("openvino", "mixed", True, "bfloat16"),
        ("openvino", "mixed", False, "float32"),
        ("openvino", "float32", True, "float32"),
        ("onnxruntime", "bfloat16", True, "float32"),
        ("tensorflow", "mixed", False, "mixed"),
    ],
)
def test_each_runtime_says_what_it_computes_in(runtime, asked, native, computed):
    from denoise.runtimes import computed_arithmetic

    assert computed_arithmetic(runtime, asked, native_bfloat16=native) == computed


def test_a_denoiser_says_what_its_runtime_computed_in(use_tiny_models, cache, camera):
    from denoise.pipeline import denoise_image

    onnx = load_model("unet-gray", runtime="onnxruntime", precision="mixed")
    keras_model = load_model("unet-gray", runtime="tensorflow", precision="mixed")
    assert onnx.arithmetic == keras_model.arithmetic == "mixed"  # what was asked
    assert (onnx.computed_arithmetic, keras_model.computed_arithmetic) == ("float32", "mixed")
    assert denoise_image(onnx, camera[:64, :64, None] / 255).arithmetic == "float32"  # what the app shows


def test_the_label_follows_what_openvino_reads_of_the_cpu(use_tiny_models, cache, monkeypatch):
    """OpenVINO decides bfloat16 from its own reading of the CPU, not from the Keras backend's."""
    import denoise.runtimes

    monkeypatch.setattr(denoise.runtimes, "_openvino_bfloat16", lambda: False)
    denoiser = load_model("unet-gray", runtime="openvino", precision="mixed")
    assert denoiser.runtime == "openvino" and denoiser.computed_arithmetic == "float32"
    assert denoise.runtimes.session_arithmetic("openvino", "float32") == "float32"
