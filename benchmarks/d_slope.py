"""How steep a trained run's discriminators are on real images: what R1 (`r1_weight`) penalises.

For the latest checkpoint of a training workdir, each discriminator's slope on its real images,
|d s / d image|^2 with s = D's mean logit over the image's patches (`losses.r1_score`), over the
first N real Monets (Monet D) and N of the benchmark's fixed photos (photo D), at the run's image
size. A discriminator that has memorised its 300 paintings is steep there; R1 adds
(gamma / 2) x this to its loss, so the printed value times gamma / 2 is what R1 would cost it.
Measured on this repository's runs (64 px, cpu-small's 2-layer PatchGAN): ~25 for a Monet D
that had won, 0.86 for one that was held; `r1_weight=0.2` was chosen from those.

With `--preset NAME` instead of a workdir: the preset's discriminators freshly initialised (seeds
0..`--seeds`-1), to compare what the same gamma weighs at another preset's size and depth.

    python benchmarks/d_slope.py WORKDIR [--images 32] [--gamma 0.2] [--image-size PX] [--data DIR]
    python benchmarks/d_slope.py --preset kaggle-tpu [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the slope is taken with a GradientTape
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import style_fd  # noqa: E402


def slopes(discriminator, images: np.ndarray) -> np.ndarray:
    """Per-image |d s / d image|^2 of `discriminator` on float images in [-1, 1], by the TF
    step's own input gradient (`step_tensorflow.value_and_input_gradient`)."""
    import tensorflow as tf

    from painter.cyclegan.losses import r1_penalty
    from painter.cyclegan.step_tensorflow import value_and_input_gradient

    x = tf.convert_to_tensor(images, tf.float32)
    _, gradient = value_and_input_gradient(discriminator, x, len(images))
    return np.asarray(r1_penalty(gradient))


def _real_images(data: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` real Monets and `count` of the benchmark's fixed photos (uint8, 256)."""
    monets = style_fd.load_images(style_fd.monet_files(data)[:count])
    return monets, style_fd.load_images(style_fd.fixed_photo_files(data)[:count])


def _report(model, monets: np.ndarray, photos: np.ndarray, size: int, gamma: float) -> None:
    """Print both discriminators' slopes on their real images at `size`."""
    for name, images in (("monet_discriminator", monets), ("photo_discriminator", photos)):
        values = slopes(getattr(model, name), style_fd.to_model_size(images, size))
        print(
            f"  {name}: |d s / d real|^2 median {np.median(values):.3g}, mean {values.mean():.3g}"
            f" over {len(values)} images; x gamma/2 at gamma {gamma}: "
            f"{gamma / 2 * values.mean():.3g}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, nargs="?", help="a training workdir")
    parser.add_argument("--preset", help="instead of a workdir: this preset's fresh networks")
    parser.add_argument("--seeds", type=int, default=3, help="with --preset: initialisations")
    parser.add_argument("--images", type=int, default=32, help="real images per discriminator")
    parser.add_argument("--gamma", type=float, default=0.2, help="an R1 weight to price")
    parser.add_argument(
        "--image-size",
        type=int,
        default=0,
        help="judge the images at this size instead of the run's (0): how the same D's slope, "
        "and so what a given gamma costs it, changes with the image size",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("PAINTER_DATA_DIR", ROOT.parent / "shared" / "data"))
        / "gan-getting-started",
    )
    args = parser.parse_args(argv)

    from painter.config import Config
    from painter.cyclegan.model import build_cyclegan
    from painter.cyclegan.state import state_variables
    from painter.training.checkpoint import latest_resumable

    if (args.workdir is None) == (args.preset is None):
        parser.error("give a training WORKDIR or --preset NAME (one of them)")
    if args.preset is not None:
        monets, photos = _real_images(args.data, args.images)
        from painter.config import preset
        from painter.errors import ConfigError

        try:
            config = preset(args.preset)
        except ConfigError as error:
            raise SystemExit(f"error: {error}") from None
        size = args.image_size or config.image_size
        for seed in range(args.seeds):
            # float32 whatever the preset says: the slope, not the chip's rounding of it
            fresh = config.replace(seed=seed, mixed_precision=False)
            model = build_cyclegan(fresh, steps_per_epoch=1)
            print(
                f"preset {args.preset}, freshly initialised (seed {seed}), judged at {size} px, "
                f"{config.discriminator_layers}-layer D of {config.discriminator_filters} filters"
            )
            _report(model, monets, photos, size, args.gamma)
        return 0

    config_path = args.workdir / "config.json"
    if not config_path.exists():
        raise SystemExit(f"{config_path} not found: give a training workdir (it has config.json)")
    config = Config.load(config_path)
    checkpoint, state = latest_resumable(args.workdir, folder=config.checkpoint_dir or None)
    if checkpoint is None or state is None:
        raise SystemExit(f"{args.workdir} has no checkpoint that loads; train an epoch first")
    model = build_cyclegan(config, steps_per_epoch=1)
    # Only the discriminators' weights: the slope needs nothing else.
    loaded = 0
    for key, variable in state_variables(model).items():
        if key.startswith(("monet_discriminator/", "photo_discriminator/")):
            if key not in state:
                raise SystemExit(f"{checkpoint.path}: no {key!r}; was it made by another painter?")
            variable.assign(state[key])
            loaded += 1

    monets, photos = _real_images(args.data, args.images)
    size = args.image_size or config.image_size
    print(
        f"{args.workdir}: epoch {checkpoint.epoch}, trained at {config.image_size} px, judged at "
        f"{size} px, {config.discriminator_layers}-layer D ({loaded} weights loaded)"
    )
    _report(model, monets, photos, size, args.gamma)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
