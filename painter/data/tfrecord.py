"""Write TFRecords in exactly the competition's format and naming.

Each record is a tf.train.Example with three bytes features, `image_name` (file name without
extension), `image` (JPEG bytes) and `target` (b"monet", b"photo", ...); files are named like
Kaggle's, `photo00-352.tfrec` = `{target}{index:02d}-{count}.tfrec`, count = records in that file.
Reading goes through `reader.read_images`, the same code that reads Kaggle's own files.

An upright RGB JPEG already at the target size is stored byte for byte (lossless, no re-encoding,
fast); any other image is converted to RGB, scaled (shorter side) and centre-cropped with Pillow
and re-encoded at quality 95. Every file is written under a temporary name and renamed when
complete; a rerun keeps files that already hold the right records and writes only the rest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from painter.data import images as imagelib
from painter.data.records import SKIP_HINT, ReadReport, Record, check_scan, raw_records, scan
from painter.data.sources import find_source
from painter.errors import DataError
from painter.fileio import atomic_path

# The competition starter's parsing spec: our files must parse with it unchanged.
FEATURE_SPEC = {
    "image_name": tf.io.FixedLenFeature([], tf.string),
    "image": tf.io.FixedLenFeature([], tf.string),
    "target": tf.io.FixedLenFeature([], tf.string),
}
DEFAULT_RECORDS_PER_FILE = 352  # Kaggle's photo files hold 352 records each


@dataclass
class WriteReport:
    """What `write_tfrecords` did."""

    files: list[Path] = field(default_factory=list)  # every output file, in order
    written: list[Path] = field(default_factory=list)  # files written by this run
    kept: list[Path] = field(default_factory=list)  # files from an earlier run that were complete
    removed: list[Path] = field(default_factory=list)  # stale files of ours replaced
    records: int = 0
    copied: int = 0  # JPEG bytes stored as they were
    reencoded: int = 0
    read: ReadReport = field(default_factory=ReadReport)


def tfrecord_name(target: str, index: int, count: int) -> str:
    """Kaggle's naming: `photo00-352.tfrec`."""
    return f"{target}{index:02d}-{count}.tfrec"


def make_example(image_name: str, image: bytes, target: str) -> bytes:
    """One serialized record in the competition's format."""

    def feature(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image_name": feature(image_name.encode("utf-8")),
                "image": feature(image),
                "target": feature(target.encode("utf-8")),
            }
        )
    ).SerializeToString()


def _record_names(path: Path) -> list[str] | None:
    """The image names stored in one of our files, or None if it cannot be read in full."""
    names = []
    for _, raw, _reason in raw_records(path):
        if raw is None:
            return None
        feature = tf.train.Example.FromString(raw).features.feature.get("image_name")
        if feature is None or not feature.bytes_list.value:
            return None
        names.append(feature.bytes_list.value[0].decode("utf-8"))
    return names


