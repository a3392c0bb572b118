"""Read images from TFRecords (the competition's format) or image folders, with named errors.

Two passes, because tf.data reports a bad record late, as a TensorFlow exception, deep inside
`fit()`:
1. `scan(source)`, in Python and without decoding pixels: reads every record's framing (truncated or
   corrupt files), parses the tf.train.Example, checks the `image` feature and the image header
   (JPEG/PNG, size). Each problem is tied to its file and record index. This pass is records.py
   (`Record`, `Scan`, `ReadReport`, `scan`, `check_scan`: imported from here as before).
2. `read_images(...)`: a tf.data pipeline over the good records that decodes (the competition's
   `decode_jpeg(channels=3)` for TFRecords; Pillow only for what TensorFlow decodes differently:
   CMYK, transparency, EXIF-rotated photos) and fits every image to `image_size`.
   `iterate_images(...)` iterates it in Python and names the record behind any late decode error.

`skip_bad_records=True` skips bad records instead of raising, counting them in a `ReadReport`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from painter.data import images as imagelib
from painter.data.records import SKIP_HINT, ReadReport, Record, Scan, check_scan, scan
from painter.data.sources import ImageSource
from painter.errors import DataError


# --- pass 2: decode with tf.data -------------------------------------------------------------
def _decode_tf(encoded, image_size: int | None):
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    if image_size is not None:
        image = imagelib.fit_to_size_tf(image, image_size)
    return image


def _pil_decode(path, image_size: int | None):
    """Pillow inside tf.data, for images TensorFlow would decode wrongly (CMYK, EXIF rotation,
    transparency); only used when a folder holds such images."""
    import tensorflow as tf

    def load(path_bytes):
        return imagelib.load_rgb(path_bytes.decode("utf-8"), image_size)

    image = tf.numpy_function(load, [path], tf.uint8, stateful=False)
    return tf.ensure_shape(image, [image_size, image_size, 3])  # None: any height and width


def _dataset(
    result: Scan, good: Sequence[Record], image_size: int | None, parallel_calls: int | None = None
):
    """tf.data of {"image_name", "image"} over `good` (records of `result`), in reading order,
    decoded by `parallel_calls` threads (None: tf.data's AUTOTUNE)."""
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE if parallel_calls is None else parallel_calls
    if result.source.kind == "tfrecord":
        wanted = {(r.file, r.index) for r in good}
        keep = [(r.file, r.index) in wanted for r in result.records]
        names = [r.name for r in result.records]
        files = [str(f) for f in result.source.files]
        counts = [result.counts.get(f, 0) for f in result.source.files]
        # Read only up to a file's first unreadable record: tf.data would fail there.
        raw = tf.data.Dataset.from_tensor_slices((files, tf.constant(counts, tf.int64))).flat_map(
            lambda file, count: tf.data.TFRecordDataset(file).take(count)
        )
        keep_t, names_t = tf.constant(keep), tf.constant(names)
        raw = raw.enumerate().filter(lambda i, _: tf.gather(keep_t, i))

        def decode_record(i, record):
            image = tf.io.parse_single_example(
                record, {"image": tf.io.FixedLenFeature([], tf.string)}
            )["image"]
            return {"image_name": tf.gather(names_t, i), "image": _decode_tf(image, image_size)}

        return raw.map(decode_record, num_parallel_calls=autotune, deterministic=True)

    paths = [str(r.file) for r in good]
    names = [r.name for r in good]
    native = [r.good_header.tensorflow_decodable() for r in good]
    dataset = tf.data.Dataset.from_tensor_slices((paths, names, native))
    if all(native):

        def decode_native(path, name, _):
            return {"image_name": name, "image": _decode_tf(tf.io.read_file(path), image_size)}

        return dataset.map(decode_native, num_parallel_calls=autotune, deterministic=True)

    def decode_mixed(path, name, tf_native):
        image = tf.cond(
            tf_native,
            lambda: _decode_tf(tf.io.read_file(path), image_size),
            lambda: _pil_decode(path, image_size),
        )
        return {"image_name": name, "image": image}

    return dataset.map(decode_mixed, num_parallel_calls=autotune, deterministic=True)


def read_images(
    source: str | os.PathLike | ImageSource,
    *,
    image_size: int | None = None,
    skip_bad_records: bool = False,
    report: ReadReport | None = None,
    parallel_calls: int | None = None,
):
    """A tf.data.Dataset of {"image_name": tf.string, "image": uint8 [S, S, 3]}, in file order.

    `parallel_calls`: images decoded at once (None: AUTOTUNE). A fixed count, with tf.data's
    autotuning off, suits a reader that shares few CPU cores with other work: the images.zip
    writer on 2 cores stalled in about one run in three with AUTOTUNE.

    `image_size` None keeps each image's own size. Problems found by the scan raise DataError
    naming file and record (or are skipped and added to `report`). An image whose pixels fail to
    decode surfaces as a TensorFlow error when iterated (skipped silently with
    `skip_bad_records`); `iterate_images` and the training pipeline name it instead."""
    result = scan(source, image_size=image_size)
    good = check_scan(result, skip_bad_records=skip_bad_records, report=report)
    dataset = _dataset(result, good, image_size, parallel_calls)
    return dataset.ignore_errors() if skip_bad_records else dataset


def decode_error_message(record: Record, error: Exception) -> str:
    reason = getattr(error, "message", str(error)).split("\n")[0]
    return (
        f"{record.where} ({record.name}): the image cannot be decoded ({reason}); "
        "replace or remove it"
    )


def _locate_decode_error(result: Scan, block: Sequence[Record], image_size: int | None):
    """(record, error) for each record of `block` whose image fails to decode."""
    import tensorflow as tf

    failures = []
    iterator = iter(_dataset(result, block, image_size))
    for record in block:
        try:
            next(iterator)
        except StopIteration:
            break
        except tf.errors.OpError as error:
            failures.append((record, error))
    return failures


def decode_problems(
    result: Scan, good: Sequence[Record], *, batch_size: int = 256
) -> list[tuple[Record, str]]:
    """Decode every record of `good` (no resizing) and return (record, message) for each one
    whose pixels cannot be decoded."""
    import tensorflow as tf

    problems: list[tuple[Record, str]] = []
    native = [
        r for r in good if result.source.kind == "tfrecord" or r.good_header.tensorflow_decodable()
    ]
    native_ids = {id(r) for r in native}
    for record in good:
        if id(record) not in native_ids:  # Pillow decodes these (CMYK, rotated, transparent)
            try:
                imagelib.load_rgb(record.file)
            except ValueError as error:
                problems.append((record, f"{error}; replace or remove it"))
    position = 0
    while position < len(native):
        rest = native[position:]
        shapes = _dataset(result, rest, None).map(
            lambda e: tf.shape(e["image"]), num_parallel_calls=tf.data.AUTOTUNE
        )
        try:
            for batch in shapes.batch(batch_size):
                position += int(batch.shape[0])
        except tf.errors.OpError:
            block = native[position : position + batch_size]
            for record, op_error in _locate_decode_error(result, block, None):
                problems.append((record, decode_error_message(record, op_error)))
            position += batch_size
    return problems


def iterate_images(
    source: str | os.PathLike | ImageSource,
    *,
    image_size: int | None = None,
    skip_bad_records: bool = False,
    report: ReadReport | None = None,
    indices: Sequence[int] | None = None,
    batch_size: int = 64,
    decode_size: int | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, uint8 image) in file order, every error named (DataError) or skipped and counted.
    `indices` picks records (positions among the good ones) to decode, e.g. for a preview.
    Images smaller than `image_size` are bad records; the rest are fitted to `decode_size`
    (default: `image_size`), as training caches them at `Config.load_size`."""
    import tensorflow as tf

    report = report if report is not None else ReadReport()
    result = scan(source, image_size=image_size)
    good = check_scan(result, skip_bad_records=skip_bad_records, report=report)
    if indices is not None:
        good = [good[i] for i in sorted(set(indices)) if 0 <= i < len(good)]
    # Batches amortise eager iteration's overhead; images of mixed sizes go one by one.
    sizes = {(r.good_header.height, r.good_header.width) for r in good}
    size = image_size if decode_size is None else decode_size
    batch_size = batch_size if size is not None or len(sizes) <= 1 else 1
    position = 0
    iterator = iter(_dataset(result, good, size).batch(batch_size))
    while position < len(good):
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError:
            block = good[position : position + batch_size]
            failed = _locate_decode_error(result, block, size)
            for record, error in failed:
                if not skip_bad_records:
                    raise DataError(
                        f"{decode_error_message(record, error)}. Or {SKIP_HINT}."
                    ) from None
                report.skip(record.where, decode_error_message(record, error))
            bad = {id(record) for record, _ in failed}
            block = [record for record in block if id(record) not in bad]
            if block:
                batch = next(iter(_dataset(result, block, size).batch(len(block))))
            position += batch_size
            if position < len(good):
                iterator = iter(_dataset(result, good[position:], size).batch(batch_size))
            if not block:
                continue
        else:
            position += batch_size
        names, pixels = batch["image_name"].numpy(), batch["image"].numpy()
        for name, image in zip(names, pixels, strict=True):
            report.read += 1
            yield name.decode("utf-8"), image


def load_images(
    source,
    *,
    image_size: int | None = None,
    skip_bad_records: bool = False,
    report: ReadReport | None = None,
) -> tuple[list[str], np.ndarray]:
    """All images of a (small) source in memory: (names, uint8 [N, S, S, 3])."""
    pairs = list(
        iterate_images(
            source, image_size=image_size, skip_bad_records=skip_bad_records, report=report
        )
    )
    return [name for name, _ in pairs], np.stack([image for _, image in pairs])


__all__ = [
    "Record",
    "Scan",
    "ReadReport",
    "scan",
    "check_scan",
    "read_images",
    "iterate_images",
    "load_images",
]
