"""images.zip writer: rounding, zip contents and names, atomicity, fill-to, replicas, estimate."""

from __future__ import annotations

import io
import os
import threading
import types
import zipfile

import numpy as np
import pytest
from PIL import Image

from painter.data.images import encode_jpeg, to_uint8
from painter.errors import SubmissionError
from painter.submission import estimate, inference
from painter.submission.entries import entry_name
from painter.submission.writer import write_submission

SIZE = 16


def _photos(count, batch=5, seed=0):
    """Smooth photos (JPEG keeps them within a few levels) in batches of `batch`."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, SIZE, dtype=np.float32)
    batches = []
    for start in range(0, count, batch):
        names, images = [], []
        for i in range(start, min(count, start + batch)):
            color = rng.uniform(0.2, 0.8, 3)
            image = 255 * color * (0.5 + 0.5 * ramp[:, None, None] * ramp[None, :, None])
            names.append(f"photo{i:03d}")
            images.append(np.round(image).astype(np.uint8))
        batches.append((names, np.stack(images)))
    return batches


def identity(batch):
    return batch


def _read(path):
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (
                info.compress_type,
                np.asarray(Image.open(io.BytesIO(archive.read(info)))),
            )
            for info in archive.infolist()
        }


def _write(tmp_path, generator=identity, photos=None, **kwargs):
    options = dict(image_size=SIZE, batch_size=4, min_count=5, max_count=40, progress=False)
    return write_submission(
        generator, photos or _photos(12), tmp_path / "images.zip", **{**options, **kwargs}
    )


def test_to_uint8_rounds_and_clips():
    values = np.array(
        [-1.0, 1.0, 0.0, -2.0, 3.0, 0.6 / 127.5 - 1, 0.4 / 127.5 - 1, 254.6 / 127.5 - 1]
    )
    # 0 -> 127.5 -> 128 (nearest, halves to even); truncation would give 127
    assert to_uint8(values).tolist() == [0, 255, 128, 0, 255, 1, 0, 255]
    assert to_uint8(values).dtype == np.uint8


def test_zip_holds_one_stored_jpeg_per_photo_with_its_name(tmp_path):
    photos = _photos(12)
    report = _write(tmp_path, photos=photos)
    entries = _read(tmp_path / "images.zip")
    assert sorted(entries) == [f"photo{i:03d}.jpg" for i in range(12)]
    assert report.count == report.photo_count == 12 and report.filled == 0
    assert report.validation.ok and report.path == tmp_path / "images.zip"
    originals = {n: img for names, imgs in photos for n, img in zip(names, imgs, strict=True)}
    for name, (compress_type, pixels) in entries.items():
        assert compress_type == zipfile.ZIP_STORED
        assert pixels.shape == (SIZE, SIZE, 3)
        difference = np.abs(pixels.astype(int) - originals[name[:-4]].astype(int))
        assert difference.mean() < 2.0, name  # identity generator: the photo, up to JPEG loss
    assert not [p for p in tmp_path.iterdir() if p.name != "images.zip"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "images.zip").stat().st_mode & 0o777 == 0o666 & ~umask


def test_entry_names_drop_folders_and_image_suffixes():
    assert entry_name("photo_jpg/abc.jpg") == "abc.jpg"
    assert entry_name(b"abc") == "abc.jpg"
    assert entry_name("a.b.PNG") == "a.b.jpg"


def test_batches_of_any_size_are_regrouped_and_last_batch_padded(tmp_path):
    calls = []

    def generator(batch):
        calls.append(batch.shape[0])
        return -batch  # the negative photo: checks outputs stay aligned with names

    photos = _photos(11, batch=3)
    _write(tmp_path, generator=generator, photos=photos, batch_size=4)
    assert calls == [4, 4, 4]  # 11 photos: the last batch padded to 4, padding dropped
    entries = _read(tmp_path / "images.zip")
    assert len(entries) == 11
    for names, images in photos:
        for name, image in zip(names, images, strict=True):
            expected = 255 - image.astype(int)
            assert np.abs(entries[name + ".jpg"][1].astype(int) - expected).mean() < 2.0


def test_duplicate_names_are_an_error_naming_them(tmp_path):
    photos = _photos(6)
    photos[1][0][0] = "photo001"
    with pytest.raises(SubmissionError, match="'photo001.jpg'"):
        _write(tmp_path, photos=photos)
    assert list(tmp_path.iterdir()) == []


def test_exception_midway_leaves_no_output_and_no_temp_file(tmp_path):
    calls = []

    def failing(batch):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("device lost")
        return batch

    (tmp_path / "images.zip").write_bytes(b"previous")  # an earlier zip is kept, not half-replaced
    with pytest.raises(RuntimeError, match="device lost"):
        _write(tmp_path, generator=failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.zip"]
    assert (tmp_path / "images.zip").read_bytes() == b"previous"


def test_a_painting_of_the_wrong_size_is_refused_naming_it(tmp_path):
    def halves(batch):  # a generator that paints at half the photo's size
        return batch[:, ::2, ::2]

    with pytest.raises(SubmissionError, match=r"photo000\.jpg: 8x8 pixels, not 16x16"):
        _write(tmp_path, generator=halves)
    assert list(tmp_path.iterdir()) == []


def test_too_few_photos_refused_with_advice(tmp_path):
    with pytest.raises(SubmissionError, match="fewer than the 20 images.*fill_to=20"):
        _write(tmp_path, min_count=20)
    with pytest.raises(SubmissionError, match="more than the 10 images"):
        _write(tmp_path, max_count=10)
    # a one-shot iterator has no count up front: refused after reading, still nothing written
    with pytest.raises(SubmissionError, match="fewer than the 20"):
        _write(tmp_path, photos=iter(_photos(12)), min_count=20)
    assert list(tmp_path.iterdir()) == []


def test_fill_to_adds_flipped_variants_with_distinct_names(tmp_path):
    photos = _photos(5)
    report = _write(tmp_path, photos=photos, min_count=8, fill_to=13)
    entries = _read(tmp_path / "images.zip")
    assert report.count == 13 and report.photo_count == 5 and report.filled == 8
    originals = [f"photo{i:03d}.jpg" for i in range(5)]
    flips = [f"photo{i:03d}_flip.jpg" for i in range(5)]
    vflips = [f"photo{i:03d}_vflip.jpg" for i in range(3)]
    assert sorted(entries) == sorted(originals + flips + vflips)
    # identity generator: the variant is the painting of the flipped photo
    np.testing.assert_allclose(
        entries["photo002_flip.jpg"][1].astype(float),
        entries["photo002.jpg"][1][:, ::-1].astype(float),
        atol=6,
    )
    np.testing.assert_allclose(
        entries["photo001_vflip.jpg"][1].astype(float),
        entries["photo001.jpg"][1][::-1].astype(float),
        atol=6,
    )


def test_out_path_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "images.zip").mkdir()
    with pytest.raises(SubmissionError, match="is a folder"):
        _write(tmp_path)


def test_fill_to_bounds(tmp_path):
    with pytest.raises(SubmissionError, match="`fill_to` must be between"):
        _write(tmp_path, fill_to=100)
    with pytest.raises(SubmissionError, match="too high"):
        _write(tmp_path, photos=_photos(2), min_count=5, max_count=40, fill_to=20)
    with pytest.raises(SubmissionError, match="one-shot iterator"):
        _write(tmp_path, photos=iter(_photos(3)), min_count=5, fill_to=5)
    assert list(tmp_path.iterdir()) == []


def test_progress_goes_to_stderr(tmp_path, capsys):
    _write(tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "submission: 12/12 images" in err


def _tiny_generator():
    import keras

    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(3, 1, activation="tanh")(hidden)
    return keras.Model(inputs, outputs)


@pytest.mark.backend
def test_keras_generator_writes_its_predictions(tmp_path):
    generator = _tiny_generator()
    photos = _photos(9)
    report = _write(tmp_path, generator=generator, photos=photos, batch_size=4)
    assert report.count == 9
    entries = _read(tmp_path / "images.zip")
    names, images = photos[1]
    expected = to_uint8(generator.predict_on_batch(images.astype(np.float32) / 127.5 - 1))
    for name, image in zip(names, expected, strict=True):
        # compare with the same JPEG encoding of the expected painting (chroma subsampling of a
        # random network's output is far from lossless)
        encoded = np.asarray(Image.open(io.BytesIO(encode_jpeg(image))))
        assert np.abs(entries[name + ".jpg"][1].astype(int) - encoded.astype(int)).mean() < 0.5


@pytest.mark.backend
def test_device_side_uint8_conversion_matches_to_uint8():
    import keras

    inputs = keras.Input((None, None, 3))
    identity_model = keras.Model(inputs, keras.layers.Identity()(inputs))
    photos = _photos(6)[0][1]
    np.testing.assert_array_equal(inference.predictor(identity_model)(photos), photos)
    # a generator overshooting [-1, 1]: clipped, and rounded like to_uint8 on the host
    overshoot = keras.Model(inputs, keras.layers.Rescaling(3.0, offset=0.1)(inputs))
    pixels = inference.predictor(overshoot)(photos)
    expected = to_uint8(3.0 * (photos.astype(np.float32) / 127.5 - 1) + 0.1)
    assert pixels.dtype == np.uint8 and {0, 255} <= set(np.unique(pixels).tolist())
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1
    assert (pixels != expected).mean() < 0.01  # only float ties may differ


def test_a_generator_at_another_size_paints_without_trying_xla(monkeypatch):
    # TensorFlow only (JAX compiles every model with its own XLA, resizes included). cpu-small
    # trains at 64 px and paints at 256: at_submission_size's antialiased / bicubic resizes are
    # ops TensorFlow's XLA bridge cannot compile. The predictor must not try (the failed try
    # printed a ~80-line C++ traceback before falling back), and must paint what the model does.
    generator = _tiny_generator()
    sized = inference.at_submission_size(generator, train_size=8, out_size=SIZE)
    assert not inference.xla_compiles(sized) and inference.xla_compiles(generator)
    compiled = []
    run_model = inference.run_model

    def recording_run_model(model, batch):
        compiled.append(bool(model.jit_compile))
        return run_model(model, batch)

    monkeypatch.setattr(inference, "run_model", recording_run_model)
    photos = _photos(4, batch=4)[0][1]
    pixels = inference.predictor(sized)(photos)
    assert compiled == [False]
    expected = to_uint8(sized.predict_on_batch(photos.astype(np.float32) / 127.5 - 1))
    assert pixels.shape == (4, SIZE, SIZE, 3)
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.backend
def test_batches_are_split_over_all_replicas(tmp_path, keras_backend):
    """Two replicas (conftest's two logical CPUs / two JAX host devices): batch 3 becomes 4 and
    the distributed run paints exactly what a single device paints."""
    import keras

    generator = _tiny_generator()
    weights = generator.get_weights()
    single = _write(tmp_path / "single", generator=generator, batch_size=4)
    if keras_backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            replicated = _tiny_generator()
            replicated.set_weights(weights)
            assert inference.replica_count(replicated) == 2
            report = _write(tmp_path / "multi", generator=replicated, batch_size=3)
    else:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices()[:2])
        )
        try:
            replicated = _tiny_generator()
            replicated.set_weights(weights)
            assert inference.replica_count(replicated) == 2
            report = _write(tmp_path / "multi", generator=replicated, batch_size=3)
        finally:
            keras.distribution.set_distribution(None)
    assert report.batch_size == 4 and report.count == single.count == 12
    single_entries = _read(single.path)
    for name, (_, pixels) in _read(report.path).items():
        assert np.abs(pixels.astype(int) - single_entries[name][1].astype(int)).max() <= 1


@pytest.mark.backend
def test_estimate_extrapolates_measured_batches():
    generator = _tiny_generator()
    small = estimate.estimate_submission_seconds(generator, 8, batch_size=4, image_size=SIZE)
    large = estimate.estimate_submission_seconds(generator, 4000, batch_size=4, image_size=SIZE)
    assert 0 < small < large
    assert estimate.estimate_submission_seconds(generator, 0, batch_size=4, image_size=SIZE) == 0.0


class _FakeClock:
    """`time.perf_counter` for the estimate: it moves only when the fakes below do work, by a
    distinct cost per kind of work, so the estimate's formula can be checked exactly."""

    COMPILE, INFER, ENCODE, HEADER, DECODE = 2.0, 0.25, 0.001, 0.0001, 0.01  # seconds

    def __init__(self):
        self.now = 100.0
        self.predict_calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds

    def predictor(self, generator):
        def predict(real_photo):  # the first call compiles
            self.advance(self.COMPILE if self.predict_calls == 0 else self.INFER)
            self.predict_calls += 1
            return real_photo

        return predict

    def encode_jpeg(self, image, quality):
        self.advance(self.ENCODE)
        return b"jpeg"

    def check_image(self, name, data, image_size, *, decode):  # the writer's check per image
        assert not decode and image_size == SIZE
        self.advance(self.HEADER)

    def open_image(self, stream):
        clock = self

        class Image:
            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                return False

            def load(self):  # reading a photo: a decode per image
                clock.advance(clock.DECODE)

        return Image()


def test_estimate_is_warm_up_plus_batches_times_the_measured_batch(monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(estimate, "time", types.SimpleNamespace(perf_counter=clock))
    monkeypatch.setattr(estimate, "predictor", clock.predictor)
    monkeypatch.setattr(estimate, "encode_jpeg", clock.encode_jpeg)
    monkeypatch.setattr(estimate, "check_image", clock.check_image)
    monkeypatch.setattr(estimate, "Image", types.SimpleNamespace(open=clock.open_image))
    batch = 4
    # One batch: its inference (the mean of the timed batches), and per image an encode, a
    # marker check (the writer's) and a decode (reading the photo).
    per_batch = clock.INFER + batch * (clock.ENCODE + clock.HEADER + clock.DECODE)

    def seconds(photo_count: int) -> float:
        return estimate.estimate_submission_seconds(
            lambda photos: photos, photo_count, batch_size=batch, image_size=SIZE
        )

    for photo_count, batches in ((1, 1), (4, 1), (5, 2), (7038, 1760)):
        clock.predict_calls = 0
        assert seconds(photo_count) == pytest.approx(clock.COMPILE + batches * per_batch)
    assert seconds(0) == 0.0
