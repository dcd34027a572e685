"""Autoencoder builders (Keras 3 Functional API, backend-agnostic).

Three families, each built with the latent size as a parameter:

``dense``
    The classic two-layer autoencoder ``h = relu(W_e x + b_e)``, ``x_hat = sigmoid(W_d h + b_d)``
    on flattened ``patch_size x patch_size`` patches. :class:`denoise.Denoiser` applies it to
    overlapping patches of a photo and averages them back.
``conv``
    A convolutional encoder that downsamples twice (stride 2) into a bottleneck of ``latent``
    feature maps at a quarter of the resolution, and a mirrored decoder. There are no skip
    connections, so everything the decoder sees passes through the bottleneck.
``unet``
    A residual U-Net: a learned space-to-depth step to half resolution, two more stride-2
    levels, additive skip connections, and a bottleneck of ``latent`` channels at an eighth of
    the resolution followed by a stack of residual blocks there. It predicts the noise and
    subtracts it from its input. Most of its width and depth sits at low resolution, which
    keeps it cheap per pixel on a CPU while each output pixel sees a wide neighbourhood.

The convolutional models accept any height and width that is a multiple of
:func:`model_stride`; :class:`denoise.Denoiser` pads and crops around that.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

__all__ = [
    "ARCHITECTURES",
    "PRECISIONS",
    "build_model",
    "build_dense",
    "build_conv",
    "build_unet",
    "FirstChannels",
    "model_stride",
    "multiply_accumulates",
    "receptive_field",
    "in_float32",
    "with_precision",
]

LATENT_LAYER = "latent"
#: Arithmetic a model can run in (:func:`with_precision`): float32 as trained, bfloat16 in
#: its downsampled layers only, or bfloat16 in all but its output.
PRECISIONS = ("float32", "mixed", "bfloat16")
#: Under ``"mixed"``, layers whose output is at least this many times smaller than the input
#: (per side) compute in bfloat16.
MIXED_FROM_DOWNSAMPLING = 4
#: Change of an output pixel below which :func:`receptive_field` counts it as not reached.
CHANGE_TOLERANCE = 1e-6


def build_dense(channels: int, latent: int, *, patch_size: int = 8) -> keras.Model:
    """Build the two-layer dense autoencoder on flattened patches.

    Parameters
    ----------
    channels : int
        Image channels (1 for grey, 3 for colour).
    latent : int
        Number of hidden units ``h``.
    patch_size : int, default 8
        Side of the square patches; the input has ``patch_size**2 * channels`` values.

    Returns
    -------
    keras.Model
        Maps ``(batch, patch_size**2 * channels)`` to the same shape, values in (0, 1).

    """
    input_dim = patch_size * patch_size * channels
    inputs = keras.Input(shape=(input_dim,), name="patch")
    hidden = layers.Dense(latent, activation="relu", name=LATENT_LAYER)(inputs)
    outputs = layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(hidden)
    return keras.Model(inputs, outputs, name="dense")


def build_conv(channels: int, latent: int, *, width: int = 32) -> keras.Model:
    """Build the convolutional autoencoder with a true bottleneck.

    Parameters
    ----------
    channels : int
        Image channels (1 or 3).
    latent : int
        Feature maps in the bottleneck, at 1/4 of the input's height and width.
    width : int, default 32
        Feature maps at half resolution; twice as many at quarter resolution.

    Returns
    -------
    keras.Model
        Maps ``(batch, H, W, channels)`` to the same shape, values in (0, 1); ``H`` and ``W``
        must be multiples of 4.

    """
    inputs = keras.Input(shape=(None, None, channels), name="noisy")
    x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="encode_1")(inputs)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu", name="encode_2")(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="encode_3")(x)
    code = layers.Conv2D(latent, 3, padding="same", name=LATENT_LAYER)(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="decode_1")(code)
    x = layers.Conv2DTranspose(2 * width, 3, strides=2, padding="same", activation="relu", name="decode_2")(x)
    x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu", name="decode_3")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="conv")


def _conv_block(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """Two 3x3 convolutions with ReLU and a residual connection around them."""
    y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_a")(x)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_b")(y)
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))


@keras.saving.register_keras_serializable(package="denoise", name="FirstChannels")
class FirstChannels(layers.Layer):
    """Keep the first ``count`` channels of the input: the image, without the noise-level planes."""

    def __init__(self, count: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        """Return the first ``count`` channels."""
        return inputs[..., : self.count]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Return the input's shape with ``count`` channels."""
        return (*input_shape[:-1], self.count)

    def get_config(self) -> dict:
        """Return the layer's config, ``count`` included."""
        return {**super().get_config(), "count": self.count}


