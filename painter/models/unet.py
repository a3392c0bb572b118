"""The U-Net generator of the competition's starter notebook (pix2pix's, with instance norm).

Encoder: 4x4 stride-2 convolutions (C64, C128, C256, C512, C512, ...), instance norm except on the
first, LeakyReLU 0.2. Decoder: 4x4 stride-2 transposed convolutions with instance norm and ReLU,
each
concatenated with the encoder's output of the same size (skip connections); a last transposed
convolution to 3 channels and tanh. No dropout: the paper's CycleGAN trains without it
(pytorch-CycleGAN-and-pix2pix `--no_dropout` is the CycleGAN default), and it would add random state
to every step. Depth is configurable so the net fits 32-64 px images too.

`upsampling="resize"` replaces each transposed convolution by nearest-neighbour x2 and a 3x3
convolution (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts"): the starter's
transposed convolutions paint a grid-like checkerboard once its discriminator starts winning.
`upsampling="bilinear"` is bilinear x2 and a 3x3 convolution (`layers.resize_conv` says why).

`head=True` ends the decoder at full resolution as the paper's ResNet does: the last upsampling
makes `filters` channels (instance norm, ReLU) and a 3x3 convolution paints RGB from them. Without
it the starter's U-Net paints RGB straight from one upsampling of the half-size features: every
pixel of the output is one convolution of features a pixel pair shares, so the net can add fine
texture only through how it upsamples (nearest x2's 2-px lattice; bilinear has none to give).

`bottleneck_norm=False` leaves the deepest encoder layer unnormalised, as pix2pix's own U-Net does
(its innermost block has no norm), and the decoder level that reads it. At the default depth that
layer is 1x1, and instance norm of a single pixel is its offset alone: the starter's bottleneck is
a constant whatever the photo, so no global view of the image (its light, its overall colour)
reaches the decoder. With resize or bilinear upsampling the next level would lose it again: a 1x1
map resized and reflection-padded is a constant map, and a 3x3 convolution of it too, which
instance norm zeroes (pix2pix's transposed convolution gives each of its 4 pixels other taps).
Without the norms both convolutions get a bias; the encoder's then `SelectLeakyReLU` (a biased
convolution's activation, `layers` says why). The decoder level then adds one global code,
the same at every pixel, to the features of the level below.

`full_skip=True` (with the head) adds the full-size level the starter's U-Net lacks (Ronneberger et
al. 2015's first level is at full size): a 3x3 convolution of the photo to `filters` channels and
LeakyReLU, concatenated to the head's features before its RGB convolution. Every other level of the
decoder sees half-size or smaller features, so without it no layer that paints a pixel sees that
pixel of the photo: the head can add texture, but not the photo's own at its own place.
"""

from __future__ import annotations

import keras

from painter.config_checks import UPSAMPLING
from painter.models.layers import (
    ReflectionPadding2D,
    SelectLeakyReLU,
    SizeCheck,
    conv_initializer,
    dtype_policy,
    generator_output,
    instance_norm,
    resize_conv,
)
from painter.models.strided import PhaseConv2D, PhaseConv2DTranspose

MAX_DEPTH = 8  # the starter's depth at 256 px: 256 / 2^8 = 1 pixel at the bottleneck
_ENCODER_WIDTHS = (1, 2, 4, 8, 8, 8, 8, 8)  # times `filters`, as the starter's 64..512


def default_unet_depth(image_size: int) -> int:
    """As deep as `image_size` allows: the number of times it halves exactly, capped at 8."""
    depth = 0
    size = int(image_size)
    while size % 2 == 0 and size > 1 and depth < MAX_DEPTH:
        size //= 2
        depth += 1
    if depth == 0:
        raise ValueError(f"A U-Net needs an even image size. Received: image_size={image_size}")
    return depth


def unet_generator(
    *,
    filters: int = 64,
    depth: int = MAX_DEPTH,
    upsampling: str = "transpose",
    head: bool = False,
    full_skip: bool = False,
    bottleneck_norm: bool = True,
    residual: bool = False,
    dtype: str | None = None,
    name: str = "unet_generator",
) -> keras.Model:
    """The starter's U-Net, fully convolutional: input (None, None, 3) in [-1, 1], tanh output.

    Args:
        filters: width of the first encoder layer (starter: 64), doubled up to 8x.
        depth: stride-2 encoder layers (1..8); height and width must be multiples of 2**depth.
        upsampling: "transpose" (the starter's 4x4 transposed convolutions), "resize" (nearest
            x2 + 3x3 convolution: no checkerboards) or "bilinear" (bilinear x2 + 3x3 convolution).
        head: end with a full-size block (`filters` channels) and a 3x3 convolution to RGB.
        full_skip: join the head with a full-size 3x3 convolution of the photo (needs `head`).
        bottleneck_norm: instance-normalise the deepest encoder layer and the decoder layer
            that reads it (the starter's; False: neither, so that a 1x1 bottleneck carries the
            image's global features to the decoder).
        residual: paint over the photo: tanh(logits + atanh(0.99 photo)) (`PaintOver`), so the
            untrained net returns the photo.
        dtype: a dtype policy name for the layers (e.g. "mixed_bfloat16"); the output is float32.
        name: the model's name.
    """
    if not 1 <= int(depth) <= MAX_DEPTH:
        raise ValueError(f"`depth` must be in [1, {MAX_DEPTH}]. Received: {depth}")
    if filters <= 0:
        raise ValueError(f"`filters` must be > 0. Received: {filters}")
    if upsampling not in UPSAMPLING:
        raise ValueError(
            f"`upsampling` must be one of {list(UPSAMPLING)}. Received: {upsampling!r}"
        )
    if full_skip and not head:
        raise ValueError("`full_skip` joins the full-size head: pass head=True too.")
    with dtype_policy(dtype):
        return _build(
            int(filters),
            int(depth),
            upsampling,
            bool(head),
            bool(full_skip),
            bool(bottleneck_norm),
            bool(residual),
            name,
        )


