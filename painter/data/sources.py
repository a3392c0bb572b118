"""Where images come from: a folder (or file) of TFRecords or of JPEG/PNG images.

`find_source` classifies one path; `find_domains` finds the Monet and photo domains in Kaggle's
layout (`monet_tfrec/` preferred over `monet_jpg/`) or in two explicit folders; `find_kaggle_data`
finds the competition's folder under `/kaggle/input` wherever Kaggle mounted it. Nothing here opens
an image; this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from painter.errors import DataError

TFRECORD_SUFFIXES = (".tfrec", ".tfrecord", ".tfrecords")
KAGGLE_INPUT = Path("/kaggle/input")  # where Kaggle mounts a notebook's inputs
COMPETITION = "gan-getting-started"
KAGGLE_FOLDERS = ("monet_tfrec", "photo_tfrec", "monet_jpg", "photo_jpg")
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
        given = explicit[domain]
        if given is not None:
            chosen[domain] = find_source(given)
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


def find_kaggle_data(
    root: str | os.PathLike = KAGGLE_INPUT,
    *,
    competition: str = COMPETITION,
    max_depth: int = 4,
) -> Path:
    """The folder holding the competition's data: `root/competition` when it has Kaggle's layout,
    else the best folder under `root` (at most `max_depth` levels down) holding a Monet and a photo
    folder (`monet_tfrec/` or `monet_jpg/`, `photo_tfrec/` or `photo_jpg/`, with data in them).

    Kaggle has moved inputs before (`/kaggle/input/competitions/gan-getting-started`, a dataset
    copy under another name), so a fixed path is not enough. Among several candidates, one whose
    path names `competition` wins, then the shallowest, then the first by name. Domain folders
    themselves are not entered (7,038 photos need no listing), nor hidden folders; symbolic links
    are followed, each real folder once.

    Raises:
        DataError: nothing found; says which folders were searched, how deep, what `root` holds,
            which folders held only one domain, and how to add the data.
    """
    root = Path(root)
    expected = root / competition
    if _has_both_domains(expected):
        return expected
    if not root.is_dir():
        raise DataError(
            f"{root}: no such folder, so the competition's data cannot be found there (not on "
            f"Kaggle?). Set PAINTER_DATA_DIR (or --data) to the folder holding monet_tfrec/ or "
            "monet_jpg/ and photo_tfrec/ or photo_jpg/."
        )
    found: list[tuple[bool, int, str, Path]] = []
    one_domain: list[str] = []
    searched = 0
    seen: set[Path] = set()
    level = [root]
    for depth in range(max_depth + 1):
        below: list[Path] = []
        for folder in level:
            try:
                real = folder.resolve()
            except OSError:
                continue
            if real in seen:
                continue
            seen.add(real)
            searched += 1
            domains = {d: kaggle_domain_folder(folder, d) for d in DOMAINS}
            if all(domains.values()):
                found.append((competition not in folder.parts, depth, str(folder), folder))
                continue
            if any(domains.values()):
                present = [f.name for f in domains.values() if f is not None]
                one_domain.append(f"{folder} (only {', '.join(present)}/)")
            below.extend(_subfolders(folder))
        level = below
    if found:
        return min(found)[3]
    holds = ", ".join(p.name for p in _subfolders(root)[:20]) or "nothing"
    raise DataError(
        f"the competition's data is not under {root}: looked for {expected} and then, "
        f"{max_depth} levels deep ({searched} folders), for a folder holding "
        "monet_tfrec/ or monet_jpg/ and photo_tfrec/ or photo_jpg/ with data in them. "
        f"{root} holds: {holds}."
        + (f" Only one domain in: {'; '.join(one_domain[:5])}." if one_domain else "")
        + f" On Kaggle add the competition's data (Add Input > Competitions > {competition}); "
        "elsewhere set PAINTER_DATA_DIR (or --data) to its folder."
    )


def _has_both_domains(folder: Path) -> bool:
    return folder.is_dir() and all(kaggle_domain_folder(folder, d) for d in DOMAINS)


def _subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders of `folder` except the domain folders themselves, sorted by name."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:  # unreadable: skipped (the error message counts what was searched)
        return []
    return [
        p
        for p in entries
        if not p.name.startswith(".") and p.name not in KAGGLE_FOLDERS and p.is_dir()
    ]


__all__ = [
    "ImageSource",
    "find_source",
    "find_domains",
    "find_kaggle_data",
    "kaggle_domain_folder",
    "TFRECORD_SUFFIXES",
    "IMAGE_SUFFIXES",
]
