"""The ``denoise`` command: run, batch, eval, models, export, train."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["main"]

EXIT_REFUSED = 2
#: denoise.ORIENTATION_COUNTS, written out so that ``--help`` need not import Keras (a test
#: checks that the two agree).
ORIENTATION_CHOICES = (1, 2, 4, 8)
#: denoise.precision.PRECISION_CHOICES, written out for the same reason (the same test checks it).
PRECISION_CHOICES = ("auto", "float32", "mixed", "bfloat16")
#: denoise.export.EXPORT_FORMATS, written out for the same reason (the same test checks it).
EXPORT_FORMAT_CHOICES = ("saved_model", "onnx", "litert")
#: denoise.runtimes.RUNTIME_CHOICES, written out for the same reason (the same test checks it).
RUNTIME_CHOICES = ("auto", "tensorflow", "openvino", "onnxruntime")
#: denoise.raw.RAW_OUTPUT_FORMATS and denoise.raw_model.NOISE_SOURCES, written out for the same reason.
RAW_OUTPUT_FORMATS = ("dng", "tiff", "png")
RAW_NOISE_SOURCES = ("auto", "estimate", "iso")
#: denoise.objectives.OBJECTIVES, written out for the same reason.
OBJECTIVE_CHOICES = ("supervised", "noise2noise", "neighbor2neighbor", "shuffled-neighbor2neighbor", "recorrupted")
#: denoise.adaptation.ADAPTATION_SECONDS (--adapt without a number, denoise adapt), written out
#: for the same reason (the same test checks it).
ADAPT_SECONDS = 30.0
#: denoise.strength.MAX_STRENGTH, written out for the same reason (the same test checks it).
MAX_STRENGTH = 2.0


def _add_raw_options(parser: argparse.ArgumentParser) -> None:
    """Add what ``run`` and ``batch`` do with raw files: ``--format``, ``--raw-noise`` and ``--no-finish``."""
    parser.add_argument(
        "--format",
        choices=RAW_OUTPUT_FORMATS,
        default="dng",
        help="what a raw file becomes: a DNG of the denoised mosaic (default) for a raw editor, or a 16-bit sRGB "
        "render as TIFF or PNG (images always give PNG)",
    )
    parser.add_argument(
        "--raw-noise",
        choices=RAW_NOISE_SOURCES,
        default="auto",
        help="the raw model's noise level: from the file's ISO by a generic law where it has one, else estimated from "
        "the mosaic (auto, the default); or always one of them",
    )
    parser.add_argument(
        "--no-finish",
        dest="finish",
        action="store_false",
        help="leave a raw's TIFF or PNG render as the raw model made it; by default the image model (the photo model) "
        "finishes it, more at higher ISO (a DNG is never finished)",
    )


def _libraries_quiet(arguments: argparse.Namespace) -> contextlib.AbstractContextManager:
    """TensorFlow's start-up logs silenced (:func:`denoise.quiet.quiet_native_logs`), unless ``--verbose``."""
    from denoise.quiet import quiet_native_logs

    return contextlib.nullcontext() if arguments.verbose else quiet_native_logs()


