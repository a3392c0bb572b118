"""`import painter` lets `keras.saving.load_model` find painter's layers, whichever of painter and
Keras is imported first, without importing Keras itself. Each check runs in a fresh interpreter:
the test session has imported both long ago."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.backend
@pytest.mark.slow
def test_a_saved_generator_loads_after_import_painter_in_either_order(tmp_path, keras_backend):
    import keras
    import numpy as np

    from painter.config import preset
    from painter.models import build_generator

    # Saved here (this session's Keras knows painter's layers); loaded below in fresh interpreters.
    generator = build_generator(preset("smoke"), "monet_generator")
    photo = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    generator.save(tmp_path / "monet_generator.keras")
    np.save(tmp_path / "photo.npy", photo)
    np.save(tmp_path / "painted.npy", keras.ops.convert_to_numpy(generator(photo)))
    for imports in ("import painter\nimport keras", "import keras\nimport painter"):
        out = run_python(
            imports
            + f"""
import sys
import numpy as np
model = keras.saving.load_model(r"{tmp_path / "monet_generator.keras"}")
painted = keras.ops.convert_to_numpy(model(np.load(r"{tmp_path / "photo.npy"}")))
np.testing.assert_allclose(painted, np.load(r"{tmp_path / "painted.npy"}"), atol=1e-6)
print("size check:", type(model.get_layer("size_check")).__module__)
""",
            KERAS_BACKEND=keras_backend,
        )
        assert "size check: painter.models.layers" in out, imports


def test_import_painter_and_the_help_load_no_keras():
    out = run_python(
        """
        import runpy
        import sys

        import painter

        print("after import:", "keras" in sys.modules, "tensorflow" in sys.modules)
        sys.argv = ["painter", "--help"]
        try:
            runpy.run_module("painter", run_name="__main__")
        except SystemExit as stop:
            assert stop.code in (0, None), stop.code
        print("after --help:", "keras" in sys.modules, "tensorflow" in sys.modules)
        """
    )
    assert "after import: False False" in out
    assert "after --help: False False" in out
