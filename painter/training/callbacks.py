"""The Keras callbacks of a training run, in the order `train()` passes them to `fit()`:

1. `NanGuard`: stops at the first batch whose running losses are NaN/Inf, naming the loss and the
   batch window; nothing after it in this list writes that epoch.
2. `HistoryCallback`: one float per metric per epoch, plus `epoch` and `epoch_seconds`.
3. `CheckpointCallback`: `checkpoints/epoch-NNNN/` (atomic; refuses NaN weights), `history.json`,
   `monet_generator.keras` (atomic).
4. `SampleGridCallback`: `samples/epoch-NNNN.png`, the same photos every epoch.
5. `ProgressPrinter`: one line per epoch with every loss.
6. `BudgetCallback`: prints the plan, stops before an epoch that would not fit (last in the list,
   so the epoch it times includes the work of the callbacks above). With `epochs=0` it also plans
   the number of epochs and the learning rate (`painter.training.planner`) after each epoch, sets
   the optimizers' schedules (between epochs, where both backends read them) and stops at the
   plan's end; a changed plan is written into the checkpoint just saved.

They share a `RunState` (`painter.training.run_state`): an epoch that diverged or was cut short
is neither recorded nor checkpointed (a resume redoes it from the last complete checkpoint).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from painter import __version__
from painter.errors import PainterError
from painter.fileio import atomic_path, atomic_write_text
from painter.training import checkpoint as checkpoints
from painter.training.budget import BudgetMonitor, TimeBudget
from painter.training.checkpoint import GENERATOR_FILE
from painter.training.planner import EpochPlanner
from painter.training.run_state import RunState

HISTORY_FILE = "history.json"


class TrainingDivergedError(PainterError):
    """A loss or weight became NaN/Inf; the last good checkpoint is kept."""


def epoch_name(epoch: int) -> str:
    """`epoch-0003` for the third epoch (1-based: the number of epochs finished)."""
    return checkpoints.checkpoint_name(epoch)


def _float(value: Any) -> float:
    """A logged scalar (Python number or backend tensor) as a float."""
    if isinstance(value, (int, float)):
        return float(value)
    return float(np.asarray(keras.ops.convert_to_numpy(value)).reshape(-1)[0])


class NanGuard(keras.callbacks.Callback):
    """Stop at the first batch end whose logged losses are not finite.

    The logs are the epoch's running means, so the first non-finite one comes from a step between
    the previous batch end checked and this one (`steps_per_execution` steps per batch end).
    """

    def __init__(self, run: RunState):
        super().__init__()
        self.run = run
        self._epoch = 0
        self._last_good = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_good = -1

    def _check(self, logs, where: str) -> bool:
        for name, value in (logs or {}).items():
            number = _float(value)
            if not math.isfinite(number):
                self.run.diverged = (
                    f"training diverged: `{name}` became {number} in epoch {self._epoch + 1} "
                    f"{where}. Nothing of this epoch was saved"
                )
                self.model.stop_training = True
                return False
        return True

    def on_train_batch_end(self, batch, logs=None):
        if self.run.diverged:
            return
        window = (
            f"between batch {self._last_good + 1} and batch {batch} (0-based, within the epoch)"
        )
        if self._check(logs, window):
            self._last_good = batch

    def on_epoch_end(self, epoch, logs=None):
        if not self.run.diverged:
            self._check(logs, f"at its end (after batch {self._last_good})")


class HistoryCallback(keras.callbacks.Callback):
    """Appends each complete epoch's logs (floats), its number and its seconds to `run.history`."""

    def __init__(self, run: RunState):
        super().__init__()
        self.run = run

    def on_epoch_begin(self, epoch, logs=None):
        self.run.epoch_began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.run.epoch_complete:
            return
        history = self.run.history
        count = self.run.epochs_done()
        for name, value in (logs or {}).items():
            history.setdefault(name, [math.nan] * count).append(_float(value))
        history.setdefault("epoch", []).append(epoch + 1)
        history.setdefault("epoch_seconds", []).append(time.perf_counter() - self.run.epoch_began)
        for values in history.values():  # a metric missing this epoch stays aligned
            values.extend([math.nan] * (count + 1 - len(values)))


def save_history(workdir: Path, history: dict[str, list[float]]) -> None:
    import json

    atomic_write_text(Path(workdir) / HISTORY_FILE, json.dumps(history, indent=1) + "\n")


def export_generator(generator, path: Path) -> Path:
    """Save a Keras model atomically (a `.keras` temporary in the same folder, then rename)."""
    path = Path(path)
    with atomic_path(path, suffix=".tmp.keras") as temporary:  # keras saves only to `.keras`
        generator.save(temporary)
    return path


class CheckpointCallback(keras.callbacks.Callback):
    """At each complete epoch's end: checkpoint (atomic, last `keep` kept), history.json and
    `monet_generator.keras`. A state with NaN/Inf is refused and reported as a divergence."""

    def __init__(self, run: RunState, *, keep: int = 2):
        super().__init__()
        self.run = run
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        run = self.run
        if run.diverged:
            return
        if run.partial_epoch:
            # Cut short by the time budget: the latest weights are the best submission, but the
            # epoch is not complete, so it gets no checkpoint (a resume redoes it).
            export_generator(self.model.painting_generator(), run.workdir / GENERATOR_FILE)
            return
        state = self.model.get_state()
        bad = checkpoints.non_finite_arrays(state)
        if bad:
            run.diverged = (
                f"training diverged: the weights {bad[:3]} hold NaN/Inf after epoch {epoch + 1} "
                "(the logged losses were still finite). Nothing of this epoch was saved"
            )
            self.model.stop_training = True
            return
        meta = {
            "painter_version": __version__,
            "keras_backend": keras.backend.backend(),
            "config": run.config.to_dict(),
            "history": run.history,
            "optimizer_steps": optimizer_steps(self.model),
            "plan": run.plan.to_dict() if run.plan is not None else None,
        }
        run.last_checkpoint = checkpoints.save_checkpoint(
            run.workdir, epoch + 1, state, meta, keep=self.keep, folder=run.checkpoint_folder
        )
        save_history(run.workdir, run.history)
        export_generator(self.model.painting_generator(), run.workdir / GENERATOR_FILE)