def _command_run(arguments: argparse.Namespace) -> int:
    with _libraries_quiet(arguments):  # loading the libraries and the model; an error leaves it first
        from denoise.image_io import ImageReadError, read_image, write_png
        from denoise.inference import load_model
        from denoise.noise import add_noise, parse_noise
        from denoise.pipeline import claim_name
        from denoise.precision import device_name
        from denoise.raw import is_raw_file
        from denoise.registry import model_for_noise, quick_family

        noise = parse_noise(arguments.noise) if arguments.noise else None
        model = arguments.model or model_for_noise(noise[0] if noise else None)
        if arguments.fast:
            quick = quick_family(model)
            if quick is None:
                raise ValueError(f"--fast: {model} has no quicker model; leave out --fast")
            model = quick
        denoiser = load_model(
            model,
            orientations=arguments.orientations,
            precision=arguments.precision,
            runtime=arguments.runtime,
            recorruptions=arguments.recorruptions,
        )
        denoiser.warm_up()  # the first model call's start-up logs come here, not between the results
    if arguments.adapt is not None:
        try:
            denoiser = _adapted(denoiser, arguments, noise)
        except ValueError as error:  # the results still come, from the model as shipped
            print(f"denoise: {error}; denoising with {denoiser.name} as shipped", file=sys.stderr)
    output_folder = Path(arguments.out)
    output_folder.mkdir(parents=True, exist_ok=True)
    # An input in the output folder keeps its name: a result never writes over it (it takes a number).
    taken = {Path(path).name for path in arguments.inputs if Path(path).resolve().parent == output_folder.resolve()}
    refused = 0
    raw_denoiser = None
    if arguments.verbose:
        views = f", {denoiser.orientations} orientations averaged" if denoiser.orientations > 1 else ""
        where = f"{denoiser.computed_arithmetic} precision on {device_name()}, {denoiser.runtime}"
        print(f"model {denoiser.name}{views}, {where}", file=sys.stderr)
    for index, input_path in enumerate(arguments.inputs):
        try:
            if is_raw_file(input_path):
                if noise is not None:
                    raise ValueError("--noise adds noise to images, not to raw files")
                if raw_denoiser is None:
                    with _libraries_quiet(arguments):
                        from denoise.raw_model import denoise_raw_file, load_raw_model, raw_orientations

                        orientations = raw_orientations(arguments.orientations)
                        raw_denoiser = load_raw_model(
                            runtime=arguments.runtime, orientations=orientations, precision=arguments.precision
                        )
                target, note = denoise_raw_file(
                    input_path,
                    lambda suffix, stem=Path(input_path).stem: output_folder / claim_name(stem, suffix, taken),
                    raw_denoiser,
                    denoiser,
                    output_format=arguments.format,
                    noise=arguments.raw_noise,
                    strength=arguments.strength,
                    finish=arguments.finish,
                    adapt_seconds=arguments.adapt,
                )
                print(f"{input_path} -> {target} ({note})")
                continue
            image = read_image(input_path)
            pixels = image.pixels
            if noise is not None:
                pixels = add_noise(pixels, *noise, seed=arguments.seed + index)
            result = denoiser.denoise_and_report(pixels, arguments.strength)
            target = output_folder / claim_name(Path(input_path).stem, ".png", taken)
            write_png(target, result.pixels, alpha=image.alpha, bit_depth=image.bit_depth)
        except (ImageReadError, ValueError, OSError) as error:
            refused += 1
            print(f"denoise: {input_path}: {error}", file=sys.stderr)
            continue
        notes = "".join(f" ({note})" for note in image.notes)
        print(f"{input_path} -> {target} ({result.model}){notes}")
    return EXIT_REFUSED if refused else 0


def _adapted(denoiser, arguments: argparse.Namespace, noise: tuple[str, float] | None, *, collaborative: bool = True):
    """Adapt ``denoiser`` to the readable images among the inputs (``--adapt SECONDS``), saying how.

    ``collaborative`` goes to :func:`denoise.adaptation.adapt`: False where a model is kept
    (``denoise adapt``), so that photos that came noisy fine-tune one.

    Raises
    ------
    ValueError
        If adapting fails: no readable image, images it cannot adapt to, or a failed step
        (:class:`denoise.adaptation.AdaptationError`), in one line.

    """
    from denoise.adaptation import AdaptationError, describe_adaptation
    from denoise.compose import GuidedWiener
    from denoise.image_io import ImageReadError, read_image
    from denoise.noise import add_noise
    from denoise.raw import is_raw_file

    images = []
    for index, path in enumerate(arguments.inputs):
        if is_raw_file(path):
            continue
        with contextlib.suppress(ImageReadError, OSError):  # refused again, with its line, when its turn comes
            pixels = read_image(path).pixels
            images.append(add_noise(pixels, *noise, seed=arguments.seed + index) if noise else pixels)
    if not images:
        if any(is_raw_file(path) for path in arguments.inputs):
            return denoiser  # each raw file adapts the raw model on its own, as its turn comes
        raise ValueError("--adapt: no readable image among the inputs")
    with _libraries_quiet(arguments):
        try:
            adapted = denoiser.adapt(images, seconds=arguments.adapt, noise=noise, collaborative=collaborative)
        except AdaptationError as error:
            raise ValueError(str(error)) from error
    note = ""
    if isinstance(adapted.piece, GuidedWiener):
        large = sum(adapted.piece.too_large(image) for image in images)
        note = f" ({large} above {adapted.piece.max_megapixels:g} MP: not filtered)" if large else ""
    print(f"adapted {denoiser.name} to {len(images)} images: {describe_adaptation(adapted)}{note}", file=sys.stderr)
    return adapted


