"""Runtime selection: the decision from faked detection records, the overrides, the errors."""

from __future__ import annotations

import os

import pytest

from painter.errors import RuntimeSelectionError
from painter.runtime import Detection, decide, detect_hardware, select_runtime

KAGGLE_TPU = Detection(
    tpu_signals=("/dev/vfio", "TPU_ACCELERATOR_TYPE=v5litepod-8"),
    jax_tpu_devices=8,
    tensorflow_tpu_devices=None,
    device_kind="TPU v5 lite",
)
COLAB_TPU_VM = Detection(
    tpu_signals=("/dev/accel0",), jax_installed=False, tensorflow_tpu_devices=8, device_kind="TPU"
)
DEAD_TPU = Detection(
    tpu_signals=("/dev/accel0",),
    jax_tpu_devices=0,
    tensorflow_tpu_devices=0,
    errors=("JAX: RuntimeError: Unable to initialize backend 'tpu'",),
)
TWO_GPUS_TF = Detection(gpu_signals=("/dev/nvidia0", "/dev/nvidia1"), tensorflow_gpus=2)
TWO_GPUS_JAX = Detection(
    gpu_signals=("/dev/nvidia0", "/dev/nvidia1"), tensorflow_gpus=0, jax_gpus=2
)
ONE_GPU = Detection(gpu_signals=("/dev/nvidia0",), tensorflow_gpus=1)
BLIND_GPU = Detection(gpu_signals=("/dev/nvidia0",), tensorflow_gpus=0, jax_gpus=0)
CPU = Detection()


@pytest.mark.parametrize(
    "detection,expected",
    [
        (KAGGLE_TPU, ("jax", "data_parallel", 8)),
        (COLAB_TPU_VM, ("tensorflow", "tpu", 8)),
        (TWO_GPUS_TF, ("tensorflow", "mirrored", 2)),
        (TWO_GPUS_JAX, ("jax", "data_parallel", 2)),
        (ONE_GPU, ("tensorflow", "single", 1)),
        (CPU, ("tensorflow", "single", 1)),
        (Detection(tensorflow_installed=False), ("jax", "single", 1)),
    ],
)
def test_automatic_choice(detection, expected):
    decision = decide(detection)
    assert (decision.backend, decision.distribution, decision.num_replicas) == expected
    assert decision.reason


def test_kaggle_reason_says_jax_sees_the_tpu():
    decision = decide(KAGGLE_TPU)
    assert "JAX sees the TPU" in decision.reason and decision.device_kind == "TPU v5 lite"


def test_explicit_choices_override_the_automatic_one():
    assert decide(TWO_GPUS_TF, "auto", "single").distribution == "single"
    assert decide(CPU, "jax").backend == "jax"
    assert decide(CPU, "auto", "data_parallel").backend == "jax"
    assert decide(CPU, "auto", "mirrored").backend == "tensorflow"
    both = Detection(tpu_signals=("/dev/accel0",), jax_tpu_devices=8, tensorflow_tpu_devices=8)
    assert decide(both, "tensorflow").distribution == "tpu"


@pytest.mark.parametrize(
    "detection,backend,distribution,message",
    [
        (DEAD_TPU, "auto", "auto", r"neither JAX nor TensorFlow.*jax\[tpu\].*tensorflow-tpu"),
        (
            KAGGLE_TPU.__class__(
                tpu_signals=("/dev/vfio",), jax_tpu_devices=8, tensorflow_tpu_devices=0
            ),
            "tensorflow",
            "auto",
            "PAINTER_BACKEND=jax",
        ),
        (BLIND_GPU, "auto", "auto", "GPUs are attached.*neither"),
        (CPU, "jax", "mirrored", "tensorflow backend"),
        (CPU, "tensorflow", "data_parallel", "jax backend"),
        (CPU, "auto", "tpu", "no TPU"),
        (CPU, "pytorch", "auto", "backend"),
        (CPU, "auto", "horovod", "distribution"),
        (Detection(jax_installed=False), "jax", "auto", "not installed"),
    ],
)
def test_impossible_requests_are_clear_errors(detection, backend, distribution, message):
    with pytest.raises(RuntimeSelectionError, match=message):
        decide(detection, backend, distribution)


def test_never_falls_back_silently_but_single_is_an_explicit_way_to_the_cpu():
    with pytest.raises(RuntimeSelectionError):
        decide(DEAD_TPU)
    decision = decide(DEAD_TPU, "auto", "single")
    assert decision.device_kind == "CPU" and "NOT used" in decision.reason