def build_unet(
    channels: int, latent: int = 128, *, width: int = 32, bottom_blocks: int = 4, level_planes: int = 0
) -> keras.Model:
    """Build the residual U-Net, the best-quality model.

    Parameters
    ----------
    channels : int
        Image channels (1, 3, or 4 for a packed Bayer mosaic, :mod:`denoise.raw`).
    latent : int, default 128
        Channels of the bottleneck, at 1/8 of the input's height and width.
    width : int, default 32
        Channels at half resolution; doubled at quarter resolution.
    bottom_blocks : int, default 4
        Residual blocks (two 3x3 convolutions each) at 1/8 resolution. Each costs about as
        much per input pixel as one block at half resolution, and widens the receptive field
        by 32 pixels.
    level_planes : int, default 0
        Extra input planes after the image's that tell the noise level (the raw model's
        per-pixel noise standard deviation, one plane per mosaic plane); the output has
        ``channels`` channels.

    Returns
    -------
    keras.Model
        Maps a noisy ``(batch, H, W, channels + level_planes)`` input to the denoised
        ``(batch, H, W, channels)`` estimate; ``H`` and ``W`` must be multiples of 8.

    """
    inputs = keras.Input(shape=(None, None, channels + level_planes), name="noisy")
    # A 2x2 stride-2 convolution is a learned space-to-depth (pixel-unshuffle) step.
    level_1 = _conv_block(layers.Conv2D(width, 2, strides=2, name="down_1")(inputs), width, "level_1")
    level_2 = _conv_block(layers.Conv2D(2 * width, 2, strides=2, name="down_2")(level_1), 2 * width, "level_2")
    x = layers.Conv2D(latent, 2, strides=2, activation="relu", name="down_3")(level_2)
    x = layers.Conv2D(latent, 3, padding="same", activation="relu", name=LATENT_LAYER)(x)
    for index in range(1, bottom_blocks + 1):
        x = _conv_block(x, latent, f"bottom_{index}")
    x = layers.Conv2DTranspose(2 * width, 2, strides=2, name="up_2")(x)
    x = _conv_block(layers.Add(name="skip_2")([x, level_2]), 2 * width, "level_2_up")
    x = layers.Conv2DTranspose(width, 2, strides=2, name="up_1")(x)
    x = _conv_block(layers.Add(name="skip_1")([x, level_1]), width, "level_1_up")
    noise = layers.Conv2DTranspose(channels, 2, strides=2, name="noise")(x)
    image = FirstChannels(channels, name="image")(inputs) if level_planes else inputs
    outputs = layers.Subtract(name="denoised")([image, noise])
    return keras.Model(inputs, outputs, name="unet")


ARCHITECTURES = {"dense": build_dense, "conv": build_conv, "unet": build_unet}


def build_model(architecture: str, channels: int, latent: int, **options: int) -> keras.Model:
    """Build any architecture by name.

    Parameters
    ----------
    architecture : {"dense", "conv", "unet"}
        Model family.
    channels : int
        Image channels (1 or 3; 4 for a packed Bayer mosaic).
    latent : int
        Latent size: hidden units (``dense``) or bottleneck channels (``conv``, ``unet``).
    **options
        Passed on to the builder (``patch_size`` for ``dense``, ``width`` for the others).

    Raises
    ------
    ValueError
        If the architecture is unknown or a size is not positive.

    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1 (grey), 3 (colour) or 4 (a packed Bayer mosaic), got {channels}")
    if latent < 1:
        raise ValueError(f"latent size must be at least 1, got {latent}")
    return ARCHITECTURES[architecture](channels, latent, **options)


def model_stride(model: keras.Model) -> int:
    """Return the factor by which the model downsamples, so inputs must be a multiple of it.

    Returns 1 for the dense patch model.
    """
    stride = 1
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.Conv2DTranspose):
            stride *= layer.strides[0]
    return stride


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """Return ``model`` computing in ``precision``, with the same weights.

    Layers that compute in bfloat16 take Keras's ``"mixed_bfloat16"`` policy: their weights
    stay float32 and they compute in bfloat16, which processors with bfloat16 instructions
    (AVX-512 BF16, AMX, recent GPUs) run about twice as fast. Which layers do:

    - ``"float32"``: none; returns ``model`` itself.
    - ``"mixed"``: those whose output is at least :data:`MIXED_FROM_DOWNSAMPLING` times
      smaller than the input, where most of a U-Net's work is and its rounding is averaged
      away. The layers at the image's full and half resolution keep float32, as quantized
      networks keep their first and last layers. The shipped models lose at most about 0.001 dB
      this way, against up to 0.06 dB with every layer in bfloat16 (the README's benchmark
      measures both). A model that does not downsample (the dense patch model) stays float32.
    - ``"bfloat16"``: every layer except the output layers, which compute in float32 so that
      a U-Net subtracts its noise estimate from the input at full precision.

    Raises
    ------
    ValueError
        If ``precision`` is not one of :data:`PRECISIONS`.

    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return model
    if precision == "mixed":
        downsampling = _downsampling(model)
        in_bfloat16 = {name for name, factor in downsampling.items() if factor >= MIXED_FROM_DOWNSAMPLING}
    else:
        in_bfloat16 = {layer.name for layer in model.layers} - set(model.output_names)
    if not in_bfloat16:
        return model

    def clone_layer(layer: layers.Layer) -> layers.Layer:
        config = layer.get_config()
        if layer.name in in_bfloat16:
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    copy.set_weights(model.get_weights())
    return copy


