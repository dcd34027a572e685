"""Batch denoising at scale on Apache Beam: ``denoise batch INPUT... --out DIR [--runner NAME]``.

The pipeline reads each image, decides which model runs on it as ``denoise run`` does, cuts it
into the tiles that :class:`denoise.compose.Tiled` would compute, runs the tiles through Beam's
``RunInference`` with a Keras model handler (tiles of one size stack into one model call), and
stitches and writes each result. The outputs are ``denoise run``'s, byte for byte: the same
tiles go through the same model, and a convolution gives each image of a batch the result it
gives it alone.

Locally it runs on Beam's ``FnApiRunner`` (the default direct runner would download a binary);
``--runner DataflowRunner``, ``FlinkRunner`` or ``SparkRunner``, with those runners' own
options after them, run the same pipeline on a cluster.

What it runs: one model per image, as the photo family and every single model do. A family
that combines several models on one image (the default's grey luminance, routing between two
models, averaged orientations) is refused with one line: name one of its members instead.

Raw files (:data:`denoise.raw.RAW_SUFFIXES`) go through the raw model as ``denoise run`` does
(:func:`denoise.raw_model.denoise_raw_file`), one file per element: the raw model takes its
noise planes beside each tile, so its tiles do not join the image models' batches.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from denoise.compose import (
    ConvolutionalModel,
    MatchChannels,
    Patchwise,
    Piece,
    Tiled,
    channel_inputs,
    channel_result,
    keep_tile,
    leaf_models,
    pad_to_multiple,
)
from denoise.image_io import ImageReadError, read_image, write_png
from denoise.inference import TILE_SIZE, load_model
from denoise.pipeline import claim_name
from denoise.raw import RAW_OUTPUT_SUFFIXES, is_raw_file
from denoise.raw_model import denoise_raw_file, load_raw_model, rendered_format

__all__ = ["BatchPlan", "TileModelHandler", "plan_image", "run_batch"]

#: Tiles of one size that go through the model in one call, at most.
MAX_BATCH_TILES = 8


@dataclass(frozen=True)
class BatchPlan:
    """How one image goes through one model: its passes, each cut into tiles.

    Attributes
    ----------
    path, output : str
        The input file, and the PNG to write.
    model : str
        The model that runs.
    shape : tuple of int
        The image's shape, which the result keeps.
    passes : int
        Model inputs made from the image: 1, or 3 for a grey model on each colour channel.
    model_channels : int
        The channels the model takes (:func:`denoise.compose.channel_inputs`).
    layout : list
        :meth:`denoise.compose.Tiled.layout` of each pass.
    alpha, bit_depth
        What :func:`denoise.image_io.write_png` keeps from the input.

    """

    path: str
    output: str
    model: str
    shape: tuple[int, ...]
    passes: int
    model_channels: int
    layout: list
    alpha: np.ndarray | None
    bit_depth: int


def _single_model(plan: Piece) -> Tiled:
    """Return the tiled model of a plan that runs one model per image, its channels fitted or not.

    Raises
    ------
    ValueError
        If the plan combines several models or averages orientations.

    """
    if isinstance(plan, MatchChannels):
        plan = plan.inner
    if isinstance(plan, Tiled) and isinstance(plan.inner, (ConvolutionalModel, Patchwise)):
        return plan
    raise ValueError(f"denoise batch runs one model per image; {plan.name} combines several (name one with --model)")


def plan_image(denoiser_piece: Piece, path: str, output: str) -> tuple[BatchPlan, list[np.ndarray]]:
    """Read one image and cut it into the tiles that ``denoise run`` computes; return the plan and the tiles.

    Raises
    ------
    ImageReadError, OSError
        If the file cannot be read as an image.
    ValueError
        If the image or the model's plan for it is refused.

    """
    image = read_image(path)
    array = np.asarray(image.pixels, np.float32)
    array = array[:, :, None] if array.ndim == 2 else array
    tiled = _single_model(denoiser_piece.resolve(array))
    channels = tiled.inner.channels
    inputs = channel_inputs(array, channels)
    layout = tiled.layout(*array.shape[:2])
    tiles = []
    for model_input in inputs:
        padded = pad_to_multiple(model_input, tiled.inner.stride)
        tiles += [np.ascontiguousarray(padded[rows, columns]) for rows, columns, _, _ in layout]
    plan = BatchPlan(
        path, output, tiled.inner.name, image.pixels.shape, len(inputs), channels, layout, image.alpha, image.bit_depth
    )
    return plan, tiles


def stitch(plan: BatchPlan, results: dict[int, np.ndarray]) -> np.ndarray:
    """Put a plan's tile results (by tile number) back into the denoised image, clipped to [0, 1]."""
    height, width = plan.shape[:2]
    tiles_per_pass = len(plan.layout)
    bottom = max(rows.stop for rows, _, _, _ in plan.layout)
    right = max(columns.stop for _, columns, _, _ in plan.layout)
    outputs = []
    for pass_index in range(plan.passes):
        first = results[pass_index * tiles_per_pass]
        output = np.empty((bottom, right, first.shape[2]), np.float32)
        for index, entry in enumerate(plan.layout):
            keep_tile(output, entry, results[pass_index * tiles_per_pass + index])
        outputs.append(output[:height, :width])
    image_channels = plan.shape[2] if len(plan.shape) == 3 else 1
    return np.clip(channel_result(image_channels, plan.model_channels, outputs), 0.0, 1.0).reshape(plan.shape)


