"""epochs=0 in a real training run: the number of epochs is planned from the time budget (a fake
clock ticking per batch), the learning rate reaches 0 with the last planned epoch, the plan
drives the compiled step (not just a variable), checkpoints live in `checkpoint_dir`, and a
resumed run finds them there. On JAX with 8 host devices (a subprocess): steps_per_epoch is a
multiple of steps_per_execution and the optimizer's iterations are exactly epochs x steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import xla_flags
from test_budget import FakeClock

from painter.config import preset
from painter.training.checkpoint import list_checkpoints

SECONDS_PER_BATCH_END = 10.0


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from painter.training.synthetic import make_dataset

    return make_dataset(
        tmp_path_factory.mktemp("data"), photos=16, monets=8, size=48, records_per_file=8
    )


def make_callbacks(clock: FakeClock, record: list):
    """A callback that advances the fake clock at every batch end (after the budget has seen
    it), and one that records (optimizer iterations, generator lr) at every epoch end (after the
    planner has set the plan for the next epoch)."""
    import keras

    class Tick(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            clock.advance(SECONDS_PER_BATCH_END)

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            optimizer = self.model.generator_optimizer
            record.append(
                (
                    int(keras.ops.convert_to_numpy(optimizer.iterations)),
                    float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                )
            )

    return [Tick(), Record()]


def test_epochs_0_plans_the_run_and_the_lr_reaches_0_with_the_last_epoch(tmp_path, tiny_data):
    """Interrupted after epoch 2 of a 4-epoch plan, resumed in a new "session": the plan comes
    back from the checkpoint and the lr still reaches 0 with epoch 4."""
    import keras

    from painter.runtime import select_runtime
    from painter.training.budget import TimeBudget
    from painter.training.train import train

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                raise KeyboardInterrupt  # like Ctrl-C, or the session ending

    # smoke: 4 steps a epoch, 2 per execution -> 2 batch ends of 10 fake seconds: 20 s an epoch.
    config = preset("smoke").replace(
        epochs=0, decay_epochs=1, steps_per_execution=2, checkpoint_dir=str(tmp_path / "elsewhere")
    )
    workdir = tmp_path / "run"
    runtime = select_runtime(keras.backend.backend(), "single")
    record: list = []
    lines: list[str] = []

    def session(limit_seconds: float, extra: list):
        clock = FakeClock()
        budget = TimeBudget(limit_seconds=limit_seconds, clock=clock)
        budget.reserve("images.zip", 0.0)  # no real-time measurement on a fake clock
        return train(
            config,
            workdir,
            data=tiny_data,
            runtime=runtime,
            budget=budget,
            verbose=0,
            callbacks=[*make_callbacks(clock, record), *extra],
            printer=lines.append,
        )

    with pytest.raises(KeyboardInterrupt):
        session(90.0, [Interrupt()])  # 4 epochs of 20 s fit, not 5
    assert sum(line.startswith("lr plan (epochs=0): 4 epochs") for line in lines) == 1, lines
    lines.clear()
    result = session(50.0, [])  # after the resumed epoch 3, one more fits: the plan holds
    assert any(
        line.startswith(
            "lr plan continued from epoch-0002: 4 epochs: lr 0.0002 now, "
            "linearly to 0 at the end of epoch 4"
        )
        for line in lines
    ), lines
    assert (result.start_epoch, result.epochs_done, result.planned_epochs) == (2, 4, 4)
    assert result.stop_reason is None and result.history["epoch"] == [1, 2, 3, 4]
    assert any("lr plan: done after epoch 4 of 4" in line for line in lines)
    # Iterations: exactly 4 per epoch. lr: constant for 2 epochs, then linearly to 0 at step 16.
    assert [steps for steps, _ in record] == [4, 8, 12, 16]
    np.testing.assert_allclose([lr for _, lr in record], [2e-4, 2e-4, 1e-4, 0.0], atol=1e-10)
    # The plan drove the compiled step: it was traced with the constant (unplanned) rate, yet
    # one more execution now, at lr 0, leaves the generators' weights exactly as they are.
    model = result.model
    before = [np.array(w) for w in model.monet_generator.get_weights()]
    import tensorflow as tf

    pair = np.random.default_rng(0).uniform(-1, 1, (2, 2, 32, 32, 3)).astype("float32")
    model.fit(
        tf.data.Dataset.from_tensors((pair[0], pair[1])).repeat(),
        epochs=1,
        steps_per_epoch=2,
        verbose=0,
        shuffle=False,
    )
    for old, new in zip(before, model.monet_generator.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)

    # Checkpoints went to checkpoint_dir; the workdir holds what a notebook's output should.
    assert not (workdir / "checkpoints").exists()
    assert sorted(p.name for p in workdir.iterdir()) == [
        "config.json",
        "history.json",
        "loss_curves.png",
        "monet_generator.keras",
        "samples",
    ]
    saved = list_checkpoints(workdir, folder=tmp_path / "elsewhere")
    assert [c.epoch for c in saved] == [3, 4]
    assert saved[-1].meta["plan"] == {
        "epochs": 4,
        "decay_start_step": 8,
        "end_step": 16,
        "start_fraction": 1.0,
    }
    # A rerun finds them there: the plan is done and the rate at 0, so nothing is trained.
    lines.clear()
    again = train(config, workdir, data=tiny_data, runtime=runtime, verbose=0, printer=lines.append)
    assert again.epochs_done == 4 and again.model is None
    assert any("its plan of 4 epochs is done" in line for line in lines)


EIGHT_DEVICES = r"""
import json, os, sys
from pathlib import Path

