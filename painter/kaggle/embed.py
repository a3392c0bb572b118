"""The painter package embedded in a notebook cell, and the check that a copy is current.

The bootstrap cell is a `#@title` line (Colab's name for the folded cell), the source of
`painter/kaggle/bootstrap.py` and one call,
`bootstrap_painter(version=..., sha256=..., payload=...)`, whose payload is a base64 zip of every
file of the package. The sha256 covers the files' names and bytes (not the zip's bytes), so the
check does not depend on the zlib that compressed them.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from painter.errors import PainterError
from painter.kaggle import bootstrap
from painter.kaggle.bootstrap import content_sha256, unpack_files

# Tag on the notebook cell that holds the embedded package (Jupyter and Kaggle keep cell tags).
BOOTSTRAP_TAG = "painter-embedded-package"
REGENERATE_COMMAND = "python -m painter kaggle build --in-place"

_CALL_PATTERN = re.compile(
    r'bootstrap_painter\(\s*version="(?P<version>[^"]+)",\s*sha256="(?P<sha256>[0-9a-f]{64})",'
    r'\s*payload="(?P<payload>[A-Za-z0-9+/=]*)",?\s*\)'
)
# The cell's first line: Colab shows a cell whose metadata says `"cellView": "form"` as this title
# with its code hidden (build.py sets the metadata that hides it elsewhere).
CELL_TITLE = "#@title painter: the installed package, or the copy embedded here (code hidden)"
_VERSION_PATTERN = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)


@dataclass(frozen=True)
class EmbeddedPackage:
    """A copy of the package: version, content sha256 and its files ({"painter/x.py": bytes})."""

    version: str
    sha256: str
    files: dict[str, bytes]


def package_dir() -> Path:
    """The folder of the painter package this code belongs to."""
    return Path(__file__).resolve().parents[1]


def package_files(root: str | Path | None = None) -> dict[str, bytes]:
    """Every source file (bootstrap.PACKAGE_SUFFIXES) of the package under `root` (default: this
    package), keyed `painter/...`; caches and hidden files are left out. The bootstrap digests an
    installed painter with the same function, so the two digests compare."""
    root = Path(root) if root is not None else package_dir()
    if not (root / "__init__.py").is_file():
        raise PainterError(f"{root} is not a Python package (no __init__.py); cannot embed it.")
    return bootstrap.package_files(root)


def package_version(files: dict[str, bytes]) -> str:
    match = _VERSION_PATTERN.search(files.get("painter/__init__.py", b"").decode("utf-8"))
    if not match:
        raise PainterError("painter/__init__.py defines no __version__; cannot embed the package.")
    return match.group(1)


def snapshot(root: str | Path | None = None) -> EmbeddedPackage:
    """The package under `root` as it is on disk now."""
    files = package_files(root)
    return EmbeddedPackage(package_version(files), content_sha256(files), files)


def pack_files(files: dict[str, bytes]) -> bytes:
    """A zip of `files`, sorted, with fixed timestamps: the same files give the same archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def bootstrap_cell_source(package: EmbeddedPackage) -> str:
    """The code of the notebook's bootstrap cell for `package`."""
    bootstrap_code = (Path(__file__).with_name("bootstrap.py")).read_text(encoding="utf-8")
    payload = base64.b64encode(pack_files(package.files)).decode("ascii")
    return (
        CELL_TITLE
        + "\n"
        + bootstrap_code.rstrip()
        + "\n\n\n# The embedded copy of painter (regenerate: "
        + REGENERATE_COMMAND
        + ").\npainter_origin = bootstrap_painter(\n"
        + f'    version="{package.version}",\n'
        + f'    sha256="{package.sha256}",\n'
        + f'    payload="{payload}",\n'
        + ")\n"
    )


def read_embedded(cell_source: str, *, where: str = "notebook") -> EmbeddedPackage:
    """The package embedded in a bootstrap cell's source (verified against its sha256)."""
    match = _CALL_PATTERN.search(cell_source)
    if not match:
        raise PainterError(
            f"{where}: no embedded painter package (bootstrap_painter(version=..., sha256=..., "
            f"payload=...)) found. Regenerate it: {REGENERATE_COMMAND}"
        )
    try:
        files = unpack_files(base64.b64decode(match["payload"], validate=True))
    except (ValueError, zipfile.BadZipFile) as error:
        raise PainterError(
            f"{where}: the embedded package cannot be decoded ({error}). "
            f"Regenerate it: {REGENERATE_COMMAND}"
        ) from None
    if content_sha256(files) != match["sha256"]:
        raise PainterError(
            f"{where}: the embedded package does not match its sha256. "
            f"Regenerate it: {REGENERATE_COMMAND}"
        )
    return EmbeddedPackage(match["version"], match["sha256"], files)


def differences(embedded: EmbeddedPackage, current: EmbeddedPackage) -> list[str]:
    """Files that differ between an embedded copy and the current package, one line each."""
    lines = []
    for name in sorted(set(embedded.files) | set(current.files)):
        if name not in embedded.files:
            lines.append(f"{name}: new in painter/, missing from the notebook")
        elif name not in current.files:
            lines.append(f"{name}: in the notebook, no longer in painter/")
        elif embedded.files[name] != current.files[name]:
            lines.append(f"{name}: changed since the notebook was built")
    return lines
