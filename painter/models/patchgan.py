"""The 70x70 PatchGAN discriminator of pix2pix / CycleGAN (Zhu et al. 2017, appendix 7.2).

C64-C128-C256-C512: 4x4 convolutions, stride 2 for the first `layers` and stride 1 for the last,
instance norm except on C64, LeakyReLU 0.2; a final 4x4 convolution to one logit per patch.
Padding is 1 pixel of zeros before each convolution, exactly as the reference code, so a 256x256
image gives 30x30 logits each seeing 70x70 pixels. Logits are float32 under mixed precision.

`spectral_norm=True` (Miyato et al. 2018) makes every convolution a `SpectralConv2D` (one power
iteration per training call) and drops the instance norms: a norm after a spectrally normalised
convolution would undo its scale, and
SN-PatchGANs (e.g. Yu et al. 2019) use none.
"""

from __future__ import annotations

import keras

from painter.models.layers import (
    SelectLeakyReLU,
    SpectralConv2D,
    conv_initializer,
    dtype_policy,
    instance_norm,
)


def patchgan_min_size(layers: int) -> int:
    """The smallest square input that still leaves at least one logit."""
    size = 1
    for _ in range(2):  # the two stride-1 convolutions (k4, pad 1) each remove one pixel
        size += 1
    for _ in range(layers):
        size *= 2
    return size


def patchgan_discriminator(
    *,
    filters: int = 64,
    layers: int = 3,
    dtype: str | None = None,
    spectral_norm: bool = False,
    name: str = "patchgan_discriminator",
) -> keras.Model:
    """PatchGAN with `layers` stride-2 convolutions (3 = the paper's 70x70 receptive field).

    Args:
        filters: width of C64 (paper: 64); each later layer doubles it, capped at 8x.
        layers: number of stride-2 convolutions.
        dtype: a dtype policy name for the layers (e.g. "mixed_bfloat16"); logits are float32.
        spectral_norm: spectrally normalise every convolution (and use no instance norm).
        name: the model's name.
    Returns a model from (None, None, 3) images to (None, h, w, 1) logits.
    """
    if layers < 1 or filters <= 0:
        raise ValueError(f"`filters` and `layers` must be >= 1. Received: {filters}, {layers}")
    with dtype_policy(dtype):
        return _build(int(filters), int(layers), bool(spectral_norm), name)


def _conv(x, width, strides, name, use_bias=False, spectral_norm=False):
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    conv = SpectralConv2D if spectral_norm else keras.layers.Conv2D
    return conv(
        width,
        4,
        strides=strides,
        padding="valid",
        use_bias=use_bias,
        kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)


def _build(filters: int, layers: int, spectral_norm: bool, name: str) -> keras.Model:
    inputs = keras.Input((None, None, 3), name="image")
    # No norm on the first layer: keep a bias.
    x = _conv(inputs, filters, 2, "c1", use_bias=True, spectral_norm=spectral_norm)
    # After a bias: a select, not TF's LeakyRelu op (`SelectLeakyReLU` says why).
    x = SelectLeakyReLU(0.2, name="c1_lrelu")(x)
    for index in range(1, layers + 1):
        width = filters * min(2**index, 8)
        strides = 2 if index < layers else 1
        if spectral_norm:  # no norm to follow it: the convolution keeps a bias
            x = _conv(x, width, strides, f"c{index + 1}", use_bias=True, spectral_norm=True)
            x = SelectLeakyReLU(0.2, name=f"c{index + 1}_lrelu")(x)
        else:
            x = _conv(x, width, strides, f"c{index + 1}")
            x = instance_norm(f"c{index + 1}_norm")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"c{index + 1}_lrelu")(x)
    x = _conv(x, 1, 1, "logits", use_bias=True, spectral_norm=spectral_norm)
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(x)
    return keras.Model(inputs, outputs, name=name)
