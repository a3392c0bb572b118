"""Steps 3-5 of `train()` (see `painter.training.train`), once the workdir is locked and the
runtime selected: the data pipeline from the start epoch, the model with the checkpoint's state,
the learning-rate plan, the images.zip reserve, `fit()` with painter's callbacks, and the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from painter.config import Config
from painter.data.images import pixels_to_model_range
from painter.data.pipeline import make_training_dataset
from painter.data.reader import iterate_images
from painter.data.sources import ImageSource, find_domains
from painter.plots import plot_loss_curves
from painter.runtime import Runtime
from painter.training import checkpoint as checkpoints
from painter.training.budget import TimeBudget
from painter.training.planner import EpochPlanner, LrPlan
from painter.training.run_state import RunState

if TYPE_CHECKING:
    import keras

    from painter.cyclegan.model import CycleGAN

# fit()'s epoch count when epochs=0: the planner stops training; this bound is never reached.
PLANNED_FIT_EPOCHS = 1_000_000

# (painting generator, photo count) -> seconds to write images.zip (`train(submission_estimate=)`).
SubmissionEstimate = Callable[["keras.Model", int], float]
# An explicit domain folder or source (`train(monet=..., photo=...)`).
DomainSource = str | os.PathLike | ImageSource


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
    model: CycleGAN | None = None
    planned_epochs: int = 0


def run_fit(
    config: Config,
    workdir: Path,
    runtime: Runtime,
    latest: checkpoints.Checkpoint | None,
    pending_state: list[dict[str, np.ndarray] | None],
    restored_plan: LrPlan | None,
    start_epoch: int,
    history: dict[str, list[float]],
    *,
    data: str | os.PathLike | None,
    monet: DomainSource | None,
    photo: DomainSource | None,
    budget: TimeBudget | None,
    submission_estimate: SubmissionEstimate | None,
    extra_callbacks: list[keras.callbacks.Callback],
    verbose: int | str,
    printer: Callable[[str], None],
    started: float,
    folder: Path,
) -> TrainResult:
    """Train from `start_epoch` (the state of `latest` is handed over in `pending_state`, a list
    this function empties, so the caller's frame does not keep ~0.4 GB alive at 256 px)."""
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
        if latest is not None and state is not None:  # latest_resumable gives both or neither
            _set_state(model, state)
            printer(f"resuming from {latest.path} ({start_epoch} epochs done)")
        else:
            printer(f"starting a new run in {workdir}")
        del state
    steps_per_epoch = training_data.steps_per_epoch
    planned = config.epochs == 0
    plan = _initial_plan(config, latest, restored_plan, steps_per_epoch)
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
    if planned and plan.epochs > 0 and latest is not None:  # a plan is only restored from one
        step = int(latest.meta.get("optimizer_steps", start_epoch * steps_per_epoch))
        printer(
            f"lr plan continued from {latest.path.name}: {plan.epochs} epochs: "
            f"{plan.describe(steps_per_epoch, step, config.generator_lr)} (replanned to this "
            "session's budget after its first epoch)"
        )
    if folder != workdir / checkpoints.CHECKPOINTS:
        printer(f"checkpoints: {folder} (config.checkpoint_dir)")

    real_photo = _sample_photos(photo_source, config)
    if budget is None:
        budget = TimeBudget.from_config(config)
    if submission_estimate is not None and "images.zip" not in budget.reserves:
        seconds = submission_estimate(model.painting_generator(), training_data.photo_count)
        budget.reserve("images.zip", seconds)

    run = RunState(
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


def _initial_plan(
    config: Config,
    latest: checkpoints.Checkpoint | None,
    restored_plan: LrPlan | None,
    steps_per_epoch: int,
) -> LrPlan:
    """The learning-rate plan this run starts with: a fixed `epochs` gives the paper's schedule;
    with epochs=0 a resumed run continues its plan (replanned after its first epoch), one trained
    with a fixed `epochs` continues that schedule's line from where it is, and a new run starts
    unplanned (a constant rate until the first epoch is measured)."""
    if config.epochs > 0:
        return LrPlan.fixed(config.epochs, config.decay_epochs, steps_per_epoch)
    previous = Config.from_dict(latest.meta["config"]) if latest is not None else None
    return restored_plan or (
        LrPlan.fixed(previous.epochs, previous.decay_epochs, steps_per_epoch)
        if previous is not None and previous.epochs > 0
        else LrPlan()
    )


def _set_state(model: CycleGAN, state: dict[str, np.ndarray]) -> None:
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


def _sample_photos(photo_source: ImageSource, config: Config) -> np.ndarray:
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


def _write_curves(
    workdir: Path, history: dict[str, list[float]], printer: Callable[[str], None]
) -> None:
    """history.json and loss_curves.png (also after an interruption or a divergence)."""
    from painter.training.callbacks import save_history

    if not history.get("epoch"):
        return
    save_history(workdir, history)
    plot_loss_curves(history, workdir / "loss_curves.png")
