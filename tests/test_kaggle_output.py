"""The notebook's output folder stays small: checkpoints outside Kaggle's output, a few sample
grids kept, and a summary of what the folder weighs."""

from __future__ import annotations

import tempfile

import pytest

from painter.kaggle import output
from painter.kaggle.output import (
    KAGGLE_OUTPUT,
    checkpoint_dir_for,
    measure_output,
    thin_sample_grids,
)


def test_checkpoints_leave_the_output_folder_only_on_kaggle(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "KAGGLE_SCRATCH", tmp_path / "kaggle" / "temp")
    assert checkpoint_dir_for(KAGGLE_OUTPUT, {}) == str(
        tmp_path / "kaggle" / "temp" / "painter-checkpoints"
    )
    assert checkpoint_dir_for("/home/me/run", {}) == ""  # elsewhere: WORKDIR/checkpoints
    chosen = {"PAINTER_CHECKPOINT_DIR": "/scratch/ckpt"}
    assert checkpoint_dir_for(KAGGLE_OUTPUT, chosen) == "/scratch/ckpt"
    # /kaggle/temp cannot be made (a file is in the way): the system's temporary folder instead.
    (tmp_path / "blocked").write_text("a file, not a folder")
    monkeypatch.setattr(output, "KAGGLE_SCRATCH", tmp_path / "blocked" / "temp")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-tmp"))
    assert checkpoint_dir_for(KAGGLE_OUTPUT, {}) == str(
        tmp_path / "system-tmp" / "painter-checkpoints"
    )


def test_thinning_keeps_the_first_the_last_and_evenly_spaced_grids(tmp_path):
    for epoch in range(1, 101):
        (tmp_path / f"epoch-{epoch:04d}.png").write_bytes(b"png")
    (tmp_path / "notes.txt").write_text("not a grid")
    removed = thin_sample_grids(tmp_path, keep=5)
    left = sorted(p.name for p in tmp_path.glob("epoch-*.png"))
    assert left == [
        "epoch-0001.png",
        "epoch-0026.png",
        "epoch-0051.png",
        "epoch-0075.png",
        "epoch-0100.png",
    ]
    assert len(removed) == 95 and not any(p.exists() for p in removed)
    assert (tmp_path / "notes.txt").exists()
    assert thin_sample_grids(tmp_path, keep=5) == []  # already thin: nothing to do
    with pytest.raises(ValueError, match="at least 2"):
        thin_sample_grids(tmp_path, keep=1)


def test_measure_lists_files_largest_first(tmp_path):
    (tmp_path / "images.zip").write_bytes(b"x" * 300_000)
    (tmp_path / "work" / "samples").mkdir(parents=True)
    (tmp_path / "work" / "history.json").write_bytes(b"x" * 2_000)
    (tmp_path / "work" / "samples" / "epoch-0001.png").write_bytes(b"x" * 50_000)
    report = measure_output(tmp_path)
    assert report.files[0] == ("images.zip", 300_000)
    assert report.total_bytes == 352_000
    assert report.summary(largest=2) == (
        f"output {tmp_path}: 3 files, 0.4 MB (images.zip 0.3 MB, "
        "work/samples/epoch-0001.png 50.0 kB, 1 more)"
    )
