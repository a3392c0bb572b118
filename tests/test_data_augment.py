"""Augmentation: deterministic under a seed, bit-exact eagerly and inside tf.data, each step doing
what it says."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from data_helpers import random_image

from painter.config import preset
from painter.data.augment import augment_image, to_model_range

SIZE = 16


def config(**changes):
    base = dict(
        image_size=SIZE,
        resize_size=20,
        resize_prob=0.0,
        flip_prob=0.0,
        rotate90_prob=0.0,
        color_jitter=0.0,
    )
    return preset("smoke").replace(**{**base, **changes})


def images(count=6):
    return np.stack([random_image((SIZE, SIZE), seed=i) for i in range(count)])


def run_eager(batch, cfg, base=7):
    return np.stack(
        [
            augment_image(image, tf.constant([base, i], tf.int64), cfg).numpy()
            for i, image in enumerate(batch)
        ]
    )


def run_in_tf_data(batch, cfg, base=7):
    dataset = tf.data.Dataset.zip(
        (tf.data.Dataset.from_tensor_slices(batch), tf.data.Dataset.range(len(batch)))
    )
    dataset = dataset.map(
        lambda image, i: augment_image(image, tf.stack([tf.constant(base, tf.int64), i]), cfg),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return np.stack(list(dataset.as_numpy_iterator()))


def test_eager_and_tf_data_are_bit_exact_with_every_step_on():
    cfg = config(resize_prob=0.7, flip_prob=0.5, rotate90_prob=0.5, color_jitter=0.5)
    batch = images(12)
    eager, in_graph = run_eager(batch, cfg), run_in_tf_data(batch, cfg)
    np.testing.assert_array_equal(eager, in_graph)
    np.testing.assert_array_equal(eager, run_eager(batch, cfg))  # deterministic
    assert not np.array_equal(eager, run_eager(batch, cfg, base=8))  # the seed matters
    assert eager.shape == (12, SIZE, SIZE, 3) and eager.dtype == np.float32
    assert eager.min() >= -1.0 and eager.max() <= 1.0


def test_all_off_is_exactly_the_model_range():
    batch = images()
    np.testing.assert_array_equal(
        run_eager(batch, config()), batch.astype(np.float32) / 127.5 - 1.0
    )
    np.testing.assert_array_equal(
        to_model_range(batch).numpy(), batch / np.float32(127.5) - np.float32(1.0)
    )


def test_flip_and_rotation_always_on():
    batch = images()
    flipped = run_eager(batch, config(flip_prob=1.0))
    np.testing.assert_array_equal(flipped, (batch[:, :, ::-1].astype(np.float32) / 127.5 - 1.0))
    rotated = run_eager(batch, config(rotate90_prob=1.0))
    for original, result in zip(batch, rotated, strict=True):
        candidates = [np.rot90(original, k).astype(np.float32) / 127.5 - 1.0 for k in (1, 2, 3)]
        assert any(np.array_equal(result, c) for c in candidates)


def test_resize_and_crop_is_a_window_of_the_upscaled_image():
    batch = images(8)
    cfg = config(resize_prob=1.0)
    result = run_eager(batch, cfg)
    offsets = set()
    for original, crop in zip(batch, result, strict=True):
        big = tf.image.resize(original.astype(np.float32), [20, 20]).numpy() / 127.5 - 1.0
        found = [
            (y, x)
            for y in range(5)
            for x in range(5)
            if np.allclose(big[y : y + SIZE, x : x + SIZE], crop, atol=1e-5)
        ]
        assert found, "the crop is not a window of the upscaled image"
        offsets.add(found[0])
    assert len(offsets) > 1  # random positions, not always the same window
