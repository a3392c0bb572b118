"""The session's time budget: train only while there is time left to write images.zip.

A Kaggle session has a hard limit counted from the notebook's start. The plan is

    deadline = started_at + session_limit
    reserved = measured time to write images.zip + safety margin
    train epoch after epoch while  now + next_epoch_estimate + reserved <= deadline

The epoch estimate leaves the compile warm-up out (the first epoch in a process is timed from the
end of its first step, then extrapolated to all its steps), and is updated from every finished
epoch: the estimate is the slowest of the last few, so epochs that turn out slower than planned
shrink the plan at once. If an epoch still overruns so far that the next batch would eat into the
reserve, training stops at this batch end (`BudgetMonitor.on_batch_end`).

With `epochs=0` the same estimate plans the run: `epochs_that_fit()` after each epoch is what
`painter.training.planner` turns into the number of epochs and the learning-rate schedule, so
the plan and the stop agree.

This module is Keras-free; `painter.training.callbacks.BudgetCallback` drives it from `fit()`.
Every time comes from one injectable `clock` (default `time.time`, so `started_at` may be the
notebook's `time.time()` from its first cell); tests pass a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def format_seconds(seconds: float) -> str:
    """`5415.2` -> `'1h30m15s'`; negative values keep their sign."""
    sign = "-" if seconds < 0 else ""
    seconds = int(round(abs(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


@dataclass
class TimeBudget:
    """A hard deadline `limit_seconds` after `started_at`, minus reserved time.

    Args:
        limit_seconds: the session limit.
        margin_seconds: kept free at the end (plots, validation, slack).
        started_at: when the session started, in `clock`'s units (default: now).
        clock: returns the current time in seconds (default `time.time`).
        recent: how many finished epochs the estimate looks back over (the slowest counts).
    """

    limit_seconds: float
    margin_seconds: float = 0.0
    started_at: float | None = None
    clock: Callable[[], float] = time.time
    recent: int = 3
    reserves: dict[str, float] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)
    compile_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.limit_seconds <= 0:
            raise ValueError(f"`limit_seconds` must be positive. Received: {self.limit_seconds}")
        if self.started_at is None:
            self.started_at = self.clock()

    @classmethod
    def from_config(
        cls, config, *, started_at: float | None = None, clock: Callable[[], float] = time.time
    ) -> TimeBudget:
        """The budget of `config.session_limit_minutes` and `config.safety_margin_minutes`."""
        return cls(
            limit_seconds=60.0 * config.session_limit_minutes,
            margin_seconds=60.0 * config.safety_margin_minutes,
            started_at=started_at,
            clock=clock,
        )

    # -- the accounts ---------------------------------------------------------------------------
    @property
    def _started(self) -> float:
        assert self.started_at is not None  # set by __post_init__
        return self.started_at

    @property
    def deadline(self) -> float:
        return self._started + self.limit_seconds

    def reserve(self, name: str, seconds: float) -> None:
        """Keep `seconds` free at the end for `name` (e.g. "images.zip"); replaces an earlier
        reserve of the same name."""
        if seconds < 0:
            raise ValueError(f"a reserve must be >= 0 seconds. Received: {name}={seconds}")
        self.reserves[name] = float(seconds)

    @property
    def reserved_seconds(self) -> float:
        return self.margin_seconds + sum(self.reserves.values())

    def elapsed(self) -> float:
        return self.clock() - self._started

    def remaining(self) -> float:
        """Seconds to the hard deadline."""
        return self.deadline - self.clock()

    def available(self) -> float:
        """Seconds left for training: remaining minus everything reserved."""
        return self.remaining() - self.reserved_seconds

    # -- epochs ---------------------------------------------------------------------------------
    def record_epoch(self, seconds: float, *, compile_seconds: float = 0.0) -> None:
        """A finished epoch took `seconds` (compile warm-up excluded); `compile_seconds` is the
        warm-up that was left out (reported, not planned for again)."""
        self.epoch_seconds.append(float(seconds))
        self.compile_seconds += float(compile_seconds)

    def epoch_estimate(self) -> float | None:
        """The planned length of the next epoch: the slowest of the last `recent` epochs, or
        None before any epoch finished."""
        if not self.epoch_seconds:
            return None
        return max(self.epoch_seconds[-self.recent :])

    def fits_another_epoch(self) -> bool:
        """Whether one more epoch ends before the reserved time begins."""
        estimate = self.epoch_estimate()
        return (
            self.available() >= (estimate if estimate is not None else 0.0) and self.available() > 0
        )

    def epochs_that_fit(self) -> int | None:
        estimate = self.epoch_estimate()
        if not estimate:
            return None
        return max(0, int(self.available() // estimate))

    # -- words ----------------------------------------------------------------------------------
    def plan(self) -> str:
        """The plan, printed when training starts."""
        reserves = ", ".join(f"{name} {format_seconds(s)}" for name, s in self.reserves.items())
        parts = [
            f"time budget: session limit {format_seconds(self.limit_seconds)}, "
            f"{format_seconds(self.elapsed())} already used, "
            f"{format_seconds(self.remaining())} left;",
            f"reserved at the end: {reserves + ', ' if reserves else ''}"
            f"safety margin {format_seconds(self.margin_seconds)};",
            f"{format_seconds(max(0.0, self.available()))} for training. "
            "Training stops before an epoch that would not fit.",
        ]
        return " ".join(parts)

    def status(self) -> str:
        """One line after each epoch: remaining time, the estimate, how many epochs still fit."""
        estimate = self.epoch_estimate()
        line = (
            f"time budget: {format_seconds(self.remaining())} to the deadline, "
            f"{format_seconds(self.available())} for training"
        )
        if estimate is not None:
            line += (
                f"; next epoch ~{format_seconds(estimate)} (slowest of the last "
                f"{min(self.recent, len(self.epoch_seconds))}); {self.epochs_that_fit()} more fit"
            )
        return line


class BudgetMonitor:
    """Times epochs from `fit()`'s hooks and decides when to stop (Keras-free).

    `on_epoch_begin()`, `on_batch_end(batch)` and `on_epoch_end()` return a stop reason (str) or
    None. The first epoch timed by this monitor (one per process: it includes compilation) is
    measured from the end of its first step and extrapolated to all its steps; later epochs count
    in full, end-of-epoch work (checkpoint, samples) included.
    """

    def __init__(self, budget: TimeBudget) -> None:
        self.budget = budget
        self._warm = False  # True once an epoch has been timed (compilation is behind us)
        self._epoch_begin = 0.0
        self._steps: int | None = None
        self._first_batch: tuple[int, float] | None = None
        self._last_batch: tuple[int, float] | None = None
        self.stopped_mid_epoch = False

    def on_epoch_begin(self, steps: int | None = None) -> None:
        """`steps`: batches in the epoch, if known (no mid-epoch stop after the last one)."""
        self._steps = steps
        self._epoch_begin = self.budget.clock()
        self._first_batch = self._last_batch = None

    def on_batch_end(self, batch: int) -> str | None:
        now = self.budget.clock()
        previous = self._last_batch[1] if self._last_batch else self._epoch_begin
        if self._first_batch is None:
            self._first_batch = (batch, now)
        self._last_batch = (batch, now)
        # Stop when the next batch (as long as the last one) would eat into the reserve.
        last_of_epoch = self._steps is not None and batch + 1 >= self._steps
        if not last_of_epoch and self.budget.available() < now - previous:
            self.stopped_mid_epoch = True
            return (
                f"time budget: stopping in the middle of the epoch after batch {batch}: only "
                f"{format_seconds(self.budget.remaining())} left, "
                f"{format_seconds(self.budget.reserved_seconds)} of it reserved"
            )
        return None

    def on_epoch_end(self, *, last_epoch: bool = False) -> str | None:
        """Record the epoch; a stop reason if the next one would not fit (None if it would, or
        if this was the last epoch anyway)."""
        now = self.budget.clock()
        total = now - self._epoch_begin
        if not self._warm and self._first_batch and self._last_batch:
            (first, t_first), (last, t_last) = self._first_batch, self._last_batch
            if last > first:
                per_step = (t_last - t_first) / (last - first)
                warm = per_step * (last + 1) + (now - t_last)
                compile_seconds = max(0.0, total - warm)
                self.budget.record_epoch(min(total, warm), compile_seconds=compile_seconds)
            else:  # one step (or one execution) per epoch: nothing to separate compile from
                self.budget.record_epoch(total)
        else:
            self.budget.record_epoch(total)
        self._warm = True
        if last_epoch:
            return None
        if not self.budget.fits_another_epoch():
            estimate = self.budget.epoch_estimate()
            assert estimate is not None  # the epoch just recorded
            return (
                f"time budget: stopping before the next epoch: it needs "
                f"~{format_seconds(estimate)}, "
                f"{format_seconds(max(0.0, self.budget.available()))} are left before the "
                f"reserved {format_seconds(self.budget.reserved_seconds)}"
            )
        return None


__all__ = ["TimeBudget", "BudgetMonitor", "format_seconds"]
