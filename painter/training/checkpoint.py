"""Checkpoints of a run: written atomically at every epoch end, the last few kept, resumed.

Layout (inside `workdir/checkpoints/`, or `config.checkpoint_dir` when set: on Kaggle outside the
notebook's output folder, as each checkpoint is ~0.4 GB at 256 px):

    epoch-0003/state.npz   every array of `CycleGAN.get_state()`: the four networks, both
                           optimizers (iterations included, so the learning-rate schedule resumes
                           where it stopped) and the image pools
    epoch-0003/meta.json   epoch (completed epochs), config, painter version, Keras backend,
                           history so far, the state's keys in order, time written

A checkpoint is written as `epoch-NNNN.tmp-XXXX/` and renamed when complete, so a crash (even
`kill -9`) leaves either the old set or the new one, never half a checkpoint; leftover `.tmp-`
folders are removed on the next start. A write that fails (a full disk) removes its temporary
folder and raises `CheckpointWriteError`; the previous checkpoints are untouched. A checkpoint
damaged later (a truncated state.npz, a bad meta.json) is skipped with a warning by
`latest_resumable`, which falls back to the one before it. The state is plain numpy, so a
checkpoint written on one backend loads on the other.

Numpy and the standard library only: this module needs no Keras.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from painter.errors import PainterError
from painter.fileio import atomic_path, atomic_write_text

# What training exports into the workdir after each epoch; submit, stylize and serve load it.
GENERATOR_FILE = "monet_generator.keras"
CHECKPOINTS = "checkpoints"
STATE_FILE = "state.npz"
META_FILE = "meta.json"
_NAME = re.compile(r"^epoch-(\d{4,})$")
# Fault injection for tests: "EPOCH:SECONDS" sleeps inside the write of checkpoint EPOCH, after
# state.npz is in its temporary folder and before the rename (a test kills the process there).
TEST_PAUSE_ENV = "PAINTER_TEST_CHECKPOINT_PAUSE"
# What reading a damaged state.npz raises (truncated zip, bad CRC, short member, bad header).
_READ_ERRORS = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)


class CheckpointWriteError(PainterError):
    """A checkpoint could not be written (e.g. the disk is full); nothing was left half-written."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk: `epoch` epochs were finished when it was written."""

    path: Path
    epoch: int
    meta: dict[str, Any]

    def load_state(self) -> dict[str, np.ndarray]:
        """The arrays saved from `get_state()`, under their original keys (every array is read,
        so a truncated or corrupted file is detected here)."""
        try:
            return _load_arrays(self.path, self.meta["state_keys"])
        except (*_READ_ERRORS, TypeError) as error:
            raise PainterError(
                f"checkpoint {self.path} is damaged ({type(error).__name__}: {error}). Delete "
                "that folder to resume from the one before it."
            ) from None


def _load_arrays(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    with np.load(path / STATE_FILE, allow_pickle=False) as arrays:
        return {key: arrays[f"a{index}"] for index, key in enumerate(keys)}


def checkpoint_dir(workdir: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """Where the checkpoints are: `folder` when given (config.checkpoint_dir), else
    `workdir/checkpoints`."""
    return Path(folder) if folder else Path(workdir) / CHECKPOINTS


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def _read_meta(path: Path) -> dict[str, Any]:
    """meta.json of a checkpoint folder; ValueError/OSError when missing, unparsable or lacking
    what a resume needs."""
    meta = json.loads((path / META_FILE).read_text())
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("state_keys"), list)
        or not isinstance(meta.get("config"), dict)
    ):
        raise ValueError("meta.json lacks `state_keys` or `config`")
    return meta


def _candidates(folder: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every `epoch-NNNN` folder, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found)


def list_checkpoints(
    workdir: str | os.PathLike, *, folder: str | os.PathLike | None = None
) -> list[Checkpoint]:
    """Complete checkpoints in `workdir` (or `folder`), oldest first (a folder without state.npz
    or a readable meta.json, or a temporary one, is not a checkpoint)."""
    found = []
    for epoch, path in _candidates(checkpoint_dir(workdir, folder)):
        if not (path / STATE_FILE).is_file():
            continue
        try:
            meta = _read_meta(path)
        except (OSError, ValueError):
            continue
        found.append(Checkpoint(path=path, epoch=epoch, meta=meta))
    return found


def latest_checkpoint(
    workdir: str | os.PathLike, *, folder: str | os.PathLike | None = None
) -> Checkpoint | None:
    """The last complete checkpoint, or None in a fresh workdir."""
    checkpoints = list_checkpoints(workdir, folder=folder)
    return checkpoints[-1] if checkpoints else None


def latest_resumable(
    workdir: str | os.PathLike,
    *,
    folder: str | os.PathLike | None = None,
    warn: Callable[[str], None] = print,
) -> tuple[Checkpoint | None, dict[str, np.ndarray] | None]:
    """The newest checkpoint that loads, with its state: (checkpoint, state), or (None, None).

    A damaged one (meta.json missing or unparsable, state.npz missing, truncated or corrupt) is
    skipped with a warning naming its folder, and the one before it is tried: a run that was
    killed, or a disk that failed, costs an epoch, not the run. Numpy only (no Keras)."""
    for epoch, path in reversed(_candidates(checkpoint_dir(workdir, folder))):
        try:
            meta = _read_meta(path)
            return Checkpoint(path=path, epoch=epoch, meta=meta), _load_arrays(
                path, meta["state_keys"]
            )
        except (*_READ_ERRORS, TypeError) as error:
            warn(
                f"warning: checkpoint {path} is damaged ({type(error).__name__}: {error}); "
                "resuming from the one before it instead (the epochs after that one are trained "
                "again and this folder is overwritten)"
            )
    return None, None


