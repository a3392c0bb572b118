"""`train(config, workdir)`: one CycleGAN training run that resumes from its workdir by itself.

The order matters:

1. The workdir's config is checked first: a workdir made with another architecture is refused
   (before anything slow happens); other changes (more epochs, another learning rate) are printed.
   Then the workdir is locked (`workdir/.lock`): a second run on it stops at once, naming the
   first (`painter.training.lock`).
2. The last checkpoint that loads, if any, gives the epoch to start from (a damaged one is skipped
   with a warning; a finished run returns).
3. The runtime (backend + distribution) is selected before Keras is imported. The data pipeline
starts
   at that epoch (its shuffling and augmentation are seeded per epoch, so a resumed run sees the
   batches an unbroken run would have seen) and the model gets back every weight, optimizer
   variable (iterations, hence the learning-rate schedule's position) and image pool.
4. The time budget reserves the measured time to write images.zip (`submission_estimate`, passed
   in by the caller: training does not import the submission), then `fit()` runs with the
   callbacks of `painter.training.callbacks`: NaN guard, history, checkpoint + export, sample
   grid, budget. With `epochs=0` the budget callback also plans how many epochs fit and scales
   the learning-rate schedule to them (`painter.training.planner`); the plan is kept in each
   checkpoint, so a resumed run continues it.
5. At the end: history.json and loss_curves.png; a divergence raises TrainingDivergedError (the
   last good checkpoint is kept).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from painter.config import Config
from painter.data.images import pixels_to_model_range
from painter.data.pipeline import make_training_dataset
from painter.data.reader import iterate_images
from painter.data.sources import find_domains
from painter.errors import ConfigError
from painter.plots import plot_loss_curves
from painter.runtime import select_runtime
from painter.training import checkpoint as checkpoints
from painter.training.budget import TimeBudget
from painter.training.lock import WorkdirLock
from painter.training.planner import EpochPlanner, LrPlan

# fit()'s epoch count when epochs=0: the planner stops training; this bound is never reached.
PLANNED_FIT_EPOCHS = 1_000_000


@dataclass
class TrainResult:
    """What a `train()` call did.

    Attributes:
        workdir: where everything is.
        start_epoch: epochs already done when this call started (0 for a fresh workdir).
        epochs_done: epochs done when it returned (checkpointed).
        history: {metric: [one float per epoch]} over all epochs (resumed ones included).
        stop_reason: why training stopped before `config.epochs` or, with `epochs=0`, before
            the plan's end (time budget), else None.
        generator_path: `monet_generator.keras`, or None if no epoch finished.
        seconds: wall time of this call.
        model: the trained CycleGAN (None if nothing was trained in this call).
        planned_epochs: with `epochs=0`, the epochs of the last plan (0 if none was made).
    """

    workdir: Path
    start_epoch: int
    epochs_done: int
    history: dict[str, list[float]] = field(default_factory=dict)
    stop_reason: str | None = None
    generator_path: Path | None = None
    seconds: float = 0.0
    model: Any = None
    planned_epochs: int = 0


def check_workdir(config: Config, workdir: Path, *, printer=print) -> Config | None:
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
    monet: Any = None,
    photo: Any = None,
    budget: Any = None,
    submission_estimate: Callable[[Any, int], float] | None = None,
    runtime: Any = None,
    callbacks: list | None = None,
    verbose: int | str = "auto",
    printer=print,
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
    data,
    monet,
    photo,
    budget,
    submission_estimate,
    runtime,
    callbacks,
    verbose,
    printer,
    started,
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
    # Handed over in a list that _fit empties: ~0.4 GB at 256 px is not kept alive by this frame.
    pending_state = [state]
    del state
    return _fit(
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


def _finished(config: Config, latest, plan: LrPlan | None) -> str | None:
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


def _fit(
    config,
    workdir,
    runtime,
    latest,
    pending_state,
    restored_plan,
    start_epoch,
    history,
    *,
    data,
    monet,
    photo,
    budget,
    submission_estimate,
    extra_callbacks,
    verbose,
    printer,
    started,
    folder,
) -> TrainResult:
    import keras

    from painter.cyclegan.model import build_cyclegan
    from painter.cyclegan.schedule import track_schedules
    from painter.training import callbacks as cb

    monet_source, photo_source = find_domains(data, monet=monet, photo=photo)
    # tf.data's seeded shuffles also depend on TensorFlow's global seed: set it before the
    # pipeline is built, so every run (the first in a process, a later one, a resumed one) sees
    # the same batches. build_cyclegan sets it again for the weights.
    keras.utils.set_random_seed(config.seed)
    with runtime.scope():
        training_data = make_training_dataset(
            monet_source,
            photo_source,
            config,
            num_replicas=runtime.num_replicas,
            start_epoch=start_epoch,
        )
        model = build_cyclegan(config, training_data.steps_per_epoch)
        # The schedules' plan becomes optimizer state (before set_state: checkpoints hold it).
        schedules = track_schedules(model)
        state = pending_state.pop()
        if latest is not None:
            _set_state(model, state)
            printer(f"resuming from {latest.path} ({start_epoch} epochs done)")
        else:
            printer(f"starting a new run in {workdir}")
        del state
    steps_per_epoch = training_data.steps_per_epoch
    planned = config.epochs == 0
    if not planned:
        plan = LrPlan.fixed(config.epochs, config.decay_epochs, steps_per_epoch)
    else:
        # A resumed epochs=0 run continues its plan (replanned after its first epoch); one that
        # was trained with a fixed `epochs` continues that schedule's line from where it is.
        previous = Config.from_dict(latest.meta["config"]) if latest is not None else None
        plan = restored_plan or (
            LrPlan.fixed(previous.epochs, previous.decay_epochs, steps_per_epoch)
            if previous is not None and previous.epochs > 0
            else LrPlan()
        )
    rounding = training_data.rounding_note(config.steps_per_execution)
    if rounding:
        printer(rounding)
    epochs_words = (
        f"epochs {start_epoch + 1}..{config.epochs}"
        if not planned
        else f"epochs from {start_epoch + 1} on, as many as the time budget fits (epochs=0;"
        " planned after the first measured epoch)"
    )
    printer(
        f"data: {training_data.photo_count} photos, {training_data.monet_count} Monet paintings; "
        f"{steps_per_epoch} steps of {config.global_batch_size} per epoch; {epochs_words}"
    )
    if planned and plan.epochs > 0:
        step = int(latest.meta.get("optimizer_steps", start_epoch * steps_per_epoch))
        printer(
            f"lr plan continued from {latest.path.name}: {plan.epochs} epochs: "
            f"{plan.describe(steps_per_epoch, step, config.generator_lr)} (replanned to this "
            "session's budget after its first epoch)"
        )
    if folder != workdir / checkpoints.CHECKPOINTS:
        printer(f"checkpoints: {folder} (config.checkpoint_dir)")

    real_photo = _sample_photos(iterate_images, photo_source, config)
    if budget is None:
        budget = TimeBudget.from_config(config)
    if submission_estimate is not None and "images.zip" not in budget.reserves:
        seconds = submission_estimate(model.painting_generator(), training_data.photo_count)
        budget.reserve("images.zip", seconds)

    run = cb.RunState(
        workdir=workdir,
        config=config,
        epochs=config.epochs or plan.epochs,
        history=history,
        last_checkpoint=latest,
        checkpoint_folder=folder,
        schedules=schedules,
    )
    run.set_plan(plan)
    progress = []
    if planned:
        run.planner = EpochPlanner(
            budget,
            steps_per_epoch,
            decay=config.decay_epochs > 0,
            plan=plan,
            initial_lr=config.generator_lr,
        )
        if verbose != 0:
            # Our own progress bar (Keras then adds none), told the planned epoch count.
            run.progbar = keras.callbacks.ProgbarLogger()
            progress.append(run.progbar)
    callbacks = [
        cb.NanGuard(run),
        cb.HistoryCallback(run),
        cb.CheckpointCallback(run, keep=config.keep_checkpoints),
        cb.SampleGridCallback(run, real_photo),
        cb.ProgressPrinter(run, printer=printer),
        cb.BudgetCallback(run, budget, printer=printer),
        *progress,
        *extra_callbacks,
    ]
    try:
        model.fit(
            training_data.dataset,
            epochs=config.epochs if not planned else start_epoch + PLANNED_FIT_EPOCHS,
            initial_epoch=start_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles, seeded per epoch
        )
    finally:
        _write_curves(workdir, run.history, printer)

    generator_path = workdir / checkpoints.GENERATOR_FILE
    if run.diverged:
        kept = (
            f"the last good checkpoint {run.last_checkpoint.path} is kept"
            if run.last_checkpoint is not None
            else "no epoch had finished, so there is no checkpoint"
        )
        raise cb.TrainingDivergedError(
            f"{run.diverged}; {kept}. Lower `generator_lr`/`discriminator_lr` (--set), check the "
            "data, then run the same command again: it resumes from the last good checkpoint."
        )
    done = run.epochs_done()
    if run.stop_reason:
        printer(f"stopped early after epoch {done}/{run.epochs or '?'}: {run.stop_reason}")
    printer(f"trained epochs {start_epoch + 1}..{done} in {workdir}")
    plan_in_force = run.plan
    assert plan_in_force is not None  # run.set_plan(plan) above; replans replace it
    return TrainResult(
        workdir=workdir,
        start_epoch=start_epoch,
        epochs_done=done,
        history=run.history,
        stop_reason=run.stop_reason,
        generator_path=generator_path if generator_path.exists() else None,
        seconds=time.perf_counter() - started,
        model=model,
        planned_epochs=plan_in_force.epochs if planned else 0,
    )


def _set_state(model, state) -> None:
    """Restore a checkpoint's state; one written before the learning-rate plan was optimizer
    state lacks the plan variables, which keep their fresh values (the plan is set after)."""
    from painter.cyclegan.schedule import PLAN_VARIABLE

    try:
        model.set_state(state)
    except ValueError:
        expected = model.get_state()
        missing = [key for key in expected if key not in state]
        if not missing or not all(key.endswith(PLAN_VARIABLE) for key in missing):
            raise
        model.set_state({**state, **{key: expected[key] for key in missing}})


def _sample_photos(iterate_images, photo_source, config: Config):
    """The first `sample_count` photos as [-1, 1] floats: the same ones every epoch."""
    images = [
        image
        for _, image in iterate_images(
            photo_source,
            image_size=config.image_size,
            skip_bad_records=True,
            indices=range(config.sample_count),
        )
    ]
    if not images:
        return np.zeros((0, config.image_size, config.image_size, 3), "float32")
    return pixels_to_model_range(np.stack(images))


def _write_curves(workdir: Path, history: dict, printer) -> None:
    """history.json and loss_curves.png (also after an interruption or a divergence)."""
    from painter.training.callbacks import save_history

    if not history.get("epoch"):
        return
    save_history(workdir, history)
    plot_loss_curves(history, workdir / "loss_curves.png")


__all__ = ["TrainResult", "train", "check_workdir"]
