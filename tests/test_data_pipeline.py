"""The training dataset: every photo once per epoch, resumable bit for bit, decoded once, batches
that split over the replicas, and usable by keras fit() on either backend."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
from data_helpers import decode_identity, random_image, write_identity_folder
from PIL import Image

from painter.config import preset
from painter.data import pipeline, reader
from painter.errors import ConfigError, DataError

SIZE = 16


def config(**changes):
    base = dict(
        image_size=SIZE,
        resize_size=18,
        resize_prob=1.0,
        flip_prob=0.5,
        rotate90_prob=0.5,
        global_batch_size=4,
        epochs=3,
        decay_epochs=1,
        steps_per_epoch=0,
        cache="memory",
        seed=5,
    )
    return preset("smoke").replace(**{**base, **changes})


@pytest.fixture
def identity_domains(tmp_path):
    photos = write_identity_folder(tmp_path / "photo", 24, SIZE)
    monets = write_identity_folder(tmp_path / "monet", 5, SIZE, start=1000)
    return monets, photos


@pytest.fixture
def textured_domains(tmp_path):
    for name, count in (("photo", 12), ("monet", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.fromarray(random_image((20, 24), seed=hash(name) % 1000 + i)).save(
                tmp_path / name / f"{i}.png"
            )
    return tmp_path / "monet", tmp_path / "photo"


def batches(data):
    return [(p.numpy(), m.numpy()) for p, m in data.dataset]


def test_every_epoch_covers_every_photo_once(identity_domains):
    monets, photos = identity_domains
    data = pipeline.make_training_dataset(monets, photos, config())
    assert (data.photo_count, data.monet_count, data.steps_per_epoch) == (24, 5, 6)
    all_batches = batches(data)
    assert len(all_batches) == 3 * 6
    orders = []
    for epoch in range(3):
        epoch_batches = all_batches[epoch * 6 : (epoch + 1) * 6]
        photo_ids = [i for p, _ in epoch_batches for i in decode_identity(p)]
        monet_ids = [i for _, m in epoch_batches for i in decode_identity(m)]
        assert sorted(photo_ids) == list(range(24))
        counts = Counter(monet_ids)
        assert set(counts) == set(range(1000, 1005)) and set(counts.values()) <= {4, 5}
        for start in range(0, 20, 5):  # each pass over the paintings is a permutation of them
            assert sorted(monet_ids[start : start + 5]) == list(range(1000, 1005))
        orders.append(photo_ids)
        p, m = epoch_batches[0]
        assert p.shape == m.shape == (4, SIZE, SIZE, 3) and p.dtype == np.float32
    assert orders[0] != orders[1] != orders[2]  # reshuffled each epoch


def test_resume_gives_the_same_batches(textured_domains):
    monets, photos = textured_domains
    unbroken = batches(pipeline.make_training_dataset(monets, photos, config()))
    resumed = batches(pipeline.make_training_dataset(monets, photos, config(), start_epoch=2))
    assert len(unbroken) == 9 and len(resumed) == 3
    for (p1, m1), (p2, m2) in zip(unbroken[6:], resumed, strict=True):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(unbroken[0][0], unbroken[3][0])
    # a different seed gives different batches
    other = batches(pipeline.make_training_dataset(monets, photos, config(seed=6), start_epoch=2))
    assert not np.array_equal(other[0][0], resumed[0][0])


def test_batch_must_split_over_replicas(identity_domains):
    monets, photos = identity_domains
    with pytest.raises(ConfigError, match=r"`global_batch_size` \(6\).*replicas \(4\)"):
        pipeline.make_training_dataset(monets, photos, config(global_batch_size=6), num_replicas=4)
    data = pipeline.make_training_dataset(
        monets, photos, config(global_batch_size=8), num_replicas=4
    )
    assert data.steps_per_epoch == 3
    # CUT's identity term on every 4th Monet needs 4 | each replica's batch: 8 over 4 is 2.
    cut = config(global_batch_size=8).replace(objective="cut", nce_identity_stride=4)
    with pytest.raises(ConfigError, match=r"`nce_identity_stride` \(4\) .* replica's batch \(2"):
        pipeline.make_training_dataset(monets, photos, cut, num_replicas=4)
    assert pipeline.make_training_dataset(monets, photos, cut, num_replicas=2).steps_per_epoch


def test_steps_cap_and_too_few_photos(identity_domains):
    monets, photos = identity_domains
    data = pipeline.make_training_dataset(monets, photos, config(steps_per_epoch=2))
    assert data.steps_per_epoch == 2 and len(batches(data)) == 6
    with pytest.raises(DataError, match="fewer than one global batch of 32"):
        pipeline.make_training_dataset(monets, photos, config(global_batch_size=32))


def test_decoded_once_in_memory_and_disk_cache_reused(identity_domains, tmp_path, monkeypatch):
    decoded = []
    original = reader._decode_tf

    def counting_decode(encoded, image_size):
        image = original(encoded, image_size)
        counted = tf.numpy_function(
            lambda x: decoded.append(1) or x, [image], tf.uint8, stateful=True
        )
        return tf.ensure_shape(counted, image.shape)

    monkeypatch.setattr(reader, "_decode_tf", counting_decode)
    monets, photos = identity_domains
    memory = batches(pipeline.make_training_dataset(monets, photos, config()))
    assert len(decoded) == 24 + 5  # three epochs, one decode per image

    decoded.clear()
    cache_dir = tmp_path / "cache"
    data = pipeline.make_training_dataset(monets, photos, config(cache="disk"), cache_dir=cache_dir)
    on_disk = batches(data)
    assert data.cache == "disk" and len(decoded) == 24 + 5 and any(cache_dir.iterdir())
    decoded.clear()
    again = batches(
        pipeline.make_training_dataset(monets, photos, config(cache="disk"), cache_dir=cache_dir)
    )
    assert len(decoded) == 0  # a later run reads the cache file
    for a, b, c in zip(memory, on_disk, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(b[1], c[1])


def test_the_jitter_crops_each_images_own_pixels(tmp_path):
    """With the jitter on, every training image is an image_size window of its source at
    resize_size, pixel for pixel: no resampling on the way. (Until stop 48 the cache held
    image_size copies that the jitter enlarged, and the blur halved the 2-4 px detail of every
    image D saw.)"""
    rng = np.random.default_rng(0)
    sources = {}
    for name, count in (("photo", 8), ("monet", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            pixels = rng.integers(0, 256, (18, 18, 3), dtype=np.uint8)  # detail at every period
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
            sources.setdefault(name, []).append(pixels.astype(np.float32))
    settings = config(flip_prob=0.0, rotate90_prob=0.0, epochs=1)
    assert settings.load_size == 18
    data = pipeline.make_training_dataset(tmp_path / "monet", tmp_path / "photo", settings)

    def is_a_window(image, candidates):
        pixels = np.rint((image + 1.0) * 127.5)
        return any(
            np.array_equal(pixels, source[top : top + SIZE, left : left + SIZE])
            for source in candidates
            for top in range(18 - SIZE + 1)
            for left in range(18 - SIZE + 1)
        )

    seen = 0
    for real_photo, real_monet in data.dataset:
        for photo, monet in zip(real_photo.numpy(), real_monet.numpy(), strict=True):
            assert is_a_window(photo, sources["photo"])
            assert is_a_window(monet, sources["monet"])
            seen += 1
    assert seen == 8


def test_no_cache_gives_the_same_batches(identity_domains):
    monets, photos = identity_domains
    cached = batches(pipeline.make_training_dataset(monets, photos, config(epochs=1)))
    uncached = pipeline.make_training_dataset(monets, photos, config(epochs=1, cache="none"))
    assert uncached.cache == "none"
    for (p1, m1), (p2, m2) in zip(cached, batches(uncached), strict=True):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(m1, m2)


def test_auto_cache_chooses_by_size():
    assert pipeline.choose_cache(config(cache="auto", cache_memory_mb=1), 10) == "memory"
    assert pipeline.choose_cache(config(cache="auto", cache_memory_mb=1), 10_000) == "disk"


def test_corrupt_photo_is_named_or_skipped(identity_domains):
    monets, photos = identity_domains
    whole = (photos / "img0003.png").read_bytes()
    (photos / "img0003.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"img0003.png"):
        pipeline.make_training_dataset(monets, photos, config())
    data = pipeline.make_training_dataset(monets, photos, config(skip_bad_records=True))
    assert data.photo_count == 23 and data.steps_per_epoch == 5
    assert len(data.report["photo"].skipped) == 1 and "img0003" in data.report["photo"].summary()


@pytest.mark.backend
def test_keras_fit_consumes_the_dataset(identity_domains):
    import keras

    monets, photos = identity_domains
    data = pipeline.make_training_dataset(monets, photos, config(epochs=2, steps_per_epoch=3))
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(3, 1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(data.dataset, steps_per_epoch=data.steps_per_epoch, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_steps_per_epoch_is_a_multiple_of_steps_per_execution(identity_domains):
    """Keras runs whole executions: 6 steps at 4 per execution would run 8 and slip the epoch
    boundaries. Rounded down to 4; the photos left out differ between epochs."""
    monets, photos = identity_domains
    data = pipeline.make_training_dataset(monets, photos, config(steps_per_execution=4))
    assert (data.batches_per_epoch, data.steps_per_epoch) == (6, 4)
    assert "rounded down from 6 to 4" in data.rounding_note(4)
    all_batches = batches(data)
    assert len(all_batches) == 3 * 4
    left_out = []
    for epoch in range(3):
        seen = [i for p, _ in all_batches[epoch * 4 : (epoch + 1) * 4] for i in decode_identity(p)]
        assert len(seen) == len(set(seen)) == 16  # each photo at most once an epoch
        left_out.append(set(range(24)) - set(seen))
    assert left_out[0] != left_out[1] != left_out[2]
    assert pipeline.make_training_dataset(monets, photos, config()).rounding_note(1) is None
    with pytest.raises(
        ConfigError,
        match=r"fewer than one execution of steps_per_execution=8: "
        r"set steps_per_execution to at most 6",
    ):
        pipeline.make_training_dataset(monets, photos, config(steps_per_execution=8))


def test_epochs_0_streams_epochs_without_end_the_same_as_a_fixed_run(textured_domains):
    """epochs=0: the stream goes on past any fixed count; epoch k of it (from the start or
    resumed at k) is epoch k of a fixed run."""
    monets, photos = textured_domains
    fixed = batches(pipeline.make_training_dataset(monets, photos, config(epochs=3)))
    open_ended = pipeline.make_training_dataset(monets, photos, config(epochs=0, decay_epochs=5))
    stream = [(p.numpy(), m.numpy()) for p, m in open_ended.dataset.take(5 * 3)]
    assert len(stream) == 15  # more epochs than the fixed run has
    resumed = pipeline.make_training_dataset(monets, photos, config(epochs=0), start_epoch=2)
    resumed_first = [(p.numpy(), m.numpy()) for p, m in resumed.dataset.take(3)]
    for (p1, m1), (p2, m2), (p3, m3) in zip(fixed[6:], stream[6:9], resumed_first, strict=True):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(p2, p3)
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(m2, m3)
    assert not np.array_equal(stream[9][0], stream[6][0])  # epoch 4 is another shuffle


def test_seed_zero_builds_and_repeats_its_batches(identity_domains):
    # tf.data compares (global seed, op seed) with (0, 0) in Python: seed 0 once failed to build.
    import keras

    monets, photos = identity_domains
    keras.utils.set_random_seed(0)  # as train() does with config.seed = 0
    first = batches(pipeline.make_training_dataset(monets, photos, config(seed=0)))
    keras.utils.set_random_seed(0)
    again = batches(pipeline.make_training_dataset(monets, photos, config(seed=0)))
    assert len(first) == 3 * 6
    for (p1, _), (p2, _) in zip(first, again, strict=True):
        np.testing.assert_array_equal(p1, p2)
