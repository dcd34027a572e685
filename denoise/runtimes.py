"""Runtimes: one model run by Keras (the reference), OpenVINO or ONNX Runtime.

A runtime is a leaf piece (:class:`RuntimeModel`): tiling, self-ensembles, routing and strength
wrap it as they wrap the Keras model, so they work on every runtime unchanged. The model goes
to the other runtimes through ONNX, exported by Keras once per weights file and kept in the
user's cache folder (:func:`cache_folder`), named by the weights' SHA-256: new weights get a new
file, and a file whose own checksum no longer matches is made again.

``"auto"`` takes the fastest runtime installed on a CPU (the ``fast`` extra installs OpenVINO and
ONNX Runtime): which one is fastest depends on the machine (on one 2-core AMD EPYC OpenVINO ran
the colour U-Net in 0.54 s/MP and ONNX Runtime in 0.56; on another of the same family ONNX
Runtime was 6 % faster, ``benchmarks/runtimes.py``), so the first load of each model on a
machine times both on a 512 x 512 probe and remembers the faster in ``fastest.json`` in the
cache folder. On a GPU, ``"auto"`` keeps Keras.
A runtime that is not installed, fails to convert or to load, falls back to Keras with one
line on the ``denoise`` logger (the command line prints it with ``--verbose``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from denoise.cards import weights_digest
from denoise.compose import ConvolutionalModel, pad_to_multiple
from denoise.files import write_atomically
from denoise.quiet import first_line

if TYPE_CHECKING:
    from denoise.inference import LoadedModel

__all__ = [
    "FAST_RUNTIMES",
    "REFERENCE_RUNTIME",
    "RUNTIME_CHOICES",
    "RuntimeUnavailableError",
    "RuntimeModel",
    "cache_folder",
    "installed_runtimes",
    "onnx_file",
    "resolve_runtime",
    "with_runtime",
]

#: The reference runtime: Keras itself (its backend, TensorFlow unless ``KERAS_BACKEND`` says otherwise).
REFERENCE_RUNTIME = "tensorflow"
#: The faster runtimes on a CPU; ``"auto"`` times those installed (:data:`FASTEST`).
FAST_RUNTIMES = ("openvino", "onnxruntime")
#: What :func:`resolve_runtime` and ``load_model(runtime=...)`` accept.
RUNTIME_CHOICES = ("auto", REFERENCE_RUNTIME, *FAST_RUNTIMES)
#: What ``"auto"`` resolves to where several fast runtimes are installed: time them per model.
FASTEST = "fastest"
#: Side of the blank image on which :data:`FASTEST` times each runtime.
PROBE_SIDE = 512

logger = logging.getLogger("denoise")


class RuntimeUnavailableError(Exception):
    """A runtime that cannot run a model here; the message says why."""


def installed_runtimes() -> list[str]:
    """Return the runtimes this Python can import, the reference first."""
    return [REFERENCE_RUNTIME, *(name for name in FAST_RUNTIMES if importlib.util.find_spec(name))]


def resolve_runtime(
    runtime: str, *, device: str = "CPU", arithmetic: str = "float32", native_bfloat16: bool = False
) -> str:
    """Return the runtime that ``runtime`` means on this machine.

    Parameters
    ----------
    runtime : {"auto", "tensorflow", "openvino", "onnxruntime"}
        ``"auto"``: on a CPU, of :data:`FAST_RUNTIMES` those installed that compute in
        ``arithmetic``: :data:`FASTEST` if there are several (:func:`with_runtime` times them),
        the one, or else the reference. On a GPU the reference: Keras runs there, the
        others here run on CPUs only.
    device : str, default "CPU"
        The device Keras runs on (:func:`denoise.precision.device_name`).
    arithmetic : {"float32", "mixed", "bfloat16"}, default "float32"
        What the models should compute in. Only OpenVINO computes in bfloat16, and only where
        the CPU has bfloat16 instructions (``native_bfloat16``); elsewhere ``"auto"`` leaves a
        bfloat16 model to Keras, which emulates it as asked.
    native_bfloat16 : bool, default False
        Whether the CPU has bfloat16 instructions (:func:`denoise.precision.native_bfloat16`).

    Raises
    ------
    ValueError
        If ``runtime`` is not one of :data:`RUNTIME_CHOICES`.

    """
    if runtime not in RUNTIME_CHOICES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIME_CHOICES)}, got {runtime!r}")
    if runtime != "auto":
        return runtime
    if device != "CPU":
        return REFERENCE_RUNTIME
    if arithmetic == "float32":
        candidates = FAST_RUNTIMES
    else:
        candidates = ("openvino",) if native_bfloat16 else ()
    installed = [name for name in candidates if name in installed_runtimes()]
    return FASTEST if len(installed) > 1 else next(iter(installed), REFERENCE_RUNTIME)


def computed_arithmetic(runtime: str, arithmetic: str, *, native_bfloat16: bool) -> str:
    """Return what ``runtime`` computes in when ``arithmetic`` is asked.

    ONNX Runtime computes in float32 always (its CPU kernels have no bfloat16 convolutions),
    OpenVINO in bfloat16 only where the CPU has it (``native_bfloat16``, else float32), and
    Keras as asked (emulating bfloat16 where it is not native).
    """
    if runtime not in FAST_RUNTIMES:
        return arithmetic
    return "bfloat16" if runtime == "openvino" and native_bfloat16 and arithmetic != "float32" else "float32"


def cache_folder() -> Path:
    """Return the folder of converted models.

    ``$DENOISE_CACHE``, else ``$XDG_CACHE_HOME/denoise``, else ``~/.cache/denoise``.
    """
    if os.environ.get("DENOISE_CACHE"):
        return Path(os.environ["DENOISE_CACHE"])
    base = Path(os.environ["XDG_CACHE_HOME"]) if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "denoise"


def _export_onnx(model, target: Path) -> None:
    """Export a Keras image model to ``target`` as ONNX with any batch, height and width, in float32."""
    from denoise.export import float32_policy

    with float32_policy(), tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / "model.onnx"
        model(np.zeros((1, 8, 8, model.input_shape[-1]), np.float32))  # export needs a built, called model
        model.export(str(staged), format="onnx", verbose=False)
        write_atomically(target, lambda temporary: shutil.copyfile(staged, temporary))


def onnx_file(model, weights: Path, name: str) -> Path:
    """Return the cached ONNX export of ``model`` (whose weights are the file ``weights``), making it if needed.

    The file is ``cache_folder() / "onnx" / NAME-DIGEST.onnx``, where DIGEST starts the
    weights file's SHA-256, with ``.sha256`` beside it holding the ONNX file's own: an entry
    whose checksum is missing or wrong (a crash, a corrupted disk, another writer) is exported
    again. Both are written atomically.

    Raises
    ------
    RuntimeUnavailableError
        If the export fails (the ``export`` or ``fast`` extra missing, an unsupported layer).

    """
    folder = cache_folder() / "onnx"
    stem = f"{name}-{weights_digest(weights)[:20]}"
    path, checksum = folder / f"{stem}.onnx", folder / f"{stem}.onnx.sha256"
    if path.is_file() and checksum.is_file() and checksum.read_text().strip() == weights_digest(path):
        return path
    if path.exists():
        logger.info("denoise: rebuilding the damaged runtime cache entry %s", path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _export_onnx(model, path)
        digest = weights_digest(path)
        write_atomically(checksum, lambda temporary: Path(temporary).write_text(digest + "\n"))
    except Exception as error:  # export raises many kinds (ImportError, converter errors, OSError)
        path.unlink(missing_ok=True)
        reason = first_line(error)[:200]
        raise RuntimeUnavailableError(f"cannot convert {name} to ONNX: {reason}") from None
    return path


def _threads() -> int | None:
    """Threads a runtime may use: ``OMP_NUM_THREADS`` where set, else the runtime's own default (every core)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


