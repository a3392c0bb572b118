"""Choose the Keras backend and the distribution before Keras is imported, and say why.

Order of the decision (`decide`, a pure function of a `Detection` record, unit-tested with fakes):
  1. Explicit choices win: PAINTER_BACKEND / PAINTER_DISTRIBUTION, then the arguments (the config).
     If Keras is already imported, its backend is fixed: asking for another one is an error.
  2. A TPU is attached (/dev/accel*, /dev/vfio, TPU_NAME, COLAB_TPU_ADDR, TPU_ACCELERATOR_TYPE; or,
     with none of these, libtpu is installed and JAX sees TPU cores):
     JAX + DataParallel when JAX sees it (Kaggle's TPU image: tensorflow-cpu + jax[tpu]);
     TensorFlow + TPUStrategy when TensorFlow sees it (Colab, GCP TPU VMs with tensorflow-tpu).
     Neither: an error that says what to install. Never a silent fall-back to the CPU.
  3. GPUs: several -> MirroredStrategy (TensorFlow) or DataParallel (JAX); one -> single device.
     NVIDIA devices present that no framework can use: an error, again.
  4. Otherwise one CPU device (TensorFlow if installed: tf.data needs it anyway). When libtpu is
     installed but JAX sees no TPU, the reason says so, with JAX's error.
Detection is cheap: file and environment checks first; a framework's device initialisation runs
only where the decision needs it (JAX's TPU probe before TensorFlow's much heavier TPU init).
Device files and TPU_* variables are not guaranteed (a container may hide them, and Kaggle's mount
layout has changed before), so whenever libtpu is installed JAX is asked too: in a child process
with a time limit, because JAX with libtpu on a machine without a TPU can hang for minutes on
GCE metadata queries, and because the child's JAX leaves this process free to pick either backend
(Keras fixes its backend when first imported, and a framework initialised here would hold the TPU).

This module imports neither Keras nor a framework at import time.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from painter.errors import RuntimeSelectionError

BACKENDS = ("auto", "jax", "tensorflow")
DISTRIBUTIONS = ("auto", "tpu", "mirrored", "data_parallel", "single")
TPU_ENV_VARS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")
LIBTPU_DISTRIBUTIONS = ("libtpu", "libtpu-nightly", "libtpu_nightly")
# A TPU VM's first JAX initialisation takes seconds to a minute; a hang past this is no TPU.
TPU_PROBE_TIMEOUT_S = 120.0

INSTALL_HINT = (
    "Install a TPU build of one backend that matches this machine's libtpu: "
    "`pip install -U 'jax[tpu]'` (what Kaggle's TPU image ships; then PAINTER_BACKEND=jax), or "
    "`pip install tensorflow-tpu` of the version matching libtpu (Colab / TPU VMs). To train on "
    "the "
    "CPU on purpose, set PAINTER_DISTRIBUTION=single."
)


@dataclass(frozen=True)
class Detection:
    """What the machine offers. `None` for a count means "not probed" (not needed)."""

    tensorflow_installed: bool = True
    jax_installed: bool = True
    keras_backend_loaded: str | None = None  # backend of an already imported Keras
    tpu_signals: tuple[str, ...] = ()  # device files / env vars that say a TPU is attached
    libtpu_installed: bool = False  # then JAX is asked for TPU cores even without tpu_signals
    jax_tpu_devices: int | None = None
    tensorflow_tpu_devices: int | None = None
    gpu_signals: tuple[str, ...] = ()  # /dev/nvidia0, ...
    tensorflow_gpus: int | None = None
    jax_gpus: int | None = None
    device_kind: str = ""  # e.g. "TPU v5 lite" as the framework names it
    errors: tuple[str, ...] = ()  # why a probe found nothing (shown in error messages)


@dataclass(frozen=True)
class Decision:
    backend: str
    distribution: str  # "tpu" | "mirrored" | "data_parallel" | "single"
    num_replicas: int
    device_kind: str
    reason: str


@dataclass
class Runtime:
    """The chosen runtime. `scope()` is where models and optimizers must be built."""

    backend: str
    distribution: str
    num_replicas: int
    reason: str
    device_kind: str
    strategy: Any = None  # the tf.distribute strategy (TensorFlow), else None
    keras_distribution: Any = None  # keras.distribution.DataParallel (JAX), set globally

    def scope(self) -> contextlib.AbstractContextManager:
        """TF: the strategy's scope. JAX: a null context (the distribution is set globally)."""
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()

    def describe(self) -> str:
        return (
            f"runtime: {self.backend} + {self.distribution} on {self.num_replicas} x "
            f"{self.device_kind} ({self.reason})"
        )


