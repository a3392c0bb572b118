"""Runtime selection: the decision from faked detection records, the overrides, the errors."""

from __future__ import annotations

import os

import pytest

from painter.errors import RuntimeSelectionError
from painter.runtime import Detection, decide, detect_hardware, select_runtime

KAGGLE_TPU = Detection(tpu_signals=("/dev/vfio", "TPU_ACCELERATOR_TYPE=v5litepod-8"),
                       jax_tpu_devices=8, tensorflow_tpu_devices=None, device_kind="TPU v5 lite")
COLAB_TPU_VM = Detection(tpu_signals=("/dev/accel0",), jax_installed=False,
                         tensorflow_tpu_devices=8, device_kind="TPU")
DEAD_TPU = Detection(tpu_signals=("/dev/accel0",), jax_tpu_devices=0, tensorflow_tpu_devices=0,
                     errors=("JAX: RuntimeError: Unable to initialize backend 'tpu'",))
TWO_GPUS_TF = Detection(gpu_signals=("/dev/nvidia0", "/dev/nvidia1"), tensorflow_gpus=2)
TWO_GPUS_JAX = Detection(gpu_signals=("/dev/nvidia0", "/dev/nvidia1"), tensorflow_gpus=0,
                         jax_gpus=2)
ONE_GPU = Detection(gpu_signals=("/dev/nvidia0",), tensorflow_gpus=1)
BLIND_GPU = Detection(gpu_signals=("/dev/nvidia0",), tensorflow_gpus=0, jax_gpus=0)
CPU = Detection()


@pytest.mark.parametrize("detection,expected", [
    (KAGGLE_TPU, ("jax", "data_parallel", 8)),
    (COLAB_TPU_VM, ("tensorflow", "tpu", 8)),
    (TWO_GPUS_TF, ("tensorflow", "mirrored", 2)),
    (TWO_GPUS_JAX, ("jax", "data_parallel", 2)),
    (ONE_GPU, ("tensorflow", "single", 1)),
    (CPU, ("tensorflow", "single", 1)),
    (Detection(tensorflow_installed=False), ("jax", "single", 1)),
])
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


@pytest.mark.parametrize("detection,backend,distribution,message", [
    (DEAD_TPU, "auto", "auto", r"neither JAX nor TensorFlow.*jax\[tpu\].*tensorflow-tpu"),
    (KAGGLE_TPU.__class__(tpu_signals=("/dev/vfio",), jax_tpu_devices=8, tensorflow_tpu_devices=0),
     "tensorflow", "auto", "PAINTER_BACKEND=jax"),
    (BLIND_GPU, "auto", "auto", "GPUs are attached.*neither"),
    (CPU, "jax", "mirrored", "tensorflow backend"),
    (CPU, "tensorflow", "data_parallel", "jax backend"),
    (CPU, "auto", "tpu", "no TPU"),
    (CPU, "pytorch", "auto", "backend"),
    (CPU, "auto", "horovod", "distribution"),
    (Detection(jax_installed=False), "jax", "auto", "not installed"),
])
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
    runtime = select_runtime(keras_backend, distribution, environ=environ,
                             detect=lambda env, backend: Detection(), verbose=False)
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
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    backend, keras_backend, array_module = result.stdout.split()[-3:]
    assert (backend, keras_backend) == ("jax", "jax")
    assert array_module.startswith("jax")
