import keras
import numpy as np
import pytest

from denoise import build_model
from denoise.models import model_stride, with_precision


@pytest.mark.parametrize("channels,latent", [(1, 16), (3, 40)])
def test_dense_is_the_two_layer_autoencoder(channels, latent):
    model = build_model("dense", channels, latent, patch_size=8)
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense_layers) == 2
    encoder, decoder = dense_layers
    input_dim = 8 * 8 * channels
    assert encoder.kernel.shape == (input_dim, latent) and encoder.activation is keras.activations.relu
    assert decoder.kernel.shape == (latent, input_dim) and decoder.activation is keras.activations.sigmoid
    assert model.count_params() == input_dim * latent + latent + latent * input_dim + input_dim


@pytest.mark.parametrize("architecture,stride", [("conv", 4), ("unet", 8)])
@pytest.mark.parametrize("latent", [1, 5])
def test_bottleneck_has_the_chosen_channels(architecture, stride, latent):
    model = build_model(architecture, 3, latent, width=8)
    assert model_stride(model) == stride
    code = model.get_layer("latent").output
    assert code.shape[-1] == latent
    encoder = keras.Model(model.inputs, code)
    assert encoder.predict_on_batch(np.zeros((1, 32, 48, 3), np.float32)).shape == (
        1,
        32 // stride,
        48 // stride,
        latent,
    )


def test_conv_has_no_skip_connection():
    model = build_model("conv", 1, 2, width=8)
    assert not any(isinstance(layer, (keras.layers.Add, keras.layers.Concatenate)) for layer in model.layers)


@pytest.mark.parametrize("architecture", ["conv", "unet"])
def test_fully_convolutional(architecture):
    model = build_model(architecture, 1, 4, width=8)
    for height, width in [(16, 16), (40, 64)]:
        assert model.predict_on_batch(np.zeros((1, height, width, 1), np.float32)).shape == (1, height, width, 1)


@pytest.mark.parametrize("arguments", [("vae", 1, 4), ("conv", 2, 4), ("conv", 1, 0)])
def test_bad_arguments(arguments):
    with pytest.raises(ValueError):
        build_model(*arguments)


@pytest.mark.parametrize("architecture", ["dense", "conv", "unet"])
def test_bfloat16_copy_keeps_weights_and_computes_its_output_in_float32(architecture):
    model = build_model(architecture, 3, 8, **({} if architecture == "dense" else {"width": 8}))
    fast = with_precision(model, "bfloat16")
    assert with_precision(model, "float32") is model
    for original, copy in zip(model.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copy)  # weights stay float32, unrounded
    policies = {layer.name: layer.dtype_policy.name for layer in fast.layers if layer.weights}
    assert policies.pop(model.output_names[0], "float32") == "float32"
    assert set(policies.values()) == {"mixed_bfloat16"}
    shape = (2, 8 * 8 * 3) if architecture == "dense" else (2, 16, 24, 3)
    inputs = np.random.default_rng(0).random(shape, np.float32)
    expected, result = np.asarray(model.predict_on_batch(inputs)), np.asarray(fast.predict_on_batch(inputs))
    assert result.dtype == np.float32
    error = np.abs(result - expected)
    assert 0 < error.max() < 0.05 and error.mean() < 0.01  # bfloat16 keeps about 3 significant digits


@pytest.mark.parametrize("architecture", ["conv", "unet"])
def test_mixed_copy_computes_only_the_downsampled_layers_in_bfloat16(architecture):
    model = build_model(architecture, 3, 8, width=8)
    mixed = with_precision(model, "mixed")
    inputs = np.random.default_rng(0).random((2, 32, 48, 3), np.float32)
    for original, copy in zip(model.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copy)
    for layer in mixed.layers[1:]:
        side = keras.Model(mixed.input, layer.output).compute_output_shape(inputs.shape)[1]
        expected = "mixed_bfloat16" if side <= inputs.shape[1] // 4 else "float32"
        assert layer.dtype_policy.name == expected, layer.name
    assert {layer.dtype_policy.name for layer in mixed.layers} == {"float32", "mixed_bfloat16"}
    expected, result = np.asarray(model.predict_on_batch(inputs)), np.asarray(mixed.predict_on_batch(inputs))
    error = np.abs(result - expected)
    assert result.dtype == np.float32 and 0 < error.max() < 0.05 and error.mean() < 0.01


def test_mixed_leaves_a_model_that_does_not_downsample_as_it_is():
    model = build_model("dense", 1, 8)
    assert with_precision(model, "mixed") is model


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of float32, mixed, bfloat16"):
        with_precision(build_model("conv", 1, 2, width=4), "float16")


def test_multiply_accumulates_are_counted_from_the_layers():
    from denoise.models import build_conv, build_dense, build_unet, multiply_accumulates

    # A 3x3 convolution from 3 to 5 channels at full resolution: 3 * 3 * 3 * 5 per pixel.
    inputs = keras.Input((None, None, 3))
    assert multiply_accumulates(keras.Model(inputs, keras.layers.Conv2D(5, 3, padding="same")(inputs))) == 135
    # Stride 2 and a transposed convolution back: a quarter of the pixels, then kernel x channels per input pixel.
    down = keras.layers.Conv2D(4, 2, strides=2)(inputs)
    up = keras.layers.Conv2DTranspose(3, 2, strides=2)(down)
    assert multiply_accumulates(keras.Model(inputs, up)) == (2 * 2 * 3 * 4) / 4 + (2 * 2 * 4 * 3) / 4
    assert multiply_accumulates(build_dense(1, 32)) == 2 * 64 * 32 / 64
    quarter, full = multiply_accumulates(build_unet(3, 64, width=16)), multiply_accumulates(build_unet(3, 128))
    assert quarter <= 12_000 and 3.5 * quarter < full
    assert multiply_accumulates(build_conv(1, 2)) > 0
