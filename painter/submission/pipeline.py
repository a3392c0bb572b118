"""The threads that turn photo batches into zip entries, and the progress line.

`Pipeline`: inference on the calling thread, JPEG encoding on a thread pool (TensorFlow's encoder
releases the GIL) while the next batch is inferred, and checked zip writes in submission order on
a writer thread. At most `max_in_flight` batches are held at once, so memory does not grow with
the photo count. `Progress`: the `submission: 3200/7038 images, ...` line on stderr.
"""

from __future__ import annotations

import math
import os
import queue
import sys
import threading
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from painter.data.images import encode_jpeg
from painter.errors import SubmissionError
from painter.submission.entries import entry_name
from painter.submission.inference import predictor
from painter.submission.validate import check_image

# A fixed timestamp makes the archive a function of the images alone (reproducible bytes).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class Pipeline:
    """Inference on the calling thread, JPEG encoding on a thread pool, zip writes in order on a
    writer thread (the zip's CRC and file writes no longer hold up the next batch's inference).

    Each batch's encoding is split over the pool's threads; at most `max_in_flight` batches wait
    for encoding or writing, which bounds memory whatever the number of photos. The writer thread
    checks each JPEG's markers against the competition's rules (`check_image`, ~10 us) before
    writing it, so the finished zip needs only its directory checked."""

    def __init__(self, generator, archive, batch_size, quality, max_in_flight, meter, image_size):
        self.predict = predictor(generator)
        self.archive = archive
        self.image_size = image_size
        self.batch_size = batch_size
        self.quality = quality
        self.meter = meter
        self.workers = max(1, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="painter-jpeg")
        # Batches handed to the writer thread; put() blocks while max_in_flight are waiting.
        self.pending: queue.Queue[list[Future] | None] = queue.Queue(max(1, max_in_flight))
        self.error: BaseException | None = None
        self.names: dict[str, int] = {}
        self.count = 0  # images written into the zip
        self.submitted = 0  # images given to submit() (written, encoding, or waiting)
        self.writer = threading.Thread(target=self._write_loop, name="painter-zip", daemon=True)
        self.writer.start()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is not None and self.error is None:
            self.error = SubmissionError("the submission was interrupted")  # writer: discard
        self.pending.put(None)
        self.writer.join()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, names: list[str], images: np.ndarray) -> None:
        self._raise_writer_error()
        entries = [self._claim(name) for name in names]
        self.submitted += len(entries)
        real = len(images)
        if real < self.batch_size:  # one program for every batch: pad, then drop the padding
            padding = np.zeros((self.batch_size - real, *images.shape[1:]), images.dtype)
            images = np.concatenate([images, padding])
        fake_monet = self.predict(images)[:real]  # uint8 paintings
        chunk = math.ceil(real / self.workers)
        self.pending.put(
            [
                self.pool.submit(self._encode, entries[i : i + chunk], fake_monet[i : i + chunk])
                for i in range(0, real, chunk)
            ]
        )

    def drain(self) -> None:
        """Wait until every submitted image is in the zip."""
        self.pending.join()
        self._raise_writer_error()

    def _raise_writer_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _claim(self, name: str) -> str:
        entry = entry_name(name)
        if entry in self.names:
            raise SubmissionError(
                f"two photos become the zip entry {entry!r} (photo #{self.names[entry] + 1} and "
                f"#{len(self.names) + 1}, named {name!r}); entry names must be unique: rename one"
            )
        self.names[entry] = len(self.names)
        return entry

    def _encode(self, entries: list[str], fake_monet: np.ndarray) -> list[tuple[str, bytes]]:
        return [(e, encode_jpeg(p, self.quality)) for e, p in zip(entries, fake_monet, strict=True)]

    def _write_loop(self) -> None:
        """The writer thread: batches in submission order into the zip. After an error it keeps
        taking (and dropping) batches, so the submitting thread never blocks on a full queue."""
        while True:
            futures = self.pending.get()
            try:
                if futures is None:
                    return
                if self.error is None:
                    self._write(futures)
                else:
                    for future in futures:
                        future.cancel()
            except BaseException as error:  # noqa: BLE001 - re-raised on the submitting thread
                self.error = error
            finally:
                self.pending.task_done()

    def _write(self, futures: list[Future]) -> None:
        for future in futures:
            for entry, data in future.result():
                problem = check_image(entry, data, self.image_size, decode=False)
                if problem is not None:
                    raise SubmissionError(f"a painting breaks the competition's rules: {problem}")
                info = zipfile.ZipInfo(entry, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_STORED
                self.archive.writestr(info, data)
                self.count += 1
        self.meter.update(self.count)


class Progress:
    """`submission: 3200/7038 images, 412.5 images/s, ~9 s left` on stderr: rewritten in place on
    a terminal, one line per ~10% otherwise (logs, notebooks)."""

    def __init__(self, total: int | None, *, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.start = time.perf_counter()
        self.last_print = 0.0
        self.last_decile = -1
        self.tty = sys.stderr.isatty()
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = done / max(now - self.start, 1e-9)
        total = f"/{self.total}" if self.total else ""
        left = f", ~{(self.total - done) / rate:.0f} s left" if self.total and rate else ""
        line = f"submission: {done}{total} images, {rate:.1f} images/s{left}"
        if self.tty:
            if now - self.last_print >= 0.25:
                print("\r" + line, end="", file=sys.stderr, flush=True)
                self.last_print, self.shown = now, True
        else:
            decile = int(10 * done / self.total) if self.total else done // 1000
            if decile != self.last_decile:
                print(line, file=sys.stderr, flush=True)
                self.last_decile = decile

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False


__all__ = ["Pipeline", "Progress", "ZIP_DATE_TIME"]