@functools.cache
def _openvino_bfloat16() -> bool:
    """Whether OpenVINO's CPU plugin computes in bfloat16 natively here (its own reading of the CPU)."""
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def session_arithmetic(runtime: str, arithmetic: str) -> str:
    """Return what ``runtime``'s session on this machine computes in when ``arithmetic`` is asked.

    As :func:`computed_arithmetic`, with OpenVINO's own reading of the CPU: it does not depend
    on the Keras backend, which decides :func:`denoise.precision.native_bfloat16`.
    """
    native = runtime == "openvino" and arithmetic != "float32" and _openvino_bfloat16()
    return computed_arithmetic(runtime, arithmetic, native_bfloat16=native)


def _openvino_session(path: Path, arithmetic: str) -> Callable[[np.ndarray], np.ndarray]:
    """Compile the ONNX file for OpenVINO's CPU plugin: bfloat16 where asked and native, else float32."""
    import openvino

    core = openvino.Core()
    hint = {"bfloat16": "bf16", "float32": "f32"}[session_arithmetic("openvino", arithmetic)]
    settings = {"INFERENCE_PRECISION_HINT": hint} | ({"INFERENCE_NUM_THREADS": _threads()} if _threads() else {})
    compiled = core.compile_model(core.read_model(str(path)), "CPU", settings)
    request = compiled.create_infer_request()

    def run(batch: np.ndarray) -> np.ndarray:
        return request.infer([batch])[0]

    return run


