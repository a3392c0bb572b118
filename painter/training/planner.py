"""`epochs=0`: as many epochs as the time budget fits, with the paper's schedule scaled to them.

The paper keeps the learning rate constant for half of training, then lowers it linearly to 0 at
the last step. With a time budget the number of epochs is not known in advance, so it is planned:

1. Until the first epoch has been measured (compile warm-up excluded, `TimeBudget`), the rate is
   constant: the first half of any plan is.
2. After every complete epoch, `planned = epochs done + epochs that still fit` (the budget's own
   estimate: the slowest of the recent epochs, the same number that decides when training stops,
   so the plan and the stop agree). The decay covers the last half (rounded up) of the planned
   epochs and ends with the last one: `end = now + epochs that fit * steps_per_epoch`.
3. If the count changes (epochs ran slower or faster), the plan changes from the current rate: the
   new line starts at today's value (never a jump), is held until the new decay start if that is
   still ahead, and reaches 0 at the new end. So the rate is continuous and still ends at 0 with
   the last planned epoch; only the slope of the rest changes.
4. When no further epoch fits, training stops (BudgetMonitor); the plan is left as it is, so a
   resumed run continues from the rate reached.

An `LrPlan` is the three numbers of `painter.cyclegan.schedule.LinearDecaySchedule` plus the
planned epoch count. Kept in each checkpoint's meta.json, so a resumed run continues the plan.
Keras-free; tests drive it with a fake clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

NO_DECAY = 1e30  # the same sentinel as painter.cyclegan.schedule.NO_DECAY (Keras-free here)


@dataclass(frozen=True)
class LrPlan:
    """The learning rate, as a fraction of the initial one, over optimizer steps:

        fraction(step) = start_fraction
                         * clip((end_step - step) / (end_step - decay_start_step), 0, 1)

    Attributes:
        epochs: planned epochs in all (0: not planned yet, the rate is constant).
        decay_start_step / end_step: where the linear decay starts and reaches 0 (None: no decay).
        start_fraction: the constant part's value (1 in the paper's schedule; lower after a
            replan that happened during the decay).
    """

    epochs: int = 0
    decay_start_step: int | None = None
    end_step: int | None = None
    start_fraction: float = 1.0

    @classmethod
    def fixed(cls, epochs: int, decay_epochs: int, steps_per_epoch: int) -> LrPlan:
        """The paper's schedule for a fixed number of epochs."""
        if decay_epochs == 0:
            return cls(epochs=epochs)
        return cls(
            epochs=epochs,
            decay_start_step=(epochs - decay_epochs) * steps_per_epoch,
            end_step=epochs * steps_per_epoch,
        )

    @property
    def decays(self) -> bool:
        return self.end_step is not None

    def _decay_steps(self) -> tuple[int, int]:
        """(decay_start_step, end_step) of a plan that decays."""
        assert self.decay_start_step is not None and self.end_step is not None
        return self.decay_start_step, self.end_step

    def fraction(self, step: float) -> float:
        """The rate at `step` as a fraction of the initial rate."""
        if not self.decays:
            return self.start_fraction
        decay_start_step, end_step = self._decay_steps()
        span = max(end_step - decay_start_step, 1)
        return self.start_fraction * min(1.0, max(0.0, (end_step - step) / span))

    def vector(self) -> tuple[float, float, float]:
        """(decay_start_step, end_step, start_fraction) for `LinearDecaySchedule.set_plan`."""
        if not self.decays:
            return (NO_DECAY, NO_DECAY, self.start_fraction)
        decay_start_step, end_step = self._decay_steps()
        return (float(decay_start_step), float(end_step), self.start_fraction)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LrPlan:
        return cls(
            epochs=int(values["epochs"]),
            decay_start_step=_int_or_none(values.get("decay_start_step")),
            end_step=_int_or_none(values.get("end_step")),
            start_fraction=float(values.get("start_fraction", 1.0)),
        )

    def describe(self, steps_per_epoch: int, step: int, initial_lr: float) -> str:
        """In words, from `step` on: 'lr 2e-04 until epoch 24, then linearly to 0 at the end of
        epoch 48'."""
        now = initial_lr * self.fraction(step)
        if not self.decays:
            return f"lr {now:.3g} constant (no decay: decay_epochs=0)"
        decay_start_step, end_step = self._decay_steps()
        start = decay_start_step / steps_per_epoch
        end = end_step / steps_per_epoch
        if decay_start_step > step:
            return (
                f"lr {now:.3g} until epoch {start:g}, then linearly to 0 at the end of epoch "
                f"{end:g}"
            )
        return f"lr {now:.3g} now, linearly to 0 at the end of epoch {end:g}"


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def replan(
    plan: LrPlan,
    *,
    epochs_done: int,
    step: int,
    epochs_that_fit: int,
    steps_per_epoch: int,
    decay: bool = True,
) -> LrPlan:
    """The plan after `epochs_done` epochs (`step` optimizer steps) when `epochs_that_fit` more
    fit the budget; `plan` itself when the planned count is unchanged, or when nothing more fits
    (training stops; the rate reached is where a resumed run continues).

    The rate is continuous at `step`: the new plan starts from `plan.fraction(step)`."""
    if epochs_that_fit < 0 or epochs_done < 0 or steps_per_epoch <= 0:
        raise ValueError(
            f"bad planning input: epochs_done={epochs_done}, epochs_that_fit="
            f"{epochs_that_fit}, steps_per_epoch={steps_per_epoch}"
        )
    total = epochs_done + epochs_that_fit
    if total == plan.epochs:
        return plan
    if epochs_that_fit == 0:
        # Training stops now: keep the rate's line, so a resumed run continues from its value.
        return replace(plan, epochs=total)
    current = plan.fraction(step)
    if not decay:
        return LrPlan(epochs=total, start_fraction=current)
    end = step + epochs_that_fit * steps_per_epoch
    decay_epochs = (total + 1) // 2  # the last half, rounded up (the paper: 100 of 200)
    return LrPlan(
        epochs=total,
        decay_start_step=max(step, end - decay_epochs * steps_per_epoch),
        end_step=end,
        start_fraction=current,
    )


