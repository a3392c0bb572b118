"""`painter data inspect`: what a data folder holds and what is wrong with it, as one JSON
object."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from painter.data import reader
from painter.data.sources import find_source, kaggle_domain_folder


def expand_paths(paths: list[str | os.PathLike]) -> list[Path]:
    """Each path as given, except that Kaggle's gan-getting-started folder (which holds no images
    itself) stands for its domain folders (`monet_tfrec/`, `photo_tfrec/`, `*_jpg/`)."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not any(p.is_file() for p in path.iterdir()):
            found = [
                path / f"{domain}{suffix}"
                for domain in ("monet", "photo")
                for suffix in ("_tfrec", "_jpg")
                if (path / f"{domain}{suffix}").is_dir()
            ]
            if found and any(kaggle_domain_folder(path, d) for d in ("monet", "photo")):
                expanded.extend(found)
                continue
        expanded.append(path)
    return expanded


def inspect_paths(
    paths: list[str | os.PathLike], *, image_size: int | None = None, decode: bool = True
) -> dict[str, Any]:
    """Summarise data sources: images per target, files with record counts, image shapes and
    every problem (with file and record). `decode` also decodes every image's pixels (finds
    corrupt image data behind a valid header); `image_size` flags images smaller than it.
    Raises DataError for a path that does not exist or holds no data."""
    sources = [find_source(path) for path in expand_paths(paths)]
    per_target: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    problems: list[dict[str, str]] = []
    described = []
    for source in sources:
        result = reader.scan(source, image_size=image_size)
        good = result.good
        bad_pixels = (
            dict((id(r), message) for r, message in reader.decode_problems(result, good))
            if decode
            else {}
        )
        for where, what in result.problems():
            problems.append({"where": where, "problem": what})
        for record in good:
            if id(record) in bad_pixels:
                problems.append({"where": record.where, "problem": bad_pixels[id(record)]})
                continue
            per_target[record.target if record.target is not None else "none"] += 1
            shapes["x".join(map(str, record.good_header.shape))] += 1
        entry: dict[str, Any] = {
            "path": str(source.root),
            "kind": source.kind,
            "images": len(good) - len(bad_pixels),
        }
        if source.kind == "tfrecord":
            entry["files"] = [
                {"file": path.name, "records": result.counts.get(path, 0)} for path in source.files
            ]
        else:
            entry["files"] = len(source.files)
        described.append(entry)
    return {
        "ok": not problems,
        "images": sum(per_target.values()),
        "images_per_target": dict(sorted(per_target.items())),
        "shapes": dict(shapes.most_common()),
        "sources": described,
        "problems": problems,
    }


__all__ = ["inspect_paths", "expand_paths"]