# -- the decision -------------------------------------------------------------------------------
def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    value = (value or "auto").strip().lower()
    if value not in allowed:
        raise RuntimeSelectionError(f"`{name}` must be one of {list(allowed)}. Received: {value!r}")
    return value


def decide(detection: Detection, backend: str = "auto", distribution: str = "auto") -> Decision:
    """Pick backend and distribution from what was detected and what was asked for."""
    backend = _check_choice("backend", backend, BACKENDS)
    distribution = _check_choice("distribution", distribution, DISTRIBUTIONS)
    loaded = detection.keras_backend_loaded
    if loaded:
        if backend not in ("auto", loaded):
            raise RuntimeSelectionError(
                f"Keras is already imported with the {loaded!r} backend, so painter cannot switch "
                f"to {backend!r}. Select the runtime before anything imports Keras (a fresh "
                f"process or notebook kernel), or ask for backend {loaded!r}."
            )
        backend = loaded
    if distribution == "mirrored":
        backend = _require(backend, "tensorflow", "mirrored (tf.distribute.MirroredStrategy)")
    if distribution == "data_parallel":
        backend = _require(backend, "jax", "data_parallel (keras.distribution.DataParallel)")
    for name, installed in (
        ("tensorflow", detection.tensorflow_installed),
        ("jax", detection.jax_installed),
    ):
        if backend == name and not installed:
            raise RuntimeSelectionError(
                f"backend {name!r} was asked for but {name} is not installed: pip install {name}."
            )

    tpu_attached = bool(
        detection.tpu_signals or detection.jax_tpu_devices or detection.tensorflow_tpu_devices
    )
    if distribution == "tpu" and not tpu_attached:
        raise RuntimeSelectionError(
            "distribution 'tpu' was asked for but no TPU is attached (no /dev/accel*, /dev/vfio "
            f"or {', '.join(TPU_ENV_VARS)}{_libtpu_note(detection)}). Use 'auto' or run on a "
            "TPU machine."
        )
    if tpu_attached or distribution == "tpu":
        return _decide_tpu(detection, backend, distribution)
    if detection.gpu_signals:
        return _decide_gpu(detection, backend, distribution)
    chosen = (
        backend
        if backend != "auto"
        else ("tensorflow" if detection.tensorflow_installed else "jax")
    )
    if distribution in ("mirrored", "data_parallel"):
        return Decision(
            chosen,
            distribution,
            0,
            "CPU",
            f"{distribution} was asked for; no accelerator is attached",
        )
    why = "asked for" if backend != "auto" else "no TPU or GPU is attached"
    return Decision(chosen, "single", 1, "CPU", f"one CPU device: {why}{_libtpu_note(detection)}")


def _libtpu_note(detection: Detection) -> str:
    """Why an installed libtpu did not lead to a TPU (never a silent CPU where one was likely)."""
    if not detection.libtpu_installed or detection.jax_tpu_devices:
        return ""
    if detection.jax_tpu_devices is None:
        return "; libtpu is installed but JAX was not asked (another backend was requested)"
    jax_errors = [e for e in detection.errors if e.startswith("JAX")]
    return "; libtpu is installed but JAX sees no TPU" + (
        f" ({jax_errors[0]})" if jax_errors else ""
    )


