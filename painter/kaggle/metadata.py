"""kernel-metadata.json: what `kaggle kernels push` reads beside the notebook, and its checks.

The notebook must run as a submission: TPU on, internet off, the competition's data attached
(`KERNEL_METADATA`, kaggle-facts.md "The kaggle CLI"). The id and title are the user's to set;
Kaggle derives the kernel's URL slug from the title, so the two must agree (`slugify`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from painter.errors import PainterError

NOTEBOOK_NAME = "notebook.ipynb"
METADATA_NAME = "kernel-metadata.json"
PLACEHOLDER_ID = "YOUR-KAGGLE-USERNAME/painter-monet-cyclegan"
DEFAULT_TITLE = "Painter Monet CycleGAN"  # slugifies to the placeholder's slug, as Kaggle wants

# kernel-metadata.json as `kaggle kernels push` reads it (kaggle-facts.md, "The kaggle CLI").
KERNEL_METADATA: dict[str, Any] = {
    "id": PLACEHOLDER_ID,
    "title": DEFAULT_TITLE,
    "code_file": NOTEBOOK_NAME,
    "language": "python",
    "kernel_type": "notebook",
    "is_private": True,
    "enable_gpu": False,
    "enable_tpu": True,
    # The CLI's default is TRUE; a submission run must not depend on the network.
    "enable_internet": False,
    "dataset_sources": [],
    "competition_sources": ["gan-getting-started"],
    "kernel_sources": [],
    "model_sources": [],
    "machine_shape": "TpuV5E8",  # TPU v3-8 is retired; v5e-8 is Kaggle's TPU today
}

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*/[a-z0-9][a-z0-9-]{4,}$")


def slugify(title: str) -> str:
    """The URL slug Kaggle derives from a title (lowercase words joined by hyphens)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def kernel_metadata(kernel_id: str | None = None, title: str | None = None) -> dict[str, Any]:
    """kernel-metadata.json for `kernel_id` ("owner/slug"); the title defaults to the slug's
    words capitalised, so it resolves to the same slug."""
    metadata = dict(KERNEL_METADATA)
    if kernel_id is not None:
        if not _ID_PATTERN.match(kernel_id):
            raise PainterError(
                f"--id must be OWNER/SLUG, the slug at least 5 characters of lowercase letters, "
                f"digits and hyphens (e.g. jane/painter-monet). Received: {kernel_id!r}"
            )
        metadata["id"] = kernel_id
        slug = kernel_id.split("/", 1)[1]
        title = title if title is not None else " ".join(w.capitalize() for w in slug.split("-"))
    if title is not None:
        slug = metadata["id"].split("/", 1)[1]
        if slugify(title) != slug:
            raise PainterError(
                f"--title {title!r} resolves to the slug {slugify(title)!r}, not {slug!r}: Kaggle "
                "would then publish the kernel under an unexpected URL. Choose a title whose words "
                f"are the slug's (e.g. {' '.join(w.capitalize() for w in slug.split('-'))!r})."
            )
        metadata["title"] = title
    return metadata


# What a submission run needs, whatever else the user changes in kernel-metadata.json.
REQUIRED_METADATA = (
    "language",
    "kernel_type",
    "enable_tpu",
    "enable_internet",
    "competition_sources",
    "machine_shape",
)


def check_metadata(path: str | Path, *, code_file: str | None = None) -> list[str]:
    """Problems of a kernel-metadata.json: an id still the placeholder is fine (the README says
    to set it); a wrong or missing setting of REQUIRED_METADATA, or another code_file, is not."""
    path = Path(path)
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"{path}: not readable JSON ({error})."]
    problems = []
    for key in REQUIRED_METADATA:
        if metadata.get(key) != KERNEL_METADATA[key]:
            problems.append(
                f"{path}: `{key}` is {metadata.get(key, '(missing)')!r}; a submission run needs "
                f"{KERNEL_METADATA[key]!r}"
                + (
                    " (the kaggle CLI's default is true: set false explicitly)"
                    if key == "enable_internet"
                    else ""
                )
            )
    if code_file is not None and metadata.get("code_file") != code_file:
        problems.append(
            f"{path}: `code_file` is {metadata.get('code_file')!r}, not {code_file!r}: "
            "a push would upload another notebook."
        )
    kernel_id = str(metadata.get("id", ""))
    if not _ID_PATTERN.match(kernel_id):
        problems.append(
            f"{path}: `id` {kernel_id!r} is not OWNER/SLUG (slug >= 5 characters of "
            "lowercase letters, digits and hyphens)."
        )
    elif "title" in metadata and slugify(str(metadata["title"])) != kernel_id.split("/", 1)[1]:
        problems.append(
            f"{path}: `title` {metadata['title']!r} does not resolve to the slug of "
            f"`id` {kernel_id!r}; Kaggle would publish the kernel under another URL."
        )
    return problems
