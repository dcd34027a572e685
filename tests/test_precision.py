"""Which arithmetic the models run in: float32, mixed, bfloat16, and what "auto" picks."""

import keras
import numpy as np
import pytest

from denoise import add_noise, load_model


@pytest.fixture
def noisy_colour(astronaut) -> np.ndarray:
    return add_noise(astronaut[:100, :140], "gaussian", 25, seed=0, clip=False)


@pytest.mark.parametrize("name", ["default", "dense"])
def test_bfloat16_runs_close_to_float32(luminance_models, noisy_colour, name):
    exact = load_model(name)
    fast = load_model(name, precision="bfloat16")
    assert fast.label == f"{exact.label} bfloat16" and fast.model_name(noisy_colour) == exact.model_name(noisy_colour)
    for image in (noisy_colour, noisy_colour[:, :, :1]):  # colour with the grey luminance, and grey
        expected, result = exact.denoise(image), fast.denoise(image)
        assert result.dtype == np.float32 and result.shape == expected.shape
        error = np.abs(result - expected)
        assert 0 < error.max() < 0.05 and error.mean() < 0.005
        latent = fast.encode(image)
        assert latent.dtype == np.float32 and latent.shape == exact.encode(image).shape


def test_bfloat16_reaches_the_low_noise_model(low_noise_models, camera):
    low = add_noise(camera[:96, :96], "gaussian", 5, seed=0, clip=False)
    fast = load_model("default", precision="bfloat16")
    assert fast.model_name(low) == "conv-2-gray"
    expected = load_model("conv-2-gray").denoise(low)
    assert 0 < np.abs(fast.denoise(low) - expected).max() < 0.05


def test_mixed_runs_close_to_float32(luminance_models, noisy_colour):
    exact = load_model("default", precision="float32")
    mixed = load_model("default", precision="mixed")
    assert mixed.label == "unet mixed" and mixed.arithmetic == "mixed"
    for image in (noisy_colour, noisy_colour[:, :, :1]):
        error = np.abs(mixed.denoise(image) - exact.denoise(image))
        assert 0 < error.max() < 0.05 and error.mean() < 0.005


def test_in_float32_undoes_a_precision(use_tiny_models, noisy_colour):
    from denoise.inference import read_model_file
    from denoise.models import in_float32, with_precision
    from denoise.registry import pretrained_dir

    model = read_model_file(pretrained_dir() / "unet-color.keras").model
    assert in_float32(model) is model
    restored = in_float32(with_precision(model, "bfloat16"))
    assert {layer.dtype_policy.name for layer in restored.layers} == {"float32"}
    batch = noisy_colour[None, :96, :96]
    np.testing.assert_array_equal(np.asarray(restored(batch)), np.asarray(model(batch)))


def test_auto_precision_is_mixed_only_where_tensorflow_has_bfloat16_instructions(use_tiny_models, cpu_flags):
    assert load_model("default").arithmetic == "float32"  # the tests' CPU has no bfloat16 instructions
    cpu_flags("fpu", "avx512f", "avx512_bf16")
    expected = "mixed" if keras.backend.backend() == "tensorflow" else "float32"  # JAX's CPU bfloat16 is slower
    denoiser = load_model("default")
    assert (denoiser.precision, denoiser.arithmetic, denoiser.label) == ("auto", expected, "unet")
    assert load_model("default", precision="float32").arithmetic == "float32"


def test_unknown_precision_is_refused_with_one_line(use_tiny_models):
    with pytest.raises(ValueError, match="precision must be one of auto, float32, mixed, bfloat16, got 'int8'"):
        load_model("default", precision="int8")
