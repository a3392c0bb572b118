"""Make `import painter` work in this notebook: the installed painter, or the copy embedded here.

`kaggle kernels push` uploads the notebook alone and a submission run has no internet, so the
notebook carries painter itself: a zip of the package (base64) and the sha256 of its files. An
installed painter at least as new as the embedded copy is used as it is (Colab after
`pip install`, a local checkout); otherwise, or when PAINTER_FORCE_EMBEDDED=1, the copy is unpacked
into a temporary folder (not /kaggle/working: that would add files to the notebook's output) and
put first on sys.path. `python -m painter kaggle build --in-place` refreshes the embedded copy.

Standard library only: this code runs before painter can be imported.
"""

import base64
import hashlib
import importlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path


def content_sha256(files):
    """sha256 over the sorted (path, bytes) pairs of a package: independent of zip details."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def unpack_files(archive_bytes):
    """{path: bytes} of every file in a zip archive."""
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        return {
            info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()
        }


def _version_tuple(version):
    return tuple(int(part) if part.isdigit() else 0 for part in str(version).split("."))


def _forget_painter():
    """Drop painter modules already imported, so the next import reads the chosen copy."""
    for name in [name for name in sys.modules if name == "painter" or name.startswith("painter.")]:
        del sys.modules[name]


def _installed_painter_version():
    """The version of the painter that `import painter` finds now, or None when there is none."""
    try:
        import painter
    except ImportError:
        return None
    return getattr(painter, "__version__", "0")


def _unpack_embedded(payload, sha256):
    """Unpack the embedded package (verified against sha256) and return the folder holding it."""
    files = unpack_files(base64.b64decode(payload))
    if content_sha256(files) != sha256:
        raise RuntimeError(
            "the painter package embedded in this notebook is corrupt (sha256 mismatch). "
            "Rebuild the notebook: python -m painter kaggle build --in-place"
        )
    root = Path(tempfile.gettempdir()) / f"painter-embedded-{sha256[:16]}"
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


def bootstrap_painter(*, version, sha256, payload):
    """Import painter (installed, or the embedded copy) and say which one; returns its origin."""
    forced = os.environ.get("PAINTER_FORCE_EMBEDDED", "") == "1"
    installed = None if forced else _installed_painter_version()
    if installed is not None and _version_tuple(installed) >= _version_tuple(version):
        import painter

        print(
            f"painter {painter.__version__}: the installed package ({Path(painter.__file__).parent})"
        )
        return "installed"
    root = _unpack_embedded(payload, sha256)
    _forget_painter()
    sys.path.insert(0, str(root))
    # Child processes (if any) import the same copy.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])
    )
    importlib.invalidate_caches()
    import painter

    if Path(painter.__file__).resolve().parent != (root / "painter").resolve():
        raise RuntimeError(f"expected the embedded painter in {root}, imported {painter.__file__}")
    why = (
        "PAINTER_FORCE_EMBEDDED=1"
        if forced
        else ("no painter installed" if installed is None else f"installed {installed} is older")
    )
    print(
        f"painter {painter.__version__}: the copy embedded in this notebook ({why}; "
        f"sha256 {sha256[:12]}, unpacked to {root})"
    )
    return "embedded"
