"""epochs=0 with a fake clock: the number of epochs is planned from the time budget, the learning
rate decays to 0 exactly with the last planned epoch, replans keep the rate continuous, and the
plan survives a checkpoint round trip."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_budget import FakeClock

from painter.config import preset
from painter.training.budget import TimeBudget
from painter.training.planner import EpochPlanner, LrPlan, replan

STEPS = 10  # optimizer steps per epoch in the simulations


def test_fixed_plan_is_the_papers_schedule():
    plan = LrPlan.fixed(epochs=4, decay_epochs=2, steps_per_epoch=10)
    assert [plan.fraction(s) for s in (0, 19, 20, 30, 39, 40, 50)] == pytest.approx(
        [1, 1, 1, 0.5, 0.05, 0, 0]
    )
    assert LrPlan.fixed(3, 0, 5).fraction(1000) == 1.0
    assert LrPlan.from_dict(plan.to_dict()) == plan


def test_first_plan_decays_over_the_last_half():
    plan = replan(LrPlan(), epochs_done=1, step=10, epochs_that_fit=9, steps_per_epoch=10)
    assert (plan.epochs, plan.decay_start_step, plan.end_step, plan.start_fraction) == (
        10,
        50,
        100,
        1.0,
    )
    odd = replan(LrPlan(), epochs_done=1, step=10, epochs_that_fit=6, steps_per_epoch=10)
    assert (odd.epochs, odd.decay_start_step, odd.end_step) == (7, 30, 70)  # last 4 of 7
    # Unchanged count: the same plan object (nothing printed, nothing rewritten).
    assert replan(plan, epochs_done=2, step=20, epochs_that_fit=8, steps_per_epoch=10) is plan
    flat = replan(
        LrPlan(), epochs_done=1, step=10, epochs_that_fit=4, steps_per_epoch=10, decay=False
    )
    assert flat.epochs == 5 and not flat.decays and flat.fraction(10**6) == 1.0


@pytest.mark.parametrize("done, fit", [(3, 2), (3, 12), (7, 1), (7, 10), (9, 3), (2, 1)])
def test_a_replan_is_continuous_and_still_ends_at_zero(done, fit):
    plan = LrPlan.fixed(epochs=10, decay_epochs=5, steps_per_epoch=10)
    step = done * 10
    new = replan(plan, epochs_done=done, step=step, epochs_that_fit=fit, steps_per_epoch=10)
    assert new.epochs == done + fit
    assert new.fraction(step) == pytest.approx(plan.fraction(step))  # no jump
    assert new.fraction(new.end_step) == 0.0 and new.end_step == (done + fit) * 10
    assert new.fraction(new.end_step - 1) > 0  # reaches 0 with the last step, not before
    values = [new.fraction(s) for s in range(step, new.end_step + 1)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # never rises


def test_nothing_more_fits_keeps_the_rate_for_a_resume():
    plan = LrPlan.fixed(epochs=10, decay_epochs=5, steps_per_epoch=10)
    stopped = replan(plan, epochs_done=7, step=70, epochs_that_fit=0, steps_per_epoch=10)
    assert stopped.epochs == 7 and stopped.fraction(70) == plan.fraction(70) == 0.6


# -- the planner driven like fit() drives it, through the real BudgetCallback ---------------------
class FakeSchedule:
    def __init__(self):
        self.plans = []

    def set_plan(self, *vector):
        self.plans.append(vector)


def simulate(
    tmp_path,
    *,
    limit: float,
    epoch_seconds,
    reserve: float = 60.0,
    compile_seconds: float = 30.0,
    plan: LrPlan | None = None,
    start_step: int = 0,
    start_epoch: int = 0,
    clock: FakeClock | None = None,
):
    """Epochs of STEPS steps until the callback stops fit(); `epoch_seconds(epoch)` is the true
    cost of an epoch. Returns (fraction of the rate at every step, plans in force per epoch,
    printed lines, budget, clock)."""
    from painter.training.callbacks import BudgetCallback, RunState

    clock = clock or FakeClock()
    budget = TimeBudget(limit, margin_seconds=30.0, clock=clock)
    budget.reserve("images.zip", reserve)
    lines: list[str] = []
    run = RunState(
        workdir=tmp_path,
        config=preset("smoke").replace(epochs=0),
        epochs=0,
        schedules=[FakeSchedule()],
    )
    run.planner = EpochPlanner(budget, STEPS, plan=plan)
    run.set_plan(run.planner.plan)

    class Model:
        stop_training = False
        optimizer = SimpleNamespace(iterations=np.int64(start_step))  # what the callback reads

    model = Model()
    callback = BudgetCallback(run, budget, printer=lines.append)
    callback.set_model(model)
    callback.set_params({"steps": STEPS})
    callback.on_train_begin()
    fractions, plans = [], []
    epoch = start_epoch
    while not model.stop_training:
        callback.on_epoch_begin(epoch)
        plans.append(run.plan)
        for batch in range(STEPS):
            fractions.append(run.plan.fraction(model.optimizer.iterations))
            model.optimizer.iterations += 1
            clock.advance(
                epoch_seconds(epoch) / STEPS
                + (compile_seconds if batch == 0 and epoch == start_epoch else 0)
            )
            callback.on_train_batch_end(batch)
            if model.stop_training:
                break
        callback.on_epoch_end(epoch)
        epoch += 1
    return fractions, plans, lines, run, budget


def check_schedule(fractions, plans, first=1.0, start_step=0):
    """Starting at `first`, never rising, no jump larger than one step of the steepest decay, 0
    only after the very last step."""
    steps = np.asarray(fractions)
    assert steps[0] == pytest.approx(first)
    assert np.all(np.diff(steps) <= 1e-12), "the rate rose"
    steepest = max(1.0 / max(p.end_step - p.decay_start_step, 1) for p in plans if p.decays)
    assert np.max(-np.diff(steps)) <= steepest * 1.0001, "the rate jumped"
    assert steps[-1] > 0  # the last step still trains; the rate after it is 0
    last = plans[-1]
    assert last.fraction(start_step + len(steps)) == 0.0


def test_steady_epochs_use_the_budget_and_end_at_zero(tmp_path):
    fractions, plans, lines, run, budget = simulate(
        tmp_path, limit=3600, epoch_seconds=lambda e: 100.0
    )
    # 3,600 s - 30 margin - 60 zip - 30 compile = 3,480 s: 34 epochs of 100 s.
    assert len(fractions) == 34 * STEPS and run.plan.epochs == 34
    assert run.stop_reason is None and budget.available() >= 0
    assert budget.available() < 100  # less than one epoch of the training time left unused
    check_schedule(fractions, plans)
    assert plans[-1].decay_start_step == 17 * STEPS  # the last half: 17 of 34 epochs
    assert sum(line.startswith("lr plan (epochs=0): 34 epochs") for line in lines) == 1
    assert not any("lr plan changed" in line for line in lines)
    assert any("lr plan: done after epoch 34 of 34" in line for line in lines)
    assert run.schedules[0].plans[-1] == run.plan.vector()


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_slower_or_faster_epochs_replan_and_still_end_at_zero(tmp_path, factor):
    def seconds(epoch):
        return 100.0 if epoch < 12 else 100.0 * factor

    fractions, plans, lines, run, budget = simulate(tmp_path, limit=3600, epoch_seconds=seconds)
    changes = [line for line in lines if "lr plan changed" in line]
    assert changes, lines
    check_schedule(fractions, plans)
    assert run.stop_reason is None and budget.available() >= 0
    assert budget.available() < 100 * max(factor, 1)
    assert len(fractions) == run.plan.epochs * STEPS


def test_a_resumed_run_continues_the_plan_from_the_checkpoint(tmp_path):
    """A session that ran 10 epochs of a 34-epoch plan; the next session (a fresh budget) starts
    from the saved plan, keeps its rate, and replans to the new budget."""
    first = LrPlan.fixed(34, 17, STEPS)
    saved = LrPlan.from_dict(first.to_dict())
    fractions, plans, lines, run, _ = simulate(
        tmp_path,
        limit=1800,
        plan=saved,
        epoch_seconds=lambda e: 100.0,
        start_step=20 * STEPS,
        start_epoch=20,
    )
    assert fractions[0] == pytest.approx(first.fraction(20 * STEPS))  # where it stopped
    assert any("lr plan changed after epoch 21" in line for line in lines)
    check_schedule(fractions, plans, first=first.fraction(20 * STEPS), start_step=20 * STEPS)
    assert run.plan.epochs == 20 + 16  # 1,800 - 30 - 60 - 30 compile: 16 epochs of 100 s


def test_config_epochs_0_is_the_default_of_the_session_presets():
    from painter.errors import ConfigError

    assert preset("kaggle-tpu").epochs == preset("cpu-small").epochs == 0
    assert preset("kaggle-tpu").decay_epochs > 0  # decays over the last half of the plan
    assert preset("smoke").epochs == 2 and preset("smoke").checkpoint_dir == ""
    with pytest.raises(ConfigError, match=r"`epochs` must be >= 0. Received: -1"):
        preset("smoke").replace(epochs=-1)
    with pytest.raises(ConfigError, match="`decay_epochs` must be in"):
        preset("smoke").replace(epochs=3, decay_epochs=4)
    assert preset("smoke").replace(epochs=0, decay_epochs=40).decay_epochs == 40
