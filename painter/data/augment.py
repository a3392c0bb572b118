"""Training-time augmentation, stateless: the same (image, seed) gives the same result eagerly and
inside tf.data, on every run.

The CycleGAN paper's jitter (resize to 286, random crop back to 256) and horizontal flips, plus
what strong entrants of the competition add: 90-degree rotations and, off by default, mild colour
jitter (colour is the very style the generator learns, so it stays opt-in). Each step fires with
its own probability from the config; every random draw comes from `tf.random.stateless_*` with a
sub-seed split from the one seed, so nothing depends on op creation order or global state.
"""

from __future__ import annotations

from painter.config import Config

_SUBSEEDS = 8


def augment_image(image, seed, config: Config):
    """Augment one square image for training.

    Args:
      image: uint8 (or float in [0, 255]) [H, W, 3], H = W >= config.image_size; training
      passes it at `config.load_size` (resize_size while the jitter is on), so the jitter's crop
      needs no resampling.
      seed: int tensor of shape [2] (a stateless seed); e.g. derived from (config.seed, epoch,
      index).
      config: reads image_size, resize_size, resize_prob, flip_prob, rotate90_prob, color_jitter.

    Returns:
      float32 [image_size, image_size, 3] in [-1, 1] (`x / 127.5 - 1`, as the competition starter).
    """
    import tensorflow as tf

    size = config.image_size
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=_SUBSEEDS)
    x = tf.cast(image, tf.float32)

    def draw(index: int):
        return tf.random.stateless_uniform([], seed=seeds[index])

    def crop(pixels):
        return tf.image.stateless_random_crop(pixels, [size, size, 3], seed=seeds[1])

    def fit(pixels, side: int):
        # The identity for an image already `side` px; else antialiased (a source larger than
        # resize_size) or bilinear (smaller: the paper's 256 -> 286 enlarges).
        return tf.image.resize(pixels, [side, side], method="bilinear", antialias=True)

    # 1. Jitter: a random image_size crop of the image at resize_size; without it (or with
    # probability 1 - resize_prob) the whole image at image_size. The image comes at
    # resize_size (Config.load_size): enlarging an image_size copy by 72/64 instead, as this
    # did until stop 48, blurred every training image (the Monets D saw scored style FD 0.347
    # against the Monets themselves, their 2-4 px detail 0.49; benchmarks/augment_reference.py).
    if config.jitter:
        x = tf.cond(
            draw(0) < config.resize_prob,
            lambda: crop(fit(x, config.resize_size)),
            lambda: fit(x, size),
        )
    else:
        x = fit(x, size)
    # 2. Mirror.
    if config.flip_prob > 0:
        x = tf.cond(draw(2) < config.flip_prob, lambda: tf.image.flip_left_right(x), lambda: x)
    # 3. Quarter turns (1 to 3 of them); the images are square, so the shape stays.
    if config.rotate90_prob > 0:
        turns = tf.random.stateless_uniform([], seed=seeds[4], minval=1, maxval=4, dtype=tf.int32)
        x = tf.cond(draw(3) < config.rotate90_prob, lambda: tf.image.rot90(x, turns), lambda: x)
    # 4. Mild colour jitter, scaled by its strength (0 = off).
    if config.color_jitter > 0:
        strength = float(config.color_jitter)
        unit = x / 255.0  # the colour ops expect [0, 1]
        unit = tf.image.stateless_random_brightness(unit, 0.1 * strength, seed=seeds[5])
        unit = tf.image.stateless_random_contrast(
            unit, 1.0 - 0.2 * strength, 1.0 + 0.2 * strength, seed=seeds[6]
        )
        unit = tf.image.stateless_random_saturation(
            tf.clip_by_value(unit, 0.0, 1.0),
            1.0 - 0.2 * strength,
            1.0 + 0.2 * strength,
            seed=seeds[7],
        )
        x = tf.clip_by_value(unit, 0.0, 1.0) * 255.0
    x = tf.clip_by_value(x, 0.0, 255.0)
    return tf.ensure_shape(to_model_range(x), [size, size, 3])


def to_model_range(image):
    """uint8 [..., 3] (or floats in [0, 255]) -> float32 in [-1, 1] (`x / 127.5 - 1`), without
    augmentation. Tensors, inside tf.data; `painter.data.images.pixels_to_model_range` is the
    numpy twin."""
    import tensorflow as tf

    return tf.cast(image, tf.float32) / 127.5 - 1.0


__all__ = ["augment_image", "to_model_range"]