def _onnxruntime_session(path: Path, arithmetic: str) -> Callable[[np.ndarray], np.ndarray]:
    """Open an ONNX Runtime session on the CPU (float32: its CPU kernels have no bfloat16 convolutions)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = _threads() or 0  # 0: one per physical core
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: batch})[0]

    return run


SESSIONS = {"openvino": _openvino_session, "onnxruntime": _onnxruntime_session}


@dataclass(frozen=True, eq=False)
class RuntimeModel(ConvolutionalModel):
    """A fully convolutional model run by another runtime; a leaf piece like :class:`ConvolutionalModel`.

    Its Keras model stays the reference for everything but the denoising call: the stride, the
    receptive field (so :class:`denoise.compose.Tiled` lays the same tiles) and the latent
    feature maps (:meth:`encode`).

    Parameters
    ----------
    model, model_name, compiled
        As for :class:`ConvolutionalModel`.
    session : callable
        Runs a ``(1, H, W, C)`` float32 batch, H and W multiples of the stride.
    runtime : str
        The runtime's name (:data:`FAST_RUNTIMES`).
    arithmetic : str
        What the session computes in (:func:`session_arithmetic`): ``"bfloat16"`` or ``"float32"``.

    """

    session: Callable[[np.ndarray], np.ndarray] | None = None
    runtime: str = REFERENCE_RUNTIME
    arithmetic: str = "float32"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Denoise an H x W x C float32 image."""
        height, width = image.shape[:2]
        padded = np.ascontiguousarray(pad_to_multiple(image, self.stride), dtype=np.float32)
        return np.asarray(self.session(padded[None]))[0, :height, :width]


def _open_session(runtime: str, source: LoadedModel, arithmetic: str) -> Callable[[np.ndarray], np.ndarray]:
    """Open ``runtime``'s session on ``source``'s cached conversion, made again once if the runtime cannot read it.

    Raises
    ------
    Exception
        Whatever the runtime, the import or the conversion raised.

    """
    if importlib.util.find_spec(runtime) is None:
        raise RuntimeUnavailableError(f"{runtime} is not installed (pip install 'denoise[fast]')")
    path = onnx_file(source.model, source.path, source.name)
    try:
        return SESSIONS[runtime](path, arithmetic)
    except Exception:  # a cache entry the runtime cannot read: make it again, once
        path.unlink(missing_ok=True)
        return SESSIONS[runtime](onnx_file(source.model, source.path, source.name), arithmetic)


