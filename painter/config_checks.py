"""The values a `Config` can take: `check_config` raises ConfigError naming the first field whose
value cannot work (called by `Config.validate`, on every Config made). Standard library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from painter.errors import ConfigError

if TYPE_CHECKING:
    from painter.config import Config

# DiffAugment's transformations (Zhao et al. 2020), applied in this order.
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
# How a generator doubles its resolution: nearest or bilinear x2 + a 3x3 convolution, or the
# paper's / starter's transposed convolution.
UPSAMPLING = ("resize", "bilinear", "transpose")
# The GAN objectives: the paper's least squares, the starter's BCE, relativistic pairing (RpGAN).
ADVERSARIAL_LOSSES = ("lsgan", "bce", "rpgan")
# What keeps the photo in the painting: the paper's cycle (two generators, two Ds) or CUT's
# PatchNCE (Park et al. 2020: one generator, one D).
OBJECTIVES = ("cyclegan", "cut")


def check_config(config: Config) -> None:
    """Raise ConfigError naming the first field whose value cannot work."""
    choices = {
        "cache": ("auto", "memory", "disk", "none"),
        "generator": ("resnet", "unet"),
        "upsampling": UPSAMPLING,
        "adversarial_loss": ADVERSARIAL_LOSSES,
        "backend": ("auto", "jax", "tensorflow"),
        "distribution": ("auto", "tpu", "mirrored", "data_parallel", "single"),
        "jit_compile": ("auto", "on", "off"),
        "objective": OBJECTIVES,
    }
    for name, allowed in choices.items():
        value = getattr(config, name)
        if value not in allowed:
            raise ConfigError(f"`{name}` must be one of {list(allowed)}. Received: {value!r}")
    positive = (
        "image_size",
        "generator_filters",
        "discriminator_filters",
        "discriminator_layers",
        "discriminator_scales",
        "global_batch_size",
        "steps_per_execution",
        "submission_batch_size",
        "shuffle_buffer",
        "generator_lr",
        "discriminator_lr",
        "session_limit_minutes",
        "nce_weight",
        "nce_patches",
        "nce_temperature",
    )
    for name in positive:
        if not getattr(config, name) > 0:  # `not > 0`, not `<= 0`: a NaN float is refused too
            raise ConfigError(f"`{name}` must be positive. Received: {getattr(config, name)!r}")
    if config.resize_size < config.image_size:
        raise ConfigError(
            f"`resize_size` ({config.resize_size}) must be >= `image_size` ({config.image_size}): "
            "the augmentation crops image_size out of a resize_size image."
        )
    non_negative = (
        "epochs",
        "steps_per_epoch",
        "resnet_blocks",
        "unet_depth",
        "pool_size",
        "sample_count",
        "cycle_weight",
        "identity_weight",
        "color_jitter",
        "cache_memory_mb",
        "safety_margin_minutes",
        "keep_checkpoints",
    )
    for name in non_negative:
        if getattr(config, name) < 0:
            raise ConfigError(f"`{name}` must be >= 0. Received: {getattr(config, name)!r}")
    unknown = sorted(set(config.diffaugment_policy()) - set(DIFFAUGMENT_POLICIES))
    if unknown:
        raise ConfigError(
            f"`diffaugment` takes a comma-separated subset of {list(DIFFAUGMENT_POLICIES)} "
            f'(or "" for off). Received: {config.diffaugment!r}'
        )
    if not 0.0 <= config.diffaugment_target < 1.0:
        raise ConfigError(
            "`diffaugment_target` must be in [0, 1) (0 = always augment; ADA uses 0.6). "
            f"Received: {config.diffaugment_target!r}"
        )
    if config.diffaugment_target > 0 and not config.diffaugment_policy():
        raise ConfigError(
            f"`diffaugment_target` ({config.diffaugment_target}) adapts DiffAugment, which is off: "
            'also set `diffaugment`, e.g. diffaugment="color,translation,cutout".'
        )
    if not 0.0 < config.diffaugment_max_probability <= 1.0:
        raise ConfigError(
            "`diffaugment_max_probability` must be in (0, 1] (1 = no ceiling, "
            f"as ADA publishes it). Received: {config.diffaugment_max_probability!r}"
        )
    if config.diffaugment_max_probability < 1.0 and config.diffaugment_target <= 0:
        raise ConfigError(
            f"`diffaugment_max_probability` ({config.diffaugment_max_probability}) caps adaptive "
            "DiffAugment's p, but `diffaugment_target` is 0 (always augment, p = 1): "
            "also set diffaugment_target, e.g. 0.6."
        )
    if config.diffaugment_adjust_images <= 0:
        raise ConfigError(
            "`diffaugment_adjust_images` must be > 0. "
            f"Received: {config.diffaugment_adjust_images!r}"
        )
    if config.unet_head and config.generator != "unet":
        raise ConfigError(
            f"`unet_head` is a U-Net option (the {config.generator} generator already ends at full "
            'resolution): set generator="unet" or unet_head=false.'
        )
    if config.unet_full_skip and not (config.generator == "unet" and config.unet_head):
        raise ConfigError(
            "`unet_full_skip` joins the U-Net's full-size head (generator="
            f'{config.generator!r}, unet_head={config.unet_head}): set generator="unet" and '
            "unet_head=true, or unet_full_skip=false."
        )
    if config.lecam_weight < 0:
        raise ConfigError(f"`lecam_weight` must be >= 0. Received: {config.lecam_weight!r}")
    if config.r1_weight < 0:
        raise ConfigError(
            f"`r1_weight` must be >= 0 (0 = off; StyleGAN2 uses 0.01-10). "
            f"Received: {config.r1_weight!r}"
        )
    if not 0.0 <= config.r1_target < 1.0:
        raise ConfigError(
            "`r1_target` must be in [0, 1) (0 = a fixed gamma; ADA's target is 0.6). "
            f"Received: {config.r1_target!r}"
        )
    if config.r1_target > 0 and config.r1_weight <= 0:
        raise ConfigError(
            f"`r1_target` ({config.r1_target}) adapts R1, which is off: set r1_weight (the most "
            "gamma the adaptive strength may reach), e.g. r1_weight=0.4, or r1_target=0."
        )
    if isinstance(config.r1_start, bool) or not isinstance(config.r1_start, int):
        raise ConfigError(
            f"`r1_start` must be a whole number of training steps. Received: {config.r1_start!r}"
        )
    if config.r1_start < 0:
        raise ConfigError(
            f"`r1_start` must be >= 0 (the step R1 starts at; 0 = from the first). "
            f"Received: {config.r1_start!r}"
        )
    if config.r1_start > 0 and config.r1_weight <= 0:
        raise ConfigError(
            f"`r1_start` ({config.r1_start}) delays R1, which is off: set r1_weight (its gamma), "
            "e.g. r1_weight=0.2, or r1_start=0."
        )
    interval = config.r1_interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ConfigError(
            "`r1_interval` must be a whole number of steps >= 1 (1 = R1 on every step; "
            f"StyleGAN2's lazy R1 uses 16). Received: {interval!r}"
        )
    if interval > 1 and config.r1_weight <= 0:
        raise ConfigError(
            f"`r1_interval` ({interval}) spaces out R1, which is off: set r1_weight (its gamma), "
            "e.g. r1_weight=0.2, or r1_interval=1."
        )
    stride = config.nce_identity_stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ConfigError(
            "`nce_identity_stride` must be a whole number >= 1 (1 = the identity PatchNCE on "
            f"every Monet of the batch, CUT's). Received: {stride!r}"
        )
    if stride > 1 and not (config.objective == "cut" and config.nce_identity):
        raise ConfigError(
            f"`nce_identity_stride` ({stride}) thins CUT's identity PatchNCE, which this config "
            "does not have: it needs objective=cut and nce_identity=true, or set "
            "nce_identity_stride=1."
        )
    if config.global_batch_size % stride:
        raise ConfigError(
            f"`nce_identity_stride` ({stride}) must divide `global_batch_size` "
            f"({config.global_batch_size}): every N-th Monet of each batch is taken."
        )
    downsample = config.cycle_downsample
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise ConfigError(
            "`cycle_downsample` must be a whole number >= 1 (the cycle loss compares N x N "
            f"averages; 1 = pixels, the paper). Received: {downsample!r}"
        )
    if config.image_size % downsample:
        raise ConfigError(
            f"`cycle_downsample` ({downsample}) must divide `image_size` ({config.image_size}): "
            "the cycle loss compares whole N x N blocks; pick a divisor, e.g. 2 or 4."
        )
    if not 0.0 <= config.ema_decay < 1.0:
        raise ConfigError(
            f"`ema_decay` must be in [0, 1) (0 = off). Received: {config.ema_decay!r}"
        )
    if not config.ema_warmup > 0.0:
        raise ConfigError(
            f"`ema_warmup` must be > 0 (the EMA's ramp t / (ema_warmup + t); painter's default "
            f"10). Received: {config.ema_warmup!r}"
        )
    if config.label_smoothing and config.adversarial_loss != "bce":
        raise ConfigError(
            f"`label_smoothing` ({config.label_smoothing}) smooths BCE's real label, and "
            f"adversarial_loss={config.adversarial_loss!r} has none: set adversarial_loss='bce' "
            "or label_smoothing=0."
        )
    if config.adversarial_loss == "rpgan" and (config.diffaugment_target or config.r1_target):
        raise ConfigError(
            "adversarial_loss='rpgan' sees only differences of D's outputs, so D's outputs on "
            "real images have no side of a boundary for adaptive DiffAugment or adaptive R1 to "
            f"count (diffaugment_target={config.diffaugment_target}, "
            f"r1_target={config.r1_target}): set both to 0, or use 'bce'."
        )
    for name in ("resize_prob", "flip_prob", "rotate90_prob", "label_smoothing"):
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ConfigError(f"`{name}` must be in [0, 1]. Received: {getattr(config, name)!r}")
    if not 0.0 <= config.beta_1 < 1.0:
        raise ConfigError(f"`beta_1` must be in [0, 1). Received: {config.beta_1!r}")
    if not 0.0 <= config.beta_2 < 1.0:
        raise ConfigError(f"`beta_2` must be in [0, 1). Received: {config.beta_2!r}")
    if config.safety_margin_minutes >= config.session_limit_minutes:
        raise ConfigError(
            f"`safety_margin_minutes` ({config.safety_margin_minutes}) must be less than "
            f"`session_limit_minutes` ({config.session_limit_minutes}): no time would be left."
        )
    if config.decay_epochs < 0 or (config.epochs > 0 and config.decay_epochs > config.epochs):
        raise ConfigError(
            f"`decay_epochs` must be in [0, epochs={config.epochs}]. Received: "
            f"{config.decay_epochs}"
        )


__all__ = ["ADVERSARIAL_LOSSES", "DIFFAUGMENT_POLICIES", "UPSAMPLING", "check_config"]
