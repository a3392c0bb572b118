"""`kaggle kernels push` with the real kaggle CLI against a local stub: what reaches Kaggle.

A push uploads the notebook alone (the metadata's `code_file`), so what the stub records is all
Kaggle would get: it must carry the painter package and the TPU / internet-off settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kaggle_stub import push_with_kaggle_cli

from painter.kaggle import build, embed

REPO_ROOT = Path(__file__).resolve().parents[1]


def _pushed(folder: Path, home: Path) -> dict:
    done, stub = push_with_kaggle_cli(folder, home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "successfully pushed" in done.stdout, done.stdout + done.stderr
    [request] = stub.save_kernel_requests()
    assert request.url == "http://localhost/api/v1/kernels.KernelsApiService/SaveKernel"
    assert request.headers.get("Authorization", "").startswith("Basic ")  # KAGGLE_USERNAME/KEY
    return request.body


def _assert_runs_on_kaggle_tpu_offline(body: dict) -> None:
    assert body["language"] == "python" and body["kernelType"] == "notebook"
    assert body["enableTpu"] is True
    assert body["enableGpu"] is False
    assert body["enableInternet"] is False  # the CLI's default is True
    assert body["isPrivate"] is True
    assert body["machineShape"] == "TpuV5E8"
    assert body["competitionDataSources"] == ["gan-getting-started"]


def _embedded_in(text: str) -> embed.EmbeddedPackage:
    notebook = json.loads(text)
    cell = notebook["cells"][build.bootstrap_cell_index(notebook)]
    return embed.read_embedded(build.cell_source(cell), where="the pushed notebook")


def test_push_from_the_repository_root_carries_the_package(tmp_path):
    body = _pushed(REPO_ROOT, tmp_path)
    _assert_runs_on_kaggle_tpu_offline(body)
    assert body["slug"] == build.PLACEHOLDER_ID and body["newTitle"] == build.DEFAULT_TITLE
    pushed = _embedded_in(body["text"])
    committed = build.check_notebook(REPO_ROOT / "notebook.ipynb").embedded
    assert pushed.files == committed.files  # exactly what notebook.ipynb holds
    assert {
        "painter/__init__.py",
        "painter/runtime/__init__.py",
        "painter/training/train.py",
        "painter/submission/writer.py",
    } <= set(pushed.files)
    notebook = json.loads(body["text"])
    assert all(cell.get("outputs", []) == [] for cell in notebook["cells"])


def test_push_from_a_built_folder_uses_your_id_and_the_current_package(tmp_path):
    result = build.build(tmp_path / "kernel", kernel_id="jane/monet-painter")
    body = _pushed(result.notebook.parent, tmp_path)
    _assert_runs_on_kaggle_tpu_offline(body)
    assert body["slug"] == "jane/monet-painter" and body["newTitle"] == "Monet Painter"
    pushed = _embedded_in(body["text"])
    assert pushed.sha256 == result.package.sha256
    assert pushed.files == result.package.files


@pytest.mark.parametrize("missing", ["metadata", "code_file"])
def test_push_of_an_incomplete_folder_fails_before_reaching_kaggle(tmp_path, missing):
    result = build.build(tmp_path / "kernel", kernel_id="jane/monet-painter")
    (result.metadata if missing == "metadata" else result.notebook).unlink()
    done, stub = push_with_kaggle_cli(result.notebook.parent, tmp_path)
    assert stub.save_kernel_requests() == []
    assert "not found" in (done.stdout + done.stderr)
