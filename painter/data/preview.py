"""`painter data preview`: a picture of augmented training samples next to their originals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from painter.config import Config
from painter.data import reader
from painter.data.augment import augment_image
from painter.data.sources import ImageSource, find_source
from painter.plots import save_image_grid


def save_preview(
    path: str | os.PathLike | ImageSource,
    out: str | os.PathLike,
    *,
    config: Config,
    count: int = 8,
    seed: int = 0,
    versions: int = 2,
) -> Path:
    """Draw `count` images picked at random (by `seed`) from `path`: the original (fitted to
    config.image_size) and `versions` augmentations of it under `config`. Returns the PNG path."""
    import tensorflow as tf

    if count <= 0:
        raise ValueError(f"--count must be positive. Received: {count}")
    source = find_source(path)
    report = reader.ReadReport()
    result = reader.scan(source, image_size=config.image_size)
    good = reader.check_scan(result, skip_bad_records=config.skip_bad_records, report=report)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(good), size=min(count, len(good)), replace=False).tolist()
    pairs = list(
        reader.iterate_images(
            source,
            image_size=config.image_size,
            decode_size=config.load_size,  # as training caches them (its jitter crops these)
            indices=picked,
            skip_bad_records=config.skip_bad_records,
        )
    )
    names = [name for name, _ in pairs]
    loaded = np.stack([image for _, image in pairs])
    shown = tf.image.resize(loaded, [config.image_size] * 2, antialias=True).numpy()
    columns = {"original": np.clip(np.rint(shown), 0, 255).astype(np.uint8)}
    for version in range(versions):
        columns[f"augmented {version + 1}"] = np.stack(
            [
                augment_image(
                    image, tf.constant([seed, row * versions + version], tf.int64), config
                ).numpy()
                for row, image in enumerate(loaded)
            ]
        )
    title = f"{source.root.name}: augmentation under preset {config.preset!r} (seed {seed})"
    return save_image_grid(columns, out, title=title, row_labels=names)


__all__ = ["save_preview"]
