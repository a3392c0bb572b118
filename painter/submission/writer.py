"""Write images.zip as fast as the hardware allows: batched inference, parallel JPEG encoding,
streamed into the zip.

The starter notebook calls the generator once per photo and saves each JPEG with PIL before
zipping a folder: 33 to 47 minutes of a 3-hour TPU session. Here:

1. photos are read in batches (painter.data's tf.data reader, or any iterable of batches) and
   re-batched to the batch size (`photos.Photos`);
2. each batch runs through the generator on every replica, each replica painting its share of
   the batch (`predict_on_batch` splits it over a TF strategy's replicas; on JAX, where
   `predict_on_batch` would hand the whole batch to every device, `ShardedCall` jits the model
   with the batch sharded over the devices of keras' global distribution: `inference`); the last
   batch is
   padded to the full batch size, so one compiled program serves every batch, and the padding
   is dropped;
3. float outputs become uint8 (`(x + 1) * 127.5`, rounded, clipped) and are JPEG-encoded by a thread
   pool while the next batch is inferred (TensorFlow's libjpeg-turbo: it releases the GIL, so the
   threads use every core, where Pillow's encoder held it; `pipeline`);
4. encoded images are checked (JPEG markers: size, channels, whole) and streamed, in order, into a
   ZIP_STORED archive (JPEGs do not compress) under a temporary name
   (`painter.fileio.atomic_path`), whose directory is validated before it is renamed: an
   interrupted write leaves no images.zip.

At most `max_in_flight` batches are held at once, so memory does not grow with the photo count.
Entry names: `entries`; the time estimate the budget reserves: `estimate`.
"""

from __future__ import annotations

import math
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from painter.data.images import JPEG_QUALITY
from painter.errors import SubmissionError
from painter.fileio import atomic_path
from painter.submission.entries import entry_name
from painter.submission.inference import replica_count
from painter.submission.photos import VARIANTS, Photos
from painter.submission.pipeline import Pipeline, Progress
from painter.submission.validate import (
    MAX_COUNT,
    MIN_COUNT,
    SUBMISSION_IMAGE_SIZE,
    ValidationReport,
    validate_submission,
)


@dataclass
class SubmissionReport:
    """What `write_submission` wrote."""

    path: Path
    count: int  # entries in the zip
    photo_count: int  # source photos
    filled: int  # test-time variants added to reach fill_to
    seconds: float  # wall time of inference + encoding + zip (validation excluded)
    images_per_second: float
    batch_size: int  # the batch actually used (a multiple of the replica count)
    validation: ValidationReport

    def summary(self) -> str:
        filled = f" ({self.filled} test-time variants)" if self.filled else ""
        return (
            f"wrote {self.path}: {self.count} images{filled} from {self.photo_count} photos in "
            f"{self.seconds:.1f} s ({self.images_per_second:.1f} images/s, batch {self.batch_size})"
        )


