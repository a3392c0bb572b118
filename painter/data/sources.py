"""Where images come from: a folder (or file) of TFRecords or of JPEG/PNG images.

`find_source` classifies one path; `find_domains` finds the Monet and photo domains in Kaggle's
layout (`monet_tfrec/` preferred over `monet_jpg/`) or in two explicit folders. Nothing here opens
an image; this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from painter.errors import DataError

TFRECORD_SUFFIXES = (".tfrec", ".tfrecord", ".tfrecords")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DOMAINS = ("monet", "photo")


@dataclass(frozen=True)
class ImageSource:
    """A set of image files of one kind, in the order they are read (sorted by name)."""

    kind: Literal["tfrecord", "images"]
    files: tuple[Path, ...]
    root: Path

    def describe(self) -> str:
        unit = "TFRecord file" if self.kind == "tfrecord" else "image file"
        plural = "" if len(self.files) == 1 else "s"
        return f"{len(self.files)} {unit}{plural} in {self.root}"


def _listing(folder: Path) -> list[Path]:
    # Hidden files (.DS_Store, our own `.name.tmp` partial writes) are never data.
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def find_source(path: str | os.PathLike | ImageSource) -> ImageSource:
    """Classify `path`: a folder holding `*.tfrec` files (preferred when both kinds are present)
    or JPEG/PNG images, or a single such file. Raises DataError when it does not exist or holds
    neither."""
    if isinstance(path, ImageSource):
        return path
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder. Pass a folder of .tfrec files or of JPEG/PNG images "
            "(or Kaggle's gan-getting-started folder with --data)."
        )
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in TFRECORD_SUFFIXES:
            return ImageSource("tfrecord", (path,), path.parent)
        if suffix in IMAGE_SUFFIXES:
            return ImageSource("images", (path,), path.parent)
        raise DataError(
            f"{path}: not a TFRecord ({', '.join(TFRECORD_SUFFIXES)}) or image "
            f"({', '.join(IMAGE_SUFFIXES)}) file. Pass one of those, or a folder of them."
        )
    files = _listing(path)
    records = tuple(p for p in files if p.suffix.lower() in TFRECORD_SUFFIXES)
    if records:
        return ImageSource("tfrecord", records, path)
    images = tuple(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
    if images:
        return ImageSource("images", images, path)
    raise DataError(
        f"{path}: the folder holds no .tfrec files and no JPEG/PNG images "
        f"({len(files)} other file(s)). Point at a folder of training images or TFRecords."
    )


def kaggle_domain_folder(data: Path, domain: str) -> Path | None:
    """`DATA/{domain}_tfrec` when it holds TFRecords, else `DATA/{domain}_jpg`, else None."""
    for suffix in ("_tfrec", "_jpg"):
        folder = data / f"{domain}{suffix}"
        if folder.is_dir() and any(
            p.suffix.lower() in TFRECORD_SUFFIXES + IMAGE_SUFFIXES for p in _listing(folder)
        ):
            return folder
    return None


def find_domains(
    data: str | os.PathLike | None = None,
    *,
    monet: str | os.PathLike | ImageSource | None = None,
    photo: str | os.PathLike | ImageSource | None = None,
) -> tuple[ImageSource, ImageSource]:
    """The (monet, photo) sources: explicit `monet`/`photo` folders win; otherwise Kaggle's
    layout under `data` (`monet_tfrec/` preferred over `monet_jpg/`, same for photos)."""
    chosen: dict[str, ImageSource] = {}
    explicit = {"monet": monet, "photo": photo}
    for domain in DOMAINS:
        if explicit[domain] is not None:
            chosen[domain] = find_source(explicit[domain])
            continue
        if data is None:
            raise DataError(
                f"no {domain} images given: pass --data DIR (Kaggle's layout) or --{domain} DIR."
            )
        root = Path(data)
        if not root.is_dir():
            raise DataError(
                f"{root}: no such folder. --data expects Kaggle's gan-getting-started folder "
                "(monet_tfrec/, photo_tfrec/ or monet_jpg/, photo_jpg/)."
            )
        folder = kaggle_domain_folder(root, domain)
        if folder is None:
            raise DataError(
                f"{root}: found neither {domain}_tfrec/ nor {domain}_jpg/ with data in it. "
                f"Use Kaggle's layout or pass the folder explicitly with --{domain} DIR."
            )
        chosen[domain] = find_source(folder)
    return chosen["monet"], chosen["photo"]


__all__ = ["ImageSource", "find_source", "find_domains", "kaggle_domain_folder",
           "TFRECORD_SUFFIXES", "IMAGE_SUFFIXES"]
