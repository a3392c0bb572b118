"""The paper's learning-rate schedule: constant, then linearly to zero over the last epochs."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="painter")
class LinearDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`initial_learning_rate` for `epochs - decay_epochs` epochs, then linear decay to 0.

    Zhu et al. 2017: "the same learning rate for the first 100 epochs and linearly decay the rate to
    zero over the next 100 epochs". Counted in optimizer steps (`optimizer.iterations`), so the
    value is right after a resume that restores the iterations.

    Args:
        initial_learning_rate: the constant rate (paper: 2e-4).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: total epochs of training.
        decay_epochs: epochs at the end over which the rate falls to 0 (0 = constant).
    """

    def __init__(self, initial_learning_rate: float, steps_per_epoch: int, epochs: int,
                 decay_epochs: int):
        if steps_per_epoch <= 0 or epochs <= 0:
            raise ValueError(
                f"`steps_per_epoch` and `epochs` must be > 0. Received: {steps_per_epoch}, {epochs}"
            )
        if not 0 <= decay_epochs <= epochs:
            raise ValueError(f"`decay_epochs` must be in [0, {epochs}]. Received: {decay_epochs}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.decay_epochs = int(decay_epochs)

    def __call__(self, step):
        rate = ops.convert_to_tensor(self.initial_learning_rate, "float32")
        if self.decay_epochs == 0:
            return rate
        total_steps = float(self.epochs * self.steps_per_epoch)
        decay_steps = float(self.decay_epochs * self.steps_per_epoch)
        remaining = total_steps - ops.cast(step, "float32")
        return rate * ops.clip(remaining / decay_steps, 0.0, 1.0)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "decay_epochs": self.decay_epochs,
        }
