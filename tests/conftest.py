"""Test-session set-up shared by every test.

Before any framework loads: two logical CPU devices for TensorFlow (MirroredStrategy tests) and two
host devices for JAX (DataParallel tests), quiet logs, the Keras backend from KERAS_BACKEND
(`make test` runs the suite on TensorFlow, then the `backend`-marked tests on JAX), and JAX's
persistent compilation cache in `.cache/jax/` (subprocesses inherit it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import TEST_XLA_FLAGS

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    ).strip()
if "xla_backend_optimization_level" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " " + TEST_XLA_FLAGS  # quick compiles (tests/helpers/__init__.py)

# Many tests build and train the same tiny networks, each in its own process (xdist workers,
# subprocesses), and a JAX test's minutes are mostly XLA compiling: the step, and even each
# weight shape's random initializer (~2 s per convolution, under JAX's default 1 s threshold for
# caching). Measured beside another job: building the smoke generator 18.5 s -> 1.5 s with the
# cache warm; the every-recipe resume test 207 s -> 121 s from a cold cache. The cache is keyed
# by the compiled program (and XLA_FLAGS), so a changed program is compiled afresh.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "jax")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import tensorflow as tf  # noqa: E402  (after the environment above)

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "gan-getting-started"

# The slowest test files (CI's durations, `make test` lists them), started first; the others
# follow in their collected order. With whole files per worker (Makefile: --dist loadfile
# --no-loadscope-reorder) the two workers then finish together, instead of one idling while the
# other runs a slow file that happened to be handed out last.
SLOWEST_FILES_FIRST = (
    "test_cyclegan_equivalence.py",
    "test_recipes.py",
    "test_notebook.py",
    "test_training_planned.py",
    "test_training.py",
    "test_keras_registration.py",
    "test_cyclegan.py",
    "test_models.py",
    "test_training_faults.py",
    "test_demo.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(SLOWEST_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


def _real_data_dir() -> Path | None:
    path = Path(os.environ.get("PAINTER_DATA_DIR", DEFAULT_DATA_DIR))
    return path if (path / "monet_tfrec").is_dir() and (path / "photo_jpg").is_dir() else None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The competition's data (`monet_tfrec/`, `monet_jpg/`, `photo_jpg/`), read-only.

    Skips when absent, unless PAINTER_REQUIRE_DATA=1 (CI), where absence fails the test."""
    path = _real_data_dir()
    if path is None:
        where = os.environ.get("PAINTER_DATA_DIR", str(DEFAULT_DATA_DIR))
        message = f"the competition's data is not at {where} (set PAINTER_DATA_DIR)"
        if os.environ.get("PAINTER_REQUIRE_DATA") == "1":
            pytest.fail(message + "; PAINTER_REQUIRE_DATA=1 requires it", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def keras_backend() -> str:
    import keras

    return keras.backend.backend()


@pytest.fixture(scope="session")
def photo_tfrec_dir(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 7,038 real photos converted by our writer to TFRecords in Kaggle's format and naming
    (`photo00-352.tfrec` ... `photo19-350.tfrec`), once per test session (~10 s)."""
    from painter.data.tfrecord import write_tfrecords

    out = tmp_path_factory.mktemp("photo_tfrec")
    write_tfrecords(real_data_dir / "photo_jpg", out, "photo")
    return out
