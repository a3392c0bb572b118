"""Strengths that follow the discriminators (Karras et al. 2020's adaptive rule): one value per
discriminator, moved each step by `speed` towards 1 while D calls more of its real images real
than `target` allows, and towards 0 otherwise.

    r = E[sign(D's margin on real images)]  in [-1, 1]  (how surely D calls them real)
    s <- clip(s + speed * sign(r - target), 0, ceiling)

Adaptive DiffAugment steers its augmentation probability p this way (`diffaugment.DiffAugment`);
adaptive R1 scales gamma by its own s (`AdaptiveStrength`): no penalty while D has nothing to
memorise, up to the full gamma once it starts to call every real image real.
"""

from __future__ import annotations

import keras
from keras import ops

DOMAINS = 2  # one value per discriminator: 0 = the Monet D's, 1 = the photo D's


def adapt(values, real_margins, domain: int, target: float, speed: float, ceiling: float = 1.0):
    """`values` ([DOMAINS]) with entry `domain` moved by the rule above; returns (all values,
    the moved one). `real_margins`: D's outputs on real images measured from its decision
    boundary (`losses.decision_margin`), any shape."""
    overfitting = ops.mean(ops.sign(ops.cast(real_margins, "float32")))  # r in [-1, 1]
    step = speed * ops.sign(overfitting - target)
    values = ops.convert_to_tensor(values)
    updated = ops.clip(values[domain] + ops.stop_gradient(step), 0.0, ceiling)
    return ops.where(ops.arange(DOMAINS) == domain, updated, values), updated


@keras.saving.register_keras_serializable(package="painter")
class AdaptiveStrength(keras.layers.Layer):
    """A per-discriminator strength in [0, 1] that follows D (the rule in this module's
    docstring), starting at 0. `layer(real_margins, domain=d)` moves D d's strength by this
    step's margins and returns the new value (no gradient flows through it).

    Args:
        target: the E[sign D(real)] above which the strength rises (ADA: 0.6); 0 = off (the
            strength is then not used: a fixed-weight regulariser).
        speed: how far the strength moves per step (batch / images over which it may go 0 -> 1).
    """

    def __init__(self, target: float = 0.0, speed: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.target = float(target)
        self.speed = float(speed)
        if not 0.0 <= self.target < 1.0:
            raise ValueError(f"`target` must be in [0, 1) (0 = not adaptive). Received: {target}")
        if self.speed < 0:
            raise ValueError(f"`speed` must be >= 0. Received: {speed}")
        self.strength = self.add_weight(
            shape=(DOMAINS,),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            name="strength",
            aggregation="only_first_replica",
        )
        self.built = True  # its one variable exists from construction on

    @property
    def adaptive(self) -> bool:
        return self.target > 0

    def call(self, real_margins, domain: int = 0, training=None):
        del training  # only training steps call it
        if not 0 <= domain < DOMAINS:
            raise ValueError(f"`domain` must be 0 (Monet) or 1 (photo). Received: {domain}")
        values, updated = adapt(self.strength.value, real_margins, domain, self.target, self.speed)
        self.strength.assign(values)
        return ops.stop_gradient(updated)

    def compute_output_shape(self, input_shape):
        return ()

    def get_config(self):
        return {**super().get_config(), "target": self.target, "speed": self.speed}
