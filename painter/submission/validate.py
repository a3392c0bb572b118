"""Check an images.zip against the competition's rules before Kaggle does.

The rules (kaggle-facts.md): 7,000 to 10,000 entries, each a JPEG of 256x256x3 (RGB), unique names,
nothing else in the archive (no folders, no other files). Every violation is reported, each naming
the entry, so one run shows everything to fix.

Plain zipfile + PIL: this module imports neither Keras nor TensorFlow, so `python -m painter
validate` starts in well under a second.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from painter.data.images import JPEG_MODES, JPEG_START, jpeg_frame

MIN_COUNT = 7000  # the competition's lower bound on images in images.zip
MAX_COUNT = 10000  # ... and its upper bound
SUBMISSION_IMAGE_SIZE = 256  # every image must be 256x256x3, whatever the training size

_JPEG_END = b"\xff\xd9"  # end-of-image marker: the last two bytes of a whole JPEG
_JPEG_MODES = {**JPEG_MODES, 4: "CMYK"}  # the mode Pillow gives a JPEG of so many channels


@dataclass
class ValidationReport:
    """What `validate_submission` found: `ok` when `violations` is empty; `count` = entries."""

    path: Path
    ok: bool
    count: int
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the command line and the logs."""
        if self.ok:
            side = SUBMISSION_IMAGE_SIZE
            return f"{self.path}: valid submission, {self.count} JPEG images of {side}x{side}x3"
        return (
            f"{self.path}: INVALID submission, {len(self.violations)} violation(s) "
            f"in {self.count} entries"
        )


def validate_submission(
    path: str | os.PathLike,
    *,
    min_count: int = MIN_COUNT,
    max_count: int = MAX_COUNT,
    image_size: int = SUBMISSION_IMAGE_SIZE,
    decode: bool = True,
    contents: bool = True,
) -> ValidationReport:
    """Check the zip at `path` against the competition's rules and list every violation.

    Args:
        path: the images.zip to check.
        min_count, max_count: allowed number of entries (the competition's 7,000 and 10,000;
            smaller values for custom data and tests).
        image_size: the required width and height.
        decode: decode every image (catches corrupt data); False checks each entry's JPEG
            markers only (format, size, channels, and an end-of-image marker: not cut short),
            about a hundred times faster.
        contents: False checks only the archive's directory (names, folders, count), for a
            writer that checked each entry's bytes with `check_image` before writing them.

    Returns:
        ValidationReport(path, ok, count, violations); each violation names the entry at fault.
        A missing file or one that is not a zip is a report with one violation, not an exception.
    """
    path = Path(path)
    if not path.is_file():
        return ValidationReport(path, False, 0, [f"{path}: no such file"])
    if not zipfile.is_zipfile(path):
        return ValidationReport(path, False, 0, [f"{path}: not a zip archive"])
    violations: list[str] = []
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = Counter(info.filename for info in infos)
        for name, times in sorted(names.items()):
            if times > 1:
                violations.append(f"{name}: the name appears {times} times; names must be unique")
        images = []
        for info in infos:
            name = info.filename
            if info.is_dir():
                violations.append(f"{name}: a folder; the archive must hold only .jpg files")
            elif "/" in name or "\\" in name:
                violations.append(f"{name}: inside a folder; images must sit at the archive root")
            elif not name.lower().endswith(".jpg"):
                violations.append(f"{name}: not a .jpg file; the archive must hold only .jpg files")
            else:
                images.append(info)

        def check(info: zipfile.ZipInfo) -> str | None:
            return check_image(info.filename, archive.read(info), image_size, decode=decode)

        if contents and decode:  # decoding 7,000 JPEGs: PIL releases the GIL while it decodes
            workers = max(1, min(8, os.cpu_count() or 1))
            with ThreadPoolExecutor(workers) as pool:
                violations.extend(v for v in pool.map(check, images) if v)
        elif contents:  # reading markers holds the GIL: threads would only contend
            violations.extend(v for v in map(check, images) if v)
    count = len(infos)
    if count < min_count:
        violations.append(f"{path.name}: {count} entries, fewer than the required {min_count}")
    if count > max_count:
        violations.append(f"{path.name}: {count} entries, more than the allowed {max_count}")
    return ValidationReport(path, not violations, count, violations)


def check_image(name: str, data: bytes, image_size: int, *, decode: bool = True) -> str | None:
    """The violation of one entry named `name` holding `data` (None if it is a fine JPEG of
    image_size x image_size x 3): decoded with PIL, or with `decode=False` only its JPEG markers
    read (`jpeg_header`; other formats are still identified by PIL, to name them)."""
    if not decode and data[:2] == JPEG_START:
        header = jpeg_header(data)
        if header is None:
            return f"{name}: not a decodable image (a JPEG cut short, or with broken markers)"
        width, height, channels = header
        mode = _JPEG_MODES.get(channels, f"{channels}-channel")
        return _violation(name, "JPEG", mode, (width, height), image_size)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, mode, size = image.format, image.mode, image.size
            if decode:
                image.load()  # a truncated or corrupt JPEG fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return f"{name}: not a decodable image ({error})"
    return _violation(name, image_format, mode, size, image_size)


def jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, channels) of a whole JPEG from its frame header (`jpeg_frame`), or None
    when `data` is not one: not a JPEG, a broken marker, or no end-of-image marker (cut short)."""
    frame = jpeg_frame(data) if data[-2:] == _JPEG_END else None
    return None if frame is None else (frame.width, frame.height, frame.channels)


def _violation(
    name: str, image_format: str | None, mode: str, size: tuple[int, int], image_size: int
) -> str | None:
    problems = []
    if image_format != "JPEG":
        problems.append(f"a {image_format} image, not a JPEG")
    if size != (image_size, image_size):
        problems.append(f"{size[0]}x{size[1]} pixels, not {image_size}x{image_size}")
    if mode != "RGB":
        kind = {"L": "grayscale", "LA": "grayscale+alpha", "RGBA": "RGBA", "CMYK": "CMYK"}
        problems.append(f"mode {mode} ({kind.get(mode, 'not RGB')}), not RGB with 3 channels")
    return f"{name}: " + "; ".join(problems) if problems else None
