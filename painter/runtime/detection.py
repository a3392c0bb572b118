"""What the machine offers: TPU / GPU signals, libtpu, and the frameworks' own device counts.

`detect_hardware` fills a `Detection` record for the decision (`decision.decide`), cheapest check
first: device files and environment variables, then a framework's device initialisation only where
the decision needs it (JAX's TPU probe before TensorFlow's much heavier TPU init).
Device files and TPU_* variables are not guaranteed (a container may hide them, and Kaggle's mount
layout has changed before), so whenever libtpu is installed JAX is asked too: in a child process
with a time limit, because JAX with libtpu on a machine without a TPU can hang for minutes on
GCE metadata queries, and because the child's JAX leaves this process free to pick either backend
(Keras fixes its backend when first imported, and a framework initialised here would hold the TPU).

This module imports neither Keras nor a framework at import time.
"""

from __future__ import annotations

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


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """`value` lowercased ("auto" when empty); RuntimeSelectionError if not in `allowed`."""
    value = (value or "auto").strip().lower()
    if value not in allowed:
        raise RuntimeSelectionError(f"`{name}` must be one of {list(allowed)}. Received: {value!r}")
    return value


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


def tensorflow_tpu_resolver() -> Any | None:
    """The TPUClusterResolver the TensorFlow probe connected and initialised, or None."""
    return _TF_TPU_RESOLVER[0] if _TF_TPU_RESOLVER else None


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
    backend = check_choice("backend", backend, BACKENDS)
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


__all__ = [
    "BACKENDS",
    "DISTRIBUTIONS",
    "Detection",
    "check_choice",
    "detect_hardware",
    "libtpu_installed",
    "probe_jax_tpu_subprocess",
    "tensorflow_tpu_resolver",
]
