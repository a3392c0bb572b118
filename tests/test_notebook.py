"""The notebook, as Kaggle would receive it from a push, runs top to bottom and ends with a valid
images.zip, on either backend, importing the painter embedded in it (not the installed one).

Smoke mode (PAINTER_NOTEBOOK_MODE=smoke) runs the same cells on a CPU: the kaggle-tpu run's
structure at the `smoke` preset's sizes, a tiny Kaggle-layout data folder made here, a submission
as large as the photo folder. On JAX the run is a rehearsal of the Kaggle TPU session: 8 host
devices (as a v5e-8 has chips), DataParallel over all of them, bfloat16, 2 steps per execution,
the data found by searching a fake /kaggle/input, and images.zip painted data-parallel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from kaggle_stub import push_with_kaggle_cli
from PIL import Image

from painter.kaggle import build

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


def test_notebook_cells_parse_and_keep_the_required_order():
    import ast

    notebook = build.load_notebook(REPO_ROOT / "notebook.ipynb")
    code = [build.cell_source(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    for source in code:
        ast.parse(source)  # a syntax error fails here, without running anything
    # The time budget counts from the very first cell.
    assert "started_at = time.time()" in code[0]
    # The embedded package comes before any painter import; the runtime before any Keras import.
    bootstrap = build.bootstrap_cell_index(notebook)
    first_painter = next(
        i
        for i, c in enumerate(notebook["cells"])
        if "from painter" in build.cell_source(c) and i != bootstrap
    )
    assert bootstrap < first_painter
    runtime = next(i for i, s in enumerate(code) if "select_runtime()" in s)
    keras_users = [i for i, s in enumerate(code) if "import keras" in s or "from keras" in s]
    assert all(i > runtime for i in keras_users)
    # Smoke mode is the kaggle-tpu run in miniature: same structure, smoke sizes.
    config_cell = next(s for s in code if 'preset("kaggle-tpu")' in s)
    assert 'if MODE == "smoke":' in config_cell and 'preset("smoke").replace(' in config_cell
    assert "mixed_precision=config.mixed_precision" in config_cell
    # The data is searched for under /kaggle/input unless PAINTER_DATA_DIR says where it is.
    assert "find_kaggle_data(KAGGLE_INPUT)" in "".join(code)


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
            "'painted_on': max((len(c.devices) for c in inference._SHARDED_CALLS.values()), default=1), "
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
                "XLA_FLAGS": f"--xla_force_host_platform_device_count={REHEARSAL_DEVICES}",
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
    # The kaggle-tpu preset's structure: bfloat16, several steps per execution, one image per device.
    assert report["policy"] == "mixed_bfloat16" and report["steps_per_execution"] == 2
    # epochs=0: the planner planned the smoke "session" (about 1.5 minutes of training) and
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