def _undecodable(jpegs: Sequence[bytes]) -> dict[int, str]:
    """Positions of JPEG byte strings TensorFlow cannot decode (decoded in parallel)."""
    if not jpegs:
        return {}
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(list(jpegs), tf.string)).map(
        lambda data: tf.shape(tf.io.decode_jpeg(data, channels=3)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    bad: dict[int, str] = {}
    iterator = iter(dataset)
    for position in range(len(jpegs)):
        try:
            next(iterator)
        except tf.errors.OpError as error:
            bad[position] = error.message.split("\n")[0]
    return bad


def _encode_chunk(
    chunk: Sequence[Record], image_size: int, report: WriteReport, skip_bad_records: bool
) -> list[tuple[str, bytes]]:
    """(name, JPEG bytes) for each good record of a chunk."""
    encoded: list[tuple[Record, bytes, bool]] = []  # record, bytes, copied as is
    problems: dict[int, str] = {}
    for position, record in enumerate(chunk):
        if record.good_header.is_rgb_jpeg(image_size):
            encoded.append((record, record.file.read_bytes(), True))
            continue
        try:
            pixels = imagelib.load_rgb(record.file, image_size)
            encoded.append((record, imagelib.encode_jpeg(pixels), False))
        except ValueError as error:
            problems[position] = str(error)
            encoded.append((record, b"", False))
    copied = [position for position, (_, _, as_is) in enumerate(encoded) if as_is]
    for position, reason in _undecodable([encoded[p][1] for p in copied]).items():
        problems[copied[position]] = f"cannot be decoded ({reason})"
    result = []
    for position, (record, data, as_is) in enumerate(encoded):
        if position in problems:
            what = f"{problems[position]}; replace or remove the file"
            if not skip_bad_records:
                raise DataError(f"{record.file}: {what}. Or {SKIP_HINT}.")
            report.read.skip(str(record.file), what)
            continue
        report.copied += as_is
        report.reencoded += not as_is
        result.append((record.name, data))
    return result


def write_tfrecords(
    src: str | os.PathLike,
    out_dir: str | os.PathLike,
    target: str,
    records_per_file: int = DEFAULT_RECORDS_PER_FILE,
    *,
    image_size: int = 256,
    skip_bad_records: bool = False,
    log: Callable[[str], None] | None = None,
) -> WriteReport:
    """Convert an image folder to TFRecords named `{target}{index:02d}-{count}.tfrec` in `out_dir`.

    Images are taken in file-name order, `records_per_file` per file. A rerun keeps every file
    that already holds its records and rewrites the rest. Returns a WriteReport."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", target or ""):
        raise DataError(f"--target must be a word like 'photo' or 'monet'. Received: {target!r}")
    if records_per_file <= 0:
        raise DataError(f"records_per_file must be positive. Received: {records_per_file}")
    if image_size <= 0:
        raise DataError(f"image_size must be positive. Received: {image_size}")
    source = find_source(src)
    if source.kind != "images":
        raise DataError(
            f"{src}: already TFRecords; `data convert` takes a folder of JPEG/PNG images."
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = WriteReport()
    log = log or (lambda message: None)
    good = check_scan(
        scan(source, image_size=image_size), skip_bad_records=skip_bad_records, report=report.read
    )
    chunks = [good[i : i + records_per_file] for i in range(0, len(good), records_per_file)]
    pattern = re.compile(rf"{re.escape(target)}(\d+)-(\d+)\.tfrec")
    existing: dict[int, list[Path]] = {}
    for path in sorted(out_dir.iterdir()):
        match = pattern.fullmatch(path.name)
        if match:
            existing.setdefault(int(match.group(1)), []).append(path)

    for index, chunk in enumerate(chunks):
        expected = [record.name for record in chunk]
        done = None
        for path in existing.get(index, []):
            names = _record_names(path)
            if names is None:  # unreadable: written again below
                continue
            complete = names == expected or (skip_bad_records and set(names) <= set(expected))
            if complete and path.name == tfrecord_name(target, index, len(names)):
                done = (path, len(names))
        if done is not None:
            report.kept.append(done[0])
            report.files.append(done[0])
            report.records += done[1]
            log(f"kept {done[0].name} (complete from an earlier run)")
            continue
        pairs = _encode_chunk(chunk, image_size, report, skip_bad_records)
        if not pairs:
            continue
        path = out_dir / tfrecord_name(target, index, len(pairs))
        with atomic_path(path) as temporary, tf.io.TFRecordWriter(str(temporary)) as writer:
            for name, data in pairs:
                writer.write(make_example(name, data, target))
        report.written.append(path)
        report.files.append(path)
        report.records += len(pairs)
        log(f"wrote {path.name}")
    # Files of ours an earlier run left with other counts or beyond the last index are stale.
    kept = set(report.files)
    for paths in existing.values():
        for path in paths:
            if path not in kept:
                path.unlink(missing_ok=True)
                report.removed.append(path)
    report.read.read = report.records
    return report


__all__ = [
    "FEATURE_SPEC",
    "DEFAULT_RECORDS_PER_FILE",
    "WriteReport",
    "make_example",
    "tfrecord_name",
    "write_tfrecords",
]
