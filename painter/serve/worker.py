"""A painter at work: one generator behind a FIFO queue served by one worker thread.

Each painter works through its requests on its own thread:
  - one model call at a time: two calls would only compete for the same cores (and memory),
  - requests are painted and answered in the order they arrived (`Painting.arrival` is the
    ticket taken on arrival, `Painting.order` the place in which it was painted),
  - the queue is bounded (`max_waiting`): a flood gets a quick "busy, retry" answer instead of
    piling up uploads in memory.
The whole job runs on that thread (decode, paint, PNG encode), so at most one decoded photo per
painter is in memory at a time, whatever the number of waiting requests.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from painter.errors import PainterError
from painter.serve.uploads import DEFAULT_MAX_MEGAPIXELS, UploadError, decode_photo
from painter.submission.stylize import DEFAULT_OVERLAP, DEFAULT_TILE, paint, size_multiple

DEFAULT_MAX_WAITING = 32  # per painter; at ~1 s a large photo, a half-minute wait at worst


@dataclass(frozen=True)
class Painting:
    """One painted photo: PNG bytes at the photo's own size, and where it stood in the queue."""

    png: bytes
    width: int
    height: int
    painter: str
    arrival: int  # ticket taken when the request reached the painter (1, 2, ...)
    order: int  # place in which it was painted (equals `arrival`: the queue is FIFO)
    seconds: float  # decode + paint + encode, without the wait in the queue


class Painter:
    """A generator behind a FIFO queue served by one worker thread.

    Args:
        name: what the page's dropdown and `?painter=` call it.
        generator: photo -> painting model (float32 [-1, 1]; a keras model or any callable).
        path: the file it was loaded from (shown in messages).
        training_size: the side it was trained at, if known (from the workdir's config.json).
        tile, overlap: photos with a side above `tile` are painted in overlapping tiles.
        max_megapixels: uploads above this are refused (413) before decoding.
        max_waiting: requests queued or painting at once; beyond it, UploadError 503.
    """

    def __init__(
        self,
        name: str,
        generator: Any,
        *,
        path: Path | None = None,
        training_size: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        if overlap < 4 or tile <= 2 * overlap:
            raise PainterError(
                f"--tile must exceed twice --overlap, and --overlap be at least 4 pixels. "
                f"Received: tile={tile}, overlap={overlap}"
            )
        self.name = name
        self.generator = generator
        self.path = path
        self.training_size = training_size
        self.multiple = size_multiple(generator)
        self.tile = tile
        self.overlap = overlap
        self.max_megapixels = max_megapixels
        self.max_waiting = max_waiting
        # One worker: ThreadPoolExecutor's work queue is FIFO, so jobs run in submission order.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"painter-{name}")
        self._lock = threading.Lock()  # makes "take a ticket" and "join the queue" one step
        self._tickets = itertools.count(1)
        self._painted = itertools.count(1)
        self._waiting = 0

    def describe(self) -> dict[str, Any]:
        """What `GET /painters` lists for this painter."""
        return {
            "name": self.name,
            "training_size": self.training_size,
            "file": self.path.name if self.path else None,
            "size_multiple": self.multiple,
            "tile": self.tile,
        }

    def label(self) -> str:
        """The dropdown's text: the name and the size it was trained at."""
        if self.training_size:
            return f"{self.name} (trained at {self.training_size} px)"
        return self.name

    def submit(self, data: bytes) -> Future[Painting]:
        """Queue an upload (image file bytes); the future gives its Painting or raises
        UploadError. Raises UploadError(503) at once when `max_waiting` requests are ahead."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise UploadError(
                    f"painter {self.name!r} is busy ({self._waiting} photos waiting): try again "
                    "in a few seconds",
                    status=503,
                )
            self._waiting += 1
            ticket = next(self._tickets)
            return self._worker.submit(self._job, data, ticket)

    def paint_bytes(self, data: bytes) -> Painting:
        """Queue an upload and wait for its painting (the page's handler and tests use it)."""
        return self.submit(data).result()

    def _job(self, data: bytes, ticket: int) -> Painting:
        started = time.perf_counter()
        try:
            photo = decode_photo(data, max_megapixels=self.max_megapixels)
            painting = paint(
                self.generator, photo, multiple=self.multiple, tile=self.tile, overlap=self.overlap
            )
            buffer = io.BytesIO()
            # compress_level 1: ~5x faster than the default 6 for a few % larger files
            Image.fromarray(painting, mode="RGB").save(buffer, format="PNG", compress_level=1)
            height, width = painting.shape[:2]
            return Painting(
                buffer.getvalue(),
                width,
                height,
                self.name,
                ticket,
                next(self._painted),
                time.perf_counter() - started,
            )
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._worker.shutdown(wait=True)
