"""The Monets as the discriminator sees them: the style FD of painter's training augmentation.

The generator learns to paint what the Monet D calls real, and D sees the Monets only through the
training pipeline: decoded at `Config.load_size`, cached, then `augment_image`. This script runs
the 300 Monets (`monet_jpg`) through that same path at a preset's sizes and scores them as
`bench_quality.py` scores a generator: brought back to 256, style FD against the 300 Monets
brought to the training size and back (what the paintings are scored against), beside the floor
of Monet half vs Monet half from the same run. Rows:

- `flips only`: `resize_prob=0`, the Monets at the training size (mirrored or not).
- `painter's jitter`: the config's own augmentation (cpu-small: a 64-px crop of the image at 72).
- `enlarged jitter`: what the jitter did until stop 48: the image_size copy enlarged to
  resize_size (bilinear), then the crop. Where the source is no larger than the training size
  (the competition's 256-px JPEGs at 256) the two jitters are the same enlargement.

Columns: `all`: all 300 against the 300 (the same paintings, so only what the augmentation moves);
`half`: the odd half against the even half of the target, comparable with the floor; the
luminance detail per octave over the target's (`style_fd.detail_ratios`: 1 = as much).

    pip install -r benchmarks/requirements.txt
    python benchmarks/augment_reference.py --data ../shared/data/gan-getting-started
    python benchmarks/augment_reference.py --data DIR --config kaggle-tpu --seeds 0,1
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import bench_quality  # noqa: E402
import style_fd  # noqa: E402


def decoded(folder: Path, image_size: int, size: int) -> np.ndarray:
    """uint8 [N, size, size, 3]: the images as training decodes and caches them at `size`
    (enlarged where smaller), none smaller than `image_size`."""
    from painter.data.reader import iterate_images

    pairs = iterate_images(folder, image_size=image_size, decode_size=size)
    return np.stack([image for _, image in pairs])


def augmented(images: np.ndarray, config, seed: int, enlarge_to: int | None = None) -> np.ndarray:
    """`augment_image` on every image (seed (seed, index)), float [-1, 1] at image_size; with
    `enlarge_to` each image is first enlarged to that size (bilinear, the jitter before stop
    48)."""
    import tensorflow as tf

    from painter.data.augment import augment_image

    out = []
    for index, image in enumerate(images):
        x = tf.constant(image, tf.float32)
        if enlarge_to is not None:
            x = tf.image.resize(x, [enlarge_to, enlarge_to], method="bilinear")
        out.append(augment_image(x, tf.constant([seed, index], tf.int64), config).numpy())
    return np.stack(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="holds monet_jpg/")
    parser.add_argument("--config", default="cpu-small", help="the preset whose sizes are used")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--seeds", default="0", help="augmentation draws, comma-separated")
    args = parser.parse_args(argv)
    style_fd.require_benchmark_packages()

    from painter.config import preset
    from painter.evaluate.mifid import fid_from_features

    config = preset(args.config).with_overrides(args.set)
    size = config.image_size
    folder = args.data / "monet_jpg"
    embed = style_fd.StyleEmbedder()
    full = style_fd.load_images(style_fd.monet_files(args.data))
    target_images = style_fd.to_model_size(full, size)
    target = embed(style_fd.round_trip(full, size))
    floor = fid_from_features(target[0::2], target[1::2])
    print(
        f"augment_reference: {len(full)} Monets, preset {args.config} ({size} px, resize_size "
        f"{config.resize_size}, resize_prob {config.resize_prob}, flip_prob {config.flip_prob}, "
        f"load_size {config.load_size}); floor Monet half vs half {floor:.3f}"
    )
    at_size = decoded(folder, size, size)
    at_load = decoded(folder, size, config.load_size)
    rows = {
        "flips only": lambda seed: augmented(at_size, config.replace(resize_prob=0.0), seed),
        "painter's jitter": lambda seed: augmented(at_load, config, seed),
    }
    if config.jitter:
        rows["enlarged jitter"] = lambda seed: augmented(
            at_size, config, seed, enlarge_to=config.resize_size
        )
    print(f"{'row':18s} {'seed':>4s} {'all':>7s} {'half':>7s}  detail over the target's")
    for name, make in rows.items():
        for seed in (int(s) for s in args.seeds.split(",")):
            images = make(seed)
            features = embed(style_fd.to_full_size(images))
            detail = style_fd.detail_ratios(images, target_images)
            print(
                f"{name:18s} {seed:4d} {fid_from_features(features, target):7.3f} "
                f"{fid_from_features(features[1::2], target[0::2]):7.3f}  "
                + bench_quality.detail_text(detail)
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
