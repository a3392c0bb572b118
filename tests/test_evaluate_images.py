"""painter.evaluate.images: the images an evaluation compares, from zips, folders and TFRecords.

Pixels are checked against what the test wrote (PNG is lossless), names against the sorted order
Kaggle's scorer would see, and every bad input against a message naming it."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from painter.data.sources import find_source
from painter.errors import DataError
from painter.evaluate import images


def pictures(count, size, seed):
    return list(np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), np.uint8))


def png_bytes(picture) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png_zip(path, named_pictures):
    with zipfile.ZipFile(path, "w") as archive:
        for name, picture in named_pictures.items():
            archive.writestr(name, png_bytes(picture))
        archive.writestr("__MACOSX/._gen_00.png", b"not an image")  # macOS resource fork
        archive.writestr(".hidden.png", b"not an image either")
        archive.writestr("notes.txt", b"not an image suffix")
        archive.writestr("folder/", b"")
    return path


def write_png_folder(folder, named_pictures):
    folder.mkdir(parents=True, exist_ok=True)
    for name, picture in named_pictures.items():
        Image.fromarray(picture).save(folder / name)
    return folder


def test_a_zip_yields_its_images_sorted_by_name_with_their_pixels(tmp_path):
    shown = pictures(3, 8, seed=3)
    # written out of order, and one inside a folder: the scorer sees them sorted by full name
    written = {"gen_02.png": shown[2], "gen_00.png": shown[0], "sub/gen_01.png": shown[1]}
    zip_path = write_png_zip(tmp_path / "images.zip", written)
    read = list(images.iterate_images(zip_path))
    assert [name for name, _ in read] == ["gen_00.png", "gen_02.png", "sub/gen_01.png"]
    for name, image in read:
        assert image.dtype == np.uint8
        np.testing.assert_array_equal(image, written[name])
    assert [name for name, _ in images.iterate_images(zip_path, limit=2)] == [
        "gen_00.png",
        "gen_02.png",
    ]


def test_a_corrupt_image_in_a_zip_is_named(tmp_path):
    zip_path = write_png_zip(tmp_path / "images.zip", {"gen_00.png": pictures(1, 8, seed=0)[0]})
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr("gen_99.png", b"truncated")
    with pytest.raises(DataError, match="cannot decode the image gen_99.png in .*images.zip"):
        list(images.iterate_images(zip_path))


def test_a_folder_and_its_image_source_yield_the_same_images(tmp_path):
    shown = pictures(3, 8, seed=4)
    written = {f"real_{index}.png": picture for index, picture in enumerate(shown)}
    folder = write_png_folder(tmp_path / "real", written)
    from_path = list(images.iterate_images(folder))
    from_source = list(images.iterate_images(find_source(folder), limit=2))
    assert [name for name, _ in from_path] == ["real_0", "real_1", "real_2"]  # painter.data names
    for name, image in from_path:
        np.testing.assert_array_equal(image, written[f"{name}.png"])
    assert [name for name, _ in from_source] == ["real_0", "real_1"]
    for (_, expected), (_, image) in zip(from_path, from_source, strict=False):
        np.testing.assert_array_equal(image, expected)


def test_tfrecords_are_read_through_painter_data(tmp_path):
    from painter.data.tfrecord import write_tfrecords

    y, x = np.mgrid[0:16, 0:16]
    # smooth and different from each other: JPEG keeps them within a few levels
    shown = [np.stack([8 * y, 8 * x, 0 * x + 60 * i], -1).astype(np.uint8) for i in range(3)]
    folder = write_png_folder(tmp_path / "png", {f"p{i}.png": p for i, p in enumerate(shown)})
    write_tfrecords(folder, tmp_path / "tfrec", "photo", records_per_file=2, image_size=16)
    read = list(images.iterate_images(tmp_path / "tfrec"))
    assert [name for name, _ in read] == ["p0", "p1", "p2"]
    for (_, image), expected in zip(read, shown, strict=True):
        assert image.shape == (16, 16, 3) and image.dtype == np.uint8
        # stored as JPEG: close to, not equal to, the pixels written
        assert np.abs(image.astype(int) - expected.astype(int)).mean() < 3


def test_the_competitions_tfrecords(real_data_dir):
    monet = list(images.iterate_images(real_data_dir / "monet_tfrec", limit=2))
    assert len(monet) == 2 and all(image.shape == (256, 256, 3) for _, image in monet)
    assert all(image.dtype == np.uint8 for _, image in monet)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "empty"),  # painter.data's message
        (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "notes.txt"),
        (lambda p: (p / "bad.zip").write_bytes(b"PK no zip") and p / "bad.zip", "not a readable"),
        (lambda p: zipfile.ZipFile(p / "none.zip", "w").close() or p / "none.zip", "holds no"),
    ],
)
def test_bad_image_sources_are_named(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        list(images.iterate_images(path))
    assert str(path) in str(caught.value)


def test_a_limit_below_one_is_refused(tmp_path):
    with pytest.raises(DataError, match="positive number of images; got 0"):
        images.iterate_images(tmp_path, limit=0)