class TileModelHandler(ModelHandler[np.ndarray, np.ndarray, Piece]):
    """RunInference's handler for one of a family's Keras models, run on tiles.

    Tiles of one shape are stacked into one model call; the dense model runs tile by tile
    (its patches are its batch).

    Parameters
    ----------
    family : str
        The family or model that ``load_model`` loads.
    model : str
        Which of its models this handler runs.
    options : dict
        ``load_model``'s options (precision, tile size).

    """

    def __init__(self, family: str, model: str, options: dict) -> None:
        super().__init__()
        self.family, self.model, self.options = family, model, options

    def load_model(self) -> Piece:
        """Load the family and return the piece that runs this handler's model."""
        leaves = {leaf.name: leaf for leaf in leaf_models(load_model(self.family, **self.options).piece)}
        return leaves[self.model]

    def run_inference(
        self, batch: Sequence[np.ndarray], model: Piece, inference_args: dict | None = None
    ) -> Iterable[PredictionResult]:
        """Run the model on a batch of tiles."""
        outputs: list[np.ndarray | None] = [None] * len(batch)
        if isinstance(model, ConvolutionalModel):
            by_shape: dict[tuple[int, ...], list[int]] = {}
            for index, tile in enumerate(batch):
                by_shape.setdefault(tile.shape, []).append(index)
            for indices in by_shape.values():
                stacked = np.stack([batch[index] for index in indices])
                results = np.asarray(model.model.predict_on_batch(stacked), np.float32)
                for index, result in zip(indices, results, strict=True):
                    outputs[index] = result
        else:
            outputs = [np.asarray(model(tile), np.float32) for tile in batch]
        return [PredictionResult(tile, output, self.model) for tile, output in zip(batch, outputs, strict=True)]

    def batch_elements_kwargs(self) -> dict:
        """Batch at most :data:`MAX_BATCH_TILES` tiles."""
        return {"min_batch_size": 1, "max_batch_size": MAX_BATCH_TILES}


class _CutTiles(beam.DoFn):
    """Read each image and emit its tiles keyed by (path, tile number) to its model's output."""

    def __init__(self, family: str, options: dict) -> None:
        self.family, self.options = family, options

    def setup(self) -> None:
        self.piece = load_model(self.family, **self.options).piece

    def process(self, job: tuple[str, str]) -> Iterator:
        path, output = job
        try:
            plan, tiles = plan_image(self.piece, path, output)
        except (ImageReadError, ValueError, OSError) as error:
            print(f"denoise: {path}: {error}", file=sys.stderr)  # noqa: T201 - the command's one line per refusal
            return
        yield beam.pvalue.TaggedOutput("plans", (path, plan))
        for index, tile in enumerate(tiles):
            yield beam.pvalue.TaggedOutput(plan.model, (path, (index, tile)))


class _DenoiseRaws(beam.DoFn):
    """Denoise each raw file and write its DNG or render; emit the path written."""

    def __init__(self, family: str, options: dict, out: str, raw_options: dict) -> None:
        self.family, self.options, self.out, self.raw_options = family, options, out, raw_options

    def setup(self) -> None:
        self.raw_denoiser = load_raw_model(precision=self.options["precision"])
        self.image_denoiser = load_model(self.family, **self.options)

    def process(self, job: tuple[str, str]) -> Iterator[str]:
        path, output = job
        stem = Path(output).stem  # claimed for the asked format; a render falls back under the same stem
        try:
            target, note = denoise_raw_file(
                path,
                lambda suffix: Path(self.out) / f"{stem}{suffix}",
                self.raw_denoiser,
                self.image_denoiser,
                **self.raw_options,
            )
        except (ImageReadError, ValueError, OSError) as error:
            print(f"denoise: {path}: {error}", file=sys.stderr)  # noqa: T201 - the command's one line per refusal
            return
        print(f"{path} -> {target} ({note})")  # noqa: T201 - as denoise run prints
        yield str(target)


