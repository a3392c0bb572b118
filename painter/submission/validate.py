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

MIN_COUNT = 7000  # the competition's lower bound on images in images.zip
MAX_COUNT = 10000  # ... and its upper bound
SUBMISSION_IMAGE_SIZE = 256  # every image must be 256x256x3, whatever the training size


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
) -> ValidationReport:
    """Check the zip at `path` against the competition's rules and list every violation.

    Args:
        path: the images.zip to check.
        min_count, max_count: allowed number of entries (the competition's 7,000 and 10,000;
            smaller values for custom data and tests).
        image_size: the required width and height.
        decode: decode every image (catches truncated or corrupt data); False checks each
            entry's JPEG header only (format, size, mode), a hundred times faster.

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

        # Decoding 7,000 JPEGs is the slow part; PIL releases the GIL while decoding.
        def check(info: zipfile.ZipInfo) -> str | None:
            return _check_image(info.filename, archive.read(info), image_size, decode)

        workers = max(1, min(8, os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            violations.extend(v for v in pool.map(check, images) if v)
    count = len(infos)
    if count < min_count:
        violations.append(f"{path.name}: {count} entries, fewer than the required {min_count}")
    if count > max_count:
        violations.append(f"{path.name}: {count} entries, more than the allowed {max_count}")
    return ValidationReport(path, not violations, count, violations)


def _check_image(name: str, data: bytes, image_size: int, decode: bool = True) -> str | None:
    """The violation of one entry (None if it is a fine JPEG of image_size x image_size x 3)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, mode, size = image.format, image.mode, image.size
            if decode:
                image.load()  # a truncated or corrupt JPEG fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return f"{name}: not a decodable image ({error})"
    problems = []
    if image_format != "JPEG":
        problems.append(f"a {image_format} image, not a JPEG")
    if size != (image_size, image_size):
        problems.append(f"{size[0]}x{size[1]} pixels, not {image_size}x{image_size}")
    if mode != "RGB":
        kind = {"L": "grayscale", "LA": "grayscale+alpha", "RGBA": "RGBA", "CMYK": "CMYK"}
        problems.append(f"mode {mode} ({kind.get(mode, 'not RGB')}), not RGB with 3 channels")
    return f"{name}: " + "; ".join(problems) if problems else None
