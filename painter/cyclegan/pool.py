"""The history of generated images the discriminators are shown (Shrivastava et al. 2017; CycleGAN
section 4: "a history of 50 generated images").

For each generated image: while the pool is filling, store it and show it; once full, with
probability 1/2 show a random stored image and store the new one in its place, else show the new
image. The pool lives in non-trainable Keras variables, so it is part of the model state: it works
in the stateless (jitted) JAX step, is checkpointed by `CycleGAN.get_state`, and under
tf.distribute its
variables follow the first replica ("only_first_replica") so every replica holds the same pool.

Random draws come from a counter-based integer hash (lowbias32 by Chris Wellons) of (seed, draw
number) computed with keras.ops int32 arithmetic: no random-state variable with replica semantics to
manage, and the same draws on TensorFlow and JAX, so both backends train identically.
"""

from __future__ import annotations

import keras
from keras import ops

_MUL_1 = 0x7FEB352D
_MUL_2 = 0x846CA68B - (1 << 32)  # as int32: keras.ops multiply wraps around like uint32


def _hash32(x):
    """lowbias32 on int32 tensors; logical right shifts done as arithmetic shift + mask."""
    x = ops.bitwise_xor(x, ops.bitwise_and(ops.right_shift(x, 16), 0xFFFF))
    x = ops.multiply(x, ops.convert_to_tensor(_MUL_1, "int32"))
    x = ops.bitwise_xor(x, ops.bitwise_and(ops.right_shift(x, 15), 0x1FFFF))
    x = ops.multiply(x, ops.convert_to_tensor(_MUL_2, "int32"))
    return ops.bitwise_xor(x, ops.bitwise_and(ops.right_shift(x, 16), 0xFFFF))


def hash_uniform(seed, counter):
    """Uniform [0, 1) floats, one per int32 `counter` element, deterministic in (seed, counter).
    `seed` is an int or an int32 scalar tensor."""
    mixed = ops.bitwise_xor(
        ops.cast(counter, "int32"), _hash32(ops.convert_to_tensor(seed, "int32"))
    )
    bits = ops.bitwise_and(_hash32(mixed), 0xFFFFFF)  # 24 bits: exact in float32
    return ops.cast(bits, "float32") / float(1 << 24)


@keras.saving.register_keras_serializable(package="painter")
class ImagePool(keras.layers.Layer):
    """A pool of up to `pool_size` generated images; `pool(images)` returns what D should see.

    Args:
        pool_size: images kept (paper: 50); 0 turns the pool off (returns its input).
        seed: seed of the pool's random choices.
    Variables (after `build((None, H, W, C))`): `images` [pool_size, H, W, C], `count` (stored so
    far), `draws` (random numbers used so far), `seed`.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0, **kwargs):
        kwargs.setdefault("dtype", "float32")  # stored images stay float32 under mixed precision
        super().__init__(**kwargs)
        if int(pool_size) < 0:
            raise ValueError(f"`pool_size` must be >= 0. Received: {pool_size}")
        self.pool_size = int(pool_size)
        self.seed = int(seed)

    def build(self, input_shape):
        if self.pool_size > 0:
            image_shape = tuple(input_shape[1:])
            if any(d is None for d in image_shape):
                raise ValueError(
                    f"ImagePool needs a fixed image shape to hold images. Received: {input_shape}"
                )
            self.images = self.add_weight(
                shape=(self.pool_size, *image_shape),
                initializer="zeros",
                trainable=False,
                name="images",
                aggregation="only_first_replica",
            )
            self.count = self.add_weight(
                shape=(),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                name="count",
                aggregation="only_first_replica",
            )
            self.draws = self.add_weight(
                shape=(),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                name="draws",
                aggregation="only_first_replica",
            )
            # The seed is state too, so a checkpoint resumes the same random sequence even if
            # the resumed model was built with another seed.
            self.seed_state = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.seed),
                dtype="int32",
                trainable=False,
                name="seed",
                aggregation="only_first_replica",
            )
        self.built = True

    def call(self, images, training=None):
        del training  # the pool acts the same in training and inference
        images = ops.stop_gradient(ops.cast(images, "float32"))
        if self.pool_size == 0:
            return images
        size = self.pool_size
        batch = ops.shape(images)[0]
        index = ops.arange(batch, dtype="int32")
        count = ops.convert_to_tensor(self.count.value)
        draws = ops.convert_to_tensor(self.draws.value)
        # Two random numbers per image: "swap with a stored one?" and "which one?".
        counter = draws + 2 * index
        seed = ops.convert_to_tensor(self.seed_state.value)
        swap = hash_uniform(seed, counter) > 0.5
        slot = ops.minimum(ops.cast(hash_uniform(seed, counter + 1) * size, "int32"), size - 1)
        fill_slot = count + index
        filling = fill_slot < size
        use_stored = ops.logical_and(ops.logical_not(filling), swap)
        target = ops.where(filling, ops.minimum(fill_slot, size - 1), slot)
        pool = self.images.value
        stored = ops.take(pool, target, axis=0)
        shown = ops.where(ops.reshape(use_stored, (-1, 1, 1, 1)), stored, images)
        # Write the new images into their slots; if two images of one batch pick the same slot the
        # later one wins, as in the paper's one-image-at-a-time loop.
        write = ops.cast(ops.logical_or(filling, use_stored), "float32")
        writes = ops.one_hot(target, size, dtype="float32") * write[:, None]  # [B, size]
        later = ops.sum(writes, axis=0, keepdims=True) - ops.cumsum(writes, axis=0)
        last_writes = writes * ops.cast(later < 0.5, "float32")
        written = ops.sum(last_writes, axis=0)
        new_pool = pool * ops.reshape(1.0 - written, (-1, 1, 1, 1)) + ops.einsum(
            "bn,bhwc->nhwc", last_writes, images
        )
        self.images.assign(new_pool)
        self.count.assign(ops.minimum(count + ops.cast(batch, "int32"), size))
        self.draws.assign(draws + 2 * ops.cast(batch, "int32"))
        return shown

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "seed": self.seed}
