"""A notebook Kaggle runs with internet off and no painter installed, and its kernel-metadata.json
(what that file holds and what it must say: metadata.py).

`kaggle kernels push` uploads only the metadata's `code_file`, so the notebook itself carries the
package: the cell tagged `painter-embedded-package` holds a zip of painter/ (see embed.py). The
repository's notebook.ipynb is committed with that cell filled in, so a push from the repository
root works as it is; `build(out_dir, kernel_id=...)` writes a folder to push under your own id, and
`refresh_in_place()` re-embeds the package after painter/ changes (`check_notebook` says when).

Notebooks are read and written as plain JSON (nbformat 4): no Jupyter package is needed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painter.errors import PainterError
from painter.fileio import atomic_write_text
from painter.kaggle import embed

# kernel-metadata.json's names have their home in metadata.py; those written `X as X` are
# re-exported: the builder writes that file beside the notebook, and the tests read them as build.*.
from painter.kaggle.metadata import DEFAULT_TITLE as DEFAULT_TITLE
from painter.kaggle.metadata import KERNEL_METADATA as KERNEL_METADATA
from painter.kaggle.metadata import METADATA_NAME, NOTEBOOK_NAME, check_metadata, kernel_metadata
from painter.kaggle.metadata import PLACEHOLDER_ID as PLACEHOLDER_ID
from painter.kaggle.metadata import slugify as slugify

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