def _require(backend: str, needed: str, what: str) -> str:
    if backend not in ("auto", needed):
        raise RuntimeSelectionError(
            f"distribution {what} needs the {needed} backend, not {backend!r}."
        )
    return needed


def _decide_tpu(d: Detection, backend: str, distribution: str) -> Decision:
    jax_cores, tf_cores = d.jax_tpu_devices or 0, d.tensorflow_tpu_devices or 0
    signals = ", ".join(d.tpu_signals) or (
        f"no TPU device file or TPU_* variable, but libtpu is installed and JAX sees {jax_cores} "
        "cores"
        if d.libtpu_installed and jax_cores
        else "distribution='tpu' requested"
    )
    kind = d.device_kind or "TPU"
    if backend in ("auto", "jax") and jax_cores > 0 and distribution != "mirrored":
        chosen = "single" if distribution == "single" else "data_parallel"
        replicas = 1 if chosen == "single" else jax_cores
        why = (
            "JAX sees the TPU"
            + (" (TensorFlow does not)" if backend == "auto" and not tf_cores else "")
            + f": {jax_cores} cores"
            + ("; found through libtpu, no TPU device file" if not d.tpu_signals else "")
        )
        return Decision("jax", chosen, replicas, kind, why)
    if backend in ("auto", "tensorflow") and tf_cores > 0 and distribution in ("auto", "tpu"):
        return Decision(
            "tensorflow",
            "tpu",
            tf_cores,
            kind,
            f"TensorFlow sees the TPU ({tf_cores} cores): TPUStrategy",
        )
    seen = f"JAX sees {jax_cores} TPU cores, TensorFlow {tf_cores}"
    if distribution == "single" and d.tpu_signals:
        chosen = (
            backend if backend != "auto" else ("tensorflow" if d.tensorflow_installed else "jax")
        )
        return Decision(
            chosen,
            "single",
            1,
            "CPU",
            f"PAINTER_DISTRIBUTION=single asked for one device; the attached TPU "
            f"({signals}) is NOT used: {seen}",
        )
    problems = "; ".join(d.errors)
    if backend != "auto":
        raise RuntimeSelectionError(
            f"A TPU is attached ({signals}) but the {backend} backend cannot use it ({seen}"
            f"{'; ' + problems if problems else ''}). "
            + (
                "JAX can: set PAINTER_BACKEND=jax. "
                if jax_cores and backend == "tensorflow"
                else ""
            )
            + (
                "TensorFlow can: set PAINTER_BACKEND=tensorflow. "
                if tf_cores and backend == "jax"
                else ""
            )
            + INSTALL_HINT
        )
    raise RuntimeSelectionError(
        f"A TPU is attached ({signals}) but neither JAX nor TensorFlow can use it ({seen}"
        f"{'; ' + problems if problems else ''}). " + INSTALL_HINT
    )


