"""Decode each domain once and cache the uint8 images: in memory, or in a cache file on disk.

`choose_cache` picks "memory" when both domains' decoded images fit `config.cache_memory_mb`, else
"disk" (or what `config.cache` says). A disk cache is one tf.data cache file per (files, sizes,
mtimes, load size, skip_bad_records), finished by a manifest written last, so a later run on the
same files reuses it and an interrupted one is removed and rebuilt. Filling the cache decodes
every image once, naming any image that fails to decode (or counting it with skip_bad_records).
TensorFlow is imported inside functions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from painter.config import Config
from painter.data import reader
from painter.data.records import SKIP_HINT, ReadReport, Record, Scan, check_scan, scan
from painter.data.sources import ImageSource
from painter.errors import DataError
from painter.fileio import atomic_write_text

_FILL_BATCH = 128
_CACHE_VERSION = 1  # bump when what a cache file holds changes


def choose_cache(config: Config, image_count: int) -> str:
    """ "memory" when the decoded images fit config.cache_memory_mb, else "disk" (or as set)."""
    if config.cache != "auto":
        return config.cache
    megabytes = image_count * config.load_size**2 * 3 / 2**20
    return "memory" if megabytes <= config.cache_memory_mb else "disk"


def _cache_key(source: ImageSource, config: Config) -> str:
    digest = hashlib.sha256()
    for path in source.files:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update(f"{config.load_size}|{config.skip_bad_records}|{_CACHE_VERSION}".encode())
    return digest.hexdigest()[:16]


def _remove_cache(prefix: Path) -> None:
    for path in prefix.parent.glob(prefix.name + "*"):
        path.unlink(missing_ok=True)


def _fill(
    cached,
    good: list[Record],
    result: Scan,
    config: Config,
    report: ReadReport,
) -> int:
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
            for record, decode_error in reader._locate_decode_error(
                result, block, config.load_size
            ):
                raise DataError(
                    f"{reader.decode_error_message(record, decode_error)}. Or {SKIP_HINT}."
                ) from None
            raise DataError(f"{result.source.root}: reading failed: {error.message}") from None
    if config.skip_bad_records:
        got = {name.decode("utf-8") for name in names}
        for record in good:
            if record.name not in got:
                report.skip(
                    record.where,
                    f"{record.name}: the image cannot be decoded; replace or remove it",
                )
    report.read = len(names)
    return len(names)


def prepare_domain(source: ImageSource, config: Config, cache: str, cache_dir: Path, domain: str):
    """(dataset of uint8 images, decoded once and cached; count; report)."""
    report = ReadReport()
    result = scan(source, image_size=config.image_size)
    good = check_scan(result, skip_bad_records=config.skip_bad_records, report=report)
    # At the jitter's size: its crop then takes the source's own pixels (Config.load_size).
    decoded = reader._dataset(result, good, config.load_size)
    if config.skip_bad_records:
        decoded = decoded.ignore_errors()
    if cache == "none":
        return decoded.map(lambda e: e["image"]), len(good), report
    if cache == "memory":
        cached = decoded.cache()
        count = _fill(cached, good, result, config, report)
        return cached.map(lambda e: e["image"]), count, report
    # Disk: a cache file per (files, sizes, mtimes, load size), reused by later runs.
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


def estimate_count(source: ImageSource) -> int:
    """Images in `source` from its file listing alone (for TFRecords an upper bound)."""
    if source.kind == "images":
        return len(source.files)
    total = 0
    for path in source.files:
        # Kaggle's naming states the count (`photo00-352.tfrec`); otherwise guess from the size.
        tail = path.stem.rsplit("-", 1)[-1]
        total += int(tail) if tail.isdigit() else max(1, path.stat().st_size // 20_000)
    return total


__all__ = ["choose_cache", "estimate_count", "prepare_domain"]
