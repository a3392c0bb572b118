"""The networks: ResNet and U-Net generators, the PatchGAN discriminator, and their layers.

This package imports Keras: load it only after `painter.runtime.select_runtime()`.
`build_generator(config, name)` / `build_discriminator(config, name)` build from a Config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from painter.models.layers import ReflectionPadding2D, SelectLeakyReLU, SizeCheck
from painter.models.patchgan import (
    ScaleLogits,
    multiscale_discriminator,
    patchgan_discriminator,
    patchgan_min_size,
)
from painter.models.resnet import RESNET_MULTIPLE, default_resnet_blocks, resnet_generator
from painter.models.strided import (
    PhaseConv2D,
    PhaseConv2DTranspose,
    phase_conv_transpose,
    strided_conv_by_phases,
    transposed_conv_by_phases,
)
from painter.models.unet import default_unet_depth, unet_generator

if TYPE_CHECKING:
    from painter.config import Config


def _policy(config: Config) -> str | None:
    # bfloat16 compute with float32 variables; outputs/logits stay float32 (see the builders).
    return "mixed_bfloat16" if config.mixed_precision else None


def build_generator(config: Config, name: str) -> keras.Model:
    """The generator `config.generator` ("resnet" or "unet") sized by the config.

    `resnet_blocks=0` / `unet_depth=0` take the paper's / the starter's choice for `image_size`.
    """
    if config.generator == "resnet":
        blocks = config.resnet_blocks or default_resnet_blocks(config.image_size)
        model = resnet_generator(
            filters=config.generator_filters,
            residual_blocks=blocks,
            upsampling=config.upsampling,
            residual=config.generator_residual,
            dtype=_policy(config),
            name=name,
        )
    elif config.generator == "unet":
        depth = config.unet_depth or default_unet_depth(config.image_size)
        model = unet_generator(
            filters=config.generator_filters,
            depth=depth,
            upsampling=config.upsampling,
            head=config.unet_head,
            full_skip=config.unet_full_skip,
            bottleneck_norm=config.unet_bottleneck_norm,
            residual=config.generator_residual,
            dtype=_policy(config),
            name=name,
        )
    else:
        raise ValueError(f"`generator` must be 'resnet' or 'unet'. Received: {config.generator!r}")
    required = required_multiple(model)
    if config.image_size % required:
        raise ValueError(
            f"`image_size` {config.image_size} is not a multiple of {required}, which the "
            f"{config.generator} generator needs; choose a multiple of {required}."
        )
    return model


def build_discriminator(config: Config, name: str) -> keras.Model:
    """The PatchGAN discriminator sized by `discriminator_filters` / `discriminator_layers`,
    spectrally normalised when `config.spectral_norm`; with `discriminator_scales` > 1 one such
    PatchGAN per scale (`multiscale_discriminator`)."""
    scales = config.discriminator_scales
    smallest = patchgan_min_size(config.discriminator_layers) * 2 ** (scales - 1)
    if config.image_size < smallest:
        scaled = f" and discriminator_scales={scales}" if scales > 1 else ""
        raise ValueError(
            f"`image_size` {config.image_size} is too small for a PatchGAN with "
            f"discriminator_layers={config.discriminator_layers}{scaled} (needs >= {smallest}); "
            "lower discriminator_layers"
            + (" or discriminator_scales" if scales > 1 else "")
            + " or raise image_size."
        )
    return multiscale_discriminator(
        scales=scales,
        filters=config.discriminator_filters,
        layers=config.discriminator_layers,
        dtype=_policy(config),
        spectral_norm=config.spectral_norm,
        name=name,
    )


def required_multiple(generator: keras.Model) -> int:
    """The number the height and width of the generator's input must be multiples of (pad to it)."""
    for layer in generator.layers:
        if isinstance(layer, SizeCheck):
            return layer.multiple
    return 1


__all__ = [
    "RESNET_MULTIPLE",
    "PhaseConv2D",
    "PhaseConv2DTranspose",
    "ReflectionPadding2D",
    "ScaleLogits",
    "SelectLeakyReLU",
    "SizeCheck",
    "build_discriminator",
    "build_generator",
    "default_resnet_blocks",
    "default_unet_depth",
    "multiscale_discriminator",
    "patchgan_discriminator",
    "patchgan_min_size",
    "phase_conv_transpose",
    "strided_conv_by_phases",
    "transposed_conv_by_phases",
    "required_multiple",
    "resnet_generator",
    "unet_generator",
]
