"""stylize: any size, aspect, orientation and mode in; same size out; tiles blend like one pass."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from painter.errors import DataError, PainterError
from painter.submission import stylize as stylize_module
from painter.submission.stylize import paint, read_photo, reflect_pad, stylize


def _photo(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 127 + 100 * np.sin(x[..., None] / 7 + y[..., None] / 11 + np.array([0, 1, 2]))
    return np.clip(base + rng.normal(0, 10, (height, width, 3)), 0, 255).astype(np.uint8)


def _save(path, pixels, mode="RGB", **kwargs):
    image = Image.fromarray(pixels, mode="RGB").convert(mode)
    image.save(path, **kwargs)
    return path


def strided_generator():
    """Needs sides that are a multiple of 4, like the ResNet generator."""
    import keras

    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    hidden = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(
        hidden
    )
    hidden = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(hidden)
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(hidden))


def local_generator():
    """Fully convolutional with a 5x5 receptive field: tiling may only change the overlaps."""
    import keras

    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(hidden))


def test_reflect_pad_to_multiple_and_back():
    image = np.arange(5 * 7 * 1).reshape(5, 7, 1)
    padded, (height, width) = reflect_pad(image, 4)
    assert padded.shape == (8, 8, 1) and (height, width) == (5, 7)
    np.testing.assert_array_equal(padded[:5, :7], image)
    np.testing.assert_array_equal(padded[5, :7], image[3])  # reflection, not zeros or edge
    tiny, _ = reflect_pad(np.ones((2, 3, 3)), 16)  # pad larger than the side still works
    assert tiny.shape == (16, 16, 3)


def test_read_photo_respects_exif_and_converts_modes(tmp_path):
    pixels = _photo(20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rotated = read_photo(_save(tmp_path / "exif.jpg", pixels, exif=exif.tobytes()))
    assert rotated.shape == (30, 20, 3)
    gray = read_photo(_save(tmp_path / "gray.png", pixels, mode="L"))
    assert gray.shape == (20, 30, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    transparent = np.zeros((4, 4, 4), np.uint8)  # fully transparent black -> white
    Image.fromarray(transparent, mode="RGBA").save(tmp_path / "rgba.png")
    assert read_photo(tmp_path / "rgba.png").min() == 255
    cmyk = read_photo(_save(tmp_path / "cmyk.jpg", pixels, mode="CMYK"))
    assert cmyk.shape == (20, 30, 3)
    with pytest.raises(DataError, match="junk.jpg: not an image"):
        (tmp_path / "junk.jpg").write_bytes(b"junk")
        read_photo(tmp_path / "junk.jpg")


@pytest.mark.backend
def test_stylize_outputs_have_the_input_size(tmp_path):
    generator = strided_generator()
    assert stylize_module.size_multiple(generator) == 4
    pixels = _photo(37, 53)
    exif = Image.Exif()
    exif[0x0112] = 8
    inputs = [
        _save(tmp_path / "odd.jpg", pixels),
        _save(tmp_path / "wide.png", _photo(16, 64)),
        _save(tmp_path / "rotated.jpg", pixels, exif=exif.tobytes()),
        _save(tmp_path / "gray.png", pixels, mode="L"),
        _save(tmp_path / "rgba.png", pixels, mode="RGBA"),
        _save(tmp_path / "pic.bmp", pixels),
    ]
    written = stylize(generator, inputs, tmp_path / "out")
    names = [p.name for p in written]
    assert names == ["odd.jpg", "wide.png", "rotated.jpg", "gray.png", "rgba.png", "pic.png"]
    sizes = {p.name: Image.open(p).size for p in written}
    assert sizes == {
        "odd.jpg": (53, 37),
        "wide.png": (64, 16),
        "rotated.jpg": (37, 53),
        "gray.png": (53, 37),
        "rgba.png": (53, 37),
        "pic.png": (53, 37),
    }
    assert Image.open(written[0]).format == "JPEG" and Image.open(written[1]).format == "PNG"
    assert Image.open(written[3]).mode == "RGB"
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


@pytest.mark.backend
def test_tiled_painting_equals_one_pass():
    generator = local_generator()
    photo = _photo(70, 90)
    whole = paint(generator, photo, multiple=1, tile=256)
    tiled = paint(generator, photo, multiple=1, tile=32, overlap=8)
    difference = np.abs(whole.astype(int) - tiled.astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.1


@pytest.mark.backend
def test_tiles_take_odd_sizes_with_a_strided_generator():
    photo = _photo(45, 61)
    assert paint(strided_generator(), photo, tile=24, overlap=6).shape == (45, 61, 3)


def test_stylize_refuses_bad_requests(tmp_path):
    with pytest.raises(PainterError, match="no images"):
        stylize(lambda x: x, [], tmp_path)
    a = _save(tmp_path / "a.jpg", _photo(8, 8))
    (tmp_path / "b").mkdir()
    b = _save(tmp_path / "b" / "a.png", _photo(8, 8))
    with pytest.raises(PainterError, match="both be written"):
        stylize(lambda x: x, [a, b], tmp_path / "out", suffix=".png")
    with pytest.raises(PainterError, match="overwrite its own input"):
        stylize(lambda x: x, [a], tmp_path)
    with pytest.raises(DataError, match="no such image"):
        stylize(lambda x: x, [tmp_path / "missing.jpg"], tmp_path / "out", multiple=1)


def test_identity_generator_reproduces_the_photo(tmp_path):
    photo = _photo(19, 23)
    painted = paint(lambda batch: batch, photo, multiple=8)
    np.testing.assert_array_equal(painted, photo)


def identity(batch):
    return batch


def inverse(batch):
    return -batch  # [-1, 1] mirrored: pixel x becomes 255 - x


def _sides_seen(seen):
    def generator(batch):
        seen.append(batch.shape[1:3])
        return batch

    return generator


@pytest.mark.parametrize("tile", [1024, 24])  # one pass; 3 x 4 overlapping tiles
def test_padding_tiling_and_cropping_keep_every_pixel_in_place(tile):
    photo = _photo(45, 61)
    seen = []
    painted = paint(_sides_seen(seen), photo, multiple=4, tile=tile, overlap=6)
    np.testing.assert_array_equal(painted, photo)
    assert all(height % 4 == 0 and width % 4 == 0 for height, width in seen)  # padded to x4
    inverted = paint(inverse, photo, multiple=4, tile=tile, overlap=6).astype(int)
    assert np.abs(inverted - (255 - photo.astype(int))).max() <= 1


def test_stylize_writes_what_the_generator_painted(tmp_path):
    """Identity in, the photo out (PNG: exactly; JPEG: within compression error), upright and at
    its own size; an inverting generator's negative lands in the file, pixel for pixel."""
    pixels = _photo(21, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    photos = [
        _save(tmp_path / "plain.png", pixels),
        _save(tmp_path / "turned.png", pixels, exif=exif.tobytes()),
        _save(tmp_path / "lossy.jpg", pixels, quality=95),
    ]
    same = [np.asarray(Image.open(p)) for p in stylize(identity, photos, tmp_path / "same")]
    np.testing.assert_array_equal(same[0], pixels)
    np.testing.assert_array_equal(same[1], np.rot90(pixels, -1))  # painted as displayed
    decoded = np.asarray(Image.open(photos[2]).convert("RGB")).astype(int)
    assert np.abs(same[2].astype(int) - decoded).mean() < 2  # encoded once more as JPEG
    (negative,) = stylize(inverse, photos[:1], tmp_path / "negative", multiple=4)
    assert np.abs(np.asarray(Image.open(negative)).astype(int) - (255 - pixels)).max() <= 1


@pytest.mark.backend
def test_paint_on_two_replicas_matches_one(keras_backend):
    """A single photo (batch 1) or an odd number of tiles is padded to the replica count."""
    import contextlib

    import keras

    single = local_generator()
    photo = _photo(40, 52)
    expected_whole = paint(single, photo, multiple=1)
    expected_tiled = paint(single, photo, multiple=1, tile=24, overlap=6)  # 3x3 = 9 tiles
    if keras_backend == "tensorflow":
        import tensorflow as tf

        scope = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope()
    else:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices()[:2])
        )
        scope = contextlib.nullcontext()
    try:
        with scope:
            replicated = local_generator()
            replicated.set_weights(single.get_weights())
            assert stylize_module._replicas(replicated) == 2
            whole = paint(replicated, photo, multiple=1)
            tiled = paint(replicated, photo, multiple=1, tile=24, overlap=6)
    finally:
        if keras_backend == "jax":
            keras.distribution.set_distribution(None)
    assert np.abs(whole.astype(int) - expected_whole.astype(int)).max() <= 1
    assert np.abs(tiled.astype(int) - expected_tiled.astype(int)).max() <= 1


def test_painter_generators_declare_their_multiple(tmp_path):
    """painter's own ResNet (x4) and U-Net (x2^depth) on an odd-sized photo, saved and reloaded
    the way `stylize` gets them. TensorFlow only: on JAX compiling the two real generators costs
    ~50 s and proves nothing the backend tests above do not."""
    import keras

    from painter.models import resnet_generator, unet_generator

    photo = _save(tmp_path / "odd.png", _photo(21, 30))
    for generator, multiple in (
        (resnet_generator(filters=4, residual_blocks=1), 4),
        (unet_generator(filters=4, depth=3), 8),
    ):
        generator.save(tmp_path / "generator.keras")
        reloaded = keras.saving.load_model(tmp_path / "generator.keras", compile=False)
        assert stylize_module.size_multiple(reloaded) == multiple
        (written,) = stylize(reloaded, [photo], tmp_path / f"out{multiple}")
        assert Image.open(written).size == (30, 21)
