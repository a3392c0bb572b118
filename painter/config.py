"""One dataclass holds every setting of a painter run; presets derive it per hardware.

Each default carries a one-line why. Presets (`kaggle-tpu`, `gpu`, `cpu-small`, `smoke`) override a
few fields, each with a reason. A config round-trips through JSON or YAML, takes `key=value`
overrides from the command line, and is saved in the workdir so a run can be resumed and audited.
The presets' values are in `config_presets.py`, the checks of every field's value in
`config_checks.py`; `from painter.config import Config, PRESETS, QUALITY_RECIPE, preset` holds.

This module imports neither Keras nor TensorFlow: the runtime must be chosen before Keras loads;
nor anything outside the standard library (yaml only when a .yaml config is read or written).
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from painter.config_checks import DIFFAUGMENT_POLICIES, check_config
from painter.config_presets import PRESETS, QUALITY_RECIPE
from painter.errors import ConfigError
from painter.fileio import atomic_write_text


@dataclass
class Config:
    """Every hyperparameter and setting of a painter run. Defaults follow Zhu et al. 2017
    (CycleGAN) at the competition's 256x256; presets adapt them to the hardware."""

    # --- identity ---------------------------------------------------------------------------
    preset: str = "kaggle-tpu"  # which preset these values started from (printed, saved)

    # --- data -------------------------------------------------------------------------------
    image_size: int = 256  # the competition's images and submission are 256x256
    # The jitter's size (paper: 286): images are decoded and cached at it (from the source's own
    # pixels where it is larger, as at 64 px; enlarged where not), then cropped to image_size
    resize_size: int = 286
    resize_prob: float = 1.0  # the paper resizes+crops every image ("jitter")
    flip_prob: float = 0.5  # horizontal flip: landscapes are mirror-symmetric in style
    rotate90_prob: float = (
        0.0  # 90-degree turns multiply 300 paintings but put skies sideways; opt in
    )
    color_jitter: float = 0.0  # off: colour is the very style the generator must learn
    cache: str = (
        "auto"  # decoded images: "memory" when they fit cache_memory_mb, else "disk"; "none"
    )
    cache_memory_mb: int = 4096  # 7,338 images at 286 px (jitter) are ~1.8 GB: fits Kaggle's 48 GB
    shuffle_buffer: int = 8192  # >= the 7,038 photos: a full shuffle every epoch
    skip_bad_records: bool = (
        False  # a corrupt record is an error by default; opt in to skip and count
    )
    seed: int = 42  # augmentation, shuffling and weight init are deterministic under it

    # --- model ------------------------------------------------------------------------------
    generator: str = "resnet"  # the paper's generator; "unet" is the competition starter's
    generator_filters: int = 64  # the paper's width (c7s1-64)
    resnet_blocks: int = 0  # 0 = the paper's choice: 9 blocks at 256 px, 6 at 128 px and below
    unet_depth: int = 0  # 0 = as deep as the image allows (8 at 256 px, like the starter)
    upsampling: str = "resize"  # nearest x2 + conv: no checkerboards; or "bilinear", "transpose"
    unet_head: bool = False  # U-Net: end with a full-size conv block, not upsample straight to RGB
    # (with bilinear its Monet D never won, but it painted slowly: the hour 0.69 against 0.42)
    # U-Net: a full-size encoder level (3x3 conv of the photo) joins the head, so the last conv
    # sees the photo's own pixels; the starter's U-Net begins at half size (needs unet_head)
    unet_full_skip: bool = False
    # U-Net: instance norm on the deepest encoder layer and the decoder's next (the starter's).
    # At the default depth it is 1x1, where the norm leaves a constant: False lets a global code in
    unet_bottleneck_norm: bool = True
    # The generator paints over the photo: tanh(net + atanh(0.99 photo)), so it starts from the
    # photo, sharp, and its first steps learn style, not how to redraw the photo (PaintOver)
    generator_residual: bool = False
    discriminator_filters: int = 64  # the paper's C64-C128-C256-C512
    discriminator_layers: int = 3  # 3 strided layers = the 70x70 PatchGAN
    # > 1: the PatchGAN also judges the image average-pooled 2x, 4x ... (pix2pixHD's multi-scale
    # D): at 64 px a 34 px patch of a painting that is still the photo can pass; 1 = the paper
    discriminator_scales: int = 1

    # --- losses -----------------------------------------------------------------------------
    # "cut": Park et al. 2020's CUT: one generator and one D, the photo kept by PatchNCE (each
    # patch of the painting must pick out its own photo patch on G's encoder) instead of a cycle;
    # a step costs ~0.6x CycleGAN's (cycle_weight, identity_weight unused); "cyclegan" = the paper
    objective: str = "cyclegan"
    nce_weight: float = 1.0  # CUT's lambda_NCE: the PatchNCE term's weight beside the GAN loss
    nce_identity: bool = True  # CUT's identity PatchNCE on the Monets (FastCUT: off, lambda 10)
    nce_identity_stride: int = 1  # the identity PatchNCE on every N-th Monet of a replica's
    # batch only, x N: G's call shrinks from 2B to B + B/N images; 1 = every Monet (CUT's;
    # 4 lost at equal time: 0.516 / 0.546 against 0.497 / 0.523, two seeds)
    nce_patches: int = 256  # patches sampled per encoder layer and image (CUT's 256)
    nce_temperature: float = 0.07  # CUT's tau: how sharply a patch must pick its own match
    nce_pixels: bool = True  # CUT's layer 0, the RGB, in PatchNCE (off: the hour plan lost)
    adversarial_loss: str = "lsgan"  # least squares (paper); "bce" = the starter's; "rpgan" =
    # relativistic pairing (Huang 2024): G is pushed past each real image D sees, not to a label
    label_smoothing: float = 0.0  # for bce; an entrant went 51.5 -> 39.7 MiFID with 0.1
    cycle_weight: float = 10.0  # lambda in the paper
    cycle_downsample: int = 1  # the cycle term compares N x N averages, not pixels: the painting
    # need not smuggle the photo's finest detail (Chu 2017: CycleGAN hides it as noise); 1 = paper
    identity_weight: float = (
        0.5  # times cycle_weight (paper: 0.5 lambda for painting<->photo); 0 = off
    )
    pool_size: int = 50  # history of generated images shown to the discriminators (paper); 0 = off

    # --- recipes beyond the paper (each off by default until measured: bench_quality.py) ------
    diffaugment: str = ""  # "color,translation,cutout" on every D input (Zhao 2020); "" = off
    diffaugment_target: float = 0.0  # > 0: adaptive (ADA, Karras 2020; 0.6): p rises only as D
    # memorises (E[sign D(real)] above it), so short runs train un-augmented; 0 = always augment
    diffaugment_adjust_images: int = 2000  # real images over which p (and R1's s) may go 0 -> 1:
    # ADA's 500k is ~2% of its runs; 2,000 answers within the ~2,200 steps 300 Monets need
    diffaugment_max_probability: float = 1.0  # ceiling of the adaptive p; 1 = ADA as published
    # (capped at 0.6 the bilinear recipe's hour scored 1.06 against 0.61: its Monet D kept winning)
    lecam_weight: float = 0.0  # LeCam regulariser of D (Tseng 2021): keeps D's outputs near EMAs
    r1_weight: float = 0.0  # gamma of the R1 penalty (Mescheder 2018): D's slope on real images,
    # which a D that memorises 300 paintings makes steep; 0 = off
    r1_target: float = 0.0  # > 0: adaptive R1: gamma x s, s rising only while E[sign D(real)]
    # is above it (ADA's statistic), so the steps before D memorises go unpenalised; 0 = fixed
    r1_start: int = 0  # R1 from this training step on (0 = from the first): D has nothing to
    # memorise early on, when R1 only slows the painting (800 steps: 0.98 / 0.75 vs 0.75 / 0.65)
    r1_interval: int = 1  # R1 on every N-th step only, weighted x N (StyleGAN2's lazy R1: 16):
    # the other steps skip its second backward pass through D; 1 = every step
    spectral_norm: bool = False  # SN on D's convolutions (Miyato 2018), instance norms dropped
    ema_decay: float = 0.0  # EMA of the Monet generator's weights for painting; 0 = off
    ema_warmup: float = 10.0  # the EMA's decay ramps as t / (ema_warmup + t) up to ema_decay: at
    # step t it spans ~t / ema_warmup steps (with 10, ~80 at step 800: 0.999 is reached at ~10,000)

    # --- optimisation -----------------------------------------------------------------------
    generator_lr: float = 2e-4  # Adam lr of the paper
    discriminator_lr: float = 2e-4  # may differ (TTUR); the paper uses the same
    beta_1: float = 0.5  # Adam beta_1 of the paper: stabler GAN training than 0.9
    beta_2: float = 0.999  # Adam beta_2 of the paper; StyleGAN2's 0.99 measured level at 64 px
    epochs: int = 30  # each epoch covers all 7,038 photos: ~23 times the paper's steps per epoch;
    # 0 = as many as the time budget fits, planned after the first measured epochs and replanned
    decay_epochs: int = 15  # lr constant, then linearly to 0 over the last decay_epochs (paper)
    # With epochs=0: any value > 0 decays over the last half of the planned epochs (the paper's
    # 100 of 200; a count cannot be fixed before the plan exists), 0 keeps the lr constant.
    global_batch_size: int = 8  # 1 per core on a TPU v5e-8; instance norm makes batch size benign
    steps_per_epoch: int = 0  # 0 = every photo once per epoch; >0 caps an epoch (smoke runs)
    steps_per_execution: int = 1  # >1 runs several steps per host call: less overhead on TPU
    mixed_precision: bool = False  # bfloat16 compute with float32 variables; presets enable on TPU
    jit_compile: str = "auto"  # XLA for the train step: "auto" = Keras' choice (on for JAX, off
    # for TensorFlow on CPU), "on", "off". On TF-CPU XLA fuses the step's small ops: ~10-20% faster

    # --- runtime ----------------------------------------------------------------------------
    backend: str = "auto"  # "auto", "jax" or "tensorflow" (PAINTER_BACKEND overrides)
    distribution: str = "auto"  # "auto", "tpu", "mirrored", "data_parallel" or "single"

    # --- time budget ------------------------------------------------------------------------
    session_limit_minutes: float = 180.0  # Kaggle's TPU session limit reported by entrants
    safety_margin_minutes: float = 10.0  # kept free at the end for plots, validation and slack

    # --- outputs ----------------------------------------------------------------------------
    sample_count: int = 4  # photos in each epoch's sample grid
    keep_checkpoints: int = 2  # the last good epoch survives a crash while the next one is written
    checkpoint_dir: str = ""  # "" = workdir/checkpoints; ~0.4 GB each at 256 px: Kaggle keeps them
    # out of /kaggle/working (the notebook's output). One run's checkpoints per folder.
    submission_batch_size: int = 64  # images per inference call when writing images.zip

    # Fields that change the networks' shapes: a workdir made with other values is refused.
    ARCHITECTURE_FIELDS: typing.ClassVar[tuple[str, ...]] = (
        "image_size",
        "generator",
        "generator_filters",
        "resnet_blocks",
        "unet_depth",
        "upsampling",
        "unet_head",
        "unet_full_skip",
        "unet_bottleneck_norm",
        "generator_residual",  # no weights of its own, but the same weights paint otherwise
        "discriminator_filters",
        "discriminator_layers",
        "discriminator_scales",
        "pool_size",  # the image pools are part of the saved state; their shape follows it
        "spectral_norm",  # adds the power-iteration vectors and drops the norms' weights
        "objective",  # CUT has no photo generator or photo D, and has PatchNCE's heads
        "nce_pixels",  # one PatchNCE head fewer without the input layer
    )

    def __post_init__(self) -> None:
        self.validate()

    # -- checks ------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError naming the first field whose value cannot work (config_checks.py)."""
        check_config(self)

    @property
    def jitter(self) -> bool:
        """Whether the paper's jitter (a random crop of image_size out of resize_size) is on."""
        return self.resize_prob > 0 and self.resize_size > self.image_size

    @property
    def load_size(self) -> int:
        """The size training images are decoded and cached at: resize_size while the jitter is
        on, so that its crop takes the source's own pixels (at 64 px, from the 256-px JPEGs)
        rather than an enlarged image_size copy, whose bilinear blur halved the 2-4 px detail of
        every image D saw (`benchmarks/augment_reference.py`); else image_size."""
        return self.resize_size if self.jitter else self.image_size

    def diffaugment_policy(self) -> tuple[str, ...]:
        """`diffaugment` as a tuple of policy names (empty when off)."""
        return tuple(p.strip() for p in self.diffaugment.split(",") if p.strip())

    # -- conversions -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field by name, in declaration order (what `save` writes)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> Config:
        """Build a Config from a mapping; an unknown key is an error naming it and `source`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown config key(s) {unknown}. Known keys: {sorted(known)}"
            )
        return cls(**{k: _coerce(k, v, source) for k, v in values.items()})

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated like any other config)."""
        return self.from_dict({**self.to_dict(), **changes})

    def with_overrides(self, assignments: list[str] | None) -> Config:
        """Apply `key=value` strings (from `--set`); values are parsed to the field's type."""
        changes: dict[str, Any] = {}
        for assignment in assignments or []:
            key, sep, raw = assignment.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value. Received: {assignment!r}")
            key = key.strip()
            if not key:
                raise ConfigError(
                    f"--set expects key=value with a non-empty key. Received: {assignment!r}"
                )
            changes[key] = raw.strip()
        return self.from_dict({**self.to_dict(), **changes}, source="--set")

    def diff_from_defaults(self) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs from the dataclass default: {name: (default, value)}."""
        default = Config()
        return {
            f.name: (getattr(default, f.name), getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def diff(self, other: Config) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs from `other`: {name: (other's value, this value)}."""
        return {
            f.name: (getattr(other, f.name), getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }

    def describe(self) -> str:
        """The resolved config, one field a line: `*` marks a value that is not the dataclass
        default, `+` one that is not the preset's value either (an override: --set, a file)."""
        changed = self.diff_from_defaults()
        base = PRESETS.get(self.preset)
        overridden = (
            self.diff(Config.from_dict({**base, "preset": self.preset})) if base is not None else {}
        )
        width = max(len(f.name) for f in fields(self))
        lines = [
            f"config (preset {self.preset!r}; * = not the default, + = not the preset's value):"
        ]
        for f in fields(self):
            mark = ("*" if f.name in changed else " ") + ("+" if f.name in overridden else " ")
            lines.append(f" {mark} {f.name:<{width}} = {getattr(self, f.name)!r}")
        return "\n".join(lines)

    def architecture(self) -> dict[str, Any]:
        """The fields that fix the networks' shapes (compared when resuming a workdir)."""
        return {name: getattr(self, name) for name in self.ARCHITECTURE_FIELDS}

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write as JSON or YAML (by the suffix), atomically."""
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            import yaml  # only for .yaml configs: painter.config imports with the stdlib alone

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        else:
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        atomic_write_text(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Config:
        """Read a config saved as JSON or YAML; a missing field takes its default."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist.")
        text = path.read_text()
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml  # see save()

                values = yaml.safe_load(text) or {}
            else:
                values = json.loads(text)
        except Exception as error:  # noqa: BLE001 - any parse error becomes one clear message
            raise ConfigError(f"{path}: cannot parse config: {error}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: a config file must hold a mapping of key: value.")
        return cls.from_dict(values, source=str(path))


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert `value` (maybe a string from --set or YAML) to the type of field `name`."""
    hints = typing.get_type_hints(Config)
    kind = hints[name]
    try:
        if kind is bool:
            if isinstance(value, str):
                lowered = value.lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: `{name}` must be a {kind.__name__}. Received: {value!r}"
        ) from None


def preset(name: str) -> Config:
    """The Config of a named preset (`kaggle-tpu`, `gpu`, `cpu-small`, `smoke`, `demo`) or a
    config file (.json/.yaml)."""
    if name in PRESETS:
        return Config.from_dict({**PRESETS[name], "preset": name}, source=f"preset {name!r}")
    if Path(name).suffix in (".json", ".yaml", ".yml"):
        return Config.load(name)
    raise ConfigError(
        f"unknown preset {name!r}. Choose one of {sorted(PRESETS)} or give a .json/.yaml config "
        "file."
    )


__all__ = ["Config", "DIFFAUGMENT_POLICIES", "PRESETS", "QUALITY_RECIPE", "preset"]
