"""One training run per workdir: an OS lock on `workdir/.lock`.

Two runs writing one workdir would interleave checkpoints, history and the exported generator.
`WorkdirLock` takes an exclusive `fcntl.flock` on `workdir/.lock` (without waiting) and writes
who holds it (pid, host, start time) into the file; a normal end removes the file. The lock
belongs to the open file, so the operating system releases it when the process ends in any way
(an exception, Ctrl-C, `kill -9`, a crash): a dead run never leaves the workdir locked, and the
stale file it leaves is simply taken over by the next run. Where `fcntl` does not exist (Windows)
no lock is taken.

Standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import TextIO

from painter.errors import PainterError

LOCK_FILE = ".lock"

try:
    import fcntl

    HAVE_FCNTL = True
except ImportError:  # pragma: no cover - Windows: no advisory locks, run without one
    HAVE_FCNTL = False


class WorkdirBusyError(PainterError):
    """Another process is training in this workdir."""


class WorkdirLock:
    """`with WorkdirLock(workdir):` holds the workdir for one run; a second holder (another
    process, or another open in this one) gets WorkdirBusyError at once, naming the holder."""

    def __init__(self, workdir: str | os.PathLike):
        self.workdir = Path(workdir)
        self.path = self.workdir / LOCK_FILE
        self._stream: TextIO | None = None

    def acquire(self) -> WorkdirLock:
        if not HAVE_FCNTL or self._stream is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        while True:
            # "a+" neither truncates (the holder's text stays readable until we own the lock)
            # nor fails if the file exists.
            stream = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    # A file system without locks (some network mounts): run, but say so.
                    stream.close()
                    warnings.warn(
                        f"cannot lock {self.path} ({error.strerror}): nothing stops a "
                        "second run on this workdir",
                        stacklevel=2,
                    )
                    return self
                stream.seek(0)
                holder = _describe(stream.read())
                stream.close()
                raise WorkdirBusyError(
                    f"workdir {self.workdir} is in use by another painter run ({holder}; lock "
                    f"file {self.path}). Wait for that run to finish or stop it, or use another "
                    "--workdir. (A run that died releases the lock by itself.)"
                ) from None
            # The holder before us removes the file when it releases: if we locked a file that
            # is no longer at self.path, the lock protects nothing; open the new one.
            try:
                if os.fstat(stream.fileno()).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            stream.close()
        stream.seek(0)
        stream.truncate()
        stream.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
            + "\n"
        )
        stream.flush()
        self._stream = stream
        return self

    def release(self) -> None:
        if self._stream is not None:
            # Removed while still locked (so the workdir keeps only the run's results), then
            # closed, which releases the lock; `acquire` copes with a file removed under it.
            self.path.unlink(missing_ok=True)
            self._stream.close()
            self._stream = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _describe(text: str) -> str:
    """'pid 123 on host h, since 2026-01-01 10:00:00' from the lock file's text."""
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on host {holder['host']}, started {holder['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its pid yet"


__all__ = ["LOCK_FILE", "WorkdirBusyError", "WorkdirLock"]
