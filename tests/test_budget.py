"""The time budget with a fake clock: training stops in time and images.zip is written before the
deadline, also when epochs turn out slower than planned."""

from __future__ import annotations

import pytest

from painter.config import preset
from painter.training.budget import BudgetMonitor, TimeBudget, format_seconds


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def simulate(
    budget: TimeBudget,
    clock: FakeClock,
    *,
    epochs: int,
    steps: int,
    step_seconds,
    compile_seconds: float = 0.0,
    end_of_epoch_seconds: float = 0.0,
):
    """Drive a BudgetMonitor like fit() would. `step_seconds(epoch, step)` is the true cost.
    Returns (epochs finished, stop reasons)."""
    monitor = BudgetMonitor(budget)
    finished, reasons = 0, []
    for epoch in range(epochs):
        monitor.on_epoch_begin(steps)
        stopped = None
        for step in range(steps):
            clock.advance(
                step_seconds(epoch, step) + (compile_seconds if epoch == step == 0 else 0)
            )
            stopped = monitor.on_batch_end(step)
            if stopped:
                reasons.append(stopped)
                break
        clock.advance(end_of_epoch_seconds)
        reason = monitor.on_epoch_end(last_epoch=epoch + 1 == epochs)
        if stopped:
            break
        finished += 1
        if reason:
            reasons.append(reason)
            break
    return finished, reasons


def test_steady_epochs_stop_before_the_one_that_would_not_fit():
    clock = FakeClock()
    budget = TimeBudget(3600, margin_seconds=120, clock=clock)
    budget.reserve("images.zip", 300)
    finished, reasons = simulate(
        budget, clock, epochs=50, steps=30, step_seconds=lambda e, s: 10.0, compile_seconds=60.0
    )
    # By hand: 3180 s for training; epoch k ends at 60 + 300 k; after epoch 10 (3060 s) only
    # 120 s are left, less than an epoch of 300 s.
    assert finished == 10
    assert "before the next epoch" in reasons[-1]
    assert budget.epoch_estimate() == pytest.approx(300.0)  # the compile time is left out
    assert budget.compile_seconds == pytest.approx(60.0)
    clock.advance(300)  # write images.zip
    assert clock.now <= budget.deadline - 120 + 1e-6  # the safety margin is untouched


def test_all_epochs_run_when_they_fit():
    clock = FakeClock()
    budget = TimeBudget(3600, clock=clock)
    finished, reasons = simulate(budget, clock, epochs=5, steps=10, step_seconds=lambda e, s: 1.0)
    assert (finished, reasons) == (5, [])


def test_time_used_before_training_counts():
    clock = FakeClock(now=5000.0)
    budget = TimeBudget(
        3600, started_at=5000.0 - 3000, clock=clock
    )  # the notebook began 50 min ago
    finished, _ = simulate(budget, clock, epochs=50, steps=10, step_seconds=lambda e, s: 10.0)
    assert finished == 6  # 600 s left, 100 s an epoch


@pytest.mark.parametrize("slowdown", [1.5, 3.0, 20.0])
def test_slower_epochs_still_leave_the_zip_its_time(slowdown):
    """Epoch 3 onwards is `slowdown` times slower than the first two (thermal throttling, a noisy
    neighbour): the estimate follows, and a far overrun is cut at a batch end."""
    clock = FakeClock()
    zip_seconds, margin = 400.0, 60.0
    budget = TimeBudget(3600, margin_seconds=margin, clock=clock)
    budget.reserve("images.zip", zip_seconds)
    step = lambda epoch, s: 5.0 * (slowdown if epoch >= 2 else 1.0)  # noqa: E731
    finished, reasons = simulate(
        budget,
        clock,
        epochs=100,
        steps=40,
        step_seconds=step,
        compile_seconds=30.0,
        end_of_epoch_seconds=5.0,
    )
    assert reasons, "training must stop early"
    clock.advance(zip_seconds)
    assert clock.now <= budget.deadline, "images.zip must be written before the deadline"
    assert budget.epoch_estimate() >= 5.0 * 40 * min(slowdown, 3.0)
    if slowdown == 20.0:
        assert "middle of the epoch" in reasons[-1]


def test_the_estimate_is_the_slowest_of_recent_epochs():
    budget = TimeBudget(100, clock=FakeClock())
    for seconds in (10, 30, 12, 11, 13):
        budget.record_epoch(seconds)
    assert budget.epoch_estimate() == 13  # the slow 30 s epoch is older than the last three
    budget.record_epoch(25)
    assert budget.epoch_estimate() == 25


def test_plan_and_status_say_what_is_reserved():
    clock = FakeClock()
    budget = TimeBudget.from_config(preset("kaggle-tpu"), clock=clock)
    budget.reserve("images.zip", 95)
    plan = budget.plan()
    assert "session limit 3h00m00s" in plan and "images.zip 1m35s" in plan
    assert "safety margin 10m00s" in plan
    budget.record_epoch(600)
    clock.advance(700)
    assert (
        "next epoch ~10m00s" in budget.status() and "15 more fit" in budget.status()
    )  # (10800-700-695)//600


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="limit_seconds"):
        TimeBudget(0)
    with pytest.raises(ValueError, match="reserve"):
        TimeBudget(10).reserve("images.zip", -1)


def test_format_seconds():
    assert format_seconds(5415.2) == "1h30m15s"
    assert format_seconds(59.6) == "1m00s"
    assert format_seconds(-7) == "-7s"


@pytest.mark.backend
def test_budget_callback_sets_stop_training(tmp_path):
    """The Keras callback stops fit() through `model.stop_training`."""
    from painter.training.callbacks import BudgetCallback, RunState

    class Model:
        stop_training = False

    clock = FakeClock()
    budget = TimeBudget(100, clock=clock)
    lines = []
    run = RunState(workdir=tmp_path, config=preset("smoke"), epochs=10)
    callback = BudgetCallback(run, budget, printer=lines.append)
    callback.set_model(Model())
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for batch in range(4):
        clock.advance(10)
        callback.on_train_batch_end(batch)
    callback.on_epoch_end(0)
    assert not callback.model.stop_training  # 60 s left, an epoch takes 40
    callback.on_epoch_begin(1)
    for batch in range(4):
        clock.advance(10)
        callback.on_train_batch_end(batch)
    callback.on_epoch_end(1)
    assert callback.model.stop_training
    assert "before the next epoch" in run.stop_reason
    assert lines[0].startswith("time budget: session limit")