def write_submission(
    generator: Any,
    photos: Any,
    out_path: str | os.PathLike,
    *,
    image_size: int = SUBMISSION_IMAGE_SIZE,
    batch_size: int = 64,
    min_count: int = MIN_COUNT,
    max_count: int = MAX_COUNT,
    fill_to: int | None = None,
    progress: bool = True,
    jpeg_quality: int = JPEG_QUALITY,
    max_in_flight: int = 4,
) -> SubmissionReport:
    """Run `generator` over every photo and write the paintings as JPEGs into a zip.

    Args:
        generator: photo -> Monet keras model (float32 [-1, 1] in and out), or any callable.
            Call inside the runtime's scope; the writer uses every replica the model has.
        photos: a path or `painter.data.sources.ImageSource` (read with painter.data), or an
            iterable of `(names, uint8 [B, image_size, image_size, 3])` batches of any size.
        out_path: the zip to write (its folder is created); replaced only when complete.
        image_size: the side of the square photos.
        batch_size: images per generator call; rounded up to a multiple of the replica count.
        min_count, max_count: allowed number of images (the competition's 7,000 and 10,000).
        fill_to: with fewer photos than min_count, add test-time variants of the photos
            (generator run on the flipped/rotated photo; entries `NAME_flip.jpg`, `NAME_vflip.jpg`,
            `NAME_rot180.jpg`, ...) until the zip holds this many images. None: refuse instead.
        progress: a text progress line on stderr.
        jpeg_quality: JPEG quality (1-100).
        max_in_flight: batches held at once (inferred, being encoded or waiting for the zip).

    Returns:
        SubmissionReport with the count, speed and the validation of the written zip.

    Raises:
        SubmissionError: too few or too many photos, a duplicate name (two photos would become
            the same entry; the error names it), or a written zip that fails validation.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise SubmissionError(f"{out_path} is a folder; pass the zip's file name, e.g. images.zip")
    if fill_to is not None and not min_count <= fill_to <= max_count:
        raise SubmissionError(
            f"`fill_to` must be between min_count={min_count} and max_count={max_count}. "
            f"Received: {fill_to}"
        )
    replicas = replica_count(generator) if hasattr(generator, "predict_on_batch") else 1
    batch_size = int(math.ceil(batch_size / replicas) * replicas)
    stream = Photos(photos, image_size, batch_size)
    if stream.count is not None:
        _check_count(stream.count, min_count, max_count, fill_to)

    meter = Progress(stream.count if fill_to is None else fill_to, enabled=progress)
    try:
        with atomic_path(out_path) as temporary:  # an interrupted write leaves no images.zip
            start = time.perf_counter()
            with (
                zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive,
                Pipeline(
                    generator, archive, batch_size, jpeg_quality, max_in_flight, meter, image_size
                ) as pipeline,
            ):
                photo_count, filled = _paint(pipeline, stream, min_count, max_count, fill_to)
            seconds = time.perf_counter() - start
            meter.close()
            count = photo_count + filled
            # Structure, names and count from the zip's directory: each entry's JPEG markers were
            # checked as it was written (`Pipeline`); `validate` decodes everything.
            validation = validate_submission(
                temporary,
                min_count=min_count,
                max_count=max_count,
                image_size=image_size,
                contents=False,
            )
            if not validation.ok:
                raise SubmissionError(
                    f"the written zip failed validation ({len(validation.violations)} "
                    "violations): " + "; ".join(validation.violations[:5])
                )
    except BaseException:
        meter.close()
        raise
    validation.path = out_path
    return SubmissionReport(
        path=out_path,
        count=count,
        photo_count=photo_count,
        filled=filled,
        seconds=seconds,
        images_per_second=count / max(seconds, 1e-9),
        batch_size=batch_size,
        validation=validation,
    )


def _paint(
    pipeline: Pipeline, stream: Photos, min_count: int, max_count: int, fill_to: int | None
) -> tuple[int, int]:
    """Every photo through the pipeline, then, up to `fill_to`, its test-time variants in
    `VARIANTS` order. Returns (photos painted, variants added)."""
    for names, images in stream.batches():
        pipeline.submit(names, images)
    pipeline.drain()
    photo_count = pipeline.count
    _check_count(photo_count, min_count, max_count, fill_to)
    filled = 0
    for suffix, transform in VARIANTS:
        if fill_to is None or pipeline.submitted >= fill_to:
            break
        for names, images in stream.batches():
            wanted = fill_to - pipeline.submitted
            if wanted <= 0:
                break
            names, images = names[:wanted], images[:wanted]
            variant_names = [f"{entry_name(n)[:-4]}_{suffix}" for n in names]
            pipeline.submit(variant_names, np.ascontiguousarray(transform(images)))
            filled += len(names)
        pipeline.drain()
    if fill_to is not None and pipeline.count < fill_to:
        raise SubmissionError(
            f"only {pipeline.count} images can be made from {photo_count} photos and "
            f"their {len(VARIANTS)} flips/rotations; `fill_to` ({fill_to}) is too high"
        )
    return photo_count, filled


def _check_count(count: int, min_count: int, max_count: int, fill_to: int | None) -> None:
    if count == 0:
        raise SubmissionError("no photos to paint: the photo source is empty")
    if count > max_count:
        raise SubmissionError(
            f"{count} photos, more than the {max_count} images a submission may hold; "
            "pass fewer photos (or --max-count for custom data)"
        )
    if count < min_count and fill_to is None:
        raise SubmissionError(
            f"{count} photos, fewer than the {min_count} images a submission needs; add photos, "
            f"or fill up with flipped/rotated test-time variants (fill_to={min_count}, "
            f"`--fill-to {min_count}`), or lower --min-count for custom data"
        )


__all__ = ["SubmissionReport", "SubmissionError", "write_submission"]
