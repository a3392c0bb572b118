"""Input-pipeline throughput on the competition's photos: cold (decode + fill the cache) and warm
(cached -> shuffle -> augment -> batch), at the kaggle-tpu preset's settings (256 px).

Run: `.venv/bin/python benchmarks/bench_data.py [--data DIR] [--batches N]`
(DIR defaults to $PAINTER_DATA_DIR or ../shared/data/gan-getting-started). Prints images/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get(
        "PAINTER_DATA_DIR", str(REPO.parent / "shared/data/gan-getting-started")
    )
    parser.add_argument("--data", default=default, help="Kaggle's gan-getting-started folder")
    parser.add_argument("--monet", default=None, help="Monet folder (overrides --data's)")
    parser.add_argument(
        "--photo", default=None, help="photo folder, e.g. our TFRecords (overrides --data's)"
    )
    parser.add_argument("--batches", type=int, default=300, help="batches timed after warm-up")
    parser.add_argument("--preset", default="kaggle-tpu")
    args = parser.parse_args()

    import tensorflow as tf  # imported before timing: its import takes seconds

    from painter.config import preset
    from painter.data.pipeline import make_training_dataset
    from painter.data.sources import find_domains

    config = preset(args.preset).replace(epochs=2, decay_epochs=1, cache="memory")
    monet, photo = find_domains(args.data, monet=args.monet, photo=args.photo)
    print(f"data: monet {monet.describe()}; photo {photo.describe()}; cores: {os.cpu_count()}")
    print(
        f"config: image_size={config.image_size} resize={config.resize_size}@{config.resize_prob} "
        f"flip={config.flip_prob} rot90={config.rotate90_prob} jitter={config.color_jitter} "
        f"global_batch={config.global_batch_size}"
    )

    tf.constant(0)  # initialise the runtime outside the timed part
    start = time.perf_counter()
    data = make_training_dataset(monet, photo, config)
    cold = time.perf_counter() - start
    decoded = data.photo_count + data.monet_count
    print(
        f"cold: scan + decode + cache {decoded} images in {cold:.1f} s = {decoded / cold:.0f} "
        "images/s"
    )

    iterator = iter(data.dataset)
    batch = config.global_batch_size
    # Warm-up: the first batches fill the shuffle buffer (the whole photo set) and trace functions.
    start = time.perf_counter()
    for _ in range(20):
        next(iterator)
    print(f"first 20 batches (shuffle buffer fill, tracing): {time.perf_counter() - start:.1f} s")
    count = min(args.batches, data.steps_per_epoch - 20)
    start = time.perf_counter()
    for _ in range(count):
        next(iterator)
    warm = time.perf_counter() - start
    images = 2 * count * batch  # each batch holds a photo and a painting per example
    print(
        f"warm: {count} batches of {batch} (photo, monet) pairs in {warm:.1f} s = "
        f"{count * batch / warm:.0f} pairs/s = {images / warm:.0f} images/s (augmented, batched)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
