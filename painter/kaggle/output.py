"""What the notebook leaves in its output folder (Kaggle's `/kaggle/working`), kept small.

Kaggle saves the output folder with the notebook and caps it (500 files; 20 GB), and a new session
cannot resume from it. So it holds what a user needs: images.zip, the trained generator, config,
history and the pictures; checkpoints (~0.4 GB each at 256 px: weights, Adam moments, image pools)
go outside it (`config.checkpoint_dir`), and the per-epoch sample grids are thinned to a few
(a session planned to fill the time budget runs a hundred epochs or more: one grid each).

Standard library only; nothing here imports Keras.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KAGGLE_OUTPUT = Path("/kaggle/working")
# Kaggle's own notebook template: "You can also write temporary files to /kaggle/temp/, but they
# won't be saved outside of the current session".
KAGGLE_SCRATCH = Path("/kaggle/temp")
KEEP_SAMPLE_GRIDS = 8  # the first, the last and evenly spaced ones: how the style emerged


def checkpoint_dir_for(
    output_dir: str | os.PathLike, environ: Mapping[str, str] | None = None
) -> str:
    """Where the notebook keeps checkpoints: PAINTER_CHECKPOINT_DIR if set; outside the output
    folder when that is Kaggle's (`/kaggle/temp/painter-checkpoints`, or the system's temporary
    folder where /kaggle/temp cannot be made); else "" (the config's default, WORKDIR/checkpoints:
    a local run keeps everything in one place)."""
    environ = os.environ if environ is None else environ
    if environ.get("PAINTER_CHECKPOINT_DIR"):
        return environ["PAINTER_CHECKPOINT_DIR"]
    if Path(output_dir) != KAGGLE_OUTPUT:
        return ""
    for scratch in (KAGGLE_SCRATCH, Path(tempfile.gettempdir())):
        try:
            scratch.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(scratch, os.W_OK):
            return str(scratch / "painter-checkpoints")
    raise OSError(
        f"neither {KAGGLE_SCRATCH} nor {tempfile.gettempdir()} is writable: set "
        "PAINTER_CHECKPOINT_DIR to a folder outside the output folder"
    )


def thin_sample_grids(samples_dir: str | os.PathLike, keep: int = KEEP_SAMPLE_GRIDS) -> list[Path]:
    """Delete all but `keep` of the `epoch-NNNN.png` grids in `samples_dir` (the first, the last
    and evenly spaced ones between); returns the deleted paths. Training no longer needs them:
    they are pictures of finished epochs, not state."""
    if keep < 2:
        raise ValueError(
            f"`keep` must be at least 2 (the first and the last grid). Received: {keep}"
        )
    grids = sorted(Path(samples_dir).glob("epoch-*.png"))
    if len(grids) <= keep:
        return []
    kept = {round(i * (len(grids) - 1) / (keep - 1)) for i in range(keep)}
    removed = [grid for index, grid in enumerate(grids) if index not in kept]
    for grid in removed:
        grid.unlink()
    return removed


@dataclass
class OutputReport:
    """Files and bytes under a folder, the largest first."""

    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)  # (relative path, bytes)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def summary(self, largest: int = 5) -> str:
        """`output /kaggle/working: 14 files, 301.2 MB (images.zip 280.0 MB, ...)`."""
        top = ", ".join(f"{name} {_megabytes(size)}" for name, size in self.files[:largest])
        more = f", {len(self.files) - largest} more" if len(self.files) > largest else ""
        return f"output {self.folder}: {len(self.files)} files, {_megabytes(self.total_bytes)}" + (
            f" ({top}{more})" if self.files else ""
        )


def measure_output(folder: str | os.PathLike) -> OutputReport:
    """Every file under `folder` (links not followed) with its size, the largest first."""
    folder = Path(folder)
    files = []
    for directory, _, names in os.walk(folder):
        for name in names:
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                files.append((path.relative_to(folder).as_posix(), path.stat().st_size))
    files.sort(key=lambda item: (-item[1], item[0]))
    return OutputReport(folder, files)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


__all__ = [
    "KAGGLE_OUTPUT",
    "KAGGLE_SCRATCH",
    "KEEP_SAMPLE_GRIDS",
    "OutputReport",
    "checkpoint_dir_for",
    "measure_output",
    "thin_sample_grids",
]
