"""The notebook carries the package: embedding, the bootstrap cell, build, check and the CLI."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from painter.cli import main
from painter.errors import PainterError
from painter.kaggle import build, embed
from painter.kaggle.bootstrap import content_sha256

REPO_ROOT = Path(__file__).resolve().parents[1]


def _bootstrap_source() -> str:
    """The bootstrap cell as `kaggle build` writes it now (this checkout's bootstrap.py and
    package; the committed notebook holds the same once `make notebook` has run)."""
    notebook = build.with_package(
        build.load_notebook(REPO_ROOT / "notebook.ipynb"), embed.snapshot()
    )
    return build.cell_source(notebook["cells"][build.bootstrap_cell_index(notebook)])


def _install_copy(site: Path, files: dict[str, bytes]) -> Path:
    """Write `files` ({"painter/x.py": bytes}) under `site`, as pip would install them."""
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
    return site / "painter"


def _run_bootstrap(cell: str, cwd: Path, *, isolated: bool, env_extra: dict | None = None):
    """Run a bootstrap cell in a fresh interpreter, then report where painter came from.

    isolated=True: `python -S` with only the standard library importable: no site-packages, so
    neither the editable install of painter nor any other package exists (Kaggle without painter).
    """
    script = cell + (
        "\nimport painter, painter.config\n"
        "print('ORIGIN', painter_origin)\n"
        "print('FILE', painter.__file__)\n"
        "print('PRESET', painter.config.preset('smoke').image_size)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PAINTER_FORCE_EMBEDDED")}
    env["TMPDIR"] = str(cwd)
    env.update(env_extra or {})
    if isolated:
        # -S keeps site-packages (the editable install of painter, every other package) off
        # sys.path: only the standard library is importable, as for painter on Kaggle.
        script = (
            "import sys\nassert not any('site-packages' in p for p in sys.path), sys.path\n"
            + script
        )
    (cwd / "cell.py").write_text(script)  # a file: the cell is longer than one argument may be
    command = [sys.executable, *(["-S"] if isolated else []), "cell.py"]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(
        line.split(" ", 1)
        for line in done.stdout.splitlines()
        if line.startswith(("ORIGIN ", "FILE ", "PRESET "))
    )
    return lines, done.stdout


# --- the embedded archive --------------------------------------------------------------------
def test_package_files_cover_the_package_and_skip_caches():
    files = embed.package_files()
    assert "painter/__init__.py" in files
    assert "painter/kaggle/bootstrap.py" in files
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in files)
    on_disk = {
        f"painter/{p.relative_to(REPO_ROOT / 'painter').as_posix()}"
        for p in (REPO_ROOT / "painter").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk <= set(files)


def test_pack_is_deterministic_and_round_trips():
    files = {"painter/__init__.py": b'__version__ = "9.9"\n', "painter/a/b.py": b"x = 1\n"}
    packed = embed.pack_files(files)
    assert packed == embed.pack_files(dict(reversed(list(files.items()))))
    cell = embed.bootstrap_cell_source(embed.EmbeddedPackage("9.9", content_sha256(files), files))
    copy = embed.read_embedded(cell)
    assert copy.files == files and copy.version == "9.9"


def test_content_hash_changes_with_any_byte_or_name():
    files = {"painter/__init__.py": b"a", "painter/x.py": b"b"}
    base = content_sha256(files)
    assert content_sha256({**files, "painter/x.py": b"c"}) != base
    assert content_sha256({"painter/__init__.py": b"a", "painter/y.py": b"b"}) != base


def test_read_embedded_rejects_a_tampered_payload():
    package = embed.snapshot()
    cell = embed.bootstrap_cell_source(package)
    other = dict(package.files)
    other["painter/__init__.py"] += b"# edited\n"
    tampered_payload = base64.b64encode(embed.pack_files(other)).decode()
    start = cell.index('payload="') + len('payload="')
    tampered = cell[:start] + tampered_payload + cell[cell.index('"', start) :]
    with pytest.raises(PainterError, match="does not match its sha256"):
        embed.read_embedded(tampered)
    with pytest.raises(PainterError, match="no embedded painter package"):
        embed.read_embedded("import painter\n")


# --- the bootstrap cell, run as Kaggle would ------------------------------------------------
def test_bootstrap_imports_the_embedded_copy_where_no_painter_is_installed(tmp_path):
    lines, stdout = _run_bootstrap(_bootstrap_source(), tmp_path, isolated=True)
    assert lines["ORIGIN"] == "embedded"
    assert Path(lines["FILE"]).is_relative_to(tmp_path)  # unpacked under TMPDIR, not the repo
    assert lines["PRESET"] == "32"  # the embedded package works (config + presets)
    assert "no painter installed" in stdout
    # A second run finds the unpacked copy and uses it again.
    again, _ = _run_bootstrap(_bootstrap_source(), tmp_path, isolated=True)
    assert again["FILE"] == lines["FILE"]


def test_bootstrap_uses_an_installed_painter_whose_files_are_the_embedded_ones(tmp_path):
    installed = _install_copy(tmp_path / "installed", embed.package_files())
    # What an import or an editor leaves beside the sources does not count.
    (installed / "__pycache__").mkdir(exist_ok=True)
    (installed / "__pycache__" / "config.cpython-311.pyc").write_bytes(b"compiled")
    (installed / ".config.py.swp").write_bytes(b"editor")
    (installed / ".ipynb_checkpoints").mkdir()
    (installed / ".ipynb_checkpoints" / "config-checkpoint.py").write_text("# Jupyter's backup")
    (installed / "notes.txt").write_text("scratch")
    on_path = {"PYTHONPATH": str(tmp_path / "installed")}
    lines, stdout = _run_bootstrap(_bootstrap_source(), tmp_path, isolated=True, env_extra=on_path)
    assert lines["ORIGIN"] == "installed"
    assert Path(lines["FILE"]).parent == installed
    assert f"the installed package ({installed}): its files are the embedded copy's" in stdout
    assert not list(tmp_path.glob("painter-embedded-*"))  # nothing unpacked

    forced, stdout = _run_bootstrap(
        _bootstrap_source(),
        tmp_path,
        isolated=True,
        env_extra={**on_path, "PAINTER_FORCE_EMBEDDED": "1"},
    )
    assert forced["ORIGIN"] == "embedded"
    assert Path(forced["FILE"]).is_relative_to(
        tmp_path / f"painter-embedded-{embed.snapshot().sha256[:16]}"
    )
    assert "PAINTER_FORCE_EMBEDDED=1" in stdout


@pytest.mark.parametrize("version_prefix", [b"", b"99."], ids=["same-version", "newer-version"])
def test_bootstrap_takes_the_embedded_copy_when_the_installed_files_differ(
    tmp_path, version_prefix
):
    # A stale installed copy: one line differs, the version is the same (never bumped) or higher.
    files = dict(embed.package_files())
    files["painter/config.py"] += b"# an older copy\n"
    files["painter/__init__.py"] = files["painter/__init__.py"].replace(
        b'__version__ = "', b'__version__ = "' + version_prefix
    )
    installed = _install_copy(tmp_path / "installed", files)
    on_path = {"PYTHONPATH": str(tmp_path / "installed")}
    lines, stdout = _run_bootstrap(_bootstrap_source(), tmp_path, isolated=True, env_extra=on_path)
    assert lines["ORIGIN"] == "embedded"
    assert Path(lines["FILE"]).is_relative_to(
        tmp_path / f"painter-embedded-{embed.snapshot().sha256[:16]}"
    )
    stale = f"{embed.package_version(files)} in {installed} has other files"
    assert f"the installed painter {stale} (sha256 {content_sha256(files)[:12]})" in stdout
    assert "PAINTER_USE_INSTALLED=1 would use it" in stdout

    # Asked for explicitly, the installed copy is used all the same, and the message says so.
    lines, stdout = _run_bootstrap(
        _bootstrap_source(),
        tmp_path,
        isolated=True,
        env_extra={**on_path, "PAINTER_USE_INSTALLED": "1"},
    )
    assert lines["ORIGIN"] == "installed"
    assert Path(lines["FILE"]).parent == installed
    assert "PAINTER_USE_INSTALLED=1, though the installed painter" in stdout


def test_bootstrap_refuses_to_use_an_installed_painter_that_is_not_there(tmp_path):
    (tmp_path / "cell.py").write_text(_bootstrap_source())
    done = subprocess.run(
        [sys.executable, "-S", "cell.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path), "PAINTER_USE_INSTALLED": "1"},
    )
    assert done.returncode != 0
    assert "PAINTER_USE_INSTALLED=1, but no painter is installed" in done.stderr


def test_bootstrap_refuses_a_corrupt_payload(tmp_path):
    cell = re.sub(r'sha256="[0-9a-f]{64}"', 'sha256="' + "0" * 64 + '"', _bootstrap_source())
    (tmp_path / "cell.py").write_text(cell)
    done = subprocess.run(
        [sys.executable, "-S", "cell.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "corrupt (sha256 mismatch)" in done.stderr
    assert not list(tmp_path.glob("painter-embedded-*"))


# --- build and check ---------------------------------------------------------------------------
def test_root_kernel_metadata_is_the_builders():
    metadata = json.loads((REPO_ROOT / "kernel-metadata.json").read_text())
    # `id` and `title` are yours to set (README); every other key is the builder's.
    assert {k: v for k, v in metadata.items() if k not in ("id", "title")} == {
        k: v for k, v in build.KERNEL_METADATA.items() if k not in ("id", "title")
    }
    assert metadata["enable_internet"] is False and metadata["enable_tpu"] is True
    assert metadata["machine_shape"] == "TpuV5E8"
    assert metadata["competition_sources"] == ["gan-getting-started"]
    assert build.slugify(metadata["title"]) == metadata["id"].split("/")[1]
    assert (REPO_ROOT / metadata["code_file"]).is_file()


def test_committed_notebook_embeds_the_current_package_with_outputs_cleared():
    report = build.check_notebook(REPO_ROOT / "notebook.ipynb")
    # If this fails after a change to painter/, run: python -m painter kaggle build --in-place
    assert not report.problems, "\n".join(report.problems)
    assert report.embedded.sha256 == embed.snapshot().sha256


def test_check_names_stale_files_and_the_command_that_fixes_them(tmp_path):
    stale = dict(embed.package_files())
    stale["painter/config.py"] += b"# an older copy\n"
    del stale["painter/kaggle/embed.py"]
    package = embed.EmbeddedPackage("0.1.0", content_sha256(stale), stale)
    notebook = build.with_package(build.load_notebook(REPO_ROOT / "notebook.ipynb"), package)
    notebook["cells"][0 if notebook["cells"][0]["cell_type"] == "code" else 1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "x"}
    ]
    # An editor that drops the cell's metadata (but the tag) shows its code again.
    notebook["cells"][build.bootstrap_cell_index(notebook)]["metadata"] = {
        "tags": [embed.BOOTSTRAP_TAG]
    }
    path = tmp_path / "notebook.ipynb"
    path.write_text(build.notebook_text(notebook))
    report = build.check_notebook(path)
    text = "\n".join(report.problems)
    assert "does not hide its code" in text
    assert "painter/config.py: changed" in text
    assert "painter/kaggle/embed.py: new in painter/" in text
    assert "hold outputs" in text
    assert embed.REGENERATE_COMMAND in text
    # --in-place fixes both.
    build.refresh_in_place(path)
    assert build.check_notebook(path).ok


def test_check_flags_metadata_a_submission_run_cannot_use(tmp_path):
    result = build.build(tmp_path, kernel_id="jane/monet-painter")
    assert build.check_notebook(result.notebook).ok
    metadata = json.loads(result.metadata.read_text())
    metadata.update(enable_internet=True, machine_shape="TpuV3_8", title="Other Name")
    del metadata["competition_sources"]
    result.metadata.write_text(json.dumps(metadata))
    text = "\n".join(build.check_notebook(result.notebook).problems)
    assert "`enable_internet` is True" in text and "set false explicitly" in text
    assert "`machine_shape` is 'TpuV3_8'" in text
    assert "`competition_sources` is '(missing)'" in text
    assert "`title` 'Other Name' does not resolve" in text


def test_build_writes_a_pushable_folder(tmp_path):
    result = build.build(tmp_path / "kernel", kernel_id="jane/monet-painter")
    metadata = json.loads(result.metadata.read_text())
    assert metadata["id"] == "jane/monet-painter"
    assert metadata["title"] == "Monet Painter"
    assert {k: v for k, v in metadata.items() if k not in ("id", "title")} == {
        k: v for k, v in build.KERNEL_METADATA.items() if k not in ("id", "title")
    }
    assert result.notebook == tmp_path / "kernel" / "notebook.ipynb"
    assert build.check_notebook(result.notebook).ok
    # The driver cells are the repository notebook's; the bootstrap cell embeds the package.
    built = build.load_notebook(result.notebook)
    source = build.load_notebook(REPO_ROOT / "notebook.ipynb")
    index = build.bootstrap_cell_index(built)
    assert index == build.bootstrap_cell_index(source)
    # The bootstrap cell's code (one ~200,000-character line) is hidden in every editor, under a
    # title Colab shows in its place; the notebook is valid nbformat 4.
    cell = built["cells"][index]
    assert cell["metadata"]["jupyter"]["source_hidden"] is True  # JupyterLab, Notebook 7
    assert cell["metadata"]["_kg_hide-input"] is True  # Kaggle
    assert cell["metadata"]["cellView"] == "form"  # Colab ...
    assert build.cell_source(cell).startswith("#@title ")  # ... shows this line instead
    assert cell["metadata"]["tags"] == [embed.BOOTSTRAP_TAG]
    nbformat.validate(nbformat.reads(result.notebook.read_text(), as_version=4))
    del built["cells"][index], source["cells"][index]
    assert [build.cell_source(c) for c in built["cells"]] == [
        build.cell_source(c) for c in source["cells"]
    ]


@pytest.mark.parametrize(
    ("kernel_id", "title", "message"),
    [
        ("no-slash", None, "OWNER/SLUG"),
        ("jane/abc", None, "at least 5"),
        ("jane/Upper-Case", None, "OWNER/SLUG"),
        ("jane/monet-painter", "Something Else", "resolves to the slug 'something-else'"),
    ],
)
def test_build_refuses_bad_ids_and_titles(tmp_path, kernel_id, title, message):
    with pytest.raises(PainterError, match=message):
        build.build(tmp_path / "out", kernel_id=kernel_id, title=title)
    assert not (tmp_path / "out").exists()


def test_build_names_a_missing_or_untagged_notebook(tmp_path):
    with pytest.raises(PainterError, match="does not exist"):
        build.build(tmp_path / "out", notebook_path=tmp_path / "missing.ipynb")
    plain = tmp_path / "plain.ipynb"
    plain.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "source": "1",
                        "outputs": [],
                        "execution_count": None,
                    }
                ]
            }
        )
    )
    with pytest.raises(PainterError, match="painter-embedded-package"):
        build.build(tmp_path / "out", notebook_path=plain)


# --- the command line ----------------------------------------------------------------------
def test_cli_build_and_check(tmp_path, capsys):
    assert (
        main(["kaggle", "build", "--out", str(tmp_path / "k"), "--id", "jane/monet-painter"]) == 0
    )
    out = capsys.readouterr().out
    assert "kaggle kernels push -p" in out and "jane/monet-painter" in out
    assert main(["kaggle", "check", str(tmp_path / "k" / "notebook.ipynb")]) == 0
    assert "embeds the current painter" in capsys.readouterr().out

    stale = build.load_notebook(tmp_path / "k" / "notebook.ipynb")
    files = dict(embed.package_files())
    files["painter/cli.py"] += b"# old\n"
    stale = build.with_package(stale, embed.EmbeddedPackage("0.1.0", content_sha256(files), files))
    (tmp_path / "stale.ipynb").write_text(build.notebook_text(stale))
    assert main(["kaggle", "check", str(tmp_path / "stale.ipynb")]) == 1
    err = capsys.readouterr().err
    assert "painter/cli.py: changed" in err and "python -m painter kaggle build --in-place" in err

    assert main(["kaggle", "build", "--out", str(tmp_path / "x"), "--id", "bad"]) == 1
    assert "error: --id must be OWNER/SLUG" in capsys.readouterr().err
