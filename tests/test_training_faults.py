"""Runs that survive faults: a second run on a busy workdir stops at once naming the first (and a
killed run never leaves the lock stuck); `kill -9` during a checkpoint write, then a rerun that
resumes from the last complete checkpoint, past a damaged later one, and finishes; a damaged
latest checkpoint falls back to the one before it; a full disk while writing a checkpoint leaves
nothing half-written and the previous checkpoint intact."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from painter.config import preset
from painter.errors import PainterError
from painter.training import checkpoint as checkpoints
from painter.training.lock import WorkdirBusyError, WorkdirLock

HOLD_LOCK = """
import sys, time
from painter.training.lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()  # kept: the lock lives with the open file
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from painter.training.synthetic import make_dataset

    return make_dataset(
        tmp_path_factory.mktemp("data"), photos=16, monets=8, size=48, records_per_file=8
    )


def wait_for(condition, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the process ended ({process.returncode}) before {what}: "
                f"{process.stderr.read()[-3000:] if process.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_second_run_on_a_busy_workdir_stops_at_once_naming_the_first(tmp_path, tiny_data, capsys):
    from painter.cli import main

    workdir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(workdir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        code = main(
            ["train", "--config", "smoke", "--data", str(tiny_data), "--workdir", str(workdir)]
        )
        assert code == 1 and time.monotonic() - started < 10  # at once: no Keras, no data
        err = capsys.readouterr().err
        assert err.startswith(f"error: workdir {workdir} is in use by another painter run")
        assert f"pid {holder.pid} on host {socket.gethostname()}" in err
        assert "another --workdir" in err
        assert not (workdir / "checkpoints").exists() and not (workdir / "config.json").exists()
    finally:
        holder.kill()  # SIGKILL: the OS releases its lock
        holder.wait()
    assert (workdir / ".lock").exists()  # a killed holder leaves the file, not the lock
    with WorkdirLock(workdir):  # not stuck
        with pytest.raises(WorkdirBusyError, match=str(os.getpid())):
            WorkdirLock(workdir).acquire()  # and one process cannot hold it twice either
    assert not (workdir / ".lock").exists()  # a normal end leaves nothing behind


@pytest.mark.slow
def test_kill_9_while_writing_a_checkpoint_then_a_rerun_resumes_and_finishes(tmp_path, tiny_data):
    from painter.training.train import train

    workdir = tmp_path / "run"
    folder = workdir / "checkpoints"
    # The test hook pauses inside the write of checkpoint 2, after its files are in the
    # temporary folder and before the rename: the kill lands there, deterministically.
    env = dict(os.environ, **{checkpoints.TEST_PAUSE_ENV: "2:120", "TF_CPP_MIN_LOG_LEVEL": "2"})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "painter",
            "train",
            "--config",
            "smoke",
            "--data",
            str(tiny_data),
            "--workdir",
            str(workdir),
            "--set",
            "epochs=3",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: any(folder.glob("epoch-0002.tmp-*/meta.json")),
            240,
            "the checkpoint of epoch 2 being written",
            process,
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert [c.epoch for c in checkpoints.list_checkpoints(workdir)] == [1]
    assert len(list(folder.glob("epoch-0002.tmp-*"))) == 1  # the half-written one
    # Worse still: a later checkpoint that looks complete but whose state.npz is truncated.
    damaged = folder / "epoch-0002"
    shutil.copytree(folder / "epoch-0001", damaged)
    (damaged / "state.npz").write_bytes((damaged / "state.npz").read_bytes()[:1000])

    lines: list[str] = []
    result = train(
        preset("smoke").replace(epochs=3), workdir, data=tiny_data, verbose=0, printer=lines.append
    )
    assert "removed 1 incomplete checkpoint(s) left by an interrupted save" in lines
    assert any(line.startswith(f"warning: checkpoint {damaged} is damaged") for line in lines)
    assert any(line.startswith(f"resuming from {folder / 'epoch-0001'}") for line in lines)
    assert (result.start_epoch, result.epochs_done, result.stop_reason) == (1, 3, None)
    assert [c.epoch for c in checkpoints.list_checkpoints(workdir)] == [2, 3]
    assert not list(folder.glob("*.tmp-*"))
    assert result.history["epoch"] == [1, 2, 3]
    assert checkpoints.latest_resumable(workdir, warn=pytest.fail)[0].epoch == 3


@pytest.mark.parametrize("damage", ["truncated state.npz", "bad meta.json", "no state.npz"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path, damage):
    state = {"w": np.arange(6, dtype="float32"), "generator_optimizer/0000_iteration": np.int64(4)}
    for epoch in (1, 2):
        checkpoints.save_checkpoint(
            tmp_path,
            epoch,
            {**state, "w": state["w"] + epoch},
            {"config": {}, "history": {}},
            keep=2,
        )
    latest = tmp_path / "checkpoints" / "epoch-0002"
    if damage == "truncated state.npz":
        whole = (latest / "state.npz").read_bytes()
        (latest / "state.npz").write_bytes(whole[: len(whole) // 2])
    elif damage == "bad meta.json":
        (latest / "meta.json").write_text('{"epoch": 2, "state_ke')
    else:
        (latest / "state.npz").unlink()
    warnings: list[str] = []
    found, loaded = checkpoints.latest_resumable(tmp_path, warn=warnings.append)
    assert found.epoch == 1
    np.testing.assert_array_equal(loaded["w"], state["w"] + 1)
    assert len(warnings) == 1 and str(latest) in warnings[0] and "damaged" in warnings[0]
    assert "resuming from the one before it" in warnings[0]


def test_a_full_disk_while_writing_a_checkpoint(tmp_path, monkeypatch):
    state = {"w": np.arange(1000, dtype="float32")}
    checkpoints.save_checkpoint(tmp_path, 1, state, {"config": {}}, keep=2)
    folder = tmp_path / "checkpoints"
    before = (folder / "epoch-0001" / "state.npz").read_bytes()

    def full_disk(path, state, keys):
        with open(path, "wb") as stream:
            stream.write(b"PK\x03\x04 half of an npz")  # some bytes got out, then the disk filled
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoints, "_write_state", full_disk)
    with pytest.raises(checkpoints.CheckpointWriteError) as error:
        checkpoints.save_checkpoint(tmp_path, 2, state, {"config": {}}, keep=2)
    message = str(error.value)
    assert isinstance(error.value, PainterError)
    assert str(folder / "epoch-0002") in message and "No space left on device" in message
    assert "checkpoints (epoch-0001) are intact" in message and "checkpoint_dir" in message
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001"]  # no half folder
    assert (folder / "epoch-0001" / "state.npz").read_bytes() == before
    found, loaded = checkpoints.latest_resumable(tmp_path, warn=pytest.fail)
    assert found.epoch == 1 and np.array_equal(loaded["w"], state["w"])


def test_checkpoint_dir_holds_the_checkpoints(tmp_path):
    elsewhere = tmp_path / "tmp" / "ckpt"
    checkpoints.save_checkpoint(
        tmp_path / "work", 1, {"w": np.zeros(3)}, {"config": {}}, folder=elsewhere
    )
    assert not (tmp_path / "work" / "checkpoints").exists()
    assert [c.epoch for c in checkpoints.list_checkpoints(tmp_path / "work", folder=elsewhere)] == [
        1
    ]
    assert checkpoints.checkpoint_dir(Path("w")) == Path("w") / "checkpoints"
    assert checkpoints.checkpoint_dir(Path("w"), str(elsewhere)) == elsewhere
