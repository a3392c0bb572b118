"""Running averages the CycleGAN step keeps as model state (checkpointed, both backends).

- `LeCamAverages`: the exponential moving averages of one discriminator's mean output on real and
  on generated images, the anchors of the LeCam regulariser (Tseng et al. 2021; the formula is
  `painter.cyclegan.losses.lecam_regularization`).
- `WeightAverage`: an exponential moving average of a generator's weights (Yazici et al. 2019,
  "The Unusual Effectiveness of Averaging in GAN Training"), the weights that paint.

Both are layers whose state lives in non-trainable variables, updated by `call`, so the TF step
assigns them and the stateless JAX step threads them like the image pools.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from painter.cyclegan.losses import lecam_regularization

LECAM_DECAY = 0.99  # the LeCam paper's EMA decay of D's outputs
# decay_t = min(decay, t / (warmup + t)): at update t the average spans ~t / warmup updates, so the
# early weights fade fast (`Config.ema_warmup`'s default; tests check they agree)
EMA_WARMUP = 10.0


@keras.saving.register_keras_serializable(package="painter")
class LeCamAverages(keras.layers.Layer):
    """`layer(real_logits, fake_logits)` updates the averages of D's mean outputs (the first call
    sets them), then returns the per-example LeCam regulariser against the updated averages, as the
    paper's code does.

    Args:
        decay: the averages' decay per step (paper: 0.99).
    """

    def __init__(self, decay: float = LECAM_DECAY, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"`decay` must be in [0, 1). Received: {decay}")
        self.decay = float(decay)
        self.real = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="real",
            aggregation="only_first_replica",
        )
        self.fake = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="fake",
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
        self.built = True  # every variable exists from construction on

    def call(self, real_logits, fake_logits, training=None):
        del training  # the same in every mode: called by training steps only
        real_logits = ops.cast(real_logits, "float32")
        fake_logits = ops.cast(fake_logits, "float32")
        first = ops.equal(ops.convert_to_tensor(self.count.value), 0)
        decay = ops.where(first, 0.0, self.decay)
        real = decay * self.real.value + (1.0 - decay) * ops.stop_gradient(ops.mean(real_logits))
        fake = decay * self.fake.value + (1.0 - decay) * ops.stop_gradient(ops.mean(fake_logits))
        self.real.assign(real)
        self.fake.assign(fake)
        self.count.assign(ops.convert_to_tensor(self.count.value) + 1)
        return lecam_regularization(real_logits, fake_logits, real, fake)

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}


@keras.saving.register_keras_serializable(package="painter")
class WeightAverage(keras.layers.Layer):
    """An exponential moving average of a list of weights: `layer(weights)` folds in the current
    values with decay `min(decay, t / (warmup + t))` at update t = 0, 1, ... (TensorFlow's
    ExponentialMovingAverage with num_updates for warmup 10, shifted so the first update copies),
    so a short run's average is not dominated by its first, untrained weights: until the long-run
    decay is reached the average spans about the last t / warmup updates. `averages` holds the
    result.

    Args:
        shapes: the shapes of the averaged weights, in order.
        decay: the long-run decay (e.g. 0.999).
        warmup: the ramp's constant (> 0): smaller averages over more of the run so far.
    """

    def __init__(
        self,
        shapes: Sequence[Sequence[int]],
        decay: float = 0.999,
        warmup: float = EMA_WARMUP,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f"`decay` must be in (0, 1). Received: {decay}")
        if not float(warmup) > 0.0:
            raise ValueError(f"`warmup` must be > 0. Received: {warmup}")
        self.decay = float(decay)
        self.warmup = float(warmup)
        self.shapes = [tuple(int(d) for d in shape) for shape in shapes]
        self.averages = [
            self.add_weight(
                shape=shape,
                initializer="zeros",
                trainable=False,
                name=f"average_{index:03d}",
                aggregation="only_first_replica",
            )
            for index, shape in enumerate(self.shapes)
        ]
        self.updates = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            name="updates",
            aggregation="only_first_replica",
        )
        self.built = True  # every variable exists from construction on

    def current_decay(self, updates):
        """The decay used at update number `updates` (0 on the first: the average starts as a
        copy)."""
        t = ops.cast(updates, "float32")
        return ops.minimum(self.decay, t / (self.warmup + t))

    def call(self, weights, training=None):
        del training  # the same in every mode: called by training steps only
        if len(weights) != len(self.averages):
            raise ValueError(
                f"WeightAverage holds {len(self.averages)} weights; got {len(weights)}."
            )
        updates = ops.convert_to_tensor(self.updates.value)
        decay = self.current_decay(updates)
        for average, value in zip(self.averages, weights, strict=True):
            average.assign(decay * average.value + (1.0 - decay) * ops.cast(value, "float32"))
        self.updates.assign(updates + 1)
        return decay

    def get_config(self):
        return {
            **super().get_config(),
            "shapes": [list(s) for s in self.shapes],
            "decay": self.decay,
            "warmup": self.warmup,
        }