def _command_adapt(arguments: argparse.Namespace) -> int:
    with _libraries_quiet(arguments):
        from denoise.adaptation import save_adapted
        from denoise.inference import load_model
        from denoise.noise import parse_noise
        from denoise.raw import is_raw_file
        from denoise.registry import model_for_noise
        from denoise.training_jobs import user_models_dir

        if any(is_raw_file(path) for path in arguments.inputs):
            raise ValueError("denoise adapt keeps a model for images; a raw file adapts as it is denoised: run --adapt")
        noise = parse_noise(arguments.noise) if arguments.noise else None
        denoiser = load_model(arguments.model or model_for_noise(noise[0] if noise else None))
    arguments.adapt = arguments.seconds
    adapted = _adapted(denoiser, arguments, noise, collaborative=False)
    folder = Path(arguments.folder) if arguments.folder else user_models_dir()
    path = save_adapted(adapted, folder, arguments.save, "denoise " + shlex.join(arguments.argv))
    print(path)
    return 0


def _command_eval(arguments: argparse.Namespace) -> int:
    from denoise.evaluation import evaluate
    from denoise.inference import load_model

    denoiser = load_model(
        arguments.model,
        orientations=arguments.orientations,
        precision=arguments.precision,
        runtime=arguments.runtime,
        recorruptions=arguments.recorruptions,
    )
    rows = evaluate(denoiser.denoise, arguments.folder, arguments.sigma)
    for row in rows:
        row.update(
            model=denoiser.name,
            orientations=denoiser.orientations,
            recorruptions=arguments.recorruptions,
            precision=denoiser.precision,
            arithmetic=denoiser.arithmetic,
            folder=str(arguments.folder),
        )
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<12} {'folder':<28} {'sigma':>5} {'noisy':>7} {'PSNR':>7} {'SSIM':>6} {'s/MP':>6}")
    label = denoiser.label
    for row in rows:
        print(
            f"{label:<12} {row['folder'][-28:]:<28} {row['sigma']:>5g} {row['noisy_psnr']:>7.2f} "
            f"{row['psnr']:>7.2f} {row['ssim']:>6.4f} {row['seconds_per_megapixel']:>6.2f}"
        )
    return 0


def _command_models(arguments: argparse.Namespace) -> int:
    from denoise.registry import available_models, pretrained_dir, read_manifest

    cards = available_models()
    manifest = read_manifest()
    if arguments.json:
        print(json.dumps(cards, indent=2))
        return 0
    print(f"models in {pretrained_dir()}:")
    print(f"{'name':<16} {'architecture':<12} {'latent':>6} {'parameters':>10} {'val PSNR':>8}")
    for name, card in cards.items():
        validation = card.get("validation_psnr")
        validation_text = f"{validation:.2f}" if validation is not None else "-"
        print(
            f"{name:<16} {card['architecture']:<12} {card['latent_size']:>6} {card['parameters']:>10} "
            f"{validation_text:>8}"
        )
    print("\nfamilies (load_model / --model):")
    for name, family in manifest.families.items():
        default = " (default)" if name == manifest.default else ""
        members = ", ".join(family.members.values())
        print(f"{name + default:<16} {members:<28} {family.summary}")
    return 0


def _command_batch(arguments: argparse.Namespace) -> int:
    with _libraries_quiet(arguments):  # loading the libraries and the model; the refusals come later
        from denoise.batch import run_batch
        from denoise.inference import load_model

        load_model(arguments.model, precision=arguments.precision).warm_up()
    root_logger = logging.getLogger()
    root_level = root_logger.level
    if not arguments.verbose:  # Beam's RunInference warns on the root logger at each model load (Beam 2.77)
        root_logger.setLevel(logging.ERROR)
    try:
        refused = run_batch(
            arguments.inputs,
            Path(arguments.out),
            model=arguments.model,
            precision=arguments.precision,
            runner=arguments.runner,
            pipeline_arguments=arguments.pipeline_option,
            raw_format=arguments.format,
            raw_noise=arguments.raw_noise,
            raw_finish=arguments.finish,
        )
    finally:  # a caller of main() in the same process keeps its own logging
        root_logger.setLevel(root_level)
    return EXIT_REFUSED if refused else 0


