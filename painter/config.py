"""One dataclass holds every setting of a painter run; presets derive it per hardware.

Each default carries a one-line why. Presets (`kaggle-tpu`, `gpu`, `cpu-small`, `smoke`) override a
few fields, each with a reason. A config round-trips through JSON or YAML, takes `key=value`
overrides from the command line, and is saved in the workdir so a run can be resumed and audited.

This module imports neither Keras nor TensorFlow: the runtime must be chosen before Keras loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from painter.errors import ConfigError
from painter.fileio import atomic_write_text

# DiffAugment's transformations (Zhao et al. 2020), applied in this order.
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


@dataclass
class Config:
    """Every hyperparameter and setting of a painter run. Defaults follow Zhu et al. 2017
    (CycleGAN) at the competition's 256x256; presets adapt them to the hardware."""

    # --- identity ---------------------------------------------------------------------------
    preset: str = "kaggle-tpu"  # which preset these values started from (printed, saved)

    # --- data -------------------------------------------------------------------------------
    image_size: int = 256  # the competition's images and submission are 256x256
    resize_size: int = 286  # random upscale before a random crop back to image_size (paper: 286)
    resize_prob: float = 1.0  # the paper resizes+crops every image ("jitter")
    flip_prob: float = 0.5  # horizontal flip: landscapes are mirror-symmetric in style
    rotate90_prob: float = (
        0.0  # 90-degree turns multiply 300 paintings but put skies sideways; opt in
    )
    color_jitter: float = 0.0  # off: colour is the very style the generator must learn
    cache: str = (
        "auto"  # decoded images: "memory" when they fit cache_memory_mb, else "disk"; "none"
    )
    cache_memory_mb: int = 4096  # 7,338 images at 256px are ~1.4 GB of uint8: fits Kaggle's 48 GB
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
    upsampling: str = "resize"  # nearest x2 + conv: no checkerboards; "transpose" = paper/starter
    discriminator_filters: int = 64  # the paper's C64-C128-C256-C512
    discriminator_layers: int = 3  # 3 strided layers = the 70x70 PatchGAN

    # --- losses -----------------------------------------------------------------------------
    adversarial_loss: str = "lsgan"  # least squares (paper); "bce" = the starter's
    label_smoothing: float = 0.0  # for bce; an entrant went 51.5 -> 39.7 MiFID with 0.1
    cycle_weight: float = 10.0  # lambda in the paper
    identity_weight: float = (
        0.5  # times cycle_weight (paper: 0.5 lambda for painting<->photo); 0 = off
    )
    pool_size: int = 50  # history of generated images shown to the discriminators (paper); 0 = off

    # --- recipes beyond the paper (each off by default until measured: bench_quality.py) ------
    diffaugment: str = ""  # "color,translation,cutout" on every D input (Zhao 2020); "" = off
    lecam_weight: float = 0.0  # LeCam regulariser of D (Tseng 2021): keeps D's outputs near EMAs
    spectral_norm: bool = False  # SN on D's convolutions (Miyato 2018), instance norms dropped
    ema_decay: float = 0.0  # EMA of the Monet generator's weights for painting; 0 = off

    # --- optimisation -----------------------------------------------------------------------
    generator_lr: float = 2e-4  # Adam lr of the paper
    discriminator_lr: float = 2e-4  # may differ (TTUR); the paper uses the same
    beta_1: float = 0.5  # Adam beta_1 of the paper: stabler GAN training than 0.9
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
        "discriminator_filters",
        "discriminator_layers",
        "pool_size",  # the image pools are part of the saved state; their shape follows it
        "spectral_norm",  # adds the power-iteration vectors and drops the norms' weights
    )

    def __post_init__(self) -> None:
        self.validate()

    # -- checks ------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError naming the first field whose value cannot work."""
        choices = {
            "cache": ("auto", "memory", "disk", "none"),
            "generator": ("resnet", "unet"),
            "upsampling": ("resize", "transpose"),
            "adversarial_loss": ("lsgan", "bce"),
            "backend": ("auto", "jax", "tensorflow"),
            "distribution": ("auto", "tpu", "mirrored", "data_parallel", "single"),
            "jit_compile": ("auto", "on", "off"),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"`{name}` must be one of {list(allowed)}. Received: {value!r}")
        positive = (
            "image_size",
            "generator_filters",
            "discriminator_filters",
            "discriminator_layers",
            "global_batch_size",
            "steps_per_execution",
            "submission_batch_size",
            "shuffle_buffer",
            "generator_lr",
            "discriminator_lr",
            "session_limit_minutes",
        )
        for name in positive:
            if not getattr(self, name) > 0:  # `not > 0`, not `<= 0`: a NaN float is refused too
                raise ConfigError(f"`{name}` must be positive. Received: {getattr(self, name)!r}")
        if self.resize_size < self.image_size:
            raise ConfigError(
                f"`resize_size` ({self.resize_size}) must be >= `image_size` ({self.image_size}): "
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
            if getattr(self, name) < 0:
                raise ConfigError(f"`{name}` must be >= 0. Received: {getattr(self, name)!r}")
        unknown = sorted(set(self.diffaugment_policy()) - set(DIFFAUGMENT_POLICIES))
        if unknown:
            raise ConfigError(
                f"`diffaugment` takes a comma-separated subset of {list(DIFFAUGMENT_POLICIES)} "
                f'(or "" for off). Received: {self.diffaugment!r}'
            )
        if self.lecam_weight < 0:
            raise ConfigError(f"`lecam_weight` must be >= 0. Received: {self.lecam_weight!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(
                f"`ema_decay` must be in [0, 1) (0 = off). Received: {self.ema_decay!r}"
            )
        for name in ("resize_prob", "flip_prob", "rotate90_prob", "label_smoothing"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"`{name}` must be in [0, 1]. Received: {getattr(self, name)!r}")
        if not 0.0 <= self.beta_1 < 1.0:
            raise ConfigError(f"`beta_1` must be in [0, 1). Received: {self.beta_1!r}")
        if self.safety_margin_minutes >= self.session_limit_minutes:
            raise ConfigError(
                f"`safety_margin_minutes` ({self.safety_margin_minutes}) must be less than "
                f"`session_limit_minutes` ({self.session_limit_minutes}): no time would be left."
            )
        if self.decay_epochs < 0 or (self.epochs > 0 and self.decay_epochs > self.epochs):
            raise ConfigError(
                f"`decay_epochs` must be in [0, epochs={self.epochs}]. Received: "
                f"{self.decay_epochs}"
            )

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


# --- presets ---------------------------------------------------------------------------------
# The recipe the quality benchmark chose (benchmarks/bench_quality.py, results/quality.json: style
# FD at 64 px, equal steps, several seeds); the dataclass defaults stay the 2017 paper's.
QUALITY_RECIPE: dict[str, Any] = {
    "generator": "unet",  # skip connections keep the photo's layout from the first steps
    "upsampling": "resize",  # no checkerboard once the discriminator starts winning
    "adversarial_loss": "bce",  # the starter's: beat LSGAN at equal steps here
    "pool_size": 0,  # the starter's: no history pool
    "cycle_weight": 5.0,  # half the paper's lambda: more room for the painting's texture
    # The paper's 0.5 (x cycle_weight): without it one run inverted colours (dark skies, white
    # water) and at 800 steps style FD was 1.74 against 1.47 with it (bench_quality.py, seed 0)
    "identity_weight": 0.5,
    "ema_decay": 0.999,  # paint with the weights' moving average: fewer blotches late in a run
}

# Each override says why. `smoke` is for tests and CI: tiny, seconds.
PRESETS: dict[str, dict[str, Any]] = {
    "kaggle-tpu": {
        # The defaults are the competition on a TPU v5e-8 in one session.
        **QUALITY_RECIPE,
        "mixed_precision": True,  # bfloat16 is the TPU's native matmul type: ~2x throughput
        "epochs": 0,  # as many as the session fits: a fixed 30 used ~25-45 of its ~180 minutes
        # the starter's step was overhead-bound (126 ms at batch 1 or 32)
        "steps_per_execution": 16,
    },
    "gpu": {
        **QUALITY_RECIPE,
        "global_batch_size": 4,  # one GPU: small batches keep CycleGAN's per-image updates
        "mixed_precision": False,  # float16 would need loss scaling; bfloat16 is slow on older GPUs
        "session_limit_minutes": 540.0,  # Kaggle's GPU sessions run up to 12 h; keep slack
    },
    "cpu-small": {
        **QUALITY_RECIPE,
        # 16x fewer pixels than 256: learns colour and texture in an hour on 2 cores
        "image_size": 64,
        "resize_size": 72,  # the same 286/256 jitter ratio
        "generator_filters": 32,  # half width: 4x fewer FLOPs
        "discriminator_filters": 32,
        "global_batch_size": 4,
        "epochs": 0,  # as many as the hour fits: a fixed 4 trained 14 of its 55 training minutes
        "decay_epochs": 2,
        "steps_per_epoch": 200,  # an epoch of 800 photos keeps epochs (and checkpoints) ~10 min
        "session_limit_minutes": 60.0,
        "safety_margin_minutes": 3.0,
    },
    "smoke": {
        "image_size": 32,  # tiny: a step takes milliseconds on CPU
        "resize_size": 36,
        "generator_filters": 8,
        "discriminator_filters": 8,
        "resnet_blocks": 2,
        "global_batch_size": 2,  # two replicas in tests get one image each
        "epochs": 2,
        "decay_epochs": 1,
        "steps_per_epoch": 4,
        "pool_size": 4,
        "sample_count": 2,
        "session_limit_minutes": 10.0,
        "safety_margin_minutes": 0.5,
        "submission_batch_size": 16,
        "cache": "memory",
    },
    "demo": {
        # `make demo`: a few minutes of CPU on the generated two-domain set (painter.demo.run).
        "image_size": 32,  # the generated scenes are simple: 32 px shows the palette being learnt
        "resize_size": 36,
        "generator_filters": 16,
        "discriminator_filters": 16,
        "resnet_blocks": 3,
        "global_batch_size": 4,
        "epochs": 18,  # ~3 minutes on 2 CPU cores (60 steps of ~0.17 s an epoch)
        "decay_epochs": 9,
        "steps_per_epoch": 0,  # every one of the demo's 240 generated photos once per epoch
        "pool_size": 20,
        "sample_count": 4,
        "session_limit_minutes": 5.0,  # the budget stops a slower machine: make demo < 10 min
        "safety_margin_minutes": 0.5,
        "submission_batch_size": 32,
        "cache": "memory",
    },
}


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


__all__ = ["Config", "PRESETS", "QUALITY_RECIPE", "preset"]