import keras
from painter.config import preset
from painter.runtime import select_runtime
from painter.training.budget import TimeBudget
from painter.training.synthetic import make_dataset
from painter.training.train import train

sys.path.insert(0, sys.argv[2])
from test_budget import FakeClock
from test_training_planned import make_callbacks

out = Path(sys.argv[1])
data = make_dataset(out / "data", photos=40, monets=8, size=32, records_per_file=20)
runtime = select_runtime("jax", "data_parallel")
# 40 photos / 8 = 5 batches; 2 steps per execution: rounded down to 4 steps an epoch.
config = preset("smoke").replace(epochs=0, decay_epochs=1, global_batch_size=8,
                                 steps_per_epoch=0, steps_per_execution=2, sample_count=0)
clock = FakeClock()
budget = TimeBudget(limit_seconds=90.0, clock=clock)  # 4 epochs of 20 fake seconds
budget.reserve("images.zip", 0.0)
record, lines = [], []
result = train(config, out / "run", data=data, runtime=runtime, budget=budget, verbose=0,
               callbacks=make_callbacks(clock, record), printer=lines.append)
# One more execution at the plan's end (lr 0) leaves the weights as they are: the plan reached
# the jitted step, which was traced with the constant rate before any plan existed.
import numpy as np
import tensorflow as tf
model = result.model
before = [np.array(w) for w in model.monet_generator.get_weights()]
pair = np.random.default_rng(0).uniform(-1, 1, (2, 8, 32, 32, 3)).astype("float32")
model.fit(tf.data.Dataset.from_tensors((pair[0], pair[1])).repeat(), epochs=1, steps_per_epoch=2,
          verbose=0, shuffle=False)
unchanged = all(np.array_equal(a, np.array(b))
                for a, b in zip(before, model.monet_generator.get_weights(), strict=True))
json.dump({"replicas": runtime.num_replicas, "record": record, "lines": lines,
           "epochs_done": result.epochs_done, "planned": result.planned_epochs,
           "unchanged_at_lr_0": unchanged}, open(out / "result.json", "w"))
"""


@pytest.mark.slow
def test_on_8_jax_devices_iterations_are_exactly_epochs_times_steps(tmp_path):
    """Keras runs whole executions: 5 steps at 2 per execution would run 6 per epoch (6, 12, 15
    before the fix). Rounded down to 4: iterations 4, 8, 12, 16; and the epochs=0 plan drives
    the lr to 0 at the last epoch on JAX, where fit() holds the state outside the variables."""
    script = tmp_path / "eight.py"
    script.write_text(EIGHT_DEVICES)
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        TF_CPP_MIN_LOG_LEVEL="2",
        XLA_FLAGS=xla_flags(8),
    )
    tests = Path(__file__).resolve().parent
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(tests)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["replicas"] == 8
    assert any(
        "rounded down from 5 to 4, a multiple of steps_per_execution=2" in line
        for line in result["lines"]
    ), result["lines"]
    assert [steps for steps, _ in result["record"]] == [4, 8, 12, 16]
    assert result["epochs_done"] == result["planned"] == 4
    assert result["unchanged_at_lr_0"]
    np.testing.assert_allclose(
        [lr for _, lr in result["record"]], [2e-4, 2e-4, 2e-4 * 4 / 8, 0.0], atol=1e-10
    )