def remove_partial_checkpoints(
    workdir: str | os.PathLike, *, folder: str | os.PathLike | None = None
) -> list[Path]:
    """Delete `.tmp-` folders an interrupted save left behind; returns what was removed."""
    folder = checkpoint_dir(workdir, folder)
    removed = []
    if folder.is_dir():
        for path in folder.iterdir():
            if ".tmp-" in path.name:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def non_finite_arrays(state: dict[str, np.ndarray]) -> list[str]:
    """Keys of floating-point arrays holding NaN or Inf (a checkpoint of them would be useless)."""
    bad = []
    for key, value in state.items():
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            bad.append(key)
    return bad


def _write_state(path: Path, state: dict[str, np.ndarray], keys: list[str]) -> None:
    """state.npz: the arrays under positional names (keys may hold any character), synced."""
    with open(path, "wb") as stream:
        arrays = {f"a{i}": np.asarray(state[key]) for i, key in enumerate(keys)}
        # numpy's stub is `savez(file, *args, allow_pickle: bool = True, **kwds: ArrayLike)`:
        # mypy checks an unpacked dict[str, ndarray] against `allow_pickle: bool` as well.
        np.savez(stream, **arrays)  # type: ignore[arg-type]
        stream.flush()
        os.fsync(stream.fileno())


def _test_pause(epoch: int) -> None:
    """The fault-injection hook of TEST_PAUSE_ENV (no effect unless that variable is set)."""
    wanted, _, seconds = os.environ.get(TEST_PAUSE_ENV, "").partition(":")
    if wanted and int(wanted) == epoch:
        time.sleep(float(seconds or 60))


def save_checkpoint(
    workdir: str | os.PathLike,
    epoch: int,
    state: dict[str, np.ndarray],
    meta: dict[str, Any],
    *,
    keep: int = 2,
    folder: str | os.PathLike | None = None,
) -> Checkpoint:
    """Write `checkpoints/epoch-NNNN/` (in `folder` when given) atomically, then delete all but
    the newest `keep` (keep=0 keeps every checkpoint).

    Refuses a state with NaN/Inf (PainterError naming the arrays): the last good checkpoint must
    not be replaced by a diverged one. A failed write (e.g. ENOSPC) raises CheckpointWriteError
    naming the folder and the cause; its temporary folder is removed and the older checkpoints
    are untouched."""
    bad = non_finite_arrays(state)
    if bad:
        raise PainterError(
            f"not writing checkpoint for epoch {epoch}: {len(bad)} array(s) hold NaN/Inf, e.g. "
            f"{bad[:3]}"
        )
    folder = checkpoint_dir(workdir, folder)
    final = folder / checkpoint_name(epoch)
    try:
        # A re-run of the same epoch (e.g. after a crash in between) replaces the folder whole.
        with atomic_path(final, folder=True, prefix=f"{final.name}.tmp-", suffix="") as temporary:
            keys = list(state)
            _write_state(temporary / STATE_FILE, state, keys)
            full_meta = {**meta, "epoch": epoch, "state_keys": keys, "written_at": time.time()}
            _write_meta(temporary / META_FILE, full_meta)
            _test_pause(epoch)
    except OSError as error:
        size = sum(np.asarray(v).nbytes for v in state.values()) / 2**20
        hint = (
            " The disk is full: free space, or set `checkpoint_dir` to a disk with room,"
            if error.errno in (errno.ENOSPC, errno.EDQUOT)
            else " Fix the cause,"
        )
        previous = ", ".join(c.path.name for c in list_checkpoints(workdir, folder=folder))
        raise CheckpointWriteError(
            f"could not write checkpoint {final} ({size:.1f} MB): {error.strerror or error}. "
            f"Nothing was left half-written; the earlier checkpoints ({previous or 'none'}) are "
            f"intact.{hint} then run the same command again: it resumes from the last one."
        ) from error
    if keep > 0:
        for old in list_checkpoints(workdir, folder=folder)[:-keep]:
            shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(path=final, epoch=epoch, meta=full_meta)


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    with open(path, "w") as stream:
        stream.write(json.dumps(meta, indent=1) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def update_meta(checkpoint: Checkpoint, **changes: Any) -> Checkpoint:
    """Rewrite a checkpoint's meta.json with `changes` (atomically: a temporary file, then a
    rename), e.g. the learning-rate plan made just after the checkpoint was written."""
    meta = {**checkpoint.meta, **changes}
    atomic_write_text(checkpoint.path / META_FILE, json.dumps(meta, indent=1) + "\n")
    return Checkpoint(path=checkpoint.path, epoch=checkpoint.epoch, meta=meta)


__all__ = [
    "GENERATOR_FILE",
    "Checkpoint",
    "CheckpointWriteError",
    "TEST_PAUSE_ENV",
    "checkpoint_dir",
    "checkpoint_name",
    "latest_checkpoint",
    "latest_resumable",
    "list_checkpoints",
    "non_finite_arrays",
    "remove_partial_checkpoints",
    "save_checkpoint",
    "update_meta",
]
