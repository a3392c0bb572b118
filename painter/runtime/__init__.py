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
only where the decision needs it (JAX's TPU probe before TensorFlow's much heavier TPU init), and
whenever libtpu is installed JAX is asked in a time-limited child process (see detection.py).

Modules, one concern each:
  detection.py   what the machine offers: `Detection`, `detect_hardware`, the TPU/GPU probes
                 (JAX in a child process when libtpu is installed), `libtpu_installed`
  decision.py    `Decision`, `decide`: the order above, a pure function of a `Detection`
  selection.py   `Runtime`, `select_runtime`: KERAS_BACKEND, the strategy or distribution, the line

This package imports neither Keras nor a framework at import time.
"""

from painter.runtime.decision import Decision, decide
from painter.runtime.detection import (
    Detection,
    detect_hardware,
    libtpu_installed,
    probe_jax_tpu_subprocess,
)
from painter.runtime.selection import Runtime, select_runtime

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