def in_float32(model: keras.Model) -> keras.Model:
    """Return ``model`` computing in float32 throughout, with the same weights: the inverse of :func:`with_precision`.

    Returns ``model`` itself where it already does.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def clone_layer(layer: layers.Layer) -> layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    copy.set_weights(model.get_weights())
    return copy


def _downsampling(model: keras.Model) -> dict[str, int]:
    """Map each layer of an image model to how many times smaller than the input its output is.

    Returns an empty mapping for a model whose input is not an image (the dense patch model).
    """
    if len(model.input.shape) != 4:
        return {}
    side = 16 * model_stride(model)
    probe = keras.KerasTensor((1, side, side, model.input.shape[-1]))
    inner = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    outputs = keras.Model(model.input, [layer.output for layer in inner]).compute_output_spec(probe)
    return {layer.name: side // output.shape[1] for layer, output in zip(inner, outputs, strict=True)}


def multiply_accumulates(model: keras.Model) -> float:
    """Return the multiply-accumulates an image model spends per input pixel (per value for the dense model).

    Counted from its layers' shapes on a probe image: each convolution costs its kernel's
    height × width × input channels × output channels per output pixel (a transposed one, per
    input pixel), a depthwise one its kernel's area per channel, a dense layer its inputs ×
    outputs. Additions, activations and biases are left out: they are a few per pixel against
    thousands. Two floating-point operations make one multiply-accumulate.
    """
    if len(model.input.shape) != 4:
        dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
        return sum(layer.kernel.shape[0] * layer.kernel.shape[1] for layer in dense) / model.input.shape[1]
    side = 16 * model_stride(model)
    probe = keras.KerasTensor((1, side, side, model.input.shape[-1]))
    inner = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    outputs = keras.Model(model.input, [layer.output for layer in inner]).compute_output_spec(probe)
    total = 0
    for layer, output in zip(inner, outputs, strict=True):
        if isinstance(layer, layers.DepthwiseConv2D):
            total += int(np.prod(output.shape[1:])) * int(np.prod(layer.kernel_size))
        elif isinstance(layer, layers.Conv2DTranspose):
            input_pixels = int(np.prod(output.shape[1:3])) // int(np.prod(layer.strides))
            total += input_pixels * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, layers.Conv2D):
            total += int(np.prod(output.shape[1:3])) * int(np.prod(layer.kernel.shape))
    return total / side**2


def receptive_field(model: keras.Model, *, largest_side: int = 1024) -> int:
    """Return how far, in pixels, an image model's output reaches into its input: its receptive field's radius.

    Measured rather than derived from the layers, so that it holds for any architecture: a
    random image is run with and without a change at one pixel, for each position of that
    pixel within the model's stride, and the radius is the furthest output pixel that moved.
    A convolutional model's output beyond this radius moves by less than
    :data:`CHANGE_TOLERANCE`, so tiles computed with this much margin give the untiled result
    up to float rounding.

    Parameters
    ----------
    model : keras.Model
        A fully convolutional model of ``(batch, H, W, C)`` images.
    largest_side : int, default 1024
        The largest probe image tried; a model that reaches further is refused.

    Raises
    ------
    ValueError
        If the model takes flattened patches, or reaches further than ``largest_side / 2``.

    """
    if len(model.input.shape) != 4:
        raise ValueError("the receptive field is measured on image models, not on flattened patches")
    stride = model_stride(model)
    channels = model.input.shape[-1]
    side = 32 * stride
    while side <= largest_side:
        centre = side // 2
        probe = np.random.default_rng(0).random((1, side, side, channels), dtype=np.float32)
        batch = np.repeat(probe, stride + 1, axis=0)  # the probe itself first, in the same call
        for phase in range(stride):  # the impulse at each offset from the stride's grid
            batch[phase + 1, centre + phase, centre + phase] += 0.5
        outputs = keras.ops.convert_to_numpy(model(batch))
        radius = 0
        for phase in range(stride):
            moved = np.abs(outputs[phase + 1] - outputs[0]).max(axis=-1) > CHANGE_TOLERANCE
            rows, columns = np.nonzero(moved)
            offsets = np.concatenate([rows - centre - phase, columns - centre - phase]) if rows.size else [0]
            radius = max(radius, int(np.abs(offsets).max()))
        if radius < centre - stride:
            return radius
        side *= 2
    raise ValueError(f"the model reaches further than {largest_side // 2} pixels")
