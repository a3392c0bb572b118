"""The paper's learning-rate schedule: constant, then linearly to zero over the last epochs.

The schedule is one line through three numbers, the *plan*:

    lr(step) = initial_lr * start_fraction
               * clip((end_step - step) / (end_step - decay_start_step), 0, 1)

(constant at `start_fraction` until `decay_start_step`, then linear to 0 at `end_step`). A fixed
`epochs` gives the paper's plan (`start_fraction` 1, decay over the last `decay_epochs`). With
`epochs=0` the number of epochs is planned from the time budget during training
(`painter.training.planner`), so the plan must change while `fit()` runs. Python numbers would be
baked into the compiled step, so `track(optimizer)` moves the plan into a non-trainable variable
of the optimizer: its state, which both backends thread through `fit()` (on JAX the optimizer's
variables are arguments of the jitted step; on TensorFlow variables are read live) and
`CycleGAN.get_state()` checkpoints. `set_plan` assigns it between epochs (on JAX the values sit
outside the variables during an epoch, so an assignment then would be overwritten).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# `decay_start_step` and `end_step` of a plan without decay (constant rate): far beyond any step.
NO_DECAY = 1e30
PLAN_VARIABLE = "lr_plan"


@keras.saving.register_keras_serializable(package="painter")
class LinearDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`initial_learning_rate` for `epochs - decay_epochs` epochs, then linear decay to 0.

    Zhu et al. 2017: "the same learning rate for the first 100 epochs and linearly decay the rate to
    zero over the next 100 epochs". Counted in optimizer steps (`optimizer.iterations`), so the
    value is right after a resume that restores the iterations.

    Args:
        initial_learning_rate: the constant rate (paper: 2e-4).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: total epochs of training; 0 = planned during training (`set_plan` after
            `track`; constant until then).
        decay_epochs: epochs at the end over which the rate falls to 0 (0 = constant).
    """

    def __init__(
        self, initial_learning_rate: float, steps_per_epoch: int, epochs: int, decay_epochs: int
    ):
        if steps_per_epoch <= 0 or epochs < 0:
            raise ValueError(
                f"`steps_per_epoch` must be > 0 and `epochs` >= 0 (0 = planned). Received: "
                f"{steps_per_epoch}, {epochs}"
            )
        if decay_epochs < 0 or (epochs > 0 and decay_epochs > epochs):
            raise ValueError(f"`decay_epochs` must be in [0, {epochs}]. Received: {decay_epochs}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.decay_epochs = int(decay_epochs)
        self.plan_variable = None  # set by `track`

    def fixed_plan(self) -> tuple[float, float, float]:
        """(decay_start_step, end_step, start_fraction) of the configured schedule: the paper's
        for a fixed `epochs`, a constant rate for `epochs=0` (until a plan is set) or no decay."""
        if self.epochs == 0 or self.decay_epochs == 0:
            return (NO_DECAY, NO_DECAY, 1.0)
        return (
            float((self.epochs - self.decay_epochs) * self.steps_per_epoch),
            float(self.epochs * self.steps_per_epoch),
            1.0,
        )

    def track(self, optimizer: keras.optimizers.Optimizer):
        """Keep the plan in a variable of `optimizer` (built, so the variable comes last and the
        other optimizer variables keep their positions); returns the variable. Call once, inside
        the distribution scope the optimizer was made in."""
        if self.plan_variable is None:
            variable = optimizer.add_variable(
                (3,), initializer="zeros", dtype="float32", name=PLAN_VARIABLE
            )
            variable.assign(np.asarray(self.fixed_plan(), "float32"))
            self.plan_variable = variable
        return self.plan_variable

    def set_plan(self, decay_start_step: float, end_step: float, start_fraction: float) -> None:
        """Change the plan (between epochs; see the module's docstring)."""
        if self.plan_variable is None:
            raise RuntimeError(
                "Call `track(optimizer)` before `set_plan`: the plan lives in an "
                "optimizer variable."
            )
        self.plan_variable.assign(
            np.asarray([decay_start_step, end_step, start_fraction], "float32")
        )

    def plan(self) -> tuple[float, float, float]:
        """The plan in force: (decay_start_step, end_step, start_fraction)."""
        if self.plan_variable is None:
            return self.fixed_plan()
        values = np.asarray(ops.convert_to_numpy(self.plan_variable), "float64")
        return (float(values[0]), float(values[1]), float(values[2]))

    def __call__(self, step):
        rate = ops.convert_to_tensor(self.initial_learning_rate, "float32")
        if self.plan_variable is None:
            if self.epochs == 0 or self.decay_epochs == 0:
                return rate
            total_steps = float(self.epochs * self.steps_per_epoch)
            decay_steps = float(self.decay_epochs * self.steps_per_epoch)
            remaining = total_steps - ops.cast(step, "float32")
            return rate * ops.clip(remaining / decay_steps, 0.0, 1.0)
        # Inside fit() on JAX this reads the value threaded through the step, not a constant.
        plan = ops.convert_to_tensor(self.plan_variable)
        decay_start, end, fraction = plan[0], plan[1], plan[2]
        remaining = end - ops.cast(step, "float32")
        return rate * fraction * ops.clip(remaining / ops.maximum(end - decay_start, 1.0), 0.0, 1.0)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "decay_epochs": self.decay_epochs,
        }


def track_schedules(model) -> list[LinearDecaySchedule]:
    """`track` the LinearDecaySchedules of a compiled CycleGAN's two optimizers (generators
    first) and return them. Call inside the runtime's scope, before `set_state`."""
    found = []
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        # Keras keeps the schedule object (not its value) in `_learning_rate`.
        schedule = getattr(optimizer, "_learning_rate", None)
        if not isinstance(schedule, LinearDecaySchedule):
            raise TypeError(
                f"optimizer {optimizer.name} has no LinearDecaySchedule "
                f"(its learning rate is {schedule!r})."
            )
        schedule.track(optimizer)
        found.append(schedule)
    return found


__all__ = ["LinearDecaySchedule", "NO_DECAY", "PLAN_VARIABLE", "track_schedules"]
