"""`python -m painter submit` / `stylize` end to end: a workdir's saved generator, photo folders
(painter.data's reader), the zip validated; user errors are one-line messages, exit 1."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from painter.cli import main
from painter.config import Config

SIZE = 16


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    import keras

    path = tmp_path_factory.mktemp("workdir")
    Config(image_size=SIZE, resize_size=SIZE, submission_batch_size=4).save(path / "config.json")
    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(3, 1, activation="tanh")(hidden)
    keras.Model(inputs, outputs).save(path / "monet_generator.keras")
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(9):
        pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"p{i}.jpg")
    return path


@pytest.mark.backend
def test_submit_writes_a_valid_zip(workdir, photo_dir, tmp_path, capsys):
    out = tmp_path / "sub" / "images.zip"
    code = main(
        [
            "submit",
            "--workdir",
            str(workdir),
            "--photos",
            str(photo_dir),
            "--out",
            str(out),
            "--min-count",
            "5",
            "--batch-size",
            "4",
            "--image-size",
            str(SIZE),
            "--no-progress",
        ]
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == [f"p{i}.jpg" for i in range(9)]
    assert main(["validate", "--min-count", "5", "--image-size", str(SIZE), str(out)]) == 0


@pytest.mark.backend
def test_submit_fill_to_and_refusal(workdir, photo_dir, tmp_path, capsys):
    out = tmp_path / "images.zip"
    base = [
        "submit",
        "--workdir",
        str(workdir),
        "--photos",
        str(photo_dir),
        "--out",
        str(out),
        "--min-count",
        "12",
        "--image-size",
        str(SIZE),
        "--no-progress",
    ]
    assert main(base) == 1
    assert "error: 9 photos, fewer than the 12 images" in capsys.readouterr().err
    assert not out.exists()
    assert main([*base, "--fill-to", "14"]) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    assert len(names) == 14 and "p0_flip.jpg" in names and "p5_flip.jpg" not in names


@pytest.mark.backend
def test_submit_paints_at_the_training_size_and_writes_the_requested_size(workdir, tmp_path):
    # The workdir's generator was trained at 16 px; photos of 32 px are painted at 16 px and the
    # paintings written at --image-size 32 (the competition's 256 by default).
    photos = tmp_path / "photos32"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            photos / f"q{i}.jpg"
        )
    out = tmp_path / "images.zip"
    assert (
        main(
            [
                "submit",
                "--workdir",
                str(workdir),
                "--photos",
                str(photos),
                "--out",
                str(out),
                "--min-count",
                "6",
                "--image-size",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    with zipfile.ZipFile(out) as archive:
        sizes = {Image.open(archive.open(name)).size for name in archive.namelist()}
    assert sizes == {(32, 32)}
    # At the default 256 px the 32 px photos are too small to crop: refused, naming a photo.
    assert (
        main(
            [
                "submit",
                "--workdir",
                str(workdir),
                "--photos",
                str(photos),
                "--out",
                str(tmp_path / "big.zip"),
                "--min-count",
                "6",
                "--no-progress",
            ]
        )
        == 1
    )
    assert not (tmp_path / "big.zip").exists()


def test_submit_and_stylize_name_a_missing_generator(tmp_path, photo_dir, capsys):
    assert main(["submit", "--workdir", str(tmp_path), "--photos", str(photo_dir)]) == 1
    assert "monet_generator.keras: no generator; train first" in capsys.readouterr().err
    assert (
        main(
            [
                "stylize",
                str(photo_dir / "p0.jpg"),
                "--workdir",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.backend
def test_stylize_command(workdir, tmp_path, capsys):
    photo = tmp_path / "wide.png"
    Image.fromarray(np.full((21, 47, 3), 90, np.uint8)).save(photo)
    code = main(["stylize", str(photo), "--workdir", str(workdir), "--out", str(tmp_path / "out")])
    assert code == 0
    assert Image.open(tmp_path / "out" / "wide.png").size == (47, 21)


@pytest.mark.backend
def test_submit_on_real_photos_subset(workdir, real_data_dir, tmp_path):
    """The competition's own 256x256 JPEGs through painter.data's reader (a 24-photo subset)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted((real_data_dir / "photo_jpg").glob("*.jpg"))[:24]:
        shutil.copy(path, photos / path.name)
    real_workdir = shutil.copytree(workdir, tmp_path / "workdir")
    Config(submission_batch_size=8).save(real_workdir / "config.json")  # image_size 256
    out = tmp_path / "images.zip"
    assert (
        main(
            [
                "submit",
                "--workdir",
                str(real_workdir),
                "--photos",
                str(photos),
                "--out",
                str(out),
                "--min-count",
                "20",
                "--no-progress",
            ]
        )
        == 0
    )
    from painter.submission.validate import validate_submission

    report = validate_submission(out, min_count=24)  # the real 256x256 rule
    assert report.ok, report.violations
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(p.name for p in photos.iterdir())


@pytest.mark.backend
def test_submit_from_tfrecords(workdir, photo_dir, tmp_path):
    """Kaggle's photo_tfrec layout: the count is known only after reading, names come from the
    records' `image_name`."""
    from painter.data.tfrecord import write_tfrecords

    write_tfrecords(photo_dir, tmp_path / "tfrec", "photo", records_per_file=4, image_size=SIZE)
    out = tmp_path / "images.zip"
    assert (
        main(
            [
                "submit",
                "--workdir",
                str(workdir),
                "--photos",
                str(tmp_path / "tfrec"),
                "--out",
                str(out),
                "--min-count",
                "5",
                "--image-size",
                str(SIZE),
                "--no-progress",
            ]
        )
        == 0
    )
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == [f"p{i}.jpg" for i in range(9)]
    assert (
        main(
            [
                "submit",
                "--workdir",
                str(workdir),
                "--photos",
                str(tmp_path / "tfrec"),
                "--out",
                str(tmp_path / "few.zip"),
                "--min-count",
                "10",
                "--image-size",
                str(SIZE),
                "--no-progress",
            ]
        )
        == 1
    )
    assert not (tmp_path / "few.zip").exists()
