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

Adaptive (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data", ADA):
with `target` > 0 each policy is applied to each image with probability p (one p per
discriminator: index 0 the Monet D's inputs, 1 the photo D's), and p follows the discriminator:
after each step `layer(real_margins, domain=d, adapt=True)` moves p by +-`speed` as the
overfitting heuristic r = E[sign(D(real) - decision boundary)] (the share of real patches D calls
real, as -1..1) is above or below `target`, clipped to [0, `max_probability`] (1 unless set:
translation's zero fill and cutout are not invertible, and ADA's paper finds such augmentations
leak into the generated images above p ~0.8; but capped at 0.6 the bilinear recipe's hour did
worse, its Monet D winning and dark blots spreading, so the ceiling is an option, not a default).
p starts at 0: a short run that D cannot memorise trains un-augmented (DiffAugment slows the
generator early), and augmentation rises only as D starts to memorise the few paintings. p is
state (checkpointed, both backends).

Random numbers come from the image pool's counter-based hash (`painter.cyclegan.pool.hash_uniform`)
of (seed, draw number), with the draw count in a non-trainable variable: the same draws on
TensorFlow and JAX (so both backends train identically), part of the checkpoint, and no
random-state variable with replica semantics. Under tf.distribute each replica draws for its own
images from the same counters (independent images, correlated choices; the pool does the same).
"""

from __future__ import annotations

import keras
from keras import ops

from painter.cyclegan.adaptive import DOMAINS, adapt
from painter.cyclegan.pool import hash_uniform

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # the paper's 1/8 of the side
CUTOUT_RATIO = 0.5  # the paper's half of the side
DRAWS_PER_IMAGE = 7  # brightness, saturation, contrast, shift y, shift x, cutout y, cutout x
# Adaptive: one more uniform per policy per image (slots 7-9), whether each policy applies to it.
ADAPTIVE_DRAWS_PER_IMAGE = DRAWS_PER_IMAGE + len(POLICIES)


@keras.saving.register_keras_serializable(package="painter")
class DiffAugment(keras.layers.Layer):
    """Random differentiable augmentation of a batch of [-1, 1] images (see the module docstring).

    Args:
        policy: a sequence of "color", "translation", "cutout" (applied in that order); empty = the
            identity (the layer still owns its counters, so a checkpoint works either way).
        seed: seed of the random draws.
        target: 0 = apply every policy to every image (the paper); > 0 = adaptive (ADA): the
            value of r = E[sign(D(real) - boundary)] that p is steered to (ADA's 0.6).
        speed: how far p moves per adaptation (one per step): batch / images for 0 -> 1.
        max_probability: the ceiling of p when adaptive (1 = ADA as published).

    Example:
        >>> augment = DiffAugment(("color", "translation", "cutout"), seed=0)
        >>> augment(keras.ops.zeros((2, 16, 16, 3)), domain=0).shape
        (2, 16, 16, 3)
    """

    def __init__(
        self,
        policy=POLICIES,
        seed: int = 0,
        target: float = 0.0,
        speed: float = 0.0,
        max_probability: float = 1.0,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")  # images and masks stay float32 under mixed precision
        super().__init__(**kwargs)
        policy = tuple(policy)
        unknown = sorted(set(policy) - set(POLICIES))
        if unknown:
            raise ValueError(f"`policy` takes names from {list(POLICIES)}. Received: {unknown}")
        self.policy = tuple(p for p in POLICIES if p in policy)  # the paper's order
        self.seed = int(seed)
        self.target = float(target)
        self.speed = float(speed)
        self.max_probability = float(max_probability)
        if not 0.0 <= self.target < 1.0:
            raise ValueError(f"`target` must be in [0, 1) (0 = not adaptive). Received: {target}")
        if self.adaptive and not 0.0 < self.speed <= 1.0:
            raise ValueError(f"`speed` must be in (0, 1] when adaptive. Received: {speed}")
        if not 0.0 < self.max_probability <= 1.0:
            raise ValueError(f"`max_probability` must be in (0, 1]. Received: {max_probability}")
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
        # Not adaptive: 1 (every policy always applies); adaptive: starts at 0.
        self.probability = self.add_weight(
            shape=(DOMAINS,),
            initializer=keras.initializers.Constant(0.0 if self.adaptive else 1.0),
            dtype="float32",
            trainable=False,
            name="probability",
            aggregation="only_first_replica",
        )
        self.built = True  # every variable exists from construction on

    @property
    def adaptive(self) -> bool:
        """Whether p follows the discriminators (ADA) instead of being 1."""
        return bool(self.policy) and self.target > 0

    def call(self, inputs, domain: int = 0, adapt: bool = False, training=None):
        """`layer(images, domain=d)`: the images augmented for discriminator d (0 = Monet,
        1 = photo). `layer(real_margins, domain=d, adapt=True)` (adaptive only): move that
        discriminator's p by its outputs on real images measured from its decision boundary
        (`painter.cyclegan.losses.decision_margin`), return the new p."""
        del training  # used only in training steps; augmenting is its whole point
        if not 0 <= domain < DOMAINS:
            raise ValueError(f"`domain` must be 0 (Monet) or 1 (photo). Received: {domain}")
        if adapt:
            return self._adapt(inputs, domain)
        images = ops.cast(inputs, "float32")
        if not self.policy:
            return images
        batch = ops.shape(images)[0]
        stride = ADAPTIVE_DRAWS_PER_IMAGE if self.adaptive else DRAWS_PER_IMAGE
        draws = ops.convert_to_tensor(self.draws.value)
        counter = draws + stride * ops.arange(batch, dtype="int32")
        seed = ops.convert_to_tensor(self.seed_state.value)
        probability = ops.convert_to_tensor(self.probability.value)[domain]

        def uniform(slot: int):  # [B] uniforms in [0, 1), one per image
            return hash_uniform(seed, counter + slot)

        def maybe(policy_index: int, augmented, original):
            if not self.adaptive:
                return augmented
            applies = uniform(DRAWS_PER_IMAGE + policy_index) < probability  # [B]
            return ops.where(ops.reshape(applies, (-1, 1, 1, 1)), augmented, original)

        if "color" in self.policy:
            images = maybe(0, color(images, uniform(0), uniform(1), uniform(2)), images)
        if "translation" in self.policy:
            images = maybe(1, translate(images, uniform(3), uniform(4)), images)
        if "cutout" in self.policy:
            images = maybe(2, cutout(images, uniform(5), uniform(6)), images)
        self.draws.assign(draws + stride * ops.cast(batch, "int32"))
        return images

    def _adapt(self, real_margins, domain: int):
        if not self.adaptive:
            raise ValueError("`adapt=True` needs an adaptive DiffAugment (`target` > 0).")
        probabilities, updated = adapt(
            self.probability.value,
            real_margins,
            domain,
            self.target,
            self.speed,
            self.max_probability,
        )
        self.probability.assign(probabilities)
        return updated

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "policy": list(self.policy),
            "seed": self.seed,
            "target": self.target,
            "speed": self.speed,
            "max_probability": self.max_probability,
        }


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
