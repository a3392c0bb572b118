"""`train(config, workdir)`: one CycleGAN training run that resumes from its workdir by itself.

The order matters:

1. The workdir's config is checked first: a workdir made with another architecture is refused
   (before anything slow happens); other changes (more epochs, another learning rate) are printed.
   Then the workdir is locked (`workdir/.lock`): a second run on it stops at once, naming the
   first (`painter.training.lock`).
2. The last checkpoint that loads, if any, gives the epoch to start from (a damaged one is skipped
   with a warning; a finished run returns).
3. The runtime (backend + distribution) is selected before Keras is imported. The data pipeline
   starts at that epoch (its shuffling and augmentation are seeded per epoch, so a resumed run sees
   the batches an unbroken run would have seen) and the model gets back every weight, optimizer
   variable (iterations, hence the learning-rate schedule's position) and image pool.
4. The time budget reserves the measured time to write images.zip (`submission_estimate`, passed
   in by the caller: training does not import the submission), then `fit()` runs with the
   callbacks of `painter.training.callbacks`: NaN guard, history, checkpoint + export, sample
   grid, budget. With `epochs=0` the budget callback also plans how many epochs fit and scales
   the learning-rate schedule to them (`painter.training.planner`); the plan is kept in each
   checkpoint, so a resumed run continues it.
5. At the end: history.json and loss_curves.png; a divergence raises TrainingDivergedError (the
   last good checkpoint is kept).
Steps 1-2 are here; 3-5, after the runtime is selected, are `painter.training.fit.run_fit`.

Workdir layout:

    .lock                         while a run is in progress (an OS lock, released however it ends)
    config.json                   the resolved config of the latest run
    checkpoints/epoch-NNNN/       state.npz + meta.json; the last `keep_checkpoints` kept
                                  (in `config.checkpoint_dir` instead when that is set)
    history.json                  {metric: [one float per epoch], "epoch": [...], "epoch_seconds"}
    monet_generator.keras         the latest photo -> Monet generator (submit/stylize load it)
    samples/epoch-NNNN.png        real photo | fake Monet | cycled photo, the same photos each epoch
    loss_curves.png               every loss against the epoch

Resuming is exact up to floating-point nondeterminism: the same data order, the same schedule and
the same random streams (seeded per epoch and step). What can differ is the order of floating-point
reductions between processes (multithreaded CPU kernels, XLA autotuning on GPU/TPU); on CPU, the
end-to-end test bounds the difference of the weights after a resume (see tests/test_training.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from painter.config import Config
from painter.errors import ConfigError
from painter.runtime import Runtime, select_runtime
from painter.training import checkpoint as checkpoints
from painter.training.budget import TimeBudget
from painter.training.fit import DomainSource, SubmissionEstimate, TrainResult, run_fit
from painter.training.lock import WorkdirLock
from painter.training.planner import LrPlan

if TYPE_CHECKING:
    import keras


def check_workdir(
    config: Config, workdir: Path, *, printer: Callable[[str], None] = print
) -> Config | None:
    """Refuse a workdir whose config has another architecture; print the other differences.

    Returns the workdir's previous config (None for a fresh workdir). The latest checkpoint's
    config is authoritative; `config.json` counts when there is no checkpoint yet."""
    latest = checkpoints.latest_checkpoint(workdir, folder=config.checkpoint_dir or None)
    previous: Config | None = None
    where = ""
    if latest is not None:
        previous = Config.from_dict(latest.meta["config"], source=str(latest.path / "meta.json"))
        where = str(latest.path)
    elif (workdir / "config.json").is_file():
        previous = Config.load(workdir / "config.json")
        where = str(workdir / "config.json")
    if previous is None:
        return None
    before, now = previous.architecture(), config.architecture()
    differing = [name for name in Config.ARCHITECTURE_FIELDS if before[name] != now[name]]
    if differing:
        details = ", ".join(
            f"{name}: {before[name]!r} there, {now[name]!r} now" for name in differing
        )
        raise ConfigError(
            f"workdir {workdir} was made by a config with another architecture ({details}; "
            f"from {where}). Its checkpoints cannot be resumed with this config: use a new "
            "--workdir, or set these fields back to the workdir's values."
        )
    changes = config.diff(previous)
    if changes:
        printer(
            "resuming with changed settings (allowed; not architecture): "
            + ", ".join(f"{name} {old!r} -> {new!r}" for name, (old, new) in changes.items())
        )
    return previous


def train(
    config: Config,
    workdir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    monet: DomainSource | None = None,
    photo: DomainSource | None = None,
    budget: TimeBudget | None = None,
    submission_estimate: SubmissionEstimate | None = None,
    runtime: Runtime | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    printer: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or resume) a CycleGAN in `workdir` until `config.epochs`, the time budget, or a NaN.

    Args:
        config: every setting (`painter.config.preset(...)`).
        workdir: created if missing; resumed from if it holds checkpoints of a compatible config.
        data: a folder in Kaggle's layout (`monet_tfrec/`, `photo_tfrec/` or `*_jpg/`).
        monet, photo: explicit domain folders (or `ImageSource`s); they win over `data`.
        budget: a `painter.training.budget.TimeBudget` (e.g. started at the notebook's start);
            default: `config.session_limit_minutes` from now.
        submission_estimate: (painting generator, photo count) -> the seconds writing images.zip
            will take, called once the model is built; the budget keeps them free at the end
            (`painter.submission.submission_reserve(config)` measures it). None: nothing is
            reserved for images.zip (unless `budget` already holds an "images.zip" reserve).
        runtime: a `painter.runtime.Runtime`; default `select_runtime(config.backend,
            config.distribution)`.
        callbacks: extra Keras callbacks, run after painter's own.
        verbose: `fit()`'s verbosity (painter prints one line per epoch besides).
        printer: where progress lines go.

    Returns:
        TrainResult.

    Raises:
        ConfigError: the workdir was made by an incompatible architecture.
        TrainingDivergedError: a loss or weight became NaN/Inf (message: the loss, the epoch and
            the batch window); the last good checkpoint is kept.
        DataError: missing or bad input data.
    """
    started = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    printer(config.describe())
    # 1. The workdir's config first: refusing takes no time. Then one run at a time.
    check_workdir(config, workdir, printer=printer)
    with WorkdirLock(workdir):
        return _train_locked(
            config,
            workdir,
            data=data,
            monet=monet,
            photo=photo,
            budget=budget,
            submission_estimate=submission_estimate,
            runtime=runtime,
            callbacks=callbacks,
            verbose=verbose,
            printer=printer,
            started=started,
        )