def _fastest(source: LoadedModel, arithmetic: str) -> tuple[str, Callable[[np.ndarray], np.ndarray] | None]:
    """Return the fastest installed fast runtime for ``source`` on this machine, timed once and remembered.

    Each runtime runs a blank :data:`PROBE_SIDE` square once to set up, then twice timed. The
    choice is kept in ``cache_folder() / "fastest.json"`` by the model's architecture (speed does
    not depend on the weights, and two files of one architecture then run on the same runtime),
    the arithmetic, the host and the thread count. A runtime that fails is left out; if all do,
    the reference. Also returns the chosen runtime's session when it was opened for timing
    (None when the choice was remembered, or is the reference), so it is not opened twice.
    """
    architecture = hashlib.sha256(json.dumps(source.model.get_config(), sort_keys=True, default=str).encode())
    key = "|".join([architecture.hexdigest()[:20], arithmetic, platform.node(), str(_threads() or os.cpu_count())])
    record = cache_folder() / "fastest.json"
    try:
        remembered = json.loads(record.read_text())
    except (OSError, ValueError):
        remembered = {}
    if not isinstance(remembered, dict):
        remembered = {}
    if remembered.get(key) in installed_runtimes():
        return remembered[key], None
    seconds, sessions = {}, {}
    probe = np.zeros((1, PROBE_SIDE, PROBE_SIDE, source.model.input_shape[-1]), np.float32)
    for runtime in FAST_RUNTIMES:
        try:
            session = sessions[runtime] = _open_session(runtime, source, arithmetic)
            session(probe)
            started = time.perf_counter()
            session(probe)
            session(probe)
            seconds[runtime] = time.perf_counter() - started
        except Exception as error:  # noqa: BLE001 - a runtime that fails is not the fastest
            reason = first_line(error)[:200]
            logger.info("denoise: %s cannot run on %s: %s", source.name, runtime, reason)
    if not seconds:
        return REFERENCE_RUNTIME, None
    fastest = min(seconds, key=seconds.get)
    with contextlib.suppress(OSError):  # not remembered: timed again next time
        record.parent.mkdir(parents=True, exist_ok=True)
        content = json.dumps(remembered | {key: fastest}, indent=2) + "\n"
        write_atomically(record, lambda temporary: Path(temporary).write_text(content))
    return fastest, sessions[fastest]


def with_runtime(leaf: ConvolutionalModel, source: LoadedModel, runtime: str, arithmetic: str) -> ConvolutionalModel:
    """Return ``leaf`` run by ``runtime``, or ``leaf`` itself where that cannot be done here.

    Parameters
    ----------
    leaf : ConvolutionalModel
        The Keras model as a piece (in ``arithmetic``: it still computes the latent feature maps).
    source : LoadedModel
        The float32 model as read from its file, which is converted; the file's SHA-256 names
        the cached conversion.
    runtime : str
        A resolved runtime (:func:`resolve_runtime`); :data:`FASTEST` times the installed fast
        runtimes on this model (:func:`_fastest`).
    arithmetic : {"float32", "mixed", "bfloat16"}
        What the model computes in (:func:`denoise.precision.resolve_precision`); OpenVINO
        computes in bfloat16 for the last two where the CPU has it natively.

    Returns
    -------
    ConvolutionalModel
        A :class:`RuntimeModel`, or ``leaf`` for the reference runtime and on any failure: the
        runtime not installed, the conversion or the loading failed. A failure is one line on
        the ``denoise`` logger.

    """
    session = None
    if runtime == FASTEST:
        runtime, session = _fastest(source, arithmetic)
    if runtime == REFERENCE_RUNTIME:
        return leaf
    try:
        session = session or _open_session(runtime, source, arithmetic)
    except Exception as error:  # noqa: BLE001 - any failure here means: run the reference instead
        reason = first_line(error)[:200]
        logger.info("denoise: %s runs on %s instead of %s: %s", leaf.model_name, REFERENCE_RUNTIME, runtime, reason)
        return leaf
    computed = session_arithmetic(runtime, arithmetic)
    return RuntimeModel(
        leaf.model, leaf.model_name, leaf.compiled, session=session, runtime=runtime, arithmetic=computed
    )
