"""The ResNet generator of Zhu et al. 2017 (CycleGAN), appendix 7.2.

c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3, tanh. Reflection padding, instance norm, ReLU.
Upsampling choice: `upsampling="resize"` (default) is nearest-neighbour x2 then a 3x3 convolution
(Odena et al. 2016, "Deconvolution and Checkerboard Artifacts"): the same receptive field and
parameter count order as the paper's stride-1/2 transposed convolution, without the checkerboard
pattern transposed convolutions are known for; `upsampling="bilinear"` the same with bilinear x2
(`layers.resize_conv` says why). `upsampling="transpose"` is the paper's layer.
"""

from __future__ import annotations

import keras

from painter.config_checks import UPSAMPLING
from painter.models.layers import (
    ReflectionPadding2D,
    SizeCheck,
    conv_initializer,
    dtype_policy,
    generator_output,
    instance_norm,
    resize_conv,
)
from painter.models.strided import PhaseConv2DTranspose

# Two stride-2 downsamplings: height and width must divide by 4 to come back to the input size.
RESNET_MULTIPLE = 4


def default_resnet_blocks(image_size: int) -> int:
    """The paper's rule: 9 residual blocks at 256x256 and above, 6 at 128x128 and below."""
    return 9 if image_size >= 256 else 6


def _conv_norm_relu(x, filters, kernel, strides, name, *, reflect: int = 0, relu: bool = True):
    if reflect:
        x = ReflectionPadding2D(reflect, name=f"{name}_pad")(x)
    padding = "valid" if reflect else "same"
    x = keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)
    x = instance_norm(f"{name}_norm")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _residual_block(x, filters, name):
    """R256: two reflection-padded 3x3 convolutions with instance norm, plus the skip."""
    y = _conv_norm_relu(x, filters, 3, 1, f"{name}_a", reflect=1)
    y = _conv_norm_relu(y, filters, 3, 1, f"{name}_b", reflect=1, relu=False)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _upsample(x, filters, name, upsampling):
    if upsampling == "transpose":
        x = PhaseConv2DTranspose(
            filters,
            3,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=conv_initializer(),
            name=f"{name}_conv",
        )(x)
    else:
        x = resize_conv(x, filters, f"{name}_conv", upsampling, prefix=name)
    x = instance_norm(f"{name}_norm")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def resnet_generator(
    *,
    filters: int = 64,
    residual_blocks: int = 9,
    upsampling: str = "resize",
    residual: bool = False,
    dtype: str | None = None,
    name: str = "resnet_generator",
) -> keras.Model:
    """The paper's ResNet generator, fully convolutional: input (None, None, 3) in [-1, 1].

    Args:
        filters: width of the first layer (paper: 64); later layers use 2x and 4x.
        residual_blocks: residual blocks at the bottleneck (paper: 9 at 256 px, 6 at 128 px).
        upsampling: "resize" (nearest x2 + conv, no checkerboards), "bilinear" (bilinear x2 +
            conv) or "transpose" (the paper's).
        residual: paint over the photo: tanh(logits + atanh(0.99 photo)) (`PaintOver`), so the
            untrained net returns the photo.
        dtype: a dtype policy name for the layers (e.g. "mixed_bfloat16"); the output is float32.
        name: the model's name (e.g. "monet_generator").

    Height and width must be multiples of 4 (`required_multiple(model)`); other sizes raise
    ValueError naming the size.
    """
    if upsampling not in UPSAMPLING:
        raise ValueError(
            f"`upsampling` must be one of {list(UPSAMPLING)}. Received: {upsampling!r}"
        )
    if residual_blocks < 0 or filters <= 0:
        raise ValueError(
            f"`filters` must be > 0 and `residual_blocks` >= 0. Received: {filters}, "
            f"{residual_blocks}"
        )
    with dtype_policy(dtype):
        return _build(filters, residual_blocks, upsampling, bool(residual), name)


def _build(filters, residual_blocks, upsampling, residual, name):
    inputs = keras.Input((None, None, 3), name="real_image")
    x = SizeCheck(RESNET_MULTIPLE, generator="ResNet", name="size_check")(inputs)
    x = _conv_norm_relu(x, filters, 7, 1, "c7s1", reflect=3)
    x = _conv_norm_relu(x, filters * 2, 3, 2, "d128")
    x = _conv_norm_relu(x, filters * 4, 3, 2, "d256")
    for index in range(residual_blocks):
        x = _residual_block(x, filters * 4, f"r{index + 1}")
    x = _upsample(x, filters * 2, "u128", upsampling)
    x = _upsample(x, filters, "u64", upsampling)
    x = ReflectionPadding2D(3, name="c7s1_3_pad")(x)
    x = keras.layers.Conv2D(
        3, 7, padding="valid", kernel_initializer=conv_initializer(), name="c7s1_3_conv"
    )(x)
    # float32 output whatever the compute policy: the losses are computed in float32.
    outputs = generator_output(x, inputs, residual)
    return keras.Model(inputs, outputs, name=name)