def _upsample(x, width: int, name: str, upsampling: str, use_bias: bool = False):
    if upsampling == "transpose":
        return PhaseConv2DTranspose(
            width,
            4,
            strides=2,
            padding="same",
            use_bias=use_bias,
            kernel_initializer=conv_initializer(),
            name=name,
        )(x)
    return resize_conv(x, width, name, upsampling, use_bias=use_bias)


def _build(
    filters: int,
    depth: int,
    upsampling: str,
    head: bool,
    full_skip: bool,
    bottleneck_norm: bool,
    residual: bool,
    name: str,
) -> keras.Model:
    inputs = keras.Input((None, None, 3), name="real_image")
    x = SizeCheck(2**depth, generator="U-Net", name="size_check")(inputs)
    if full_skip:  # the full-size level: no norm, as the encoder's first (half-size) level
        full = ReflectionPadding2D(1, name="full_pad")(x)
        full = keras.layers.Conv2D(
            filters, 3, padding="valid", kernel_initializer=conv_initializer(), name="full_conv"
        )(full)
        # After a bias: a select, not TF's LeakyRelu op (`SelectLeakyReLU` says why).
        full = SelectLeakyReLU(0.2, name="full_lrelu")(full)
    skips = []
    for index in range(depth):
        width = filters * _ENCODER_WIDTHS[index]
        # The starter (and pix2pix) leave the first encoder layer unnormalised; pix2pix the
        # innermost too (`bottleneck_norm=False`).
        norm = index > 0 and (bottleneck_norm or index < depth - 1)
        # The first layer has no norm and no bias either (the starter's); the innermost
        # without a norm gets the bias the norm's offset was.
        bias = not norm and index > 0
        x = PhaseConv2D(
            width,
            4,
            strides=2,
            padding="same",
            use_bias=bias,
            kernel_initializer=conv_initializer(),
            name=f"down{index + 1}_conv",
        )(x)
        if norm:
            x = instance_norm(f"down{index + 1}_norm")(x)
        if bias:  # after a bias: a select, not TF's LeakyRelu op (`SelectLeakyReLU` says why)
            x = SelectLeakyReLU(0.2, name=f"down{index + 1}_lrelu")(x)
        else:
            x = keras.layers.LeakyReLU(0.2, name=f"down{index + 1}_lrelu")(x)
        skips.append(x)
    # Decoder mirrors the encoder; the deepest output has no skip partner.
    for index in reversed(range(depth - 1)):
        width = filters * _ENCODER_WIDTHS[index]
        # The level that reads the bottleneck: without the norm there too (a bias instead), as a
        # resized 1x1 map is a constant, which instance norm would zero again.
        norm = bottleneck_norm or index < depth - 2
        x = _upsample(x, width, f"up{index + 1}_conv", upsampling, use_bias=not norm)
        if norm:
            x = instance_norm(f"up{index + 1}_norm")(x)
        x = keras.layers.ReLU(name=f"up{index + 1}_relu")(x)
        x = keras.layers.Concatenate(name=f"up{index + 1}_skip")([x, skips[index]])
    if head:
        x = _upsample(x, filters, "head_conv", upsampling)
        x = instance_norm("head_norm")(x)
        x = keras.layers.ReLU(name="head_relu")(x)
        if full_skip:
            x = keras.layers.Concatenate(name="head_skip")([x, full])
        x = ReflectionPadding2D(1, name="last_pad")(x)
        x = keras.layers.Conv2D(
            3, 3, padding="valid", kernel_initializer=conv_initializer(), name="last_conv"
        )(x)
    else:
        x = _upsample(x, 3, "last_conv", upsampling, use_bias=True)
    # float32 output whatever the compute policy: the losses are computed in float32.
    outputs = generator_output(x, inputs, residual)
    return keras.Model(inputs, outputs, name=name)
