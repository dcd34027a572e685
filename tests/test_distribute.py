"""`denoise train` under JAX on CPU: two virtual devices, two processes on localhost, a teacher in threads."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax", reason="the jax extra is not installed")

TRAIN = [
    "--architecture", "conv", "--latent", "2", "--width", "8", "--patch-size", "32", "--batch-size", "8",
    "--batches-per-epoch", "3", "--epochs", "2", "--learning-rate", "3e-3", "--seed", "3",
]  # fmt: skip


def train(folder, output, *extra: str, devices: int = 1, wait: bool = True) -> subprocess.Popen:
    """Run `denoise train` under JAX on ``devices`` CPU devices in a subprocess."""
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": str(devices), "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "denoise", "train", "--data", str(folder), "--output", str(output), *TRAIN, *extra]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if wait:
        output_text, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output_text[-3000:]
    return process


def weights(path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, compile=False, safe_mode=True).get_weights()


def test_two_virtual_devices_give_one_devices_weights(training_folder, tmp_path):
    train(training_folder, tmp_path / "one" / "model")
    train(training_folder, tmp_path / "two" / "model", "--distribute", devices=2)
    card = json.loads((tmp_path / "two" / "model.json").read_text())
    assert card["training"]["distribute"] == "JAX DataParallel over 2 devices"
    single = weights(tmp_path / "one" / "checkpoints" / "model.keras")
    parallel = weights(tmp_path / "two" / "checkpoints" / "model.keras")
    largest = max(float(np.abs(a - b).max()) for a, b in zip(single, parallel, strict=True))
    print(f"two devices against one: largest weight difference {largest:.2e}")
    assert largest < 1e-4


def test_two_processes_on_localhost_train_one_model(training_folder, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ["--distribute", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    processes = [
        train(training_folder, tmp_path / "model", *options, "--process-id", str(index), wait=False) for index in (0, 1)
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs[1][-3000:] + outputs[0][-3000:]
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["training"]["distribute"] == "JAX DataParallel over 2 devices"
    log = json.loads((tmp_path / "checkpoints" / "model.log.json").read_text())
    # Process 1 writes nothing; it reports the same validation PSNR, on the same weights.
    reported = [line for line in outputs[1].splitlines() if line.startswith("epoch 2: val_psnr")]
    assert reported and f"val_psnr {log[-1]['val_psnr']:.2f} dB" in reported[0] and "(process 1)" in reported[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoints", "model.json", "model.keras"]


def test_under_tensorflow_it_trains_with_a_mirrored_strategy(training_folder, tmp_path):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow engine's own strategy")
    from denoise.distribute import DistributeOptions
    from tests.conftest import train_tiny

    card = train_tiny(training_folder, tmp_path / "model", "conv", 1, 2, epochs=1, distribute=DistributeOptions())
    assert card["training"]["distribute"].startswith("TensorFlow MirroredStrategy over 1 devices")
    assert (tmp_path / "model.keras").exists()
    with pytest.raises(ValueError, match="several processes need the JAX backend"):
        train_tiny(training_folder, tmp_path / "other", "conv", 1, 2, distribute=DistributeOptions(num_processes=2))


def test_under_jax_a_teacher_serves_several_data_threads(training_folder, tmp_path):
    # Keras's JAX predict updates the model's state buffers; calls from data threads at once
    # used to fail with "buffer has been deleted or donated".
    train(training_folder, tmp_path / "teacher")
    extra = ["--teacher", str(tmp_path / "teacher.keras"), "--workers", "4", "--batches-per-epoch", "12"]
    train(training_folder, tmp_path / "student", *extra)
    card = json.loads((tmp_path / "student.json").read_text())
    assert card["teacher"]["file"] == str(tmp_path / "teacher.keras") and card["epochs_run"] == 2
