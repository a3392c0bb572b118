"""The decision: which backend and distribution, from a `Detection` record and what was asked.

`decide` is a pure function (unit-tested with fake detections); the order it follows is in
`painter.runtime`'s docstring. Where the hardware cannot work with what was asked, or a TPU or GPU
is attached that no installed framework can use, it raises RuntimeSelectionError saying what to
install or set: never a silent fall-back to the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from painter.errors import RuntimeSelectionError
from painter.runtime.detection import (
    BACKENDS,
    DISTRIBUTIONS,
    TPU_ENV_VARS,
    Detection,
    check_choice,
)

INSTALL_HINT = (
    "Install a TPU build of one backend that matches this machine's libtpu: "
    "`pip install -U 'jax[tpu]'` (what Kaggle's TPU image ships; then PAINTER_BACKEND=jax), or "
    "`pip install tensorflow-tpu` of the version matching libtpu (Colab / TPU VMs). To train on "
    "the "
    "CPU on purpose, set PAINTER_DISTRIBUTION=single."
)


@dataclass(frozen=True)
class Decision:
    backend: str
    distribution: str  # "tpu" | "mirrored" | "data_parallel" | "single"
    num_replicas: int
    device_kind: str
    reason: str


def decide(detection: Detection, backend: str = "auto", distribution: str = "auto") -> Decision:
    """Pick backend and distribution from what was detected and what was asked for."""
    backend = check_choice("backend", backend, BACKENDS)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
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


__all__ = ["Decision", "decide"]