def _decide_gpu(d: Detection, backend: str, distribution: str) -> Decision:
    tf_gpus, jax_gpus = d.tensorflow_gpus or 0, d.jax_gpus or 0
    kind = d.device_kind or "GPU"
    if backend == "auto":
        backend = "tensorflow" if tf_gpus else ("jax" if jax_gpus else "none")
    gpus = {"tensorflow": tf_gpus, "jax": jax_gpus}.get(backend, 0)
    if gpus == 0:
        if distribution == "single":
            chosen = backend if backend != "none" else "tensorflow"
            return Decision(
                chosen,
                "single",
                1,
                "CPU",
                f"PAINTER_DISTRIBUTION=single asked for one device; the GPUs "
                f"({', '.join(d.gpu_signals)}) are NOT used",
            )
        raise RuntimeSelectionError(
            f"NVIDIA GPUs are attached ({', '.join(d.gpu_signals)}) but "
            + (
                f"the {backend} backend sees none"
                if backend != "none"
                else "neither TensorFlow nor JAX sees one"
            )
            + (f" ({'; '.join(d.errors)})" if d.errors else "")
            + ". Install a CUDA build (`pip install 'tensorflow[and-cuda]'` or "
            "`pip install -U 'jax[cuda12]'`), or set PAINTER_DISTRIBUTION=single to use the CPU."
        )
    if distribution == "single" or (distribution == "auto" and gpus == 1):
        return Decision(backend, "single", 1, kind, f"one GPU ({backend} sees {gpus})")
    chosen = "mirrored" if backend == "tensorflow" else "data_parallel"
    if distribution not in ("auto", chosen):
        raise RuntimeSelectionError(
            f"distribution {distribution!r} does not fit {gpus} GPUs on "
            f"{backend}; use {chosen!r} or 'single'."
        )
    return Decision(backend, chosen, gpus, kind, f"{gpus} GPUs seen by {backend}")


# -- detection ----------------------------------------------------------------------------------
def _tpu_signals(environ: MutableMapping[str, str]) -> tuple[str, ...]:
    signals = sorted(glob.glob("/dev/accel*")) + (
        ["/dev/vfio"] if os.path.isdir("/dev/vfio") and os.listdir("/dev/vfio") else []
    )
    signals += [f"{name}={environ[name]}" for name in TPU_ENV_VARS if environ.get(name)]
    return tuple(signals)


def _probe_jax(platform: str) -> tuple[int, str, str]:
    try:
        import jax

        devices = jax.devices(platform)
        return len(devices), getattr(devices[0], "device_kind", platform), ""
    except Exception as error:  # noqa: BLE001 - any failure means "JAX cannot use it"
        return 0, "", f"JAX: {type(error).__name__}: {str(error).splitlines()[0][:200]}"


def libtpu_installed() -> bool:
    """Whether libtpu (the TPU runtime JAX and tensorflow-tpu load) is installed: the `libtpu`
    module, or one of its distributions (`libtpu`, `libtpu-nightly`). Imports nothing."""
    try:
        if importlib.util.find_spec("libtpu") is not None:
            return True
    except (ImportError, ValueError):  # a broken or namespace-less entry on sys.path
        pass
    for name in LIBTPU_DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
            return True
        except importlib.metadata.PackageNotFoundError:
            continue
    return False


# Run in a child process: prints one line `PAINTER_TPU_PROBE {"count": N, ...}`. Standard library
# and JAX only (no Keras, no painter), so it neither fixes a backend nor holds the TPU here.
JAX_TPU_PROBE = """
import json
try:
    import jax
    devices = jax.devices("tpu")
    answer = {"count": len(devices), "kind": getattr(devices[0], "device_kind", "TPU")}
except Exception as error:  # any failure means "JAX cannot use a TPU here"
    answer = {"count": 0, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
print("PAINTER_TPU_PROBE " + json.dumps(answer), flush=True)
"""


