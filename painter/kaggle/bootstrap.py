"""Make `import painter` work in this notebook: the installed painter, or the copy embedded here.

`kaggle kernels push` uploads the notebook alone and a submission run has no internet, so the
notebook carries painter itself: a zip of the package (base64) and the sha256 of its files. An
installed painter is used only when its files have that same sha256 (a local checkout the notebook
was built from, Colab after `pip install` of the same commit): a version number proves nothing, as
a copy edited without bumping it keeps the number. Otherwise the embedded copy is unpacked into a
temporary folder (not /kaggle/working: that would add files to the notebook's output) and put first
on sys.path. PAINTER_FORCE_EMBEDDED=1 always takes the embedded copy; PAINTER_USE_INSTALLED=1 takes
the installed painter even when its files differ. `python -m painter kaggle build --in-place`
refreshes the embedded copy.

Standard library only: this code runs before painter can be imported. No `from __future__`
import either: in a notebook it would change how every later cell is compiled.
"""

import base64
import hashlib
import importlib
import importlib.util
import io
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

# What the package is made of; an editor's backup, a cache or a stray output in painter/ stays out,
# so a checkout's digest matches the notebook built from it. embed.py digests with these too.
PACKAGE_SUFFIXES = (".py", ".json", ".yaml", ".yml")
# The folders the embedded copy is unpacked into: painter-embedded-<first 16 hex digits of sha256>.
EMBEDDED_PREFIX = "painter-embedded-"


def package_files(root: str | os.PathLike) -> dict[str, bytes]:
    """{"painter/<path>": bytes} of every source file (PACKAGE_SUFFIXES) of the package folder
    `root`; caches and hidden files are left out. The embedded copy's sha256 is computed from this
    too, so an installed copy with the same files has the same digest."""
    root = Path(root)
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix not in PACKAGE_SUFFIXES:
            continue
        if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
            continue
        files[f"painter/{relative.as_posix()}"] = path.read_bytes()
    return files


def content_sha256(files: dict[str, bytes]) -> str:
    """sha256 over the sorted (path, bytes) pairs of a package: independent of zip details."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def unpack_files(archive_bytes: bytes) -> dict[str, bytes]:
    """{path: bytes} of every file in a zip archive."""
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        return {
            info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()
        }


def _version_in(files: dict[str, bytes]) -> str:
    """The __version__ that painter/__init__.py among `files` declares ("?" if none)."""
    source = files.get("painter/__init__.py", b"").decode("utf-8", "replace")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', source, re.MULTILINE)
    return match.group(1) if match else "?"


def _flag(name: str) -> bool:
    return os.environ.get(name, "") == "1"


def _forget_painter() -> None:
    """Drop painter modules already imported, so the next import reads the chosen copy."""
    for name in [name for name in sys.modules if name == "painter" or name.startswith("painter.")]:
        del sys.modules[name]


def _installed_package_dir() -> Path | None:
    """The folder of the painter that `import painter` would load now (found without importing
    it), or None when there is none."""
    try:
        spec = importlib.util.find_spec("painter")
    except (ImportError, ValueError):  # ValueError: a painter module without __spec__
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _unpack_embedded(payload: str, sha256: str) -> Path:
    """Unpack the embedded package (verified against sha256) and return the folder holding it."""
    files = unpack_files(base64.b64decode(payload))
    if content_sha256(files) != sha256:
        raise RuntimeError(
            "the painter package embedded in this notebook is corrupt (sha256 mismatch). "
            "Rebuild the notebook: python -m painter kaggle build --in-place"
        )
    root = Path(tempfile.gettempdir()) / f"{EMBEDDED_PREFIX}{sha256[:16]}"
    if not (root / "painter" / "__init__.py").is_file():
        # Unpack beside the target, then rename: a half-unpacked copy is never imported.
        staging = Path(tempfile.mkdtemp(prefix=".painter-unpack-", dir=root.parent))
        for name, data in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            os.replace(staging, root)
        except OSError:  # another process unpacked the same copy first
            pass
    return root


def _import_installed(folder: Path, why: str) -> str:
    import painter

    if Path(painter.__file__).resolve().parent != folder.resolve():
        raise RuntimeError(
            f"expected the installed painter in {folder}, imported {painter.__file__}"
        )
    print(f"painter {painter.__version__}: the installed package ({folder}): {why}")
    return "installed"


def _import_embedded(payload: str, sha256: str, why: str) -> str:
    root = _unpack_embedded(payload, sha256)
    _forget_painter()
    sys.path[:] = [str(root)] + [entry for entry in sys.path if entry != str(root)]
    # Child processes (if any) import the same copy.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])
    )
    importlib.invalidate_caches()
    import painter

    if Path(painter.__file__).resolve().parent != (root / "painter").resolve():
        raise RuntimeError(f"expected the embedded painter in {root}, imported {painter.__file__}")
    print(
        f"painter {painter.__version__}: the copy embedded in this notebook (sha256 "
        f"{sha256[:12]}, unpacked to {root}): {why}"
    )
    return "embedded"


def bootstrap_painter(*, version: str, sha256: str, payload: str) -> str:
    """Import painter (the installed one when its files are the embedded copy's, else the copy)
    and print which one and why; returns its origin, "installed" or "embedded"."""
    force_embedded = _flag("PAINTER_FORCE_EMBEDDED")
    use_installed = _flag("PAINTER_USE_INSTALLED")
    if force_embedded and use_installed:
        raise RuntimeError(
            "PAINTER_FORCE_EMBEDDED=1 and PAINTER_USE_INSTALLED=1 ask for opposite things: "
            "unset one of them."
        )
    if force_embedded:
        return _import_embedded(payload, sha256, "PAINTER_FORCE_EMBEDDED=1")
    installed = _installed_package_dir()
    if installed is not None and installed.parent.name.startswith(EMBEDDED_PREFIX):
        # An earlier run of this cell put an embedded copy first on sys.path: keep using a copy.
        return _import_embedded(payload, sha256, "unpacked by an earlier run of this cell")
    if installed is None:
        if use_installed:
            raise RuntimeError(
                "PAINTER_USE_INSTALLED=1, but no painter is installed: install it, or unset "
                "PAINTER_USE_INSTALLED to use the copy embedded in this notebook."
            )
        return _import_embedded(payload, sha256, "no painter installed")
    try:
        installed_files = package_files(installed)
    except OSError as error:
        if use_installed:
            raise
        return _import_embedded(payload, sha256, f"the installed painter in {installed}: {error}")
    installed_sha256 = content_sha256(installed_files)
    if installed_sha256 == sha256:
        same = f"its files are the embedded copy's (sha256 {sha256[:12]})"
        return _import_installed(installed, same)
    differs = (
        f"the installed painter {_version_in(installed_files)} in {installed} has other files "
        f"(sha256 {installed_sha256[:12]})"
    )
    if use_installed:
        embedded = f"the embedded {version} (sha256 {sha256[:12]})"
        return _import_installed(
            installed, f"PAINTER_USE_INSTALLED=1, though {differs} than {embedded}"
        )
    return _import_embedded(payload, sha256, f"{differs}; PAINTER_USE_INSTALLED=1 would use it")
