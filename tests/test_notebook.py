"""The notebook, as Kaggle would receive it from a push, runs top to bottom and ends with a valid
images.zip, on either backend, importing the painter embedded in it (not the installed one).

Smoke mode (PAINTER_NOTEBOOK_MODE=smoke) runs the same cells on a CPU: the kaggle-tpu run's
structure at the `smoke` preset's sizes, a tiny Kaggle-layout data folder made here, a submission
as large as the photo folder. On JAX the run is a rehearsal of the Kaggle TPU session: 8 host
devices (as a v5e-8 has chips), DataParallel over all of them, bfloat16, 2 steps per execution,
the data found by searching a fake /kaggle/input, and images.zip painted data-parallel.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import xla_flags
from kaggle_stub import push_with_kaggle_cli
from PIL import Image

from painter.kaggle import build, embed

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTO_COUNT = 16  # >= sample_count (6); 2 steps of 8 (one image per device) = one execution
REHEARSAL_DEVICES = 8  # a TPU v5e-8's chips, simulated as XLA host devices


def _write_kaggle_layout(root: Path) -> Path:
    """monet_jpg/ and photo_jpg/ of 256x256 JPEGs (the competition's size): smooth random
    colour fields, warm for the paintings, cool for the photos."""
    rng = np.random.default_rng(0)
    for domain, count, tint in (("monet", 4, (40, 10, -30)), ("photo", PHOTO_COUNT, (-30, 0, 40))):
        folder = root / f"{domain}_jpg"
        folder.mkdir(parents=True)
        for index in range(count):
            coarse = rng.uniform(60, 200, size=(8, 8, 3)) + np.array(tint)
            image = Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize(
                (256, 256), Image.Resampling.BICUBIC
            )
            image.save(folder / f"{domain}{index:03d}.jpg", quality=90)
    return root


def _outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


# --- the notebook's cells, run one by one (fast) ---------------------------------------------
def _notebook() -> dict:
    """The repository's notebook with the bootstrap cell as `kaggle build` writes it now, so the
    cells run this checkout's package (the committed copy is the same once `make notebook` ran)."""
    notebook = build.load_notebook(REPO_ROOT / "notebook.ipynb")
    return build.with_package(notebook, embed.snapshot())


def _code_cells(notebook: dict) -> list[tuple[int, str]]:
    return [
        (i, build.cell_source(c))
        for i, c in enumerate(notebook["cells"])
        if c["cell_type"] == "code"
    ]


def _cell_defining(notebook: dict, name: str) -> int:
    """Index of the first code cell that assigns `name` at its top level."""
    for index, source in _code_cells(notebook):
        for node in ast.parse(source).body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return index
    raise AssertionError(f"no code cell of the notebook assigns {name!r}")


def _run_cells(notebook: dict, indices, namespace: dict) -> dict:
    for index in indices:
        source = build.cell_source(notebook["cells"][index])
        exec(compile(source, f"notebook cell {index}", "exec"), namespace)
    return namespace


@pytest.fixture
def notebook_env(monkeypatch, tmp_path):
    """The environment the notebook reads, as on a machine that sets none of it."""
    for name in ("PAINTER_DATA_DIR", "PAINTER_CHECKPOINT_DIR", "PAINTER_FORCE_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAINTER_NOTEBOOK_MODE", "smoke")
    monkeypatch.setenv("PAINTER_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("PAINTER_KAGGLE_INPUT", str(tmp_path / "input"))
    return monkeypatch


def test_notebook_is_valid_and_every_code_cell_parses():
    import nbformat

    nbformat.validate(nbformat.reads(build.notebook_text(_notebook()), as_version=4))
    for _, source in _code_cells(_notebook()):
        ast.parse(source)  # a syntax error fails here, without running anything


def test_the_session_clock_starts_in_the_first_cell_and_times_the_budget(notebook_env):
    notebook = _notebook()
    first = _code_cells(notebook)[0][0]
    before = time.time()
    namespace = _run_cells(notebook, [first], {})
    assert before <= namespace["started_at"] <= time.time()
    assert namespace["MODE"] == "smoke"
    assert namespace["SUBMISSION"].parent == namespace["OUTPUT_DIR"]
    # The time budget is counted from that clock, not from when the training cell runs.
    [from_config] = [
        node
        for node in ast.walk(
            ast.parse(build.cell_source(notebook["cells"][_cell_defining(notebook, "budget")]))
        )
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_config"
    ]
    [started_at] = [k.value for k in from_config.keywords if k.arg == "started_at"]
    assert isinstance(started_at, ast.Name) and started_at.id == "started_at"
    # A mistyped mode stops the notebook at once, naming it.
    notebook_env.setenv("PAINTER_NOTEBOOK_MODE", "smok")
    with pytest.raises(ValueError, match="'smok'"):
        _run_cells(notebook, [first], {})


def test_no_cell_imports_painter_before_the_bootstrap_nor_keras_before_the_runtime(tmp_path):
    """The cells before the runtime's, run in a fresh interpreter: painter appears first in the
    bootstrap cell, and no framework is imported (Keras' backend is chosen by select_runtime)."""
    notebook = _notebook()
    runtime = _cell_defining(notebook, "runtime")
    bootstrap = build.bootstrap_cell_index(notebook)
    cells = [(i, s) for i, s in _code_cells(notebook) if i < runtime]
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    (tmp_path / "run.py").write_text(
        "import json, sys\n"
        "namespace, report = {}, []\n"
        "for index, source in json.load(open('cells.json')):\n"
        "    exec(compile(source, f'cell {index}', 'exec'), namespace)\n"
        "    report.append([index, sorted(m for m in ('painter', 'keras', 'tensorflow', 'jax')"
        " if m in sys.modules)])\n"
        "print('REPORT', json.dumps(report))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PAINTER_DATA_DIR")}
    env.update(
        PAINTER_NOTEBOOK_MODE="smoke",
        PAINTER_OUTPUT_DIR=str(tmp_path / "output"),
        PAINTER_FORCE_EMBEDDED="1",  # this checkout's package, whatever is installed
        TMPDIR=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "run.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert bootstrap < runtime
    assert [index for index, _ in report] == [i for i, _ in cells]
    for index, modules in report:
        assert modules == (["painter"] if index >= bootstrap else []), (index, modules)


def test_smoke_mode_is_the_kaggle_run_in_miniature(notebook_env):
    from painter.config import preset

    notebook = _notebook()
    cells = [_code_cells(notebook)[0][0], _cell_defining(notebook, "config")]
    eight_devices = SimpleNamespace(num_replicas=8, distribution="data_parallel")
    tpu, smoke = preset("kaggle-tpu"), preset("smoke")
    fields = ("mixed_precision", "steps_per_execution", "global_batch_size", "epochs", "image_size")

    notebook_env.setenv("PAINTER_NOTEBOOK_MODE", "full")
    full = _run_cells(notebook, cells, {"runtime": eight_devices})["config"]
    assert {f: getattr(full, f) for f in fields} == {f: getattr(tpu, f) for f in fields}

    notebook_env.setenv("PAINTER_NOTEBOOK_MODE", "smoke")
    config = _run_cells(notebook, cells, {"runtime": eight_devices})["config"]
    # kaggle-tpu's structure: bfloat16, several steps per host call, one image per device, the
    # number of epochs planned within the session's budget ...
    assert config.mixed_precision == tpu.mixed_precision
    assert config.steps_per_execution > 1 and tpu.steps_per_execution > 1
    assert config.global_batch_size == eight_devices.num_replicas
    assert config.epochs == tpu.epochs
    # ... at the smoke preset's sizes, in a session of minutes.
    for size in ("image_size", "generator_filters", "discriminator_filters", "resnet_blocks"):
        assert getattr(config, size) == getattr(smoke, size), size
    assert config.session_limit_minutes < 5


def test_data_is_searched_under_kaggle_input_unless_a_folder_is_given(notebook_env, tmp_path):
    notebook = _notebook()
    cells = [_code_cells(notebook)[0][0], _cell_defining(notebook, "data_dir")]
    # Kaggle has mounted the competition under another folder before.
    mounted = _write_kaggle_layout(tmp_path / "input" / "competitions" / "gan-getting-started")
    namespace = _run_cells(notebook, cells, {})
    assert namespace["data_dir"] == mounted
    assert len(namespace["photo"].files) == PHOTO_COUNT

    given = _write_kaggle_layout(tmp_path / "elsewhere")
    notebook_env.setenv("PAINTER_DATA_DIR", str(given))
    assert _run_cells(notebook, cells, {})["data_dir"] == given


# --- the whole notebook, as Kaggle runs it (slow) ---------------------------------------------
@pytest.mark.backend
def test_pushed_notebook_runs_without_painter_installed_and_ends_with_images_zip(
    tmp_path, keras_backend
):
    import nbclient
    import nbformat

    # What Kaggle receives from `kaggle kernels push` run in the repository root.
    done, stub = push_with_kaggle_cli(REPO_ROOT, tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    [request] = stub.save_kernel_requests()
    notebook = nbformat.reads(request.body["text"], as_version=4)
    # One cell added at the end reports which painter, backend and run structure the notebook used.
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import json, keras, painter\n"
            "from painter.submission import inference\n"
            "print('REPORT', json.dumps({'painter': painter.__file__, "
            "'backend': keras.backend.backend(), 'origin': painter_origin, "
            "'distribution': runtime.distribution, 'replicas': runtime.num_replicas, "
            "'policy': result.model.monet_generator.dtype_policy.name, "
            "'steps_per_execution': config.steps_per_execution, "
            "'global_batch_size': config.global_batch_size, 'epochs_done': result.epochs_done, "
            "'painted_on': max((len(c.devices) for c in inference._SHARDED_CALLS.values()), "
            "default=1), "
            "'data_dir': str(data_dir)}))"
        )
    )

    output_dir, run_dir, temp_dir = tmp_path / "output", tmp_path / "run", tmp_path / "tmp"
    run_dir.mkdir()
    temp_dir.mkdir()
    # PAINTER_DATA_DIR (CI sets it) would bypass the notebook's search under /kaggle/input.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "XLA_FLAGS", "PAINTER_DATA_DIR")
    }
    env.update(
        {
            "PAINTER_NOTEBOOK_MODE": "smoke",
            "PAINTER_OUTPUT_DIR": str(output_dir),
            # The venv has painter installed (editable): make the notebook use its embedded copy.
            "PAINTER_FORCE_EMBEDDED": "1",
            "KERAS_BACKEND": keras_backend,
            "PAINTER_BACKEND": keras_backend,
            "TMPDIR": str(temp_dir),  # where the embedded copy is unpacked
            "MPLBACKEND": "Agg",
        }
    )
    rehearsal = keras_backend == "jax"
    if rehearsal:
        # The Kaggle TPU session: the competition mounted somewhere unexpected under
        # /kaggle/input, 8 devices, JAX + DataParallel (what select_runtime picks on the TPU).
        data = _write_kaggle_layout(tmp_path / "input" / "competitions" / "gan-getting-started")
        env.update(
            {
                "PAINTER_KAGGLE_INPUT": str(tmp_path / "input"),
                "XLA_FLAGS": xla_flags(REHEARSAL_DEVICES),
                "JAX_PLATFORMS": "cpu",
                "PAINTER_DISTRIBUTION": "data_parallel",
            }
        )
    else:
        data = _write_kaggle_layout(tmp_path / "data")
        env["PAINTER_DATA_DIR"] = str(data)
    from painter.config import Config

    # Checkpoints outside the output folder, as on Kaggle (config.checkpoint_dir, from branch
    # `session`; without the field the notebook keeps them in the workdir).
    separate_checkpoints = "checkpoint_dir" in Config.__dataclass_fields__
    checkpoint_dir = tmp_path / "scratch" / "painter-checkpoints"
    if separate_checkpoints:
        env["PAINTER_CHECKPOINT_DIR"] = str(checkpoint_dir)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(run_dir)}}
    )
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"the notebook failed in smoke mode on {keras_backend}:\n{error}")

    report_line = next(
        line
        for line in _outputs_text(notebook.cells[-1]).splitlines()
        if line.startswith("REPORT ")
    )
    report = json.loads(report_line.split(" ", 1)[1])
    assert report["origin"] == "embedded"
    assert Path(report["painter"]).is_relative_to(temp_dir)  # not the repository's painter/
    assert report["backend"] == keras_backend
    assert report["data_dir"] == str(data)
    # The kaggle-tpu preset's structure: bfloat16, several steps per execution, an image per device.
    assert report["policy"] == "mixed_bfloat16" and report["steps_per_execution"] == 2
    # epochs=0: the planner planned the smoke "session" (about a minute of training) and
    # trained epochs in it (how many depends on the machine's load).
    training_output = next(
        _outputs_text(cell)
        for cell in notebook.cells
        if cell.cell_type == "code" and "result = train(" in cell.source
    )
    assert report["epochs_done"] >= 1, training_output[-4000:]
    assert "lr plan" in training_output, training_output[-4000:]
    if rehearsal:
        assert (report["distribution"], report["replicas"]) == ("data_parallel", REHEARSAL_DEVICES)
        assert report["global_batch_size"] == REHEARSAL_DEVICES
        assert report["painted_on"] == REHEARSAL_DEVICES  # images.zip painted data-parallel
    bootstrap = notebook.cells[build.bootstrap_cell_index(notebook)]
    assert "the copy embedded in this notebook" in _outputs_text(bootstrap)

    from painter.submission.validate import validate_submission

    validation = validate_submission(output_dir / "images.zip", min_count=PHOTO_COUNT)
    assert validation.ok, validation.violations
    assert validation.count == PHOTO_COUNT
    for picture in ("loss_curves.png", "rgb_histograms.png"):
        with Image.open(output_dir / picture) as image:
            assert image.format == "PNG" and image.size[0] > 100
    shown = [
        o
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(shown) == 3  # loss curves, the last sample grid, the histograms
    assert list(run_dir.iterdir()) == []  # everything went to the output folder

    # The output folder keeps what a user needs, and says what it weighs.
    kept = {p.relative_to(output_dir).as_posix() for p in output_dir.rglob("*") if p.is_file()}
    needed = {
        "images.zip",
        "loss_curves.png",
        "rgb_histograms.png",
        "painter-workdir/config.json",
        "painter-workdir/history.json",
        "painter-workdir/monet_generator.keras",
    }
    assert needed <= kept, needed - kept
    assert any(name.startswith("painter-workdir/samples/epoch-") for name in kept)
    summary = next(
        line
        for line in _outputs_text(notebook.cells[-2]).splitlines()
        if line.startswith(f"output {output_dir}: ")
    )
    print(summary)  # `pytest -s` shows the weight of a smoke run's output
    if separate_checkpoints:
        assert not any("checkpoints/" in name for name in kept), sorted(kept)
        assert any(checkpoint_dir.iterdir())
