"""The 256-px quality check's NumPy feed (`benchmarks/quality_256.batches`), which stands in for
painter's tf.data pipeline on a machine without TensorFlow: the paper's jitter (a random crop of
the enlarged image) and flips, the model's [-1, 1] range, every image of a domain once per pass."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import quality_256  # noqa: E402

from painter.config import Config  # noqa: E402


def _numbered(count: int, size: int, offset: int) -> np.ndarray:
    """Images whose pixels say which image and where: R = index, G = row, B = column."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    images = np.zeros((count, size, size, 3), np.uint8)
    for i in range(count):
        images[i, ..., 0] = offset + i
        images[i, ..., 1] = rows
        images[i, ..., 2] = cols
    return images


def _pixels(batch: np.ndarray) -> np.ndarray:
    return np.rint((batch + 1.0) * 127.5).astype(int)


def test_batches_are_crops_of_the_jittered_images_flipped_at_random():
    config = Config(image_size=16, resize_size=20, global_batch_size=4, flip_prob=0.5)
    photos, monets = _numbered(6, 20, offset=0), _numbered(3, 20, offset=100)
    feed = quality_256.batches(photos, monets, config, seed=0)
    seen_photos, flips, corners = [], 0, set()
    for _ in range(3):  # 12 photos: two passes over the 6
        real_photo, real_monet = next(feed)
        assert real_photo.shape == real_monet.shape == (4, 16, 16, 3)
        assert real_photo.dtype == np.float32
        assert real_photo.min() >= -1.0 and real_photo.max() <= 1.0
        for image in _pixels(real_photo):
            seen_photos.append(int(image[0, 0, 0]))
            assert (image[..., 0] == image[0, 0, 0]).all()  # one source image per crop
            rows, cols = image[..., 1], image[..., 2]
            assert (np.diff(rows, axis=0) == 1).all()  # contiguous rows: a crop, not a resize
            step = np.diff(cols, axis=1)
            assert (step == 1).all() or (step == -1).all()  # a crop, mirrored or not
            flips += int(step[0, 0] == -1)
            corners.add((int(rows[0, 0]), int(cols.min())))
        assert set(_pixels(real_monet)[:, 0, 0, 0]) <= {100, 101, 102}
    assert sorted(seen_photos[:6]) == list(range(6)) == sorted(seen_photos[6:])
    assert 0 < flips < 12
    assert len(corners) > 3  # the crop moves


def test_batches_repeat_for_a_seed_and_differ_between_seeds():
    config = Config(image_size=16, resize_size=20, global_batch_size=2)
    photos, monets = _numbered(5, 20, 0), _numbered(5, 20, 50)

    def first(seed: int):
        return next(quality_256.batches(photos, monets, config, seed=seed))

    np.testing.assert_array_equal(first(3)[0], first(3)[0])
    assert not np.array_equal(first(3)[0], first(4)[0])


def test_round_trip_is_the_identity_at_256_and_keeps_the_range_below():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    np.testing.assert_array_equal(quality_256.round_trip(images, 256), images)
    small = quality_256.to_model_size(images, 64)
    assert small.shape == (2, 64, 64, 3) and small.min() >= -1.0 and small.max() <= 1.0
    back = quality_256.to_full_size(small)
    assert back.shape == images.shape and back.dtype == np.uint8