def _command_export(arguments: argparse.Namespace) -> int:
    from denoise.export import export

    for path in export(arguments.model, arguments.format, Path(arguments.out)):
        print(path)
    return 0


def _command_train(arguments: argparse.Namespace) -> int:
    from denoise.data import parse_noise_range
    from denoise.distribute import DistributeOptions
    from denoise.training import TrainingConfig, train

    config = TrainingConfig(
        data=arguments.data,
        output=arguments.output,
        architecture=arguments.architecture,
        channels=arguments.channels,
        latent=arguments.latent,
        width=arguments.width,
        bottom_blocks=arguments.bottom_blocks,
        patch_size=arguments.patch_size,
        batch_size=arguments.batch_size,
        batches_per_epoch=arguments.batches_per_epoch,
        epochs=arguments.epochs,
        learning_rate=arguments.learning_rate,
        warmup_epochs=arguments.warmup_epochs,
        weight_by_noise=arguments.weight_by_noise,
        noise=[parse_noise_range(text) for text in arguments.noise],
        seed=arguments.seed,
        command="denoise " + shlex.join(arguments.argv),
        initial_weights=arguments.initial_weights,
        workers=arguments.workers,
        luminance_loss_weight=arguments.luminance_loss_weight,
        recolour=arguments.recolour,
        pairs=arguments.pairs,
        pairs_fraction=arguments.pairs_fraction,
        teacher=arguments.teacher,
        identity_start=arguments.identity_start,
        domain=arguments.domain,
        objective=arguments.objective,
        regularizer=arguments.regularizer,
        noisy_data=arguments.noisy_data,
        seconds=arguments.seconds,
        distribute=DistributeOptions(arguments.coordinator, arguments.num_processes, arguments.process_id)
        if arguments.distribute
        else None,
    )
    card = train(config)
    print(json.dumps(card, indent=2))
    return 0


