"""Export models for other runtimes: TensorFlow SavedModel, ONNX and LiteRT (TensorFlow Lite).

Each model is exported with Keras 3's ``Model.export`` under a float32 policy, so that a model
run in bfloat16 here still exports its float32 weights and arithmetic. An exported
convolutional model takes ``(batch, H, W, C)`` float32 images in [0, 1] whose height and width
are multiples of its stride (8 for the U-Nets): pad the image at the bottom and right by
mirroring, run, crop (the README shows it with plain onnxruntime). The dense model takes
flattened patches.

A family (``default``, ``conv-8``) exports to a folder: each member, its low-noise models, their
cards, and ``manifest.json``, which says how they are put together, as
``pretrained/families.json`` does, plus each model's file, stride and receptive field.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from denoise.files import write_json
from denoise.inference import LoadedModel, ModelFileError, read_model_file
from denoise.models import model_stride, receptive_field
from denoise.registry import CHANNEL_SUFFIXES, pretrained_dir, read_manifest

__all__ = ["EXPORT_FORMATS", "ExportError", "export"]

#: Export formats: ours, Keras's name for each, and the suffix of the file (none: a folder).
EXPORT_FORMATS = {"saved_model": ("tf_saved_model", ""), "onnx": ("onnx", ".onnx"), "litert": ("litert", ".tflite")}


class ExportError(ValueError):
    """A model that cannot be exported as asked; the message says why."""


@contextlib.contextmanager
def float32_policy() -> Iterator[None]:
    """Compute in float32 while inside, whatever the global dtype policy is."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _export_one(entry: LoadedModel, format_name: str, target: Path) -> dict:
    """Export one model to ``target``; return what the manifest says about it."""
    keras_format, _ = EXPORT_FORMATS[format_name]
    model = entry.model
    image_model = len(model.input_shape) == 4
    with float32_policy():
        probe = np.zeros((1, 8 * model_stride(model), 8 * model_stride(model), entry.channels), np.float32)
        model(probe if image_model else np.zeros((1, model.input_shape[1]), np.float32))  # export needs a call
        try:
            model.export(str(target), format=keras_format, verbose=False)
        except ImportError as error:
            raise ExportError(
                f"{format_name} export needs the export extra (pip install denoise[export]): {error}"
            ) from None
    description = {"file": target.name, "channels": entry.channels, "architecture": entry.card["architecture"]}
    if image_model:
        description |= {"stride": model_stride(model), "receptive_field": receptive_field(model)}
    else:
        description |= {"patch_size": int(entry.card["patch_size"]), "patch_step": 4}
    return description


def export(name_or_path: str | Path, format_name: str, out: Path) -> list[Path]:
    """Export a model or a family; return the paths written.

    Parameters
    ----------
    name_or_path : str or Path
        A family (``"default"``, ``"conv-8"``), a single model (``"unet-gray"``) or a
        ``.keras`` file, as for :func:`denoise.load_model`.
    format_name : {"saved_model", "onnx", "litert"}
        The format.
    out : Path
        For a single model, the file (or SavedModel folder) to write; its card goes beside it
        as ``.json``. For a family, a folder to create. Nothing is left half-written: the
        export is made in a temporary folder and moved into place.

    Raises
    ------
    ExportError
        If the format is unknown, ``out`` exists, or the export extra is missing.
    ModelFileError
        If there is no such model or it cannot be loaded.

    """
    if format_name not in EXPORT_FORMATS:
        raise ExportError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {format_name!r}")
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out} exists already; give a new path")
    _, suffix = EXPORT_FORMATS[format_name]
    folder = pretrained_dir()
    path = Path(str(name_or_path))
    family = None if path.suffix == ".keras" else read_manifest(folder).family(str(name_or_path))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as scratch:
        work = Path(scratch)
        if family is None:
            source = path if path.suffix == ".keras" else folder / f"{name_or_path}.keras"
            if not source.is_file() or (path.suffix != ".keras" and path.name != str(name_or_path)):
                raise ModelFileError(f"no model named {str(name_or_path)!r}")
            entry = read_model_file(source)
            staged = work / f"model{suffix}"
            _export_one(entry, format_name, staged)
            write_json(work / "model.json", entry.card)
            card = out.with_name(out.name.removesuffix(suffix) + ".json") if suffix else out.with_suffix(".json")
            shutil.move(staged, out)
            shutil.move(work / "model.json", card)
            return [out, card]
        models = [*family.members.values(), *(link.model for link in family.low_noise.values())]
        described = {}
        for model in models:
            entry = read_model_file(folder / f"{model}.keras")
            described[model] = _export_one(entry, format_name, work / f"{model}{suffix}")
            write_json(work / f"{model}.json", entry.card)
        manifest = {
            "format": format_name,
            "family": family.name,
            "members": {CHANNEL_SUFFIXES[channels]: model for channels, model in family.members.items()},
            "low_noise": {
                CHANNEL_SUFFIXES[channels]: {"model": link.model, "below_sigma": link.below_sigma}
                for channels, link in family.low_noise.items()
            },
            "grey_luminance": family.grey_luminance,
            "models": described,
            "input": "float32 (batch, H, W, C) in [0, 1]; H and W multiples of the model's stride (mirror-pad, crop)",
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.move(work, out)
        work.mkdir()  # the temporary folder's own clean-up expects it
    return sorted(out.iterdir())