class EpochPlanner:
    """Plans `epochs=0` runs from a `TimeBudget` after each complete epoch (Keras-free).

    Args:
        budget: the run's TimeBudget (its epoch estimate and available time).
        steps_per_epoch: optimizer steps per epoch.
        decay: whether the rate decays (config.decay_epochs > 0).
        plan: the plan in force (a resumed run's, from its checkpoint), default: not planned.
        initial_lr: for the printed lines.
    """

    def __init__(
        self,
        budget,
        steps_per_epoch: int,
        *,
        decay: bool = True,
        plan: LrPlan | None = None,
        initial_lr: float = 2e-4,
    ):
        self.budget = budget
        self.steps_per_epoch = int(steps_per_epoch)
        self.decay = decay
        self.plan = plan or LrPlan()
        self.initial_lr = initial_lr

    def after_epoch(self, epochs_done: int, step: int) -> str | None:
        """Replan after a complete epoch (its time already recorded in the budget). Returns the
        line to print when the plan was made or changed, else None."""
        fit = self.budget.epochs_that_fit()
        if fit is None:
            return None
        before = self.plan
        self.plan = replan(
            before,
            epochs_done=epochs_done,
            step=step,
            epochs_that_fit=fit,
            steps_per_epoch=self.steps_per_epoch,
            decay=self.decay,
        )
        if self.plan == before:
            return None
        estimate = self.budget.epoch_estimate()
        from painter.training.budget import format_seconds

        if fit == 0:
            return (
                f"lr plan: no further epoch fits after epoch {epochs_done} (~"
                f"{format_seconds(estimate)} each); training stops with "
                f"lr {self.initial_lr * self.plan.fraction(step):.3g}"
            )
        words = self.plan.describe(self.steps_per_epoch, step, self.initial_lr)
        timing = (
            f"{fit} more of ~{format_seconds(estimate)} fit the "
            f"{format_seconds(max(0.0, self.budget.available()))} left for training"
        )
        if before.epochs == 0:
            return f"lr plan (epochs=0): {self.plan.epochs} epochs ({timing}): {words}"
        return (
            f"lr plan changed after epoch {epochs_done}: {self.plan.epochs} epochs instead "
            f"of {before.epochs} ({timing}): {words}"
        )

    def finished(self, epochs_done: int) -> bool:
        """Whether the plan's last epoch is done."""
        return self.plan.epochs > 0 and epochs_done >= self.plan.epochs


__all__ = ["EpochPlanner", "LrPlan", "replan"]