def test_loaded_keras_fixes_the_backend():
    loaded = Detection(keras_backend_loaded="jax")
    assert decide(loaded).backend == "jax"
    with pytest.raises(RuntimeSelectionError, match="already imported"):
        decide(loaded, "tensorflow")


def test_env_vars_override_arguments_and_keras_backend_is_set(capsys):
    environ = {"PAINTER_BACKEND": "jax", "PAINTER_DISTRIBUTION": "single"}
    seen = {}

    def fake_detect(env, backend):
        seen["backend"] = backend
        return Detection(keras_backend_loaded=None)

    previous = os.environ.get("KERAS_BACKEND")
    try:
        runtime = select_runtime("tensorflow", "mirrored", environ=environ, detect=fake_detect)
    finally:
        if previous is not None:
            os.environ["KERAS_BACKEND"] = previous
    assert (runtime.backend, runtime.distribution, runtime.num_replicas) == ("jax", "single", 1)
    assert seen["backend"] == "jax" and environ["KERAS_BACKEND"] == "jax"
    line = capsys.readouterr().out.strip()
    assert line.startswith("runtime: jax + single on 1 x CPU") and "\n" not in line
    with runtime.scope():
        pass


def test_real_detection_on_this_machine_is_cheap_and_consistent():
    detection = detect_hardware({}, "auto")
    # No TPU env given: TPU probes only run on device files; without any, nothing is probed.
    if not detection.tpu_signals and not detection.gpu_signals:
        assert detection.jax_tpu_devices is None and detection.tensorflow_tpu_devices is None
        assert decide(detection).device_kind == "CPU"


@pytest.mark.backend
def test_select_runtime_sets_up_the_distribution_of_the_current_backend(keras_backend):
    distribution = "mirrored" if keras_backend == "tensorflow" else "data_parallel"
    environ: dict[str, str] = {}
    runtime = select_runtime(
        keras_backend,
        distribution,
        environ=environ,
        detect=lambda env, backend: Detection(),
        verbose=False,
    )
    try:
        assert runtime.backend == keras_backend and runtime.num_replicas == 2
        if keras_backend == "tensorflow":
            assert runtime.strategy.num_replicas_in_sync == 2
            import tensorflow as tf

            with runtime.scope():
                assert tf.distribute.get_strategy() is runtime.strategy
        else:
            import keras

            assert keras.distribution.distribution() is runtime.keras_distribution
    finally:
        if keras_backend == "jax":
            import keras

            keras.distribution.set_distribution(None)


