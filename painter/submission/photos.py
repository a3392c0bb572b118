"""The photos of a submission as fixed-size batches, and the test-time variants that fill it.

`Photos` re-batches a path, an ImageSource or any iterable of `(names, uint8 images)` batches to
exactly the writer's batch size (one compiled program serves every batch) and can be read again
to fill a submission from fewer photos than required with flipped/rotated `VARIANTS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from painter.data import reader, sources
from painter.errors import DataError, SubmissionError

PhotoBatch = tuple[list[str], np.ndarray]  # (image names, uint8 [B, S, S, 3])

# Test-time variants used to fill a submission from fewer photos than required: the generator is
# run on the transformed photo, so each variant is a distinct painting. Order = order of use.
VARIANTS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("flip", lambda batch: batch[:, :, ::-1]),  # horizontal flip: still a natural photo
    ("vflip", lambda batch: batch[:, ::-1, :]),
    ("rot180", lambda batch: batch[:, ::-1, ::-1]),
    ("rot90", lambda batch: np.rot90(batch, 1, axes=(1, 2))),
    ("rot270", lambda batch: np.rot90(batch, 3, axes=(1, 2))),
    ("transpose", lambda batch: batch.transpose(0, 2, 1, 3)),
    ("transverse", lambda batch: np.rot90(batch, 2, axes=(1, 2)).transpose(0, 2, 1, 3)),
)


class Photos:
    """Re-openable stream of fixed-size (names, uint8 images) batches, from a path, an
    ImageSource or an iterable of batches (a one-shot iterator can be read only once)."""

    def __init__(self, photos: Any, image_size: int, batch_size: int):
        self.image_size = image_size
        self.batch_size = batch_size
        self.count: int | None = None
        self.one_shot = False
        if isinstance(photos, (str, os.PathLike)) or (
            hasattr(photos, "kind") and hasattr(photos, "files")
        ):
            self._open = self._source_opener(photos)
        else:
            if not isinstance(photos, Iterable):
                raise TypeError(
                    "`photos` must be a path, an ImageSource or an iterable of (names, images) "
                    f"batches. Received: {type(photos).__name__}"
                )
            self.one_shot = iter(photos) is photos
            self._open = lambda: iter(photos)
            if isinstance(photos, (list, tuple)):
                self.count = sum(len(names) for names, _ in photos)
        self.opened = 0

    def _source_opener(self, photos: Any) -> Callable[[], Iterator[PhotoBatch]]:
        source = sources.find_source(photos)
        if source.kind == "images":
            self.count = len(source.files)

        def open_source() -> Iterator[PhotoBatch]:
            import tensorflow as tf

            # Fixed decoders (one per core) and no tf.data autotuning: on 2 cores shared with
            # the encoders and inference, AUTOTUNE stalled the decoders in about one run in
            # three (images.zip then took 11 s instead of 6 s); fixed, 0 slow runs in 10.
            dataset = reader.read_images(
                source, image_size=self.image_size, parallel_calls=max(2, os.cpu_count() or 1)
            )
            options = tf.data.Options()
            options.autotune.enabled = False
            dataset = dataset.with_options(options)
            for element in dataset.batch(self.batch_size).prefetch(2).as_numpy_iterator():
                yield [n.decode("utf-8") for n in element["image_name"]], element["image"]

        return open_source

    def batches(self) -> Iterator[PhotoBatch]:
        """Batches of exactly batch_size (the last may be smaller), whatever the input's."""
        if self.one_shot and self.opened:
            raise SubmissionError(
                "filling the submission reads the photos again, but `photos` is a one-shot "
                "iterator; pass a list of batches, a path or an ImageSource"
            )
        self.opened += 1
        names: list[str] = []
        images: list[np.ndarray] = []
        held = 0
        for batch_names, batch_images in self._open():
            batch_images = np.asarray(batch_images)
            self._check(batch_names, batch_images)
            names.extend(str(n) if not isinstance(n, bytes) else n.decode() for n in batch_names)
            images.append(batch_images)
            held += len(batch_images)
            while held >= self.batch_size:
                stacked = np.concatenate(images) if len(images) > 1 else images[0]
                yield names[: self.batch_size], stacked[: self.batch_size]
                names, images = names[self.batch_size :], [stacked[self.batch_size :]]
                held -= self.batch_size
        if held:
            yield names, np.concatenate(images) if len(images) > 1 else images[0]

    def _check(self, names: Any, images: np.ndarray) -> None:
        size = self.image_size
        if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
            raise DataError(
                f"photo batch starting with {names[0] if len(names) else '?'!r}: expected uint8 "
                f"images of shape [B, {size}, {size}, 3], got {images.dtype} {images.shape}"
            )
        if len(names) != len(images):
            raise DataError(f"photo batch has {len(names)} names for {len(images)} images")


__all__ = ["Photos", "PhotoBatch", "VARIANTS"]
