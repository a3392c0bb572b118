"""A notebook Kaggle runs with internet off and no painter installed, and its kernel-metadata.json.

`kaggle kernels push` uploads only the metadata's `code_file`, so the notebook itself carries the
package: the cell tagged `painter-embedded-package` holds a zip of painter/ (see embed.py). The
repository's notebook.ipynb is committed with that cell filled in, so a push from the repository
root works as it is; `build(out_dir, kernel_id=...)` writes a folder to push under your own id, and
`refresh_in_place()` re-embeds the package after painter/ changes (`check_notebook` says when).

Notebooks are read and written as plain JSON (nbformat 4): no Jupyter package is needed here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painter.errors import PainterError
from painter.fileio import atomic_write_text
from painter.kaggle import embed

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

# The bootstrap cell's ~200,000-character payload line is most of the notebook: JupyterLab, Kaggle
# and Colab show the cell folded, its output (which painter it imported) visible and the code one
# click away. nbformat's own `collapsed` is left out: it hides the *outputs* (nbformat 4 schema).
HIDDEN_CELL_METADATA: dict[str, Any] = {
    "jupyter": {"source_hidden": True},  # JupyterLab and Notebook 7 (nbformat 4 schema)
    "_kg_hide-input": True,  # Kaggle: the notebook as rendered on the site
    "cellView": "form",  # Colab: the cell's `#@title` line stands for the hidden code
}


def default_notebook_path() -> Path:
    """The repository's notebook.ipynb (beside the painter package)."""
    return embed.package_dir().parent / NOTEBOOK_NAME


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


# --- notebooks -------------------------------------------------------------------------------
def load_notebook(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PainterError(
            f"notebook {str(path)!r} does not exist. Give the repository's notebook.ipynb "
            "with --notebook PATH."
        )
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PainterError(f"{path}: not a notebook (invalid JSON: {error}).") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise PainterError(f"{path}: not a Jupyter notebook (no list of cells).")
    return notebook


def notebook_text(notebook: dict[str, Any]) -> str:
    """The notebook as Jupyter writes it (1-space indent, trailing newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def bootstrap_cell_index(notebook: dict[str, Any], *, where: str = "notebook") -> int:
    """Index of the one code cell tagged `painter-embedded-package`."""
    found = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell.get("cell_type") == "code"
        and embed.BOOTSTRAP_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if len(found) != 1:
        raise PainterError(
            f"{where}: expected exactly one code cell tagged {embed.BOOTSTRAP_TAG!r} (where the "
            f"package is embedded), found {len(found)}. Add the tag to the bootstrap cell."
        )
    return found[0]


def clear_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def with_package(
    notebook: dict[str, Any], package: embed.EmbeddedPackage, *, where: str = "notebook"
) -> dict[str, Any]:
    """A copy of `notebook` whose bootstrap cell embeds `package`, every output cleared."""
    notebook = json.loads(json.dumps(notebook))
    cell = notebook["cells"][bootstrap_cell_index(notebook, where=where)]
    cell["source"] = embed.bootstrap_cell_source(package).splitlines(keepends=True)
    metadata = cell.setdefault("metadata", {})
    for key, value in HIDDEN_CELL_METADATA.items():
        metadata[key] = {**metadata.get(key, {}), **value} if isinstance(value, dict) else value
    return clear_outputs(notebook)


def bootstrap_cell_hidden(cell: dict[str, Any]) -> bool:
    """Whether a cell's metadata hides its code in every editor HIDDEN_CELL_METADATA names."""
    metadata = cell.get("metadata", {})
    for key, value in HIDDEN_CELL_METADATA.items():
        if isinstance(value, dict):
            found = metadata.get(key)
            if not isinstance(found, dict) or any(found.get(k) != v for k, v in value.items()):
                return False
        elif metadata.get(key) != value:
            return False
    return True


# --- the three operations --------------------------------------------------------------------
@dataclass
class BuildResult:
    notebook: Path
    metadata: Path | None
    package: embed.EmbeddedPackage


def build(
    out_dir: str | Path,
    *,
    kernel_id: str | None = None,
    title: str | None = None,
    notebook_path: str | Path | None = None,
) -> BuildResult:
    """Write `out_dir/notebook.ipynb` (the current package embedded, outputs cleared) and
    `out_dir/kernel-metadata.json`: a folder for `kaggle kernels push -p out_dir`."""
    source = Path(notebook_path) if notebook_path is not None else default_notebook_path()
    metadata = kernel_metadata(kernel_id, title)
    package = embed.snapshot()
    notebook = with_package(load_notebook(source), package, where=str(source))
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PainterError(f"--out {str(out_dir)!r} exists and is not a folder.")
    notebook_file = out_dir / metadata["code_file"]
    metadata_file = out_dir / METADATA_NAME
    atomic_write_text(notebook_file, notebook_text(notebook))
    atomic_write_text(metadata_file, json.dumps(metadata, indent=2) + "\n")
    return BuildResult(notebook_file, metadata_file, package)


def refresh_in_place(notebook_path: str | Path | None = None) -> BuildResult:
    """Re-embed the current package into the repository's notebook.ipynb (outputs cleared)."""
    path = Path(notebook_path) if notebook_path is not None else default_notebook_path()
    package = embed.snapshot()
    notebook = with_package(load_notebook(path), package, where=str(path))
    atomic_write_text(path, notebook_text(notebook))
    return BuildResult(path, None, package)


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


@dataclass
class CheckReport:
    notebook: Path
    problems: list[str] = field(default_factory=list)
    embedded: embed.EmbeddedPackage | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_notebook(notebook_path: str | Path | None = None) -> CheckReport:
    """Whether a notebook embeds exactly the current package and has no outputs, and whether the
    kernel-metadata.json beside it (if any) asks for what a submission run needs; every problem
    is listed with what fixes it."""
    path = Path(notebook_path) if notebook_path is not None else default_notebook_path()
    report = CheckReport(path)
    notebook = load_notebook(path)
    try:
        index = bootstrap_cell_index(notebook, where=str(path))
        report.embedded = embed.read_embedded(
            cell_source(notebook["cells"][index]), where=str(path)
        )
    except PainterError as error:
        report.problems.append(str(error))
        return report
    changed = embed.differences(report.embedded, embed.snapshot())
    if changed:
        report.problems.append(
            f"{path}: the embedded painter is stale ({len(changed)} file(s) differ: "
            + "; ".join(changed[:10])
            + ("; ..." if len(changed) > 10 else "")
            + f"). Regenerate it: {embed.REGENERATE_COMMAND}"
        )
    if not bootstrap_cell_hidden(notebook["cells"][index]):
        report.problems.append(
            f"{path}: the cell tagged {embed.BOOTSTRAP_TAG!r} does not hide its code (metadata "
            f"{json.dumps(HIDDEN_CELL_METADATA)}). Regenerate it: {embed.REGENERATE_COMMAND}"
        )
    with_outputs = [
        str(number)
        for number, cell in enumerate(notebook["cells"])
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    metadata_file = path.parent / METADATA_NAME
    if metadata_file.is_file():
        report.problems.extend(check_metadata(metadata_file, code_file=path.name))
    if with_outputs:
        report.problems.append(
            f"{path}: cells {', '.join(with_outputs)} hold outputs; commit the notebook with "
            f"outputs cleared: {embed.REGENERATE_COMMAND}"
        )
    return report
