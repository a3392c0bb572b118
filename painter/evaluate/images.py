"""The images an evaluation compares: an images.zip, a folder of JPG/PNG files, or TFRecords.

Yields `(image_name, uint8 [H, W, 3])` in a fixed (sorted) order, one image at a time, so 10,000
images never sit in memory together. Folders and TFRecords go through `painter.data` when it is
installed (the same readers training uses); zips, and folders without it, are read with Pillow.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from painter.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TFRECORD_SUFFIXES = (".tfrec", ".tfrecord", ".tfrecords")


def _decode(data: bytes | Path, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(
            f"cannot decode the image {where}: {error}. Remove or replace it."
        ) from error


def _read_zip(path: Path, limit: int | None) -> Iterator[tuple[str, np.ndarray]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{path} is not a readable zip file: {error}.") from error
    with archive:
        names = sorted(
            info.filename
            for info in archive.infolist()
            if not info.is_dir()
            and info.filename.lower().endswith(IMAGE_SUFFIXES)
            # macOS zips carry "__MACOSX/._name.jpg" resource forks that are not images
            and not Path(info.filename).name.startswith(".")
            and not info.filename.startswith("__MACOSX/")
        )
        if not names:
            raise DataError(f"{path} holds no .jpg/.jpeg/.png images.")
        for name in names[:limit]:
            yield name, _decode(archive.read(name), f"{name} in {path}")


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _tfrecord_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TFRECORD_SUFFIXES
    )


def _read_with_painter_data(path: Path, limit: int | None) -> Iterator[tuple[str, np.ndarray]]:
    from painter.data import reader, sources

    source = sources.find_source(path)
    if hasattr(reader, "iterate_images"):  # names the file and record of an undecodable image
        indices = range(limit) if limit is not None else None
        yield from reader.iterate_images(source, indices=indices)
        return
    dataset = reader.read_images(source)
    if limit is not None:
        dataset = dataset.take(limit)
    for example in dataset.as_numpy_iterator():
        name = example["image_name"]
        yield (name.decode("utf-8") if isinstance(name, bytes) else str(name)), example["image"]


def _read_tfrecords(files: list[Path], limit: int | None) -> Iterator[tuple[str, np.ndarray]]:
    # Fallback for Kaggle's format (JPEG bytes under "image", the name under "image_name") when
    # painter.data is not installed.
    import tensorflow as tf

    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "image_name": tf.io.FixedLenFeature([], tf.string, default_value=""),
    }
    count = 0
    for file in files:
        for record in tf.data.TFRecordDataset(str(file)).as_numpy_iterator():
            if limit is not None and count >= limit:
                return
            try:
                example = tf.io.parse_single_example(record, spec)
            except tf.errors.InvalidArgumentError as error:
                raise DataError(
                    f"record {count} of {file} is not in Kaggle's format: {error}"
                ) from error
            name = example["image_name"].numpy().decode("utf-8") or f"{file.name}:{count}"
            yield name, _decode(example["image"].numpy(), f"{name} in {file}")
            count += 1


def _has_painter_data() -> bool:
    try:
        from painter.data import reader, sources  # noqa: F401
    except ImportError:
        return False
    return hasattr(sources, "find_source") and hasattr(reader, "read_images")


def read_images(
    path: str | os.PathLike, *, limit: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """`(image_name, uint8 [H, W, 3])` for every image at `path` (a .zip, a folder of
    .jpg/.jpeg/.png, a folder of TFRecords, or one such file), sorted, at most `limit` of them.

    Raises DataError naming the path when it is missing, empty or unreadable."""
    path = Path(path)
    if limit is not None and limit < 1:
        raise DataError(f"limit must be a positive number of images; got {limit}.")
    if not path.exists():
        raise DataError(f"{path} does not exist: give an images.zip, an image folder or TFRecords.")
    if path.is_file() and path.suffix.lower() == ".zip":
        return _read_zip(path, limit)
    if path.is_dir():
        images, records = _image_files(path), _tfrecord_files(path)
        if not images and not records:
            raise DataError(
                f"{path} holds no .jpg/.jpeg/.png images and no .tfrec files (subfolders are not "
                "searched): point at the folder that holds them."
            )
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        images, records = [path], []
    elif path.suffix.lower() in TFRECORD_SUFFIXES:
        images, records = [], [path]
    else:
        raise DataError(
            f"{path} is neither a zip, an image (.jpg/.jpeg/.png) nor a TFRecord file (.tfrec)."
        )
    if _has_painter_data():
        return _read_with_painter_data(path, limit)
    if records and not images:
        return _read_tfrecords(records, limit)
    return ((p.name, _decode(p, str(p))) for p in images[:limit])