def optimizer_steps(model) -> int:
    """The optimizers' step count (on JAX, valid between epochs: the variables are synced)."""
    return int(np.asarray(keras.ops.convert_to_numpy(model.optimizer.iterations)))


class SampleGridCallback(keras.callbacks.Callback):
    """`samples/epoch-NNNN.png`: real photo | fake Monet | cycled photo (CycleGAN) for fixed
    photos."""

    def __init__(self, run: RunState, real_photo: np.ndarray):
        super().__init__()
        self.run = run
        self.real_photo = real_photo

    def on_epoch_end(self, epoch, logs=None):
        if not self.run.epoch_complete or len(self.real_photo) == 0:
            return
        save_samples(
            self.model,
            self.real_photo,
            self.run.workdir / "samples" / f"{epoch_name(epoch + 1)}.png",
            title=f"epoch {epoch + 1}",
        )


def save_samples(model, real_photo: np.ndarray, path: Path, *, title: str | None = None) -> Path:
    """Run the generators on `real_photo` ([-1, 1] float) and save the grid: photo, painting and
    (CycleGAN) the photo generator's cycle back."""
    fake_monet = keras.ops.convert_to_numpy(model.painting_generator()(real_photo, training=False))
    cycled_photo = None
    if model.photo_generator is not None:
        cycled_photo = keras.ops.convert_to_numpy(model.photo_generator(fake_monet, training=False))
    from painter import plots

    return plots.save_sample_grid(real_photo, fake_monet, cycled_photo, path)


class BudgetCallback(keras.callbacks.Callback):
    """Drives a `BudgetMonitor` from `fit()`: prints the plan and the budget after each epoch,
    stops before an epoch that would not fit, or mid-epoch if the reserve is reached."""

    def __init__(self, run: RunState, budget: TimeBudget, *, printer=print):
        super().__init__()
        self.run = run
        self.monitor = BudgetMonitor(budget)
        self.printer = printer

    def on_train_begin(self, logs=None):
        self.printer(self.monitor.budget.plan())
        if self.run.progbar is not None:
            # fit() was given a bound, not the plan; 1 = no "Epoch k/N" header until planned.
            self.run.progbar.epochs = max(1, self.run.epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.run.partial_epoch = False
        self.monitor.on_epoch_begin((self.params or {}).get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        reason = self.monitor.on_batch_end(batch)
        if reason and not self.run.diverged:
            self.run.partial_epoch = True
            self.run.stop_reason = reason
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        run, planner = self.run, self.run.planner
        reason = self.monitor.on_epoch_end(last_epoch=planner is None and epoch + 1 >= run.epochs)
        self.printer(self.monitor.budget.status())
        if planner is not None and run.epoch_complete:
            reason = self._plan(planner, epoch + 1, reason)
        if reason and not run.stop_reason:
            run.stop_reason = reason
            self.model.stop_training = True
        if run.stop_reason and self.model.stop_training:
            self.printer(run.stop_reason)

    def _plan(self, planner: EpochPlanner, epochs_done: int, reason: str | None) -> str | None:
        """epochs=0: replan (printing a new plan), apply it between epochs, stop at its end.
        Returns the stop reason left (None at the plan's end with the rate at 0)."""
        run = self.run
        step = optimizer_steps(self.model)
        line = planner.after_epoch(epochs_done, step)
        if line is not None:
            self.printer(line)
            run.set_plan(planner.plan)
            if run.last_checkpoint is not None and run.last_checkpoint.epoch == epochs_done:
                # The checkpoint was written before this plan: a resume must continue this one.
                run.last_checkpoint = checkpoints.update_meta(
                    run.last_checkpoint, plan=planner.plan.to_dict()
                )
        if planner.finished(epochs_done):
            self.model.stop_training = True
            if planner.plan.fraction(step) == 0.0:
                self.printer(
                    f"lr plan: done after epoch {epochs_done} of {planner.plan.epochs}; "
                    "the learning rate reached 0"
                )
                return None
        return reason


class ProgressPrinter(keras.callbacks.Callback):
    """One line per epoch with every loss (for logs, notebooks and `fit(verbose=0)`)."""

    def __init__(self, run: RunState, *, printer=print):
        super().__init__()
        self.run = run
        self.printer = printer

    def on_epoch_end(self, epoch, logs=None):
        if not self.run.epoch_complete:
            return
        losses = "  ".join(f"{k} {_float(v):.4f}" for k, v in (logs or {}).items())
        seconds = self.run.history.get("epoch_seconds", [0.0])[-1]
        planned = self.run.epochs if self.run.epochs > 0 else "?"  # "?": epochs=0, not planned yet
        self.printer(f"epoch {epoch + 1}/{planned} ({seconds:.1f}s): {losses}")


__all__ = [
    "BudgetCallback",
    "CheckpointCallback",
    "HISTORY_FILE",
    "HistoryCallback",
    "NanGuard",
    "ProgressPrinter",
    "RunState",
    "SampleGridCallback",
    "TrainingDivergedError",
    "export_generator",
    "optimizer_steps",
    "save_history",
    "save_samples",
]
