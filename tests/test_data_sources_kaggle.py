"""find_kaggle_data: the competition's folder wherever Kaggle mounts it under /kaggle/input (a fake
tree in tmp_path), and an error that says what was searched when it is nowhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from painter.data.sources import find_domains, find_kaggle_data
from painter.errors import DataError


def _competition(folder: Path, *, tfrec: bool = True, jpg: bool = True) -> Path:
    """Kaggle's layout with one (empty) file per domain folder: enough to be found."""
    for domain in ("monet", "photo"):
        if tfrec:
            (folder / f"{domain}_tfrec").mkdir(parents=True)
            (folder / f"{domain}_tfrec" / f"{domain}00-1.tfrec").write_bytes(b"")
        if jpg:
            (folder / f"{domain}_jpg").mkdir(parents=True)
            (folder / f"{domain}_jpg" / f"{domain}000.jpg").write_bytes(b"")
    return folder


def test_the_usual_mount_is_taken_first(tmp_path):
    usual = _competition(tmp_path / "gan-getting-started")
    _competition(tmp_path / "aaa-copy")  # first by name, but not the usual mount
    assert find_kaggle_data(tmp_path) == usual


def test_a_moved_mount_is_found_and_the_competition_name_wins(tmp_path):
    (tmp_path / "gan-getting-started").mkdir()  # present but empty (a half-mounted input)
    _competition(tmp_path / "some-dataset" / "copy")  # another copy, shallower than the mount
    moved = _competition(tmp_path / "competitions" / "gan-getting-started" / "v2", jpg=False)
    found = find_kaggle_data(tmp_path)
    assert found == moved
    monet, photo = find_domains(found)
    assert (monet.root.name, photo.root.name) == ("monet_tfrec", "photo_tfrec")


def test_without_the_competition_name_the_shallowest_wins(tmp_path):
    _competition(tmp_path / "b" / "deeper" / "data", tfrec=False)
    shallow = _competition(tmp_path / "z" / "data", tfrec=False)
    assert find_kaggle_data(tmp_path) == shallow


def test_search_depth_and_links(tmp_path):
    deep = _competition(tmp_path / "a" / "b" / "c" / "d")
    assert find_kaggle_data(tmp_path, max_depth=4) == deep
    with pytest.raises(DataError, match="3 levels deep"):
        find_kaggle_data(tmp_path, max_depth=3)
    # A link back up the tree is followed once, not forever.
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert find_kaggle_data(tmp_path, max_depth=8) == deep


def test_nothing_found_says_what_was_searched_and_what_to_do(tmp_path):
    (tmp_path / "other-dataset" / "images").mkdir(parents=True)
    half = tmp_path / "monet-only"
    (half / "monet_jpg").mkdir(parents=True)
    (half / "monet_jpg" / "m.jpg").write_bytes(b"")
    with pytest.raises(DataError) as caught:
        find_kaggle_data(tmp_path)
    message = str(caught.value)
    assert f"looked for {tmp_path / 'gan-getting-started'}" in message
    assert "4 levels deep (4 folders)" in message  # root, monet-only, other-dataset, images
    assert "monet_tfrec/ or monet_jpg/ and photo_tfrec/ or photo_jpg/" in message
    assert "holds: monet-only, other-dataset." in message
    assert f"Only one domain in: {half} (only monet_jpg/)" in message
    assert "Add Input" in message and "PAINTER_DATA_DIR" in message
    with pytest.raises(DataError, match="no such folder.*PAINTER_DATA_DIR"):
        find_kaggle_data(tmp_path / "kaggle" / "input")
