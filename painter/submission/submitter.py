"""`submit(...)`: the one way painter makes images.zip, used by `python -m painter submit`, the
demo and the notebook: take (or load) the photo->Monet generator, paint it at its training size,
write images.zip (`writer.write_submission`) and validate it.

Also `submission_reserve(config)`: what the time budget keeps free for that at the end of a
session, for the callers of `painter.training.train` (training does not import this package).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from painter.errors import PainterError
from painter.submission.estimate import estimate_submission_seconds
from painter.submission.inference import at_submission_size
from painter.submission.validate import (
    MAX_COUNT,
    MIN_COUNT,
    SUBMISSION_IMAGE_SIZE,
    validate_submission,
)
from painter.submission.writer import SubmissionReport, write_submission
from painter.training.checkpoint import GENERATOR_FILE


def submit(
    generator: Any,
    photos: Any,
    out_path: str | os.PathLike = "images.zip",
    *,
    train_size: int | None = None,
    image_size: int = SUBMISSION_IMAGE_SIZE,
    batch_size: int = 64,
    min_count: int = MIN_COUNT,
    max_count: int = MAX_COUNT,
    fill_to: int | None = None,
    progress: bool = True,
    full_validation: bool = False,
) -> SubmissionReport:
    """Paint every photo with `generator` and write images.zip, validated.

    Args:
        generator: the photo->Monet keras model, or where to load it from: a training workdir
            (its monet_generator.keras) or a `.keras` file. Call inside the runtime's scope.
        photos, out_path, image_size, batch_size, min_count, max_count, fill_to, progress: as
            `painter.submission.writer.write_submission`.
        train_size: the side the generator was trained at; a generator trained at another size
            than `image_size` paints at its own size, resized in and out (`at_submission_size`).
            None: it paints at `image_size`.
        full_validation: after writing, read images.zip back and decode every image
            (`validate_submission`); the report's `validation` is then that check. Without it,
            the writer's own check (structure, names, count, every JPEG header) is the report's.
            A failed full check is reported (`report.validation.ok`), not raised.

    Returns:
        the writer's SubmissionReport.
    """
    if isinstance(generator, (str, os.PathLike)):
        generator = load_generator(generator)
    if train_size is not None:
        generator = at_submission_size(generator, train_size, image_size)
    report = write_submission(
        generator,
        photos,
        out_path,
        image_size=image_size,
        batch_size=batch_size,
        min_count=min_count,
        max_count=max_count,
        fill_to=fill_to,
        progress=progress,
    )
    if full_validation:
        report.validation = validate_submission(
            report.path, min_count=min_count, max_count=max_count, image_size=image_size
        )
    return report


def load_generator(path: str | os.PathLike) -> Any:
    """Load a training workdir's monet_generator.keras, or a `.keras` file (painter's custom
    layers registered first)."""
    path = Path(path)
    workdir = path
    if not (path.suffix == ".keras" and path.is_file()):
        path = path / GENERATOR_FILE
    if not path.is_file():
        raise PainterError(
            f"{path}: no generator; train first (`python -m painter train --workdir {workdir}`) "
            "or pass the workdir of a finished run"
        )
    import keras

    import painter.models  # noqa: F401  (registers painter's layers for loading)

    try:
        return keras.saving.load_model(path, compile=False)
    except (ValueError, TypeError, OSError) as error:
        raise PainterError(f"{path}: cannot load the generator ({error})") from error


def submission_reserve(config: Any, *, printer: Callable[[str], None] = print) -> Callable:
    """The images.zip reserve for `painter.training.train(..., submission_estimate=...)`: a
    function (painting generator, photo count) -> seconds that measures `write_submission` for
    the generator at the submission size (`estimate_submission_seconds`) and prints the result."""

    def estimate(generator: Any, photo_count: int) -> float:
        generator = at_submission_size(generator, config.image_size, SUBMISSION_IMAGE_SIZE)
        seconds = estimate_submission_seconds(
            generator,
            photo_count,
            batch_size=config.submission_batch_size,
            image_size=SUBMISSION_IMAGE_SIZE,
        )
        printer(
            f"time budget: writing images.zip for {photo_count} photos will take ~{seconds:.0f}s "
            "(measured on a few batches)"
        )
        return seconds

    return estimate


__all__ = ["submit", "load_generator", "submission_reserve"]
