"""The training input: `(real_photo, real_monet)` batches for `fit()`, on either Keras backend.

Plan, per domain: scan (named errors) -> decode and fit to image_size ONCE -> cache the uint8
images (in memory when both domains fit `config.cache_memory_mb`, else in a cache file on disk,
reused by later runs) -> per epoch: shuffle -> augment -> batch -> prefetch.

Every epoch covers every photo once (up to the last partial batch, dropped so that every batch
splits evenly over the replicas); the 300 Monet paintings repeat, reshuffled on each pass, to
match. Each epoch's shuffles and augmentation draws are seeded from (config.seed, epoch), and the
dataset is the concatenation of epochs start_epoch .. config.epochs - 1, so a run resumed at epoch
k sees exactly the batches an unbroken run sees from epoch k on. tf.data's seeded shuffle combines
its seed with TensorFlow's global seed, so call `keras.utils.set_random_seed(config.seed)` before
building the dataset (`train()` does) for the same order in every process. Use it as
`model.fit(data.dataset, steps_per_epoch=data.steps_per_epoch, epochs=config.epochs,
initial_epoch=start_epoch)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from painter.config import Config
from painter.data import reader
from painter.data.augment import augment_image
from painter.data.sources import ImageSource, find_source
from painter.errors import ConfigError, DataError
from painter.fileio import atomic_write_text

_FILL_BATCH = 128
_CACHE_VERSION = 1  # bump when what a cache file holds changes


@dataclass
class TrainingData:
    """The training dataset and the counts `fit()` and the learning-rate schedule need."""

    dataset: Any  # tf.data.Dataset of (real_photo, real_monet), float32 [B, S, S, 3] in [-1, 1]
    steps_per_epoch: int
    photo_count: int
    monet_count: int
    cache: str = "memory"  # where decoded images live: "memory", "disk" or "none"
    report: dict[str, reader.ReadReport] = field(default_factory=dict)  # per domain


def derive_seed(*values: int) -> int:
    """A well-mixed non-negative int32 from integers, e.g. (config.seed, epoch, stream)."""
    return int(np.random.SeedSequence([int(v) & 0xFFFFFFFF for v in values]).generate_state(1)[0]
               & 0x7FFFFFFF)


def steps_per_epoch(photo_count: int, config: Config) -> int:
    """Batches per epoch: every photo once (capped by config.steps_per_epoch when > 0)."""
    steps = photo_count // config.global_batch_size
    if config.steps_per_epoch > 0:
        steps = min(steps, config.steps_per_epoch)
    return steps


def choose_cache(config: Config, image_count: int) -> str:
    """"memory" when the decoded images fit config.cache_memory_mb, else "disk" (or as set)."""
    if config.cache != "auto":
        return config.cache
    megabytes = image_count * config.image_size**2 * 3 / 2**20
    return "memory" if megabytes <= config.cache_memory_mb else "disk"


def _cache_key(source: ImageSource, config: Config) -> str:
    digest = hashlib.sha256()
    for path in source.files:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update(f"{config.image_size}|{config.skip_bad_records}|{_CACHE_VERSION}".encode())
    return digest.hexdigest()[:16]


def _remove_cache(prefix: Path) -> None:
    for path in prefix.parent.glob(prefix.name + "*"):
        path.unlink(missing_ok=True)


def _fill(cached, good: list[reader.Record], result: reader.Scan, config: Config,
          report: reader.ReadReport) -> int:
    """Iterate `cached` once so that every image is decoded into the cache; name any image that
    fails to decode (or, when skipping, count it). Returns the number of images cached."""
    import tensorflow as tf

    names: list[bytes] = []
    iterator = iter(cached.map(lambda e: e["image_name"]).batch(_FILL_BATCH))
    while True:
        try:
            names.extend(next(iterator).numpy().tolist())
        except StopIteration:
            break
        except tf.errors.OpError as error:
            # Only without skip_bad_records (errors are ignored before the cache otherwise).
            block = good[len(names) : len(names) + _FILL_BATCH]
            for record, decode_error in reader._locate_decode_error(result, block, config.image_size):
                raise DataError(
                    f"{reader.decode_error_message(record, decode_error)}. Or {reader.SKIP_HINT}."
                ) from None
            raise DataError(f"{result.source.root}: reading failed: {error.message}") from None
    if config.skip_bad_records:
        got = {name.decode("utf-8") for name in names}
        for record in good:
            if record.name not in got:
                report.skip(record.where, f"{record.name}: the image cannot be decoded; replace or remove it")
    report.read = len(names)
    return len(names)


def _prepare_domain(source: ImageSource, config: Config, cache: str, cache_dir: Path, domain: str):
    """(dataset of uint8 images, decoded once and cached; count; report)."""
    report = reader.ReadReport()
    result = reader.scan(source, image_size=config.image_size)
    good = reader.check_scan(result, skip_bad_records=config.skip_bad_records, report=report)
    decoded = reader._dataset(result, good, config.image_size)
    if config.skip_bad_records:
        decoded = decoded.ignore_errors()
    if cache == "none":
        return decoded.map(lambda e: e["image"]), len(good), report
    if cache == "memory":
        cached = decoded.cache()
        count = _fill(cached, good, result, config, report)
        return cached.map(lambda e: e["image"]), count, report
    # Disk: a cache file per (files, sizes, mtimes, image_size), reused by later runs.
    prefix = cache_dir / f"{domain}-{_cache_key(source, config)}"
    manifest = prefix.with_name(prefix.name + "-done.json")
    cached = decoded.cache(str(prefix))
    if manifest.is_file():
        summary = json.loads(manifest.read_text())
        report.read = int(summary["count"])
        report.skipped = [tuple(item) for item in summary["skipped"]]
        return cached.map(lambda e: e["image"]), report.read, report
    _remove_cache(prefix)  # a partial cache from an interrupted run
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        count = _fill(cached, good, result, config, report)
    except BaseException:
        _remove_cache(prefix)
        raise
    atomic_write_text(manifest, json.dumps({"count": count, "skipped": report.skipped}))
    return cached.map(lambda e: e["image"]), count, report


def _epoch_order(photos, monets, photo_count: int, monet_count: int, size: int, epoch: int,
                 config: Config):
    """One epoch's (photo, painting) pairs, `size` of them, shuffled from (seed, epoch)."""
    photo_seed, monet_seed = (derive_seed(config.seed, epoch, stream) for stream in (0, 1))
    photos = photos.shuffle(
        min(config.shuffle_buffer, photo_count) or 1, seed=photo_seed, reshuffle_each_iteration=False
    ).take(size)
    # A fresh permutation of the paintings on every pass (the seed fixes the sequence of them).
    monets = monets.shuffle(
        min(config.shuffle_buffer, monet_count) or 1, seed=monet_seed, reshuffle_each_iteration=True
    ).repeat().take(size)
    return photos, monets


