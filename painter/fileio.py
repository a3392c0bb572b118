"""Atomic file writes: a reader, or a resumed run, never sees half a file.

`atomic_path(path)` is the one write-then-rename in painter: the caller writes a temporary in the
same folder (same file system, so the rename is atomic), which is synced and renamed onto `path`
when the block ends without an exception, and removed when it raises.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike,
    *,
    folder: bool = False,
    prefix: str | None = None,
    suffix: str = ".tmp",
) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and `os.replace` it onto `path`.

    Args:
        path: the file (or, with `folder=True`, the folder) to write; its folder is created.
        folder: the temporary is an empty folder instead of an empty file. A folder already at
            `path` is deleted just before the rename (a folder cannot replace a non-empty one).
        prefix: the temporary's name starts with this (default `.NAME.`: hidden, and named after
            the target, so a reader of the folder skips it).
        suffix: its name ends with this (e.g. `.tmp.keras` for `keras.Model.save`).

    The result gets the permissions a plain `open()` / `mkdir()` would give a new file (0o666 or
    0o777 without the umask), not mkstemp's 0o600. On any exception the temporary is removed and
    the exception re-raised; `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}." if prefix is None else prefix
    if folder:
        temporary = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))
        mode = 0o777
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        os.close(handle)
        temporary = Path(name)
        mode = 0o666
    try:
        os.chmod(temporary, mode & ~_current_umask())
        yield temporary
        _fsync(temporary)
        if folder and path.is_dir():  # a rewrite (e.g. the same epoch after a crash)
            shutil.rmtree(path)
        os.replace(temporary, path)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise
    _fsync(path.parent)  # the rename itself survives a power cut


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same folder and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename, so a reader
    (or a resumed run) never sees half a file."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def _fsync(path: Path) -> None:
    """Flush a file's or folder's contents to disk (best effort for folders: not every system
    opens them)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(handle)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(handle)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
