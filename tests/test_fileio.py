"""painter.fileio.atomic_path: the target appears only complete, a failure leaves it untouched and
no temporary behind, and the result has a plain open()'s permissions."""

from __future__ import annotations

import os
import stat

import pytest

from painter.fileio import atomic_path, atomic_write_bytes


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_file_appears_only_when_complete(tmp_path):
    target = tmp_path / "out" / "images.zip"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.name.startswith(".images.zip.")
        temporary.write_bytes(b"first half ")
        assert not target.exists()  # a reader sees nothing yet
        with open(temporary, "ab") as stream:
            stream.write(b"second half")
        assert not target.exists()
    assert target.read_bytes() == b"first half second half"
    assert os.listdir(target.parent) == ["images.zip"]


def test_an_exception_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "history.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as temporary:
            temporary.write_text("half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["history.json"]


def test_keyboard_interrupt_also_cleans_up(tmp_path):
    target = tmp_path / "model.keras"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target, suffix=".tmp.keras") as temporary:
            assert temporary.name.endswith(".tmp.keras")
            temporary.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_permissions_are_a_plain_opens_not_mkstemps(tmp_path, umask_022):
    target = tmp_path / "images.zip"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # 0o666 without the umask


def test_a_folder_replaces_the_old_folder_whole(tmp_path, umask_022):
    target = tmp_path / "epoch-0002"
    target.mkdir()
    (target / "stale.txt").write_text("from a crashed run")
    with atomic_path(target, folder=True, prefix="epoch-0002.tmp-", suffix="") as temporary:
        assert temporary.name.startswith("epoch-0002.tmp-") and temporary.is_dir()
        (temporary / "state.npz").write_bytes(b"state")
        assert (target / "stale.txt").exists()
    assert sorted(os.listdir(target)) == ["state.npz"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert os.listdir(tmp_path) == ["epoch-0002"]


def test_a_failed_folder_write_leaves_nothing(tmp_path):
    target = tmp_path / "epoch-0001"
    with pytest.raises(OSError):
        with atomic_path(target, folder=True) as temporary:
            (temporary / "state.npz").write_bytes(b"half")
            raise OSError(28, "No space left on device")
    assert os.listdir(tmp_path) == []