def _train_locked(
    config: Config,
    workdir: Path,
    *,
    data: str | os.PathLike | None,
    monet: DomainSource | None,
    photo: DomainSource | None,
    budget: TimeBudget | None,
    submission_estimate: SubmissionEstimate | None,
    runtime: Runtime | None,
    callbacks: list[keras.callbacks.Callback] | None,
    verbose: int | str,
    printer: Callable[[str], None],
    started: float,
) -> TrainResult:
    folder = checkpoints.checkpoint_dir(workdir, config.checkpoint_dir or None)
    removed = checkpoints.remove_partial_checkpoints(workdir, folder=folder)
    if removed:
        printer(f"removed {len(removed)} incomplete checkpoint(s) left by an interrupted save")

    # 2. Where to start: the newest checkpoint that loads (a damaged one is skipped, warned).
    latest, state = checkpoints.latest_resumable(workdir, folder=folder, warn=printer)
    start_epoch = latest.epoch if latest is not None else 0
    history: dict[str, list[float]] = (
        {k: list(v) for k, v in latest.meta.get("history", {}).items()} if latest else {}
    )
    config.save(workdir / "config.json")
    restored_plan = _restored_plan(latest)
    finished = _finished(config, latest, restored_plan)
    if finished:
        hint = (
            "Raise `epochs` to train further"
            if config.epochs > 0
            else f"Set `epochs` above {start_epoch} to train further with a fixed schedule"
        )
        printer(
            f"{workdir} already holds {start_epoch} epochs ({finished}): nothing to train. {hint}."
        )
        generator_path = workdir / checkpoints.GENERATOR_FILE
        return TrainResult(
            workdir=workdir,
            start_epoch=start_epoch,
            epochs_done=start_epoch,
            history=history,
            seconds=time.perf_counter() - started,
            generator_path=generator_path if generator_path.exists() else None,
            planned_epochs=restored_plan.epochs if restored_plan else 0,
        )
    # 3. The runtime before Keras.
    if runtime is None:
        runtime = select_runtime(config.backend, config.distribution)
    # Handed over in a list that run_fit empties: ~0.4 GB at 256 px is not kept alive by this frame.
    pending_state = [state]
    del state
    return run_fit(
        config,
        workdir,
        runtime,
        latest,
        pending_state,
        restored_plan,
        start_epoch,
        history,
        data=data,
        monet=monet,
        photo=photo,
        budget=budget,
        submission_estimate=submission_estimate,
        extra_callbacks=callbacks or [],
        verbose=verbose,
        printer=printer,
        started=started,
        folder=folder,
    )


def _restored_plan(latest: checkpoints.Checkpoint | None) -> LrPlan | None:
    """The learning-rate plan a checkpoint was written under (None: none saved)."""
    if latest is None or not latest.meta.get("plan"):
        return None
    return LrPlan.from_dict(latest.meta["plan"])


def _finished(
    config: Config, latest: checkpoints.Checkpoint | None, plan: LrPlan | None
) -> str | None:
    """Why there is nothing to train (in words), or None."""
    done = latest.epoch if latest is not None else 0
    if config.epochs > 0:
        return f"config.epochs = {config.epochs}" if done >= config.epochs else None
    # epochs=0: finished once the plan's last epoch is done with the rate at 0. A run the budget
    # stopped earlier (rate above 0) continues its plan in a new session.
    steps = latest.meta.get("optimizer_steps") if latest is not None else None
    if (
        plan is not None
        and plan.epochs > 0
        and done >= plan.epochs
        and steps is not None
        and plan.fraction(steps) == 0.0
    ):
        return f"epochs=0: its plan of {plan.epochs} epochs is done and the learning rate is 0"
    return None


__all__ = ["TrainResult", "train", "check_workdir"]
