"""Reading TFRecords and image folders: the real Monet files, odd images, and every kind of bad
input giving a DataError that names the file and record (or skipped and counted on request)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import random_image
from PIL import Image

from painter.data import reader
from painter.data.augment import to_model_range
from painter.data.tfrecord import FEATURE_SPEC, make_example
from painter.errors import DataError


def jpeg_bytes(image: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_records(path, records: list[bytes]):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def good_record(name: str, size: int = 16, seed: int = 0) -> bytes:
    return make_example(name, jpeg_bytes(random_image((size, size), seed)), "photo")


def test_real_monet_tfrecords(real_data_dir):
    names, images = reader.load_images(real_data_dir / "monet_tfrec", image_size=256)
    assert images.shape == (300, 256, 256, 3) and images.dtype == np.uint8
    scaled = to_model_range(images).numpy()
    assert (
        scaled.min() >= -1.0 and scaled.max() <= 1.0 and scaled.min() < -0.9 and scaled.max() > 0.9
    )
    assert sorted(names) == sorted(p.stem for p in (real_data_dir / "monet_jpg").glob("*.jpg"))
    # Same pixels as the competition starter's parse + decode_jpeg(channels=3).
    raw = tf.data.TFRecordDataset(
        sorted(str(p) for p in (real_data_dir / "monet_tfrec").glob("*.tfrec"))
    )
    for position, record in enumerate(raw.take(5)):
        parsed = tf.io.parse_single_example(record, FEATURE_SPEC)
        assert parsed["target"].numpy() == b"monet"
        assert parsed["image_name"].numpy().decode() == names[position]
        np.testing.assert_array_equal(
            tf.io.decode_jpeg(parsed["image"], channels=3).numpy(), images[position]
        )


def test_folder_images_of_any_mode_become_rgb_at_size(tmp_path):
    size = 16
    folder = tmp_path / "odd"
    folder.mkdir()
    base = random_image((24, 24), seed=1)
    Image.fromarray(base).convert("L").save(folder / "gray.png")
    rgba = np.dstack([base, np.full((24, 24), 255, np.uint8)])
    rgba[:, :, 3][:4] = 0  # a transparent band: composited on white
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.fromarray(base).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    # Wide 72x24 image: thirds blue | green | red; scaled to 48x16, its centre crop is the green
    # third.
    wide = np.zeros((24, 72, 3), np.uint8)
    wide[:, :24, 2], wide[:, 24:48, 1], wide[:, 48:, 0] = 255, 255, 255
    Image.fromarray(wide).save(folder / "wide.png")
    # Stored 32 wide x 16 high, top half red; EXIF orientation 6 = shown rotated 90 degrees
    # clockwise,
    # so displayed 16 wide x 32 high with the red half on the right.
    tall = np.zeros((16, 32, 3), np.uint8)
    tall[:8, :, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(tall).save(folder / "rotated.jpg", exif=exif, quality=100)

    names, images = reader.load_images(folder, image_size=size)
    assert images.shape == (5, size, size, 3)
    by_name = dict(zip(names, images, strict=True))
    gray = by_name["gray"].astype(int)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert by_name["rgba"][0].min() >= 245  # transparent top rows are white (not black)
    assert (
        np.abs(
            by_name["cmyk"].astype(int)
            - np.asarray(Image.fromarray(base).resize((16, 16), Image.Resampling.LANCZOS))
        ).mean()
        < 12
    )
    green = by_name["wide"][:, 2:-2]  # the outermost columns blend with the neighbours
    assert green[..., 1].min() > 200 and green[..., 0].max() < 60 and green[..., 2].max() < 60
    rotated = by_name["rotated"]
    assert rotated.shape == (16, 16, 3)
    assert rotated[:, 12:, 0].mean() > 200 and rotated[:, :4, 0].mean() < 50  # red on the right


def test_native_size_when_no_image_size(tmp_path):
    folder = tmp_path / "sizes"
    folder.mkdir()
    Image.fromarray(random_image((20, 30))).save(folder / "a.png")
    Image.fromarray(random_image((10, 10))).save(folder / "b.png")
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated: 12 wide x 14 high
    Image.fromarray(random_image((12, 14))).save(folder / "c.jpg", exif=exif)
    shapes = [image.shape for _, image in reader.iterate_images(folder)]
    assert shapes == [(20, 30, 3), (10, 10, 3), (14, 12, 3)]


# --- bad input -------------------------------------------------------------------------------
def test_nonexistent_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        reader.read_images(tmp_path / "missing")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .tfrec files and no JPEG/PNG"):
        reader.read_images(tmp_path / "empty", image_size=16)


def test_truncated_tfrecord_names_file_and_record(tmp_path):
    path = write_records(
        tmp_path / "photo00-3.tfrec", [good_record(f"n{i}", seed=i) for i in range(3)]
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 1 // 2])  # cut inside record 1
    with pytest.raises(DataError) as caught:
        reader.read_images(path, image_size=16)
    message = str(caught.value)
    assert f"{path} record 1" in message and "truncated or corrupt" in message
    assert "skip_bad_records" in message
    report = reader.ReadReport()
    names = [
        name
        for name, _ in reader.iterate_images(
            path, image_size=16, skip_bad_records=True, report=report
        )
    ]
    assert names == ["n0"] and len(report.skipped) == 1 and report.read == 1


def test_corrupt_tfrecord_crc(tmp_path):
    path = write_records(tmp_path / "photo00-2.tfrec", [good_record("a"), good_record("b", seed=1)])
    data = bytearray(path.read_bytes())
    data[len(data) - 40] ^= 0xFF  # inside record 1's payload: its checksum no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="record 1: truncated or corrupt TFRecord"):
        reader.read_images(path, image_size=16)


def test_record_without_image_feature(tmp_path):
    no_image = tf.train.Example(
        features=tf.train.Features(
            feature={
                "image_name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"])),
                "target": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"photo"])),
            }
        )
    ).SerializeToString()
    path = write_records(tmp_path / "photo00-2.tfrec", [good_record("a"), no_image])
    with pytest.raises(DataError, match=r"record 1: the record has no bytes feature `image`"):
        reader.read_images(path, image_size=16)
    report = reader.ReadReport()
    names = [
        n
        for n, _ in reader.iterate_images(path, image_size=16, skip_bad_records=True, report=report)
    ]
    assert names == ["a"] and "no bytes feature `image`" in report.summary()


def test_bytes_that_are_not_an_image(tmp_path):
    path = write_records(
        tmp_path / "photo00-2.tfrec",
        [make_example("junk", b"hello world", "photo"), good_record("b")],
    )
    with pytest.raises(DataError, match=r"record 0: the `image` feature is not an image"):
        reader.read_images(path, image_size=16)
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "fake.jpg").write_text("this is not a JPEG")
    with pytest.raises(DataError, match=r"fake.jpg: not an image"):
        reader.read_images(folder, image_size=16)


def test_image_smaller_than_crop(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    Image.fromarray(random_image((12, 40))).save(folder / "tiny.png")
    Image.fromarray(random_image((20, 20))).save(folder / "ok.png")
    with pytest.raises(DataError, match=r"tiny.png: image is 40x12, smaller than the 16x16 crop"):
        reader.read_images(folder, image_size=16)
    report = reader.ReadReport()
    names, images = reader.load_images(folder, image_size=16, skip_bad_records=True, report=report)
    assert names == ["ok"] and images.shape == (1, 16, 16, 3) and len(report.skipped) == 1


def test_corrupt_image_data_is_named_when_decoded(tmp_path):
    good = jpeg_bytes(random_image((16, 16)))
    whole = jpeg_bytes(random_image((64, 64), seed=3))
    broken = whole[: len(whole) - 300]  # header intact, pixels cut off
    path = write_records(
        tmp_path / "photo00-3.tfrec",
        [
            make_example("a", good, "photo"),
            make_example("broken", broken, "photo"),
            make_example("c", good, "photo"),
        ],
    )
    with pytest.raises(
        DataError, match=r"photo00-3.tfrec record 1 \(broken\): the image cannot be decoded"
    ):
        list(reader.iterate_images(path, image_size=16, batch_size=2))
    report = reader.ReadReport()
    names = [
        n
        for n, _ in reader.iterate_images(
            path, image_size=16, skip_bad_records=True, report=report, batch_size=2
        )
    ]
    assert names == ["a", "c"] and report.read == 2 and len(report.skipped) == 1
    # read_images (a plain dataset) drops it when skipping.
    dataset = reader.read_images(path, image_size=16, skip_bad_records=True)
    assert [e["image_name"].numpy() for e in dataset] == [b"a", b"c"]


def test_tfrecord_images_of_other_sizes_are_fitted(tmp_path):
    wide = np.zeros((24, 72, 3), np.uint8)
    wide[:, :24, 2], wide[:, 24:48, 1], wide[:, 48:, 0] = 255, 255, 255
    path = write_records(
        tmp_path / "photo00-2.tfrec",
        [
            make_example("wide", jpeg_bytes(wide, quality=100), "photo"),
            good_record("exact", size=16),
        ],
    )
    names, images = reader.load_images(path, image_size=16)
    assert names == ["wide", "exact"] and images.shape == (2, 16, 16, 3)
    green = images[0][:, 2:-2].astype(int)  # the centre third, scaled (same rule as Pillow's path)
    assert green[..., 1].min() > 200 and green[..., 0].max() < 60 and green[..., 2].max() < 60


def test_read_images_element_spec(tmp_path):
    path = write_records(
        tmp_path / "photo00-2.tfrec", [good_record("a", size=20), good_record("b", size=20, seed=1)]
    )
    dataset = reader.read_images(path, image_size=16)
    assert dataset.element_spec["image_name"].dtype == tf.string
    assert dataset.element_spec["image"] == tf.TensorSpec([16, 16, 3], tf.uint8)
    assert [e["image_name"].numpy() for e in dataset] == [b"a", b"b"]
