"""painter.data.images: headers, conversion to upright RGB, fitting to a square, the pixel ranges.

Expected values are computed by hand or with Pillow directly, never with the function under test.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from painter.data import images


def gradient(height: int, width: int) -> np.ndarray:
    """Every pixel different: rows in red, columns in green, a constant blue."""
    y, x = np.mgrid[0:height, 0:width]
    channels = [y * 255 // max(height - 1, 1), x * 255 // max(width - 1, 1), 0 * x + 90]
    return np.stack(channels, -1).astype(np.uint8)


def save(path, pixels, *, mode="RGB", **options):
    Image.fromarray(np.asarray(pixels, np.uint8), "RGB").convert(mode).save(path, **options)
    return path


def rotated_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def test_pixel_ranges_by_hand():
    pixels = np.array([0, 1, 127, 128, 255], np.uint8)
    model = images.pixels_to_model_range(pixels)
    assert model.dtype == np.float32
    np.testing.assert_allclose(
        model, [-1.0, 1 / 127.5 - 1, -0.5 / 127.5, 0.5 / 127.5, 1.0], atol=1e-7
    )
    np.testing.assert_array_equal(images.to_uint8(model), pixels)  # the way back is exact
    every_pixel = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(
        images.to_uint8(images.pixels_to_model_range(every_pixel)), every_pixel
    )
    # rounded to nearest (0 -> 127.5 -> 128, halves to even), clipped, uint8 passes through
    assert images.to_uint8(np.array([0.0, -3.0, 3.0])).tolist() == [128, 0, 255]
    np.testing.assert_array_equal(images.to_uint8(pixels), pixels)


def test_pixels_to_model_range_matches_the_tensor_twin():
    from painter.data.augment import to_model_range

    pixels = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        images.pixels_to_model_range(pixels), to_model_range(pixels).numpy()
    )


def test_read_header_reports_the_displayed_size(tmp_path):
    upright = images.read_header(save(tmp_path / "a.jpg", gradient(20, 30)))
    assert (upright.format, upright.mode, upright.width, upright.height) == ("JPEG", "RGB", 30, 20)
    assert upright.shape == (20, 30, 3) and upright.orientation == 1
    assert upright.tensorflow_decodable() and upright.is_rgb_jpeg(None)
    assert not upright.is_rgb_jpeg(20)  # not square at that size
    turned = images.read_header(save(tmp_path / "b.jpg", gradient(20, 30), exif=rotated_exif(6)))
    assert (turned.width, turned.height, turned.orientation) == (20, 30, 6)
    assert not turned.tensorflow_decodable()  # TensorFlow ignores EXIF: Pillow must decode it
    gray = images.read_header(save(tmp_path / "c.png", gradient(8, 8), mode="L").read_bytes())
    assert (gray.format, gray.mode, gray.shape) == ("PNG", "L", (8, 8, 1))
    cmyk = images.read_header(save(tmp_path / "d.jpg", gradient(8, 8), mode="CMYK"))
    assert cmyk.mode == "CMYK" and not cmyk.tensorflow_decodable()
    with pytest.raises(ValueError, match="neither JPEG nor PNG"):
        images.read_header(b"definitely not an image")
    with pytest.raises(ValueError, match="only JPEG and PNG"):
        images.read_header(save(tmp_path / "e.bmp", gradient(4, 4)))


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("RGB", {}),
        ("L", {}),
        ("RGB", {"progressive": True}),
        ("RGB", {"quality": 50, "subsampling": 0, "comment": "a comment segment"}),
        ("RGB", {"exif": "upright"}),
        ("RGB", {"exif": "rotated"}),
        ("CMYK", {}),
    ],
)
def test_read_header_from_markers_agrees_with_pillow(tmp_path, mode, options):
    # The fast path (jpeg_frame) must give what Pillow would, from a path or from bytes.
    exif = options.pop("exif", None)
    if exif is not None:
        options["exif"] = rotated_exif(6 if exif == "rotated" else 1)
    path = save(tmp_path / "a.jpg", gradient(20, 36), mode=mode, **options)
    expected = images._read_header_pillow(path)
    assert images.read_header(path) == expected == images.read_header(path.read_bytes())
    assert (expected.width, expected.height) == ((20, 36) if exif == "rotated" else (36, 20))


def test_jpeg_frame_reads_the_frame_and_refuses_what_is_not_a_jpeg(tmp_path):
    data = save(tmp_path / "a.jpg", gradient(12, 20), exif=rotated_exif(3)).read_bytes()
    frame = images.jpeg_frame(data)
    assert frame == images.JpegFrame(width=20, height=12, channels=3, precision=8, exif=True)
    assert images.jpeg_frame(data[:20]) is None  # cut short before the frame
    assert images.jpeg_frame(data[:2] + b"\x00" + data[3:]) is None  # a broken marker
    png = save(tmp_path / "a.png", gradient(4, 4)).read_bytes()
    assert images.jpeg_frame(png) is None


def test_check_size_names_a_too_small_image(tmp_path):
    header = images.read_header(save(tmp_path / "a.png", gradient(20, 30)))
    assert images.check_size(header, 20) is None and images.check_size(header, None) is None
    assert "30x20, smaller than the 24x24 crop" in images.check_size(header, 24)


def test_to_rgb_applies_exif_transparency_and_16_bit(tmp_path):
    pixels = gradient(4, 6)
    with Image.open(save(tmp_path / "r.jpg", pixels, exif=rotated_exif(6))) as image:
        upright = np.asarray(images.to_rgb(image))
    with Image.open(tmp_path / "r.jpg") as image:  # Pillow's own rotation of the same file
        expected = np.asarray(image.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    np.testing.assert_array_equal(upright, expected)
    assert upright.shape == (6, 4, 3)
    half = np.zeros((2, 2, 4), np.uint8)
    half[..., 3] = 128  # black at half opacity over white: 127 or 128
    blended = np.asarray(images.to_rgb(Image.fromarray(half, "RGBA")))
    assert blended.min() >= 126 and blended.max() <= 128
    deep = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.uint16))  # 16-bit gray
    np.testing.assert_array_equal(np.asarray(images.to_rgb(deep))[0, :, 0], [0, 100, 255])
    palette = Image.fromarray(pixels, "RGB").convert("P")
    assert images.to_rgb(palette).mode == "RGB"


def test_fit_to_size_scales_the_shorter_side_and_crops_the_centre():
    pixels = gradient(10, 30)
    fitted = images.fit_to_size(Image.fromarray(pixels), 10)  # no scaling: a centre crop
    np.testing.assert_array_equal(np.asarray(fitted), pixels[:, 10:20])
    halved = images.fit_to_size(Image.fromarray(gradient(40, 60)), 20)  # 40x60 -> 20x30 -> crop
    assert halved.size == (20, 20)
    expected = Image.fromarray(gradient(40, 60)).resize((30, 20), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(np.asarray(halved), np.asarray(expected)[:, 5:25])
    with pytest.raises(ValueError, match="smaller than the 12x12 crop"):
        images.fit_to_size(Image.fromarray(pixels), 12)  # never upscales


def test_load_rgb_from_paths_and_bytes(tmp_path):
    pixels = gradient(12, 16)
    path = save(tmp_path / "a.png", pixels)
    np.testing.assert_array_equal(images.load_rgb(path), pixels)  # PNG: lossless
    np.testing.assert_array_equal(images.load_rgb(path.read_bytes()), pixels)
    np.testing.assert_array_equal(images.load_rgb(str(path), 12), pixels[:, 2:14])
    turned = images.load_rgb(save(tmp_path / "b.png", pixels, exif=rotated_exif(8)))
    np.testing.assert_array_equal(turned, np.rot90(pixels, 1))  # 8: rotate 90 CCW to display
    assert images.load_rgb(save(tmp_path / "g.png", pixels, mode="L")).shape == (12, 16, 3)
    with pytest.raises(ValueError, match="no such image file"):
        images.load_rgb(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="not an image"):
        images.load_rgb(b"junk")
    (tmp_path / "cut.png").write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="cannot decode image"):
        images.load_rgb(tmp_path / "cut.png")
    with pytest.raises(ValueError, match="smaller than the 13x13 crop"):
        images.load_rgb(path, 13)


def test_encode_jpeg_round_trips_within_compression_error():
    pixels = gradient(16, 16)
    data = images.encode_jpeg(pixels)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (16, 16)
        decoded = np.asarray(image.convert("RGB")).astype(int)
    assert np.abs(decoded - pixels).mean() < 3


@pytest.mark.parametrize("quality", [75, 95])
def test_encode_jpeg_paints_the_pixels_pillows_encoder_would(quality):
    # The writer encodes with TensorFlow's codec for speed; the paintings must not change.
    pixels = np.random.default_rng(quality).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    pixels[:, :20] = gradient(24, 20)  # smooth and noisy halves
    pillow = io.BytesIO()
    Image.fromarray(pixels).save(pillow, format="JPEG", quality=quality)
    ours = np.asarray(Image.open(io.BytesIO(images.encode_jpeg(pixels, quality))))
    theirs = np.asarray(Image.open(pillow))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(("height", "width", "size"), [(10, 30, 10), (40, 60, 20), (33, 21, 16)])
def test_fit_to_size_tf_matches_the_pillow_rule(height, width, size):
    import tensorflow as tf

    pixels = gradient(height, width)
    fitted = images.fit_to_size_tf(tf.constant(pixels), size).numpy()
    assert fitted.shape == (size, size, 3) and fitted.dtype == np.uint8
    expected = np.asarray(images.fit_to_size(Image.fromarray(pixels), size)).astype(int)
    # the same crop of the same picture; the two antialiasing filters differ by a few levels
    assert np.abs(fitted.astype(int) - expected).mean() < 4