def test_keras_loaded_by_a_tensorflow_probe_follows_the_decision(tmp_path):
    """A GPU probe imports TensorFlow, which imports Keras with the environment's backend; when the
    decision is JAX, Keras must end up on JAX (not stay on TensorFlow)."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(
        "import os, sys\n"
        "os.environ.pop('KERAS_BACKEND', None)\n"
        "from painter.runtime import Detection, select_runtime\n"
        "def probe(environ, backend):\n"
        "    import tensorflow  # noqa: F401  (imports Keras, as the real GPU probe does)\n"
        "    assert sys.modules['keras'].backend.backend() == 'tensorflow'\n"
        "    return Detection(gpu_signals=('/dev/nvidia0',), tensorflow_gpus=0, jax_gpus=1)\n"
        "runtime = select_runtime(detect=probe, verbose=False)\n"
        "import keras\n"
        "print(runtime.backend, keras.backend.backend(), type(keras.ops.ones(2)).__module__)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "KERAS_BACKEND"}
    env.pop("PAINTER_BACKEND", None)
    env.pop("PAINTER_DISTRIBUTION", None)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    backend, keras_backend, array_module = result.stdout.split()[-3:]
    assert (backend, keras_backend) == ("jax", "jax")
    assert array_module.startswith("jax")


# -- TPU detection without device files: libtpu installed, JAX asked in a child process ---------
HIDDEN_TPU = Detection(libtpu_installed=True, jax_tpu_devices=8, device_kind="TPU v5 lite")
LIBTPU_NO_TPU = Detection(
    libtpu_installed=True,
    jax_tpu_devices=0,
    errors=("JAX: RuntimeError: Unable to initialize backend 'tpu'",),
)


def test_a_tpu_found_through_libtpu_alone_is_used_with_jax():
    decision = decide(HIDDEN_TPU)
    assert (decision.backend, decision.distribution, decision.num_replicas) == (
        "jax",
        "data_parallel",
        8,
    )
    assert decision.device_kind == "TPU v5 lite"
    assert "JAX sees the TPU" in decision.reason and "libtpu" in decision.reason
    assert decide(HIDDEN_TPU, "auto", "tpu").backend == "jax"  # 'tpu' is satisfied too
    with pytest.raises(RuntimeSelectionError, match="libtpu is installed.*PAINTER_BACKEND=jax"):
        decide(HIDDEN_TPU, "tensorflow")


def test_libtpu_without_a_tpu_says_why_it_runs_on_the_cpu():
    decision = decide(LIBTPU_NO_TPU)
    assert (decision.backend, decision.distribution, decision.device_kind) == (
        "tensorflow",
        "single",
        "CPU",
    )
    assert "libtpu is installed but JAX sees no TPU" in decision.reason
    assert "Unable to initialize backend 'tpu'" in decision.reason
    with pytest.raises(RuntimeSelectionError, match="no TPU is attached.*libtpu is installed"):
        decide(LIBTPU_NO_TPU, "auto", "tpu")
    assert "libtpu" not in decide(CPU).reason  # nothing to explain without libtpu


def test_detection_asks_jax_in_a_child_whenever_libtpu_is_installed(monkeypatch):
    import sys

    # As in a fresh process: no Keras imported yet (this one's fixes TensorFlow as the backend).
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    asked = []

    def probe(environ):
        asked.append(dict(environ))
        return 8, "TPU v5 lite", ""

    found = detect_hardware({}, "auto", find_libtpu=lambda: True, probe_jax_tpu=probe)
    if found.tpu_signals:
        pytest.skip("this machine has TPU device files: the libtpu-only path does not apply")
    assert len(asked) == 1 and found.libtpu_installed
    assert (found.jax_tpu_devices, found.device_kind) == (8, "TPU v5 lite")
    assert found.tensorflow_tpu_devices is None  # JAX sees it: TensorFlow's heavy init is skipped
    assert decide(found).distribution == "data_parallel"
    # No libtpu, or another backend asked for: JAX is not probed.
    assert (
        detect_hardware({}, "auto", find_libtpu=lambda: False, probe_jax_tpu=probe).jax_tpu_devices
        is None
    )
    assert (
        detect_hardware(
            {}, "tensorflow", find_libtpu=lambda: True, probe_jax_tpu=probe
        ).jax_tpu_devices
        is None
    )
    assert len(asked) == 1


def test_the_child_probe_answers_on_this_machine_and_never_hangs(monkeypatch):
    import painter.runtime.detection as runtime_module  # where the probe reads JAX_TPU_PROBE

    count, kind, error = runtime_module.probe_jax_tpu_subprocess({"JAX_PLATFORMS": ""}, 120)
    if count == 0:
        assert error.startswith("JAX: ") and kind == ""
    monkeypatch.setattr(runtime_module, "JAX_TPU_PROBE", "import time; time.sleep(30)")
    count, _, error = runtime_module.probe_jax_tpu_subprocess({}, timeout=0.5)
    assert count == 0 and "no answer within 0 s" in error
    monkeypatch.setattr(runtime_module, "JAX_TPU_PROBE", "raise SystemExit('libtpu exploded')")
    assert "libtpu exploded" in runtime_module.probe_jax_tpu_subprocess({}, timeout=60)[2]


def test_libtpu_installed_reads_the_module_or_the_distributions(monkeypatch):
    import importlib.metadata
    import importlib.util

    import painter.runtime as runtime_module

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    installed = {"libtpu-nightly"}

    def distribution(name):
        if name in installed:
            return object()
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    assert runtime_module.libtpu_installed()
    installed.clear()
    assert not runtime_module.libtpu_installed()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert runtime_module.libtpu_installed()


def test_a_cpu_decision_with_libtpu_keeps_jax_off_the_tpu(monkeypatch):
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    environ: dict[str, str] = {}
    runtime = select_runtime(
        environ=environ, detect=lambda env, backend: LIBTPU_NO_TPU, verbose=False
    )
    assert runtime.device_kind == "CPU" and environ["JAX_PLATFORMS"] == "cpu"
    environ = {"JAX_PLATFORMS": "cuda"}  # the user's choice stands
    select_runtime(environ=environ, detect=lambda env, backend: LIBTPU_NO_TPU, verbose=False)
    assert environ["JAX_PLATFORMS"] == "cuda"
