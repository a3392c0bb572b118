"""The 70x70 PatchGAN discriminator of pix2pix / CycleGAN (Zhu et al. 2017, appendix 7.2).

C64-C128-C256-C512: 4x4 convolutions, stride 2 for the first `layers` and stride 1 for the last,
instance norm except on C64, LeakyReLU 0.2; a final 4x4 convolution to one logit per patch.
Padding is 1 pixel of zeros before each convolution, exactly as the reference code, so a 256x256
image gives 30x30 logits each seeing 70x70 pixels. Logits are float32 under mixed precision.

`multiscale_discriminator` (pix2pixHD, Wang et al. 2018): the same PatchGAN at several scales,
the image and its 2x, 4x ... average-pooled copies, each with its own weights; one logit per
patch of every scale, each coarser scale's repeated so that every scale weighs about as much in
any mean over the patches (`ScaleLogits`). At 64 px a 2-layer PatchGAN sees 34 px patches, which
a painting that is still the photo can pass; the half-size one sees 68 px of the image.

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


def multiscale_discriminator(
    *,
    scales: int = 2,
    filters: int = 64,
    layers: int = 3,
    dtype: str | None = None,
    spectral_norm: bool = False,
    name: str = "multiscale_discriminator",
) -> keras.Model:
    """`scales` PatchGANs (see `patchgan_discriminator`), scale s judging the image average-pooled
    2^s times; their logits as one (None, patches, 1, 1) tensor (`ScaleLogits`).

    The scales' weights live under `{name}_scale{s}/` (each scale is its own nested model); the
    smallest input is `patchgan_min_size(layers) * 2 ** (scales - 1)`. One scale is the plain
    `patchgan_discriminator` (the same weights and names as ever)."""
    if scales < 1:
        raise ValueError(f"`scales` must be >= 1. Received: {scales}")
    if scales == 1:
        return patchgan_discriminator(
            filters=filters, layers=layers, dtype=dtype, spectral_norm=spectral_norm, name=name
        )
    image = keras.Input((None, None, 3), name="image")
    x, logits = image, []
    for scale in range(int(scales)):
        if scale:
            x = keras.layers.AveragePooling2D(2, name=f"scale{scale}_pool")(x)
        scale_name = f"{name}_scale{scale}"
        with keras.name_scope(scale_name):  # unique weight paths: the scales share layer names
            judge = patchgan_discriminator(
                filters=filters,
                layers=layers,
                dtype=dtype,
                spectral_norm=spectral_norm,
                name=scale_name,
            )
        logits.append(judge(x))
    # float32, as each scale's logits are (under a bfloat16 policy too)
    return keras.Model(image, ScaleLogits(dtype="float32", name="scale_logits")(logits), name=name)


@keras.saving.register_keras_serializable(package="painter")
class ScaleLogits(keras.layers.Layer):
    """Logit maps of several scales, finest first, -> one (batch, patches, 1, 1) tensor: each map
    flattened, every coarser one tiled round(P_0 / P_s) times (P_s: its patches per image), so
    each scale weighs about as much as the finest in a mean over the patches (the losses', R1's
    and the adaptive rules' means). Needs the maps' static sizes, as a training step has."""

    @staticmethod
    def repeats(finest: int, patches: int) -> int:
        """How often a map of `patches` logits is tiled beside the finest map's `finest`."""
        return max(1, round(finest / patches))

    def call(self, maps):
        ops = keras.ops
        sizes = []
        for logit_map in maps:
            height, width = logit_map.shape[1], logit_map.shape[2]
            if height is None or width is None:
                raise ValueError(
                    "ScaleLogits needs each scale's logit map size; got a dynamic shape "
                    f"{tuple(logit_map.shape)}. Call the discriminator on images of a known size."
                )
            sizes.append(int(height) * int(width))
        batch = ops.shape(maps[0])[0]
        flat = []
        for logit_map, patches in zip(maps, sizes, strict=True):
            column = ops.reshape(logit_map, (batch, patches, 1, 1))
            repeats = self.repeats(sizes[0], patches)
            flat.append(ops.tile(column, (1, repeats, 1, 1)) if repeats > 1 else column)
        return ops.concatenate(flat, axis=1)

    def compute_output_shape(self, input_shape):
        sizes = [None if s[1] is None or s[2] is None else s[1] * s[2] for s in input_shape]
        if None in sizes:
            return (input_shape[0][0], None, 1, 1)
        total = sum(p * self.repeats(sizes[0], p) for p in sizes)
        return (input_shape[0][0], total, 1, 1)


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
