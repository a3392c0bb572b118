"""Names inside images.zip: one entry per painting, named after its photo."""

from __future__ import annotations

from painter.errors import DataError


def entry_name(image_name: str | bytes) -> str:
    """The zip entry for a photo: its name without folder or image suffix, plus ".jpg"."""
    if isinstance(image_name, bytes):
        image_name = image_name.decode("utf-8")
    name = image_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() in ("jpg", "jpeg", "png", "tfrec", "tfrecord"):
        name = stem
    if not name:
        raise DataError(f"image name {image_name!r} gives an empty file name; name the photo")
    return name + ".jpg"


__all__ = ["entry_name"]
