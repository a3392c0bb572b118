"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

With 300 paintings the Monet discriminator memorises its training set and its gradients stop
teaching the generator. DiffAugment applies the same kind of random, differentiable transformation
to EVERY discriminator input, real and generated, in the discriminator's and in the generator's
loss alike, so D never sees an un-augmented image and G still gets gradients through the
transformation. The three policies of the paper, in its order, as its reference code computes them
on [-1, 1] images:

    color:        x + (u - 0.5);  then (x - mean_c) * 2u + mean_c (saturation);
                  then (x - mean_hwc) * (u + 0.5) + mean_hwc (contrast)
    translation:  shift by integers in [-H/8, H/8] (and W), zeros fill what enters
    cutout:       zero a square of half the side at a random centre

Random numbers come from the image pool's counter-based hash (`painter.cyclegan.pool.hash_uniform`)
of (seed, draw number), with the draw count in a non-trainable variable: the same draws on
TensorFlow and JAX (so both backends train identically), part of the checkpoint, and no
random-state variable with replica semantics. Under tf.distribute each replica draws for its own
images from the same counters (independent images, correlated choices; the pool does the same).
"""

from __future__ import annotations

import keras
from keras import ops

from painter.cyclegan.pool import hash_uniform

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # the paper's 1/8 of the side
CUTOUT_RATIO = 0.5  # the paper's half of the side
DRAWS_PER_IMAGE = 7  # brightness, saturation, contrast, shift y, shift x, cutout y, cutout x


@keras.saving.register_keras_serializable(package="painter")
class DiffAugment(keras.layers.Layer):
    """Random differentiable augmentation of a batch of [-1, 1] images (see the module docstring).

    Args:
        policy: a sequence of "color", "translation", "cutout" (applied in that order); empty = the
            identity (the layer still owns its counters, so a checkpoint works either way).
        seed: seed of the random draws.

    Example:
        >>> augment = DiffAugment(("color", "translation", "cutout"), seed=0)
        >>> augment(keras.ops.zeros((2, 16, 16, 3))).shape
        (2, 16, 16, 3)
    """

    def __init__(self, policy=POLICIES, seed: int = 0, **kwargs):
        kwargs.setdefault("dtype", "float32")  # images and masks stay float32 under mixed precision
        super().__init__(**kwargs)
        policy = tuple(policy)
        unknown = sorted(set(policy) - set(POLICIES))
        if unknown:
            raise ValueError(f"`policy` takes names from {list(POLICIES)}. Received: {unknown}")
        self.policy = tuple(p for p in POLICIES if p in policy)  # the paper's order
        self.seed = int(seed)
        self.draws = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            name="draws",
            aggregation="only_first_replica",
        )
        self.seed_state = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.seed),
            dtype="int32",
            trainable=False,
            name="seed",
            aggregation="only_first_replica",
        )
        self.built = True  # every variable exists from construction on

    def call(self, images, training=None):
        del training  # used only in training steps; augmenting is its whole point
        images = ops.cast(images, "float32")
        if not self.policy:
            return images
        batch = ops.shape(images)[0]
        draws = ops.convert_to_tensor(self.draws.value)
        counter = draws + DRAWS_PER_IMAGE * ops.arange(batch, dtype="int32")
        seed = ops.convert_to_tensor(self.seed_state.value)

        def uniform(slot: int):  # [B] uniforms in [0, 1), one per image
            return hash_uniform(seed, counter + slot)

        if "color" in self.policy:
            images = color(images, uniform(0), uniform(1), uniform(2))
        if "translation" in self.policy:
            images = translate(images, uniform(3), uniform(4))
        if "cutout" in self.policy:
            images = cutout(images, uniform(5), uniform(6))
        self.draws.assign(draws + DRAWS_PER_IMAGE * ops.cast(batch, "int32"))
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "policy": list(self.policy), "seed": self.seed}


def _per_image(values):
    return ops.reshape(values, (-1, 1, 1, 1))


def color(images, brightness, saturation, contrast):
    """The paper's rand_brightness, rand_saturation, rand_contrast from uniforms in [0, 1)."""
    images = images + _per_image(brightness - 0.5)
    mean = ops.mean(images, axis=3, keepdims=True)
    images = (images - mean) * _per_image(saturation * 2.0) + mean
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _per_image(contrast + 0.5) + mean


def _uniform_int(u, low: int, high: int):
    """Integers in [low, high] from uniforms in [0, 1)."""
    return ops.minimum(ops.cast(ops.floor(u * (high - low + 1)), "int32") + low, high)


def _shift_matrix(shift, size: int):
    """[B, size, size] one-hot rows: row i picks input index i + shift (none outside the image)."""
    index = ops.arange(size, dtype="int32")
    source = index[None, :, None] + ops.reshape(shift, (-1, 1, 1))  # [B, out, 1]
    return ops.cast(ops.equal(source, index[None, None, :]), "float32")  # [B, out, in]


def translate(images, u_y, u_x, ratio: float = TRANSLATION_RATIO):
    """Shift each image by integers in [-round(H * ratio), +...] (and W); zeros fill the border.
    Done as two batched one-hot matrix products: exact, differentiable, any backend."""
    height, width = images.shape[1], images.shape[2]
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    rows = _shift_matrix(_uniform_int(u_y, -shift_y, shift_y), height)
    cols = _shift_matrix(_uniform_int(u_x, -shift_x, shift_x), width)
    images = ops.einsum("bij,bjwc->biwc", rows, images)
    return ops.einsum("bkw,biwc->bikc", cols, images)


def cutout(images, u_y, u_x, ratio: float = CUTOUT_RATIO):
    """Zero a (H * ratio) x (W * ratio) square per image, its centre anywhere in the image (the
    paper's offsets in [0, side + (1 - cut % 2)), the square clipped at the border)."""
    height, width = images.shape[1], images.shape[2]
    cut_y, cut_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = _uniform_int(u_y, 0, height - cut_y % 2) - cut_y // 2
    left = _uniform_int(u_x, 0, width - cut_x % 2) - cut_x // 2
    rows = ops.arange(height, dtype="int32")[None, :]
    cols = ops.arange(width, dtype="int32")[None, :]
    inside_y = ops.logical_and(rows >= top[:, None], rows < top[:, None] + cut_y)  # [B, H]
    inside_x = ops.logical_and(cols >= left[:, None], cols < left[:, None] + cut_x)  # [B, W]
    cut = ops.logical_and(inside_y[:, :, None], inside_x[:, None, :])  # [B, H, W]
    return images * (1.0 - ops.cast(cut, "float32"))[..., None]