def _count(text: str) -> int:
    """Parse a count: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _seconds(text: str) -> float:
    """Parse a time budget: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _strength(text: str) -> float:
    """Parse --strength: a number from 0 to :data:`MAX_STRENGTH`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"strength must be a number, got {text!r}") from None
    if not 0 <= value <= MAX_STRENGTH:
        raise argparse.ArgumentTypeError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {text}")
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orientations",
        type=int,
        choices=ORIENTATION_CHOICES,
        default=1,
        help="average the model over this many flipped or turned copies: slower, a little better "
        "(default 1; raw files at least 2)",
    )
    parser.add_argument(
        "--recorruptions",
        type=_count,
        default=0,
        metavar="N",
        help="for a model trained with --objective recorrupted: average it over N copies of each image with "
        "fresh noise added, as Recorrupted-to-Recorrupted's authors evaluate it; N times slower (default 0: once)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="arithmetic of the model: mixed computes its downsampled layers in bfloat16, bfloat16 all but "
        "its output; both are faster where the processor has bfloat16 instructions and slightly less "
        "accurate (default auto: mixed where they are, float32 elsewhere)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        default="auto",
        help="what runs the models: auto takes the faster of OpenVINO and ONNX Runtime installed (the fast extra), "
        "timed once per model on this machine, on a CPU, TensorFlow on a GPU; one that cannot run a model falls "
        "back to TensorFlow",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="denoise", description="Denoise images with Keras autoencoders.")
    parser.add_argument(
        "--verbose", action="store_true", help="show the libraries' start-up logs and which model runs where"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="denoise image files, writing one PNG per input, and raw files, writing a DNG (or a render)"
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and raw files (DNG, CR2, NEF, ARW, ...)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument(
        "--model",
        help="model name or .keras path (see `denoise models`); default: the photo model for files as they are "
        "and for --noise camera or correlated, the default model for other --noise",
    )
    run.add_argument(
        "--strength",
        type=_strength,
        default=1.0,
        help="how much noise to remove: 0 keeps the input, 1 the model's own result (default), up to 2 removes more",
    )
    run.add_argument("--noise", metavar="KIND:LEVEL", help="add synthetic noise first, e.g. gaussian:25")
    run.add_argument("--seed", type=int, default=0, help="seed of the synthetic noise")
    _add_raw_options(run)
    run.add_argument(
        "--adapt",
        type=_seconds,
        nargs="?",
        const=ADAPT_SECONDS,
        metavar="SECONDS",
        help=f"first fine-tune the model on the inputs themselves for SECONDS (default {ADAPT_SECONDS:g}): no clean "
        "image needed; then denoise them with it, guiding a filter of each image's similar blocks (photos that came "
        "noisy: that filter alone, at once; each raw file: the raw model, on its own mosaic)",
    )
    run.add_argument(
        "--fast",
        action="store_true",
        help="run the model's quicker version (photo: photo-fast, about 4 times less work, a little less quality)",
    )
    _add_run_options(run)
    run.set_defaults(handler=_command_run)

    adapt = commands.add_parser("adapt", help="fine-tune a model on noisy photos and keep it (for a whole shoot)")
    adapt.add_argument("inputs", nargs="+", metavar="INPUT", help="noisy image files")
    adapt.add_argument("--save", required=True, metavar="NAME", help="name of the adapted model")
    adapt.add_argument("--folder", help="where to save it (default: the app's Your models folder)")
    adapt.add_argument("--seconds", type=_seconds, default=ADAPT_SECONDS, help="how long to adapt")
    adapt.add_argument("--model", help="the model to start from (default: the photo model)")
    adapt.add_argument("--noise", metavar="KIND:LEVEL", help="add synthetic noise first (known Gaussian noise)")
    adapt.add_argument("--seed", type=int, default=0, help="seed of the synthetic noise")
    adapt.set_defaults(handler=_command_adapt)

    evaluation = commands.add_parser("eval", help="PSNR/SSIM on a folder of clean images with Gaussian noise")
    evaluation.add_argument("folder", help="folder of clean test images")
    evaluation.add_argument("--sigma", type=float, nargs="+", default=[15, 25, 50], help="noise levels (0-255)")
    evaluation.add_argument("--model", default="default")
    evaluation.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_run_options(evaluation)
    evaluation.set_defaults(handler=_command_eval)

    models = commands.add_parser("models", help="list the shipped models and their cards")
    models.add_argument("--json", action="store_true", help="print the full cards as JSON")
    models.set_defaults(handler=_command_models)

    batch = commands.add_parser("batch", help="denoise many files on Apache Beam (the scale extra)")
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and raw files")
    batch.add_argument("--out", required=True, help="output folder")
    batch.add_argument("--model", default="photo", help="a family or model that runs one model per image")
    batch.add_argument("--precision", choices=PRECISION_CHOICES, default="auto")
    _add_raw_options(batch)
    batch.add_argument("--runner", help="Beam runner (DataflowRunner, FlinkRunner, ...); default: in this process")
    batch.add_argument(
        "--pipeline-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a further Beam option, e.g. --pipeline-option=--project=NAME (repeatable)",
    )
    batch.set_defaults(handler=_command_batch)

    export = commands.add_parser("export", help="export a model or family to SavedModel, ONNX or LiteRT")
    export.add_argument("model", metavar="MODEL", help="family (default, conv-8), model (unet-gray) or .keras path")
    export.add_argument("--format", required=True, choices=EXPORT_FORMAT_CHOICES)
    export.add_argument("--out", required=True, help="file to write (a folder for saved_model and for families)")
    export.set_defaults(handler=_command_export)

    train = commands.add_parser("train", help="train a model on a folder of clean images (or noisy: --noisy-data)")
    train.add_argument(
        "--data",
        required=True,
        help="folder of training images (or of .npy arrays, read unclipped): clean, or noisy with --noisy-data",
    )
    train.add_argument("--output", required=True, help="model path without suffix, e.g. pretrained/unet-gray")
    train.add_argument("--architecture", choices=["unet", "conv", "dense"], default="unet")
    train.add_argument("--channels", type=int, choices=[1, 3], default=1, help="1 grey, 3 colour")
    train.add_argument("--latent", type=int, default=64, help="latent size (bottleneck channels or units)")
    train.add_argument("--width", type=int, default=32, help="feature maps at half resolution")
    train.add_argument("--bottom-blocks", type=int, default=4, help="U-Net residual blocks at 1/8 resolution")
    train.add_argument("--patch-size", type=int, default=48)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--batches-per-epoch", type=int, default=100)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--learning-rate", type=float, default=1e-3, help="peak Adam learning rate")
    train.add_argument("--warmup-epochs", type=int, default=0, help="epochs of linear learning-rate warm-up")
    train.add_argument(
        "--weight-by-noise",
        action="store_true",
        help="weight each patch's error inversely to its noise, so low noise levels count as much as high",
    )
    train.add_argument(
        "--noise",
        nargs="+",
        default=["gaussian:0-55"],
        metavar="KIND:LOW-HIGH",
        help="noise kinds and level ranges drawn during training (default gaussian:0-55)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--initial-weights",
        metavar="MODEL.keras",
        help="start from this finished model (same architecture and channels) with a new schedule",
    )
    train.add_argument("--workers", type=int, default=1, help="threads preparing batches (more keep a GPU busy)")
    train.add_argument(
        "--luminance-loss-weight",
        type=float,
        default=1.0,
        help="weight of the error's luminance part in the loss (colour; 1: mean squared error)",
    )
    train.add_argument(
        "--recolour",
        action="store_true",
        help="permute colour patches' channels and scale their saturation, so every hue is seen",
    )
    train.add_argument(
        "--pairs",
        metavar="FOLDER",
        help="also train on real noisy/clean pairs: FOLDER/noisy and FOLDER/clean, images of the same names",
    )
    train.add_argument(
        "--pairs-fraction", type=float, default=0.5, help="share of each batch cut from --pairs (default 0.5)"
    )
    train.add_argument(
        "--identity-start",
        action="store_true",
        help="a U-Net from random weights starts as the identity (its last layer at zero): for narrow U-Nets",
    )
    train.add_argument(
        "--objective",
        choices=OBJECTIVE_CHOICES,
        default="supervised",
        help="supervised: clean targets; noise2noise: a second noisy shot; neighbor2neighbor: neighbouring "
        "pixels of one noisy image (pixel-independent noise); shuffled-neighbor2neighbor: the same after "
        "pixel-shuffle downsampling (correlated noise of processed photos); recorrupted: known Gaussian noise",
    )
    train.add_argument(
        "--regularizer",
        type=float,
        default=0.0,
        metavar="GAMMA",
        help="neighbor2neighbor objectives: the weight of Huang et al.'s regularizer at the last epoch (they use 2; "
        "0 leaves it out); it runs the model once more per batch, on the whole patches",
    )
    train.add_argument(
        "--noisy-data",
        action="store_true",
        help="--data holds noisy images (none added; --noise gaussian:LEVEL gives their level for recorrupted); "
        "for noise2noise, a folder per scene with two or more aligned shots",
    )
    train.add_argument(
        "--domain",
        choices=["image", "raw"],
        default="image",
        help="raw: train the raw model on the colour images unprocessed to Bayer mosaics, with camera:LOW-HIGH "
        "giving the ISO range",
    )
    train.add_argument(
        "--teacher",
        metavar="MODEL",
        help="distil: the outputs of this .keras file or shipped family (default, photo) on the synthetic-noise "
        "patches are their targets",
    )
    train.add_argument(
        "--seconds",
        type=_seconds,
        help="a time budget: stop after the batch that passes it (that epoch is validated and kept as usual), "
        "or after --epochs, whichever comes first",
    )
    train.add_argument(
        "--distribute",
        action="store_true",
        help="data-parallel over every device: JAX DataParallel (several hosts too), TensorFlow MirroredStrategy",
    )
    train.add_argument("--coordinator", metavar="HOST:PORT", help="with --distribute under JAX: process 0's address")
    train.add_argument("--num-processes", type=int, help="with --distribute under JAX: processes training together")
    train.add_argument("--process-id", type=int, help="with --distribute under JAX: this process's number, 0 first")
    train.set_defaults(handler=_command_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = _parser().parse_args(argv)
    arguments.argv = argv
    with _library_notes(arguments.verbose):
        try:
            if arguments.handler in (_command_run, _command_batch, _command_adapt):  # quiet while loading only
                return arguments.handler(arguments)
            with _libraries_quiet(arguments):
                return arguments.handler(arguments)
        except (ValueError, OSError) as error:
            print(f"denoise: error: {error}", file=sys.stderr)
            return EXIT_REFUSED


@contextlib.contextmanager
def _library_notes(verbose: bool) -> Iterator[None]:
    """With ``verbose``, print the library's own notes (a runtime falling back to TensorFlow) on stderr."""
    if not verbose:
        yield
        return
    library_logger = logging.getLogger("denoise")
    handler, level = logging.StreamHandler(sys.stderr), library_logger.level
    library_logger.addHandler(handler)
    library_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        library_logger.removeHandler(handler)
        library_logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
