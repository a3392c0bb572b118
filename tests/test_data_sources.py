"""Finding data: Kaggle's layout, explicit folders, and clear errors for bad paths."""

from __future__ import annotations

import pytest
from data_helpers import write_identity_folder

from painter.data.sources import find_domains, find_source
from painter.errors import DataError, PainterError


def test_find_source_kinds(tmp_path):
    images = write_identity_folder(tmp_path / "imgs", 2, 8)
    (images / "notes.txt").write_text("not data")
    source = find_source(images)
    assert source.kind == "images"
    assert [p.name for p in source.files] == ["img0000.png", "img0001.png"]
    records = tmp_path / "rec"
    records.mkdir()
    (records / "b01-2.tfrec").write_bytes(b"")
    (records / "a00-2.tfrec").write_bytes(b"")
    (records / "x.jpg").write_bytes(b"")
    source = find_source(records)
    assert source.kind == "tfrecord"  # TFRecords preferred when both kinds are present
    assert [p.name for p in source.files] == ["a00-2.tfrec", "b01-2.tfrec"]
    assert find_source(records / "a00-2.tfrec").files == (records / "a00-2.tfrec",)


def test_missing_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder") as caught:
        find_source(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(caught.value)
    assert isinstance(caught.value, PainterError)


def test_empty_folder_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .tfrec files and no JPEG/PNG images") as caught:
        find_source(tmp_path / "empty")
    assert "empty" in str(caught.value)


def test_find_domains_prefers_tfrecords_and_accepts_explicit_folders(tmp_path):
    for name in ("monet_jpg", "photo_jpg"):
        write_identity_folder(tmp_path / name, 1, 8)
    (tmp_path / "monet_tfrec").mkdir()
    (tmp_path / "monet_tfrec" / "monet00-1.tfrec").write_bytes(b"")
    monet, photo = find_domains(tmp_path)
    assert monet.root.name == "monet_tfrec" and monet.kind == "tfrecord"
    assert photo.root.name == "photo_jpg" and photo.kind == "images"
    monet, photo = find_domains(monet=tmp_path / "monet_jpg", photo=tmp_path / "photo_jpg")
    assert (monet.root.name, photo.root.name) == ("monet_jpg", "photo_jpg")
    write_identity_folder(tmp_path / "half" / "monet_jpg", 1, 8)
    with pytest.raises(DataError, match="neither photo_tfrec/ nor photo_jpg/"):
        find_domains(tmp_path / "half")


def test_real_kaggle_layout(real_data_dir):
    monet, photo = find_domains(real_data_dir)
    assert monet.kind == "tfrecord" and len(monet.files) == 5
    assert photo.kind == "images" and len(photo.files) == 7038