def _epochs(photos, monets, photo_count: int, monet_count: int, steps: int, start_epoch: int,
            config: Config):
    """Batches of epochs start_epoch .. epochs-1. Only the shuffles are built per epoch; one
    augmentation map (traced once) and one batching serve all epochs: each epoch holds a whole
    number of batches, so batching the concatenation gives exactly the per-epoch batches."""
    import tensorflow as tf

    size = steps * config.global_batch_size
    epochs = range(start_epoch, config.epochs)
    photo_stream = monet_stream = None
    for epoch in epochs:
        p, m = _epoch_order(photos, monets, photo_count, monet_count, size, epoch, config)
        photo_stream = p if photo_stream is None else photo_stream.concatenate(p)
        monet_stream = m if monet_stream is None else monet_stream.concatenate(m)
    # Augmentation seeds: (per-epoch stream seed, position in the epoch); the table covers every
    # epoch of the run so that a resumed dataset draws the same numbers.
    table = tf.constant(
        [[derive_seed(config.seed, epoch, 2), derive_seed(config.seed, epoch, 3)]
         for epoch in range(config.epochs)],
        tf.int64,
    )
    positions = tf.data.Dataset.range(start_epoch * size, config.epochs * size)

    def augment(real_photo, real_monet, position):
        epoch, index = position // size, position % size
        photo_seed = tf.stack([table[epoch, 0], index])
        monet_seed = tf.stack([table[epoch, 1], index])
        return (augment_image(real_photo, photo_seed, config),
                augment_image(real_monet, monet_seed, config))

    return (
        tf.data.Dataset.zip((photo_stream, monet_stream, positions))
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(config.global_batch_size, drop_remainder=True)
    )


