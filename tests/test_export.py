"""Exported models give the Keras model's numbers in onnxruntime, LiteRT and TensorFlow."""

import json

import numpy as np
import pytest

from denoise.cli import main
from denoise.export import ExportError, export
from denoise.inference import read_model_file

pytest.importorskip("onnxruntime", reason="the export extra is not installed")


def pad_to_multiple(image: np.ndarray, stride: int) -> np.ndarray:
    """Mirror-pad the bottom and right to multiples of ``stride``, as the README tells users to."""
    height, width = image.shape[1:3]
    return np.pad(image, ((0, 0), (0, -height % stride), (0, -width % stride), (0, 0)), mode="symmetric")


def run_exported(format_name: str, path, image: np.ndarray) -> np.ndarray:
    """Run an exported model on a batch with the runtime a user of that format would use."""
    if format_name == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: image})[0]
    if format_name == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, image.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, image)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # kept: its function needs the loaded variables
    return loaded.serve(image).numpy()


@pytest.mark.parametrize("format_name", ["onnx", "litert", "saved_model"])
@pytest.mark.parametrize("name", ["unet-color", "conv-2-gray", "dense-gray"])
def test_each_format_gives_the_keras_models_numbers_at_odd_sizes(use_tiny_models, tmp_path, format_name, name):
    suffix = {"onnx": ".onnx", "litert": ".tflite", "saved_model": ""}[format_name]
    written = export(name, format_name, tmp_path / f"{name}{suffix}")
    assert written[1].suffix == ".json" and json.loads(written[1].read_text())["name"] == name
    entry = read_model_file(use_tiny_models / f"{name}.keras")
    rng = np.random.default_rng(0)
    if entry.is_dense:
        inputs = [rng.random((37, entry.model.input_shape[1]), np.float32)]
    else:
        inputs = [
            pad_to_multiple(rng.random((1, *size, entry.channels), np.float32), 8) for size in [(37, 53), (61, 9)]
        ]
    largest = 0.0
    for image in inputs:
        expected = np.asarray(entry.model.predict(image, verbose=0))
        result = run_exported(format_name, written[0], image)
        assert result.shape == expected.shape
        largest = max(largest, float(np.abs(result - expected).max()))
    print(f"{format_name} {name}: largest difference {largest:.2e}")
    assert largest < 1e-4


def test_a_family_exports_its_members_and_manifest(luminance_models, tmp_path, capsys):
    assert main(["export", "default", "--format", "onnx", "--out", str(tmp_path / "default")]) == 0
    manifest = json.loads((tmp_path / "default" / "manifest.json").read_text())
    assert manifest["members"] == {"gray": "unet-gray", "color": "unet-color"} and manifest["grey_luminance"] == 0.75
    assert manifest["models"]["unet-gray"]["stride"] == 8 and manifest["models"]["unet-gray"]["receptive_field"] > 64
    for model in ("unet-gray", "unet-color"):
        assert (tmp_path / "default" / f"{model}.onnx").is_file() and (tmp_path / "default" / f"{model}.json").is_file()
    assert str(tmp_path / "default" / "manifest.json") in capsys.readouterr().out


def test_refusals_are_one_line_and_leave_nothing_behind(use_tiny_models, tmp_path, capsys):
    (tmp_path / "taken.onnx").write_text("mine")
    assert main(["export", "unet-gray", "--format", "onnx", "--out", str(tmp_path / "taken.onnx")]) != 0
    assert "exists already" in capsys.readouterr().err and (tmp_path / "taken.onnx").read_text() == "mine"
    assert main(["export", "no-such-model", "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) != 0
    assert "no model named" in capsys.readouterr().err
    with pytest.raises(ExportError, match="format must be one of"):
        export("unet-gray", "coreml", tmp_path / "x")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken.onnx"]


def test_the_readmes_onnxruntime_example_runs_an_exported_model(use_tiny_models, tmp_path, monkeypatch, astronaut):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("<!-- onnx-example -->\n```python\n", 1)[1].split("```", 1)[0]
    export("unet-color", "onnx", tmp_path / "unet-color.onnx")
    monkeypatch.chdir(tmp_path)
    image = astronaut[:37, :53]
    names = {"image": image}
    exec(example, names)  # noqa: S102 - the README's own text, run as a user would
    expected = read_model_file(use_tiny_models / "unet-color.keras").model.predict(
        pad_to_multiple(image[None], 8), verbose=0
    )[0, :37, :53]
    np.testing.assert_allclose(names["denoised"], expected, atol=1e-4)
