"""`RunState`: what `fit()`'s callbacks (`painter.training.callbacks`) tell each other and the
code that runs them (`painter.training.fit`): the history, the plan in force, whether the epoch
diverged or was cut short, and why training stopped. Keras-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painter.training import checkpoint as checkpoints
from painter.training.planner import EpochPlanner, LrPlan


@dataclass
class RunState:
    """What the callbacks of one `fit()` tell each other."""

    workdir: Path
    config: Any
    epochs: int
    history: dict[str, list[float]] = field(default_factory=dict)
    diverged: str | None = None  # the message, once a NaN/Inf was seen
    stop_reason: str | None = None  # why training stopped early (time budget)
    partial_epoch: bool = False  # the current epoch was cut short (mid-epoch budget stop)
    last_checkpoint: checkpoints.Checkpoint | None = None
    epoch_began: float = 0.0
    checkpoint_folder: Path | None = None  # config.checkpoint_dir, or None = workdir/checkpoints
    plan: LrPlan | None = None  # the learning-rate plan in force (saved in each checkpoint)
    planner: EpochPlanner | None = None  # epochs=0: plans epochs and lr from the budget
    schedules: list = field(default_factory=list)  # the optimizers' LinearDecaySchedules
    progbar: Any = None  # Keras' progress bar, told the planned epoch count

    def set_plan(self, plan: LrPlan) -> None:
        """Make `plan` the one in force: in the optimizers' schedules and in `run.plan`."""
        self.plan = plan
        for schedule in self.schedules:
            schedule.set_plan(*plan.vector())
        if plan.epochs > 0:
            self.epochs = plan.epochs
            if self.progbar is not None:
                self.progbar.epochs = plan.epochs

    @property
    def epoch_complete(self) -> bool:
        return self.diverged is None and not self.partial_epoch

    def epochs_done(self) -> int:
        return len(self.history.get("epoch", []))
