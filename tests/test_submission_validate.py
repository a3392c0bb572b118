"""The validator catches every kind of rule violation, naming the entry; `validate` CLI exit
codes."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from painter.cli import main
from painter.submission.validate import jpeg_header, validate_submission


def _image_bytes(size=(16, 16), mode="RGB", image_format="JPEG") -> bytes:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "L": 1, "RGBA": 4, "CMYK": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            if name.endswith("/"):
                archive.mkdir(name) if hasattr(archive, "mkdir") else archive.writestr(name, b"")
            else:
                archive.writestr(name, data)
    return path


def _good(count):
    return [(f"img{i:03d}.jpg", _image_bytes()) for i in range(count)]


def _validate(path, **kwargs):
    return validate_submission(path, min_count=3, max_count=6, image_size=16, **kwargs)


def test_valid_zip_passes(tmp_path):
    report = _validate(_zip(tmp_path / "images.zip", _good(4)))
    assert report.ok and report.count == 4 and report.violations == []
    assert "valid submission, 4 JPEG" in report.summary()


@pytest.mark.parametrize(
    ("bad_entry", "expected"),
    [
        (("wrong_size.jpg", _image_bytes(size=(16, 12))), "16x12 pixels, not 16x16"),
        (("png_inside.jpg", _image_bytes(image_format="PNG")), "a PNG image, not a JPEG"),
        (("gray.jpg", _image_bytes(mode="L")), "mode L (grayscale)"),
        (("cmyk.jpg", _image_bytes(mode="CMYK")), "mode CMYK"),
        (("broken.jpg", b"not an image at all"), "not a decodable image"),
        (("broken.jpg", _image_bytes()[:200]), "not a decodable image"),
        (("notes.txt", b"hello"), "not a .jpg file"),
        (("folder/img.jpg", _image_bytes()), "inside a folder"),
        (("folder/", b""), "a folder"),
    ],
)
@pytest.mark.parametrize("decode", [True, False])
def test_each_violation_is_reported_naming_the_entry(tmp_path, bad_entry, expected, decode):
    report = _validate(_zip(tmp_path / "images.zip", [*_good(3), bad_entry]), decode=decode)
    assert not report.ok
    assert len(report.violations) == 1, report.violations
    assert report.violations[0].startswith(bad_entry[0]) and expected in report.violations[0]


def test_contents_false_checks_the_directory_only(tmp_path):
    entries = [*_good(3), ("png_inside.jpg", _image_bytes(image_format="PNG"))]
    assert _validate(_zip(tmp_path / "images.zip", entries), contents=False).ok
    report = _validate(_zip(tmp_path / "more.zip", [*entries, ("x.txt", b"")]), contents=False)
    assert report.violations == ["x.txt: not a .jpg file; the archive must hold only .jpg files"]


@pytest.mark.parametrize(
    "options",
    [{}, {"progressive": True}, {"exif": Image.Exif()}, {"quality": 50, "subsampling": 0}],
)
def test_jpeg_header_reads_what_pil_reads(options):
    pixels = np.random.default_rng(1).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    exif = options.pop("exif", None)
    if exif is not None:
        exif[0x010E] = "a painting"  # an APP1 segment before the frame
        options["exif"] = exif
    Image.fromarray(pixels).save(buffer, format="JPEG", **options)
    data = buffer.getvalue()
    assert jpeg_header(data) == (20, 12, 3)
    assert jpeg_header(data[:-2]) is None  # no end-of-image marker: cut short
    gray = io.BytesIO()
    Image.fromarray(pixels[..., 0]).save(gray, format="JPEG")
    assert jpeg_header(gray.getvalue()) == (20, 12, 1)
    broken = data[:2] + b"\x00" + data[3:]  # the first marker after SOI no longer a marker
    assert jpeg_header(broken) is None


def test_duplicate_names_too_few_and_too_many(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        duplicate = _zip(tmp_path / "dup.zip", [*_good(3), ("img000.jpg", _image_bytes())])
    report = _validate(duplicate)
    assert any(v.startswith("img000.jpg: the name appears 2 times") for v in report.violations)

    few = _validate(_zip(tmp_path / "few.zip", _good(2)))
    assert few.violations == ["few.zip: 2 entries, fewer than the required 3"]
    many = _validate(_zip(tmp_path / "many.zip", _good(7)))
    assert many.violations == ["many.zip: 7 entries, more than the allowed 6"]


def test_missing_file_and_not_a_zip(tmp_path):
    assert not _validate(tmp_path / "absent.zip").ok
    (tmp_path / "x.zip").write_bytes(b"plain text")
    report = _validate(tmp_path / "x.zip")
    assert not report.ok and "not a zip archive" in report.violations[0]


def test_default_rules_are_the_competitions(tmp_path):
    report = validate_submission(_zip(tmp_path / "images.zip", _good(2)))
    # 16x16 images and 2 entries break the 256x256 and 7,000..10,000 rules
    assert any("16x16 pixels, not 256x256" in v for v in report.violations)
    assert any("fewer than the required 7000" in v for v in report.violations)


def test_cli_validate_exit_codes(tmp_path, capsys):
    good = _zip(tmp_path / "good.zip", _good(3))
    args = ["validate", "--min-count", "3", "--max-count", "6", "--image-size", "16"]
    assert main([*args, str(good)]) == 0
    assert "valid submission" in capsys.readouterr().out
    bad = _zip(
        tmp_path / "bad.zip", [*_good(3), ("a.txt", b"x"), ("g.jpg", _image_bytes(mode="L"))]
    )
    assert main([*args, str(bad)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "a.txt: not a .jpg" in out and "g.jpg: mode L" in out


def test_validate_command_does_not_import_keras_or_tensorflow(tmp_path):
    good = _zip(tmp_path / "good.zip", _good(3))
    code = (
        "import sys; from painter.cli import main; "
        f"rc = main(['validate', '--min-count', '3', '--image-size', '16', {str(good)!r}]); "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, 'imported'; "
        "sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
