"""Pass 1 of reading a source (see `reader`): every record's framing, tf.train.Example and image
header, checked in Python without decoding pixels, each problem tied to its file and record index.

`scan(source)` returns a `Scan` (the records in reading order, problems included);
`check_scan(...)` turns it into the good records, raising DataError naming the first problem, or,
with `skip_bad_records=True`, counting the bad ones in a `ReadReport`. TensorFlow (for the TFRecord
framing and the Example protobuf) is imported inside functions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from painter.data import images as imagelib
from painter.data.sources import TFRECORD_SUFFIXES, ImageSource, find_source
from painter.errors import DataError

SKIP_HINT = "pass skip_bad_records=True (--skip-bad-records) to skip and count bad records"


@dataclass(frozen=True)
class Record:
    """One image of a source, as the scan saw it."""

    file: Path
    index: int  # record index within a TFRecord file; 0 for an image file
    name: str  # `image_name` (TFRecords) or the file name without extension
    target: str | None  # `target` of a TFRecord ("monet", "photo"); None for image files
    header: imagelib.ImageHeader | None
    problem: str | None = None

    @property
    def good_header(self) -> imagelib.ImageHeader:
        """The header of a good record (the scan reads one for every record without a problem)."""
        assert self.header is not None, f"{self.where} has no header ({self.problem})"
        return self.header

    @property
    def where(self) -> str:
        if self.file.suffix.lower() in TFRECORD_SUFFIXES:
            return f"{self.file} record {self.index}"
        return str(self.file)


@dataclass
class Scan:
    """Every record of a source in reading order (readable ones) plus problems that cut a file
    short (truncation or corruption: later records of that file cannot be reached)."""

    source: ImageSource
    records: list[Record]
    file_problems: list[tuple[Path, int, str]] = field(default_factory=list)  # (file, index, what)
    counts: dict[Path, int] = field(default_factory=dict)  # readable records per file

    @property
    def good(self) -> list[Record]:
        return [r for r in self.records if r.problem is None]

    def problems(self) -> list[tuple[str, str]]:
        """(where, what) for every problem, in reading order."""
        found = [(r.where, r.problem) for r in self.records if r.problem is not None]
        found += [(f"{file} record {index}", what) for file, index, what in self.file_problems]
        return found


@dataclass
class ReadReport:
    """Images read and bad records skipped (with where and why), filled as data is read."""

    read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, where: str, what: str) -> None:
        self.skipped.append((where, what))

    def summary(self) -> str:
        text = f"{self.read} images read, {len(self.skipped)} bad record(s) skipped"
        if self.skipped:
            shown = "; ".join(f"{where}: {what}" for where, what in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            text += f": {shown}{more}"
        return text


def _bytes_feature(example, key: str) -> bytes | None:
    feature = example.features.feature.get(key)
    if (
        feature is None
        or feature.WhichOneof("kind") != "bytes_list"
        or len(feature.bytes_list.value) != 1
    ):
        return None
    return feature.bytes_list.value[0]


def raw_records(file: Path) -> Iterator[tuple[int, bytes | None, str | None]]:
    """(index, serialized record, None) for each record of a TFRecord file, then
    (index, None, reason) if the file is cut short by truncation or corruption."""
    import tensorflow as tf

    batch = 256  # eager iteration costs ~0.1 ms per element: read records in batches
    index = 0
    iterator = iter(tf.data.TFRecordDataset(str(file)).batch(batch))
    while True:
        try:
            values = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError:
            # The bad record lies within the next `batch` records: find it one by one.
            single = iter(tf.data.TFRecordDataset(str(file)).skip(index))
            while True:
                try:
                    yield index, next(single).numpy(), None
                    index += 1
                except StopIteration:
                    return
                except tf.errors.OpError as error:
                    yield index, None, error.message.split("\n")[0]
                    return
        for value in values.numpy():
            yield index, value, None
            index += 1


def _scan_tfrecord(file: Path, image_size: int | None, scan: Scan) -> None:
    import tensorflow as tf

    count = 0
    for index, raw, reason in raw_records(file):
        if raw is None:
            scan.file_problems.append(
                (
                    file,
                    index,
                    (
                        f"truncated or corrupt TFRecord file ({reason}); records from index "
                        f"{index} on "
                        "cannot be read: re-create or re-download this file"
                    ),
                )
            )
            break
        count = index + 1
        name, target, header, problem = f"{file.stem}-{index}", None, None, None
        try:
            example = tf.train.Example.FromString(raw)
        except Exception:  # noqa: BLE001 - any protobuf parse failure means the same thing
            problem = (
                "not a tf.train.Example record: re-create the file with `painter data convert`"
            )
        else:
            name_bytes = _bytes_feature(example, "image_name")
            target_bytes = _bytes_feature(example, "target")
            if name_bytes is not None:
                name = name_bytes.decode("utf-8", "replace")
            target = target_bytes.decode("utf-8", "replace") if target_bytes is not None else ""
            image = _bytes_feature(example, "image")
            if image is None:
                problem = (
                    "the record has no bytes feature `image` (the competition's format: "
                    "image_name, "
                    "image, target): re-create it with `painter data convert`"
                )
            else:
                try:
                    header = imagelib.read_header(image)
                    problem = imagelib.check_size(header, image_size)
                except ValueError as error:
                    problem = f"the `image` feature is {error}: re-create the record from the image"
        scan.records.append(
            Record(file, index, name, target if target is not None else "", header, problem)
        )
    scan.counts[file] = count


def _scan_image_file(file: Path, image_size: int | None, scan: Scan) -> None:
    header, problem = None, None
    try:
        header = imagelib.read_header(file)
        problem = imagelib.check_size(header, image_size)
    except ValueError as error:
        problem = f"{error}: replace or remove the file"
    scan.records.append(Record(file, 0, file.stem, None, header, problem))
    scan.counts[file] = 1


def scan(source: str | os.PathLike | ImageSource, *, image_size: int | None = None) -> Scan:
    """Read every record's framing, Example and image header (no pixel decoding) and note each
    problem with its file and record index. Raises DataError only for a missing/empty source."""
    source = find_source(source)
    result = Scan(source, [])
    for file in source.files:
        if source.kind == "tfrecord":
            _scan_tfrecord(file, image_size, result)
        else:
            _scan_image_file(file, image_size, result)
    return result


def check_scan(result: Scan, *, skip_bad_records: bool, report: ReadReport | None) -> list[Record]:
    """The good records; a problem raises DataError naming it unless skipping (then counted)."""
    problems = result.problems()
    if problems and not skip_bad_records:
        where, what = problems[0]
        others = (
            f" ({len(problems) - 1} more bad record(s) in {result.source.root})"
            if len(problems) > 1
            else ""
        )
        raise DataError(f"{where}: {what}{others}. Or {SKIP_HINT}.")
    if report is not None:
        for where, what in problems:
            report.skip(where, what)
    good = result.good
    if not good:
        raise DataError(
            f"{result.source.root}: no readable images ({len(problems)} bad record(s))."
        )
    return good


__all__ = [
    "SKIP_HINT",
    "Record",
    "Scan",
    "ReadReport",
    "raw_records",
    "scan",
    "check_scan",
]