def _write(element: tuple[str, dict], out: str) -> str:
    """Stitch one image's tiles and write its PNG; return the path written."""
    _, grouped = element
    [plan] = grouped["plans"]
    results = {index: result for index, result in grouped["tiles"]}
    pixels = stitch(plan, results)
    target = Path(out) / plan.output
    write_png(target, pixels, alpha=plan.alpha, bit_depth=plan.bit_depth)
    print(f"{plan.path} -> {target} ({plan.model})")  # noqa: T201 - as denoise run prints
    return str(target)


def run_batch(
    inputs: Sequence[str],
    out: Path,
    *,
    model: str = "photo",
    precision: str = "auto",
    tile_size: int = TILE_SIZE,
    runner: str | None = None,
    pipeline_arguments: Sequence[str] = (),
    raw_format: str = "dng",
    raw_noise: str = "auto",
    raw_finish: bool = True,
) -> list[str]:
    """Denoise ``inputs`` into ``out`` with a Beam pipeline; return the inputs that were refused.

    Parameters
    ----------
    inputs : sequence of str
        Image files and raw files.
    out : Path
        Folder for the results (created); names as ``denoise run`` gives them.
    model : str, default "photo"
        A family or model that runs one model per image.
    precision : str, default "auto"
        As for :func:`denoise.load_model`.
    tile_size : int, default 1024
        As for :func:`denoise.load_model`: the same tiles as ``denoise run``'s by default.
    runner : str, optional
        A Beam runner's name; default: ``FnApiRunner`` in this process.
    pipeline_arguments : sequence of str
        Further Beam pipeline options (``--project``, ``--region``, ... for a cluster).
    raw_format : {"dng", "tiff", "png"}, default "dng"
        What a raw file becomes (:func:`denoise.raw_model.denoise_raw_file`).
    raw_noise : {"auto", "estimate", "iso"}, default "auto"
        Where the raw model's noise level comes from.
    raw_finish : bool, default True
        Finish a raw's render with the image model (``finish`` of
        :func:`denoise.raw_model.denoise_raw_file`).

    """
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    suffix_of = {True: RAW_OUTPUT_SUFFIXES[raw_format], False: ".png"}
    jobs = [(str(path), claim_name(Path(path).stem, suffix_of[is_raw_file(path)], taken)) for path in inputs]
    image_jobs = [job for job in jobs if not is_raw_file(job[0])]
    raw_jobs = [job for job in jobs if is_raw_file(job[0])]
    options = {"precision": precision, "tile_size": tile_size}
    models = sorted({leaf.name for leaf in leaf_models(load_model(model, **options).piece)})
    pipeline_options = PipelineOptions([*(["--runner", runner] if runner else []), *pipeline_arguments])
    with beam.Pipeline(runner=None if runner else FnApiRunner(), options=pipeline_options) as pipeline:
        cut = (
            pipeline
            | "Inputs" >> beam.Create(image_jobs)
            | "Cut tiles" >> beam.ParDo(_CutTiles(model, options)).with_outputs("plans", *models)
        )
        denoised = [
            cut[name]
            | f"Key {name}" >> beam.Map(lambda element: ((element[0], element[1][0]), element[1][1]))
            | f"Run {name}" >> RunInference(KeyedModelHandler(TileModelHandler(model, name, options)))
            | f"Unkey {name}" >> beam.Map(lambda element: (element[0][0], (element[0][1], element[1].inference)))
            for name in models
        ]
        tiles = denoised | "All tiles" >> beam.Flatten()
        (
            {"plans": cut.plans, "tiles": tiles}
            | "By image" >> beam.CoGroupByKey()
            | "Stitch and write" >> beam.Map(_write, str(out))
        )
        if raw_jobs:
            raw_options = {"output_format": raw_format, "noise": raw_noise, "finish": raw_finish}
            _ = (
                pipeline
                | "Raw inputs" >> beam.Create(raw_jobs)
                | "Denoise raws" >> beam.ParDo(_DenoiseRaws(model, options, str(out), raw_options))
            )
    # A raw file that is not Bayer is saved as a render under the stem claimed for it.
    render_suffix = RAW_OUTPUT_SUFFIXES[rendered_format(raw_format)]
    return [
        path
        for path, name in jobs
        if not ((out / name).exists() or (is_raw_file(path) and (out / name).with_suffix(render_suffix).exists()))
    ]
