"""The training input: `(real_photo, real_monet)` batches for `fit()`, on either Keras backend.

Plan, per domain: scan (named errors) -> decode and fit to image_size ONCE -> cache the uint8
images (in memory when both domains fit `config.cache_memory_mb`, else in a cache file on disk,
reused by later runs; cache.py) -> per epoch: shuffle -> augment -> batch -> prefetch.

Every epoch covers every photo once (up to the last partial batch, dropped so that every batch
splits evenly over the replicas, and up to the batches that rounding to a multiple of
config.steps_per_execution leaves out: Keras runs whole executions, see `steps_per_epoch`); the
300 Monet paintings repeat, reshuffled on each pass, to match. Each epoch's shuffles and
augmentation draws are seeded from (config.seed, epoch), and the dataset is the stream of epochs
start_epoch .. config.epochs - 1 (open-ended with config.epochs = 0: the time budget plans the
count), so a run resumed at epoch k sees exactly the batches an unbroken run sees from epoch k
on. tf.data's seeded shuffle combines its seed with TensorFlow's global seed, so call
`keras.utils.set_random_seed(config.seed)` before building the dataset (`train()` does) for the
same order in every process. Use it as `model.fit(data.dataset,
steps_per_epoch=data.steps_per_epoch, epochs=config.epochs, initial_epoch=start_epoch)`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from painter.config import Config
from painter.data.augment import augment_image
from painter.data.cache import choose_cache, estimate_count, prepare_domain
from painter.data.records import ReadReport
from painter.data.sources import ImageSource, find_source
from painter.errors import ConfigError, DataError

# epochs=0 (as many as the time budget fits): the stream of epochs has no planned end.
OPEN_ENDED_EPOCHS = 2**62


@dataclass
class TrainingData:
    """The training dataset and the counts `fit()` and the learning-rate schedule need."""

    dataset: Any  # tf.data.Dataset of (real_photo, real_monet), float32 [B, S, S, 3] in [-1, 1]
    steps_per_epoch: int  # a multiple of config.steps_per_execution (see `steps_per_epoch()`)
    photo_count: int
    monet_count: int
    cache: str = "memory"  # where decoded images live: "memory", "disk" or "none"
    report: dict[str, ReadReport] = field(default_factory=dict)  # per domain
    batches_per_epoch: int = 0  # whole batches of photos before that rounding

    def rounding_note(self, steps_per_execution: int) -> str | None:
        """What rounding to a multiple of `steps_per_execution` left out, or None."""
        dropped = self.batches_per_epoch - self.steps_per_epoch
        if dropped <= 0:
            return None
        return (
            f"steps per epoch rounded down from {self.batches_per_epoch} to "
            f"{self.steps_per_epoch}, a multiple of steps_per_execution={steps_per_execution}: "
            f"{dropped} batch(es) of photos per epoch are left out, different ones each epoch "
            "(the photos reshuffle), so none is lost for good"
        )


def derive_seed(*values: int) -> int:
    """A well-mixed non-negative int32 from integers, e.g. (config.seed, epoch, stream)."""
    return int(
        np.random.SeedSequence([int(v) & 0xFFFFFFFF for v in values]).generate_state(1)[0]
        & 0x7FFFFFFF
    )


def steps_per_epoch(photo_count: int, config: Config) -> int:
    """Batches per epoch: every photo once (capped by config.steps_per_epoch when > 0), rounded
    DOWN to a multiple of config.steps_per_execution.

    Keras runs whole executions of `steps_per_execution` steps, so 879 steps with 16 per execution
    would run 880 and every epoch boundary would slip by a batch (and the learning-rate schedule
    with it). Rounding down leaves out fewer than `steps_per_execution` batches of photos per
    epoch; the photos reshuffle every epoch, so a different few are left out each time and none
    is lost for good (at Kaggle's 7,038 photos, batch 8 and 16 steps per execution: 879 -> 864
    steps, 120 photos an epoch). Returns 0 when not even one execution fits (the caller says so).
    """
    steps = photo_count // config.global_batch_size
    if config.steps_per_epoch > 0:
        steps = min(steps, config.steps_per_epoch)
    return steps - steps % config.steps_per_execution


def _epoch_seeds(seed: int, epoch):
    """The four seeds of one epoch as an int64 tensor [photo order, painting order, photo
    augmentation, painting augmentation], from `derive_seed(seed, epoch, stream)`. Computed
    when tf.data reaches the epoch, so the stream can be open-ended (epochs=0)."""
    import tensorflow as tf

    def seeds(epoch_value):
        return np.array(
            [derive_seed(seed, int(epoch_value), stream) for stream in range(4)], np.int64
        )

    return tf.ensure_shape(tf.numpy_function(seeds, [epoch], tf.int64, stateful=False), [4])


ZERO_GLOBAL_SEED_STAND_IN = 0x5EED  # see one_epoch in _epochs


def _epochs(
    photos, monets, photo_count: int, monet_count: int, steps: int, start_epoch: int, config: Config
):
    """Batches of epochs start_epoch .. epochs-1 (open-ended when config.epochs == 0).

    Only the shuffles are built per epoch (inside `flat_map`, from the epoch's seeds); one
    augmentation map (traced once) and one batching serve all epochs: each epoch holds a whole
    number of batches, so batching the stream gives exactly the per-epoch batches."""
    import tensorflow as tf

    size = steps * config.global_batch_size
    stop = config.epochs if config.epochs > 0 else OPEN_ENDED_EPOCHS

    def one_epoch(epoch):
        # tf.data's shuffle compares (global seed, op seed) with (0, 0) in Python: with a global
        # seed of 0 (config.seed = 0) and an op seed known only at run time that comparison
        # fails. A stand-in graph seed for 0 keeps seed 0 usable (and every other seed as it was).
        graph = tf.compat.v1.get_default_graph()
        if graph.seed == 0:
            graph.seed = ZERO_GLOBAL_SEED_STAND_IN
        seeds = _epoch_seeds(config.seed, epoch)
        photo_order = photos.shuffle(
            min(config.shuffle_buffer, photo_count) or 1,
            seed=seeds[0],
            reshuffle_each_iteration=False,
        ).take(size)
        # A fresh permutation of the paintings on every pass (the seed fixes the sequence of them).
        monet_order = (
            monets.shuffle(
                min(config.shuffle_buffer, monet_count) or 1,
                seed=seeds[1],
                reshuffle_each_iteration=True,
            )
            .repeat()
            .take(size)
        )
        # Augmentation seeds: (the epoch's stream seed, position in the epoch).
        index = tf.data.Dataset.range(size)
        augment_seeds = index.map(lambda i: (tf.stack([seeds[2], i]), tf.stack([seeds[3], i])))
        return tf.data.Dataset.zip((photo_order, monet_order, augment_seeds))

    def augment(real_photo, real_monet, seeds):
        photo_seed, monet_seed = seeds
        return (
            augment_image(real_photo, photo_seed, config),
            augment_image(real_monet, monet_seed, config),
        )

    return (
        tf.data.Dataset.range(start_epoch, stop)
        .flat_map(one_epoch)
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
    """The `(real_photo, real_monet)` dataset for epochs start_epoch .. config.epochs - 1
    (an open-ended stream of epochs when config.epochs == 0).

    Args:
      monet, photo: the two domains (ImageSource or a path `find_source` accepts).
      config: image_size, augmentation, cache, shuffle_buffer, global_batch_size, epochs,
        steps_per_epoch, skip_bad_records and seed are used.
      num_replicas: devices the global batch is split over; it must divide global_batch_size.
      start_epoch: the first epoch to produce (resuming); batches equal those of an unbroken run.
      cache_dir: where a disk cache goes when the images do not fit config.cache_memory_mb
        (default: the system's temporary folder); reused by later runs on the same files.

    Raises DataError for bad data (naming file and record), ConfigError for a batch that does
    not split over the replicas (or a replica's batch over nce_identity_stride) or a start_epoch
    outside the run.
    """
    import tensorflow as tf

    if num_replicas <= 0 or config.global_batch_size % num_replicas:
        raise ConfigError(
            f"`global_batch_size` ({config.global_batch_size}) must be a multiple of the number of "
            f"replicas ({num_replicas}): set global_batch_size to a multiple of {num_replicas}."
        )
    per_replica = config.global_batch_size // num_replicas
    if config.nce_identity and per_replica % config.nce_identity_stride:
        raise ConfigError(
            f"`nce_identity_stride` ({config.nce_identity_stride}) must divide each replica's "
            f"batch ({per_replica} = global_batch_size {config.global_batch_size} over "
            f"{num_replicas} replicas): set global_batch_size to a multiple of "
            f"{config.nce_identity_stride * num_replicas}, or a smaller stride."
        )
    if start_epoch < 0 or (config.epochs > 0 and start_epoch >= config.epochs):
        raise ConfigError(
            f"start_epoch must be in [0, epochs={config.epochs}). Received: {start_epoch}"
        )
    monet_source, photo_source = find_source(monet), find_source(photo)
    scans = {"monet": monet_source, "photo": photo_source}
    # Decide memory vs disk from the file listing (an upper bound: records per file for TFRecords).
    estimate = sum(estimate_count(source) for source in scans.values())
    cache = choose_cache(config, estimate)
    cache_dir = (
        Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "painter-cache"
    )
    prepared = {
        domain: prepare_domain(source, config, cache, cache_dir, domain)
        for domain, source in scans.items()
    }
    photos, photo_count, photo_report = prepared["photo"]
    monets, monet_count, monet_report = prepared["monet"]
    steps = steps_per_epoch(photo_count, config)
    batches = photo_count // config.global_batch_size
    if config.steps_per_epoch > 0:
        batches = min(batches, config.steps_per_epoch)
    if batches == 0:
        raise DataError(
            f"{photo_source.root}: {photo_count} photo(s), fewer than one global batch of "
            f"{config.global_batch_size}: add photos or lower global_batch_size."
        )
    if steps == 0:
        raise ConfigError(
            f"an epoch has {batches} batch(es) of {config.global_batch_size} ({photo_count} "
            f"photos in {photo_source.root}, steps_per_epoch={config.steps_per_epoch}), fewer "
            f"than one execution of steps_per_execution={config.steps_per_execution}: set "
            f"steps_per_execution to at most {batches}, or add photos."
        )
    dataset = _epochs(photos, monets, photo_count, monet_count, steps, start_epoch, config)
    return TrainingData(
        dataset=dataset.prefetch(tf.data.AUTOTUNE),
        steps_per_epoch=steps,
        batches_per_epoch=batches,
        photo_count=photo_count,
        monet_count=monet_count,
        cache=cache,
        report={"monet": monet_report, "photo": photo_report},
    )


__all__ = [
    "OPEN_ENDED_EPOCHS",
    "TrainingData",
    "make_training_dataset",
    "steps_per_epoch",
    "derive_seed",
    "choose_cache",
]
