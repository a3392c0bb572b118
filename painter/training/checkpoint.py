"""Checkpoints in a workdir: written atomically at every epoch end, the last few kept, resumed.

Layout (inside `workdir/checkpoints/`):

    epoch-0003/state.npz   every array of `CycleGAN.get_state()`: the four networks, both
                           optimizers (iterations included, so the learning-rate schedule resumes
                           where it stopped) and the image pools
    epoch-0003/meta.json   epoch (completed epochs), config, painter version, Keras backend,
                           history so far, the state's keys in order, time written

A checkpoint is written as `epoch-NNNN.tmp-XXXX/` and renamed when complete, so a crash leaves either
the old set or the new one, never half a checkpoint; leftover `.tmp-` folders are removed on the next
start. The state is plain numpy, so a checkpoint written on one backend loads on the other.

Numpy and the standard library only: this module needs no Keras.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from painter.errors import PainterError

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.npz"
META_FILE = "meta.json"
_NAME = re.compile(r"^epoch-(\d{4,})$")


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk: `epoch` epochs were finished when it was written."""

    path: Path
    epoch: int
    meta: dict[str, Any]

    def load_state(self) -> dict[str, np.ndarray]:
        """The arrays saved from `get_state()`, under their original keys."""
        keys = self.meta["state_keys"]
        try:
            with np.load(self.path / STATE_FILE, allow_pickle=False) as arrays:
                return {key: arrays[f"a{index}"] for index, key in enumerate(keys)}
        except (OSError, KeyError, ValueError) as error:
            raise PainterError(
                f"checkpoint {self.path} is damaged ({error}). Delete that folder to resume from "
                "the one before it."
            ) from None


def checkpoint_dir(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / CHECKPOINTS


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def list_checkpoints(workdir: str | os.PathLike) -> list[Checkpoint]:
    """Complete checkpoints in `workdir`, oldest first (a folder without a readable meta.json, or
    a temporary one, is not a checkpoint)."""
    folder = checkpoint_dir(workdir)
    found = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if not match or not path.is_dir() or not (path / STATE_FILE).is_file():
            continue
        try:
            meta = json.loads((path / META_FILE).read_text())
        except (OSError, ValueError):
            continue
        found.append(Checkpoint(path=path, epoch=int(match.group(1)), meta=meta))
    return sorted(found, key=lambda checkpoint: checkpoint.epoch)


def latest_checkpoint(workdir: str | os.PathLike) -> Checkpoint | None:
    """The last complete checkpoint, or None in a fresh workdir."""
    checkpoints = list_checkpoints(workdir)
    return checkpoints[-1] if checkpoints else None


def remove_partial_checkpoints(workdir: str | os.PathLike) -> list[Path]:
    """Delete `.tmp-` folders an interrupted save left behind; returns what was removed."""
    folder = checkpoint_dir(workdir)
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


def save_checkpoint(
    workdir: str | os.PathLike,
    epoch: int,
    state: dict[str, np.ndarray],
    meta: dict[str, Any],
    *,
    keep: int = 2,
) -> Checkpoint:
    """Write `checkpoints/epoch-NNNN/` atomically, then delete all but the newest `keep`
    (keep=0 keeps every checkpoint).

    Refuses a state with NaN/Inf (PainterError naming the arrays): the last good checkpoint must
    not be replaced by a diverged one."""
    bad = non_finite_arrays(state)
    if bad:
        raise PainterError(
            f"not writing checkpoint for epoch {epoch}: {len(bad)} array(s) hold NaN/Inf, e.g. "
            f"{bad[:3]}"
        )
    folder = checkpoint_dir(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / checkpoint_name(epoch)
    temporary = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=folder))
    try:
        keys = list(state)
        with open(temporary / STATE_FILE, "wb") as stream:
            np.savez(stream, **{f"a{i}": np.asarray(state[key]) for i, key in enumerate(keys)})
            stream.flush()
            os.fsync(stream.fileno())
        full_meta = {**meta, "epoch": epoch, "state_keys": keys, "written_at": time.time()}
        (temporary / META_FILE).write_text(json.dumps(full_meta, indent=1) + "\n")
        if final.exists():  # a re-run of the same epoch (e.g. after a crash in between)
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if keep > 0:
        for old in list_checkpoints(workdir)[:-keep]:
            shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(path=final, epoch=epoch, meta=full_meta)


__all__ = [
    "Checkpoint",
    "checkpoint_dir",
    "checkpoint_name",
    "latest_checkpoint",
    "list_checkpoints",
    "non_finite_arrays",
    "remove_partial_checkpoints",
    "save_checkpoint",
]
