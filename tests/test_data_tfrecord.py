"""Writing TFRecords in the competition's format: the real photos round trip exactly, Kaggle's
naming, byte-for-byte copies, re-encoding of other images, atomic writes and resuming."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import random_image
from PIL import Image

from painter.data import reader
from painter.data.tfrecord import FEATURE_SPEC, write_tfrecords
from painter.errors import DataError

# The competition starter's parser, verbatim in spirit.
STARTER_SPEC = {
    "image_name": tf.io.FixedLenFeature([], tf.string),
    "image": tf.io.FixedLenFeature([], tf.string),
    "target": tf.io.FixedLenFeature([], tf.string),
}


def test_real_photos_round_trip(real_data_dir, photo_tfrec_dir):
    files = sorted(p.name for p in photo_tfrec_dir.iterdir())
    assert files == [f"photo{i:02d}-352.tfrec" for i in range(19)] + ["photo19-350.tfrec"]
    jpgs = sorted((real_data_dir / "photo_jpg").glob("*.jpg"))
    assert [r.name for r in reader.scan(photo_tfrec_dir).records] == [p.stem for p in jpgs]
    # Every record holds its JPEG file's own bytes (stored losslessly) in file order, so decoding a
    # record is decoding the JPEG: checked through our reader on a spread of 73 of them.
    stored = [
        tf.train.Example.FromString(raw).features.feature["image"].bytes_list.value[0]
        for raw in tf.data.TFRecordDataset([str(p) for p in sorted(photo_tfrec_dir.iterdir())])
        .batch(1024)
        .unbatch()
        .as_numpy_iterator()
    ]
    assert len(stored) == 7038
    assert all(data == jpg.read_bytes() for data, jpg in zip(stored, jpgs, strict=True))
    picked = list(range(0, len(jpgs), 97))
    decoded = list(reader.iterate_images(photo_tfrec_dir, image_size=256, indices=picked))
    assert [name for name, _ in decoded] == [jpgs[i].stem for i in picked]
    for position, (_, image) in zip(picked, decoded, strict=True):
        direct = tf.io.decode_jpeg(tf.io.read_file(str(jpgs[position])), channels=3).numpy()
        np.testing.assert_array_equal(image, direct)
    # and the starter's parse reads our files; the JPEG bytes are the files' own bytes
    raw = tf.data.TFRecordDataset([str(photo_tfrec_dir / files[0])])
    for position, record in enumerate(raw.take(3)):
        parsed = tf.io.parse_single_example(record, STARTER_SPEC)
        assert parsed["target"].numpy() == b"photo"
        assert parsed["image_name"].numpy().decode() == jpgs[position].stem
        assert parsed["image"].numpy() == jpgs[position].read_bytes()
    assert FEATURE_SPEC.keys() == STARTER_SPEC.keys()


def test_other_images_are_converted_and_reencoded(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(random_image((40, 30), seed=1)).save(src / "a.png")
    Image.fromarray(random_image((16, 16), seed=2)).convert("CMYK").save(src / "b.jpg")
    Image.fromarray(random_image((16, 16), seed=3)).save(src / "c.jpg", quality=90)  # copied as is
    report = write_tfrecords(src, tmp_path / "out", "monet", records_per_file=2, image_size=16)
    assert [p.name for p in report.files] == ["monet00-2.tfrec", "monet01-1.tfrec"]
    assert (report.copied, report.reencoded, report.records) == (1, 2, 3)
    records = list(tf.data.TFRecordDataset([str(p) for p in report.files]))
    parsed = [tf.io.parse_single_example(r, STARTER_SPEC) for r in records]
    assert [p["image_name"].numpy() for p in parsed] == [b"a", b"b", b"c"]
    assert parsed[2]["image"].numpy() == (src / "c.jpg").read_bytes()
    for p in parsed:
        image = tf.io.decode_jpeg(p["image"], channels=3)
        assert image.shape == (16, 16, 3)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files


def test_rerun_resumes_and_replaces_stale_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        Image.fromarray(random_image((16, 16), seed=i)).save(src / f"{i}.jpg")
    out = tmp_path / "out"
    first = write_tfrecords(src, out, "photo", records_per_file=2, image_size=16)
    assert len(first.written) == 3
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    # an interrupted run: the last file never got its final name, a temp file is left over
    (out / "photo02-1.tfrec").unlink()
    (out / ".photo02-1.tfrec.tmp").write_bytes(b"partial")
    again = write_tfrecords(src, out, "photo", records_per_file=2, image_size=16)
    assert [p.name for p in again.kept] == ["photo00-2.tfrec", "photo01-2.tfrec"]
    assert [p.name for p in again.written] == ["photo02-1.tfrec"]
    assert all(
        out.joinpath(n).stat().st_mtime_ns == t for n, t in mtimes.items() if n != "photo02-1.tfrec"
    )
    # more source images: the last file is rewritten with its new count, the stale one removed
    Image.fromarray(random_image((16, 16), seed=9)).save(src / "5.jpg")
    third = write_tfrecords(src, out, "photo", records_per_file=2, image_size=16)
    assert sorted(p.name for p in out.glob("photo*.tfrec")) == [
        "photo00-2.tfrec",
        "photo01-2.tfrec",
        "photo02-2.tfrec",
    ]
    assert [p.name for p in third.removed] == ["photo02-1.tfrec"]
    names = [n for n, _ in reader.iterate_images(out, image_size=16)]
    assert names == ["0", "1", "2", "3", "4", "5"]


def test_bad_images_stop_the_conversion_or_are_skipped(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(random_image((16, 16))).save(src / "good.jpg")
    (src / "junk.jpg").write_text("not an image")
    with pytest.raises(DataError, match="junk.jpg: not an image"):
        write_tfrecords(src, tmp_path / "out", "photo", image_size=16)
    report = write_tfrecords(src, tmp_path / "out", "photo", image_size=16, skip_bad_records=True)
    assert report.records == 1 and len(report.read.skipped) == 1
    assert re.fullmatch(r"photo00-1\.tfrec", report.files[0].name)
    with pytest.raises(DataError, match="--target"):
        write_tfrecords(src, tmp_path / "out", "my photos")
