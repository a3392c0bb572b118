"""Making the chosen runtime: set KERAS_BACKEND (switching an already loaded Keras), build the
tf.distribute strategy or Keras' DataParallel distribution, and say what was chosen and why.

This module imports neither Keras nor a framework at import time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from painter.runtime.decision import Decision, decide
from painter.runtime.detection import (
    BACKENDS,
    Detection,
    check_choice,
    detect_hardware,
    tensorflow_tpu_resolver,
)


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
        environ, check_choice("backend", requested_backend, BACKENDS)
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
            resolver = tensorflow_tpu_resolver()  # the one detection initialised, if any
            if resolver is None:
                resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
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


__all__ = ["Runtime", "select_runtime"]