def make_training_dataset(
    monet: str | os.PathLike | ImageSource,
    photo: str | os.PathLike | ImageSource,
    config: Config,
    *,
    num_replicas: int = 1,
    start_epoch: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> TrainingData:
    """The `(real_photo, real_monet)` dataset for epochs start_epoch .. config.epochs - 1.

    Args:
      monet, photo: the two domains (ImageSource or a path `find_source` accepts).
      config: image_size, augmentation, cache, shuffle_buffer, global_batch_size, epochs,
        steps_per_epoch, skip_bad_records and seed are used.
      num_replicas: devices the global batch is split over; it must divide global_batch_size.
      start_epoch: the first epoch to produce (resuming); batches equal those of an unbroken run.
      cache_dir: where a disk cache goes when the images do not fit config.cache_memory_mb
        (default: the system's temporary folder); reused by later runs on the same files.

    Raises DataError for bad data (naming file and record), ConfigError for a batch that does
    not split over the replicas or a start_epoch outside the run.
    """
    import tensorflow as tf

    if num_replicas <= 0 or config.global_batch_size % num_replicas:
        raise ConfigError(
            f"`global_batch_size` ({config.global_batch_size}) must be a multiple of the number of "
            f"replicas ({num_replicas}): set global_batch_size to a multiple of {num_replicas}."
        )
    if not 0 <= start_epoch < config.epochs:
        raise ConfigError(
            f"start_epoch must be in [0, epochs={config.epochs}). Received: {start_epoch}"
        )
    monet_source, photo_source = find_source(monet), find_source(photo)
    scans = {"monet": monet_source, "photo": photo_source}
    # Decide memory vs disk from the file listing (an upper bound: records per file for TFRecords).
    estimate = sum(_estimate_count(source) for source in scans.values())
    cache = choose_cache(config, estimate)
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "painter-cache"
    prepared = {
        domain: _prepare_domain(source, config, cache, cache_dir, domain)
        for domain, source in scans.items()
    }
    photos, photo_count, photo_report = prepared["photo"]
    monets, monet_count, monet_report = prepared["monet"]
    steps = steps_per_epoch(photo_count, config)
    if steps == 0:
        raise DataError(
            f"{photo_source.root}: {photo_count} photo(s), fewer than one global batch of "
            f"{config.global_batch_size}: add photos or lower global_batch_size."
        )
    dataset = _epochs(photos, monets, photo_count, monet_count, steps, start_epoch, config)
    return TrainingData(
        dataset=dataset.prefetch(tf.data.AUTOTUNE),
        steps_per_epoch=steps,
        photo_count=photo_count,
        monet_count=monet_count,
        cache=cache,
        report={"monet": monet_report, "photo": photo_report},
    )


def _estimate_count(source: ImageSource) -> int:
    if source.kind == "images":
        return len(source.files)
    total = 0
    for path in source.files:
        # Kaggle's naming states the count (`photo00-352.tfrec`); otherwise guess from the size.
        tail = path.stem.rsplit("-", 1)[-1]
        total += int(tail) if tail.isdigit() else max(1, path.stat().st_size // 20_000)
    return total


__all__ = ["TrainingData", "make_training_dataset", "steps_per_epoch", "derive_seed",
           "choose_cache"]