def probe_jax_tpu_subprocess(
    environ: Mapping[str, str], timeout: float = TPU_PROBE_TIMEOUT_S
) -> tuple[int, str, str]:
    """(TPU cores JAX sees, device kind, why none) asked of JAX in a child process, given at most
    `timeout` seconds; the child exits before this process touches the TPU."""
    env = {**os.environ, **environ}
    try:
        done = subprocess.run(
            [sys.executable, "-c", JAX_TPU_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return (
            0,
            "",
            (
                f"JAX: the TPU probe gave no answer within {timeout:.0f} s (libtpu is "
                "installed; a machine without a TPU can hang on GCE metadata queries)"
            ),
        )
    except OSError as error:
        return 0, "", f"JAX: the TPU probe could not start ({error})"
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("PAINTER_TPU_PROBE "):
            try:
                answer = json.loads(line.split(" ", 1)[1])
                problem = f"JAX: {answer['error']}" if answer.get("error") else ""
                return int(answer["count"]), str(answer.get("kind", "")), problem
            except (ValueError, KeyError, TypeError):
                break
    last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
    return 0, "", f"JAX: the TPU probe failed (exit status {done.returncode}: {last})"


_TF_TPU_RESOLVER: list = []  # the initialised resolver, reused by select_runtime


def _probe_tensorflow_tpu(environ: MutableMapping[str, str]) -> tuple[int, str, str]:
    try:
        import tensorflow as tf

        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=environ.get("TPU_NAME") or "local"
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        cores = len(tf.config.list_logical_devices("TPU"))
        _TF_TPU_RESOLVER[:] = [resolver]
        return cores, "TPU", ""
    except Exception as error:  # noqa: BLE001 - any failure means "TensorFlow cannot use it"
        return 0, "", f"TensorFlow: {type(error).__name__}: {str(error).splitlines()[0][:200]}"


def detect_hardware(
    environ: MutableMapping[str, str] | None = None,
    backend: str = "auto",
    *,
    find_libtpu: Callable[[], bool] = libtpu_installed,
    probe_jax_tpu: Callable[[Mapping[str, str]], tuple[int, str, str]] = probe_jax_tpu_subprocess,
) -> Detection:
    """Probe what the decision needs, cheapest first; frameworks are touched only if needed.

    `find_libtpu` and `probe_jax_tpu` (the child-process JAX probe used when libtpu is installed
    but no TPU device file or variable is seen) are replaceable for tests."""
    environ = os.environ if environ is None else environ
    backend = _check_choice("backend", backend, BACKENDS)
    keras_loaded = None
    if "keras" in sys.modules:
        keras_loaded = sys.modules["keras"].backend.backend()
        backend = keras_loaded if backend == "auto" else backend
    info: dict[str, Any] = {
        "tensorflow_installed": importlib.util.find_spec("tensorflow") is not None,
        "jax_installed": importlib.util.find_spec("jax") is not None,
        "keras_backend_loaded": keras_loaded,
        "tpu_signals": _tpu_signals(environ),
        "libtpu_installed": find_libtpu(),
        "gpu_signals": tuple(sorted(p for p in glob.glob("/dev/nvidia[0-9]*"))),
    }
    errors = []
    if (
        not info["tpu_signals"]
        and info["libtpu_installed"]
        and info["jax_installed"]
        and backend in ("auto", "jax")
    ):
        count, kind, error = probe_jax_tpu(environ)
        info.update(jax_tpu_devices=count, device_kind=kind)
        errors.append(error)
    if info.get("jax_tpu_devices"):
        pass  # a TPU found through libtpu: nothing else to probe
    elif info["tpu_signals"]:
        if backend in ("auto", "jax") and info["jax_installed"]:
            count, kind, error = _probe_jax("tpu")
            info.update(jax_tpu_devices=count, device_kind=kind)
            errors.append(error)
        if (
            backend == "tensorflow" or (backend == "auto" and not info.get("jax_tpu_devices"))
        ) and info["tensorflow_installed"]:
            count, kind, error = _probe_tensorflow_tpu(environ)
            info.update(tensorflow_tpu_devices=count)
            info["device_kind"] = info.get("device_kind") or kind
            errors.append(error)
    elif info["gpu_signals"]:
        if backend in ("auto", "tensorflow") and info["tensorflow_installed"]:
            import tensorflow as tf

            info["tensorflow_gpus"] = len(tf.config.list_physical_devices("GPU"))
        if (backend == "jax" or (backend == "auto" and not info.get("tensorflow_gpus"))) and info[
            "jax_installed"
        ]:
            count, kind, error = _probe_jax("gpu")
            info.update(jax_gpus=count, device_kind=kind)
            errors.append(error)
    return Detection(**info, errors=tuple(e for e in errors if e))


# -- selection ----------------------------------------------------------------------------------
def select_runtime(
    backend: str = "auto",
    distribution: str = "auto",
    *,
    environ: MutableMapping[str, str] | None = None,
    detect: Callable[..., Detection] | None = None,
    verbose: bool = True,
) -> Runtime:
    """Choose backend + distribution, set KERAS_BACKEND, set up the strategy; print one line.

    Args:
        backend: "auto", "jax" or "tensorflow" (PAINTER_BACKEND overrides it).
        distribution: "auto", "tpu", "mirrored", "data_parallel" or "single"
            (PAINTER_DISTRIBUTION overrides it).
        environ: the environment to read and write (default os.environ).
        detect: `detect(environ, backend) -> Detection` (default `detect_hardware`; tests fake it).
    Raises RuntimeSelectionError when the request or the hardware cannot work (with the fix).
    """
    environ = os.environ if environ is None else environ
    requested_backend = environ.get("PAINTER_BACKEND") or backend
    requested_distribution = environ.get("PAINTER_DISTRIBUTION") or distribution
    keras_preloaded = "keras" in sys.modules
    detection = (detect or detect_hardware)(
        environ, _check_choice("backend", requested_backend, BACKENDS)
    )
    decision = decide(detection, requested_backend, requested_distribution)
    if (
        detection.libtpu_installed
        and not detection.jax_tpu_devices
        and decision.device_kind == "CPU"
        and not environ.get("JAX_PLATFORMS")
    ):
        # JAX here would try the TPU runtime again (and might hang as the probe did): CPU only.
        environ["JAX_PLATFORMS"] = os.environ["JAX_PLATFORMS"] = "cpu"
    environ["KERAS_BACKEND"] = decision.backend
    if environ is not os.environ:
        os.environ["KERAS_BACKEND"] = decision.backend  # Keras reads the process environment
    if not keras_preloaded and "keras" in sys.modules:
        _switch_keras_backend(decision.backend)
    runtime = _make_runtime(decision)
    if verbose:
        print(runtime.describe(), flush=True)
    return runtime


def _switch_keras_backend(backend: str) -> None:
    """Probing TensorFlow's devices imports TensorFlow, and TensorFlow 2.20 imports Keras, which
    then fixes its backend from the environment of that moment. If the decision differs (say TF
    sees no GPU but JAX does), reload Keras with the chosen backend: nothing made with the other
    backend exists yet, since Keras was not loaded before select_runtime() started."""
    import warnings

    keras = sys.modules["keras"]
    if keras.backend.backend() == backend:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set_backend warns about objects made before: none are
        keras.config.set_backend(backend)


def _make_runtime(decision: Decision) -> Runtime:
    runtime = Runtime(
        decision.backend,
        decision.distribution,
        decision.num_replicas,
        decision.reason,
        decision.device_kind,
    )
    if decision.backend == "tensorflow":
        import tensorflow as tf

        if decision.distribution == "tpu":
            resolver = (
                _TF_TPU_RESOLVER[0]
                if _TF_TPU_RESOLVER
                else tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
            )
            if not _TF_TPU_RESOLVER:
                tf.config.experimental_connect_to_cluster(resolver)
                tf.tpu.experimental.initialize_tpu_system(resolver)
            runtime.strategy = tf.distribute.TPUStrategy(resolver)
        elif decision.distribution == "mirrored":
            runtime.strategy = tf.distribute.MirroredStrategy()
        if runtime.strategy is not None:
            runtime.num_replicas = runtime.strategy.num_replicas_in_sync
    elif decision.distribution == "data_parallel":
        import jax
        import keras

        devices = jax.devices()
        runtime.keras_distribution = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(runtime.keras_distribution)
        runtime.num_replicas = len(devices)
    return runtime


__all__ = [
    "Decision",
    "Detection",
    "Runtime",
    "decide",
    "detect_hardware",
    "libtpu_installed",
    "probe_jax_tpu_subprocess",
    "select_runtime",
]
