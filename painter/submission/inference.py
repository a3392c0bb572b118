"""Running a generator for the submission: on every replica, each painting its share of a batch.

`predict_on_batch` splits a batch over a TF strategy's replicas; on JAX, where `predict_on_batch`
would hand the whole batch to every device, `ShardedCall` jits the model with the batch sharded
over the devices of keras' global distribution. `predictor(generator)` wraps a generator in a
model that takes uint8 photos and returns uint8 paintings (the scaling and rounding run on the
device, so 4x less crosses to the host), compiled once and cached per generator, so the time
estimate's compilation serves the real run. Keras and JAX are imported inside the functions: the
runtime must be selected before Keras loads.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from painter.data.images import pixels_to_model_range, to_uint8
from painter.submission.validate import SUBMISSION_IMAGE_SIZE


def replica_count(generator: Any = None) -> int:
    """Replicas the generator runs on: the TF strategy's (the model's, else the scope's), or the
    devices of keras' global JAX distribution; 1 on a single device."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = getattr(generator, "_distribute_strategy", None) or tf.distribute.get_strategy()
        return int(strategy.num_replicas_in_sync)
    if keras.backend.backend() == "jax":
        distribution = keras.distribution.distribution()
        mesh = getattr(distribution, "device_mesh", None)
        if mesh is not None:
            batch_axis = getattr(distribution, "batch_dim_name", None)
            if batch_axis in mesh.axis_names:
                return int(mesh.shape[mesh.axis_names.index(batch_axis)])
            return int(np.prod(mesh.shape))
    return 1


def data_parallel_devices() -> tuple[Any, ...] | None:
    """The JAX devices keras' global distribution splits a batch over (its batch axis), or None
    when there is nothing to split: another backend, no distribution, one device, or a mesh with
    more axes than the batch's (model parallelism: keras' own predict_on_batch handles it)."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    distribution = keras.distribution.distribution()
    mesh = getattr(distribution, "device_mesh", None)
    if mesh is None:
        return None
    devices = np.asarray(mesh.devices)
    sides = dict(zip(mesh.axis_names, devices.shape, strict=True))
    if (
        devices.size <= 1
        or sides.get(getattr(distribution, "batch_dim_name", None)) != devices.size
    ):
        return None
    backend_mesh = getattr(mesh, "backend_mesh", None)  # keras' own str -> jax.Device mapping
    if backend_mesh is not None:
        return tuple(np.asarray(backend_mesh.devices).reshape(-1))
    import jax

    by_name = {f"{d.platform}:{d.id}": d for d in jax.devices()}
    return tuple(d if not isinstance(d, str) else by_name[d] for d in devices.reshape(-1))


class ShardedCall:
    """`model(batch)` on JAX with the batch split over `devices`: each device runs its
    batch/len(devices) images, the weights replicated on every device.

    Keras' `predict_on_batch` under `keras.distribution.DataParallel` compiles a program in which
    every device runs the whole batch (its input is not sharded): 7/8 of the work on a TPU v5e-8
    is wasted. Here the model's `stateless_call` is jitted with the input sharded on the batch
    axis of a 1-D mesh, so XLA partitions every convolution to batch/8 per device. The weights are
    read at each call (a generator still training gets its current weights) and are already
    replicated by the distribution, so passing them moves no data. A batch that is not a multiple
    of the device count is padded (and the padding dropped)."""

    def __init__(self, model: Any, devices: tuple[Any, ...]):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        self.model = model
        self.devices = tuple(devices)
        mesh = Mesh(np.asarray(self.devices), ("batch",))
        self.replicated = NamedSharding(mesh, PartitionSpec())
        self.sharded = NamedSharding(mesh, PartitionSpec("batch"))

        def forward(trainable: list, non_trainable: list, batch: Any) -> Any:
            outputs, _ = model.stateless_call(trainable, non_trainable, batch, training=False)
            return outputs

        self.jitted = jax.jit(
            forward,
            in_shardings=(self.replicated, self.replicated, self.sharded),
            out_shardings=self.sharded,
        )

    def arguments(self, batch: np.ndarray) -> tuple[list, list, np.ndarray]:
        """(trainable weights, non-trainable weights, batch padded to a multiple of the devices)."""
        import jax

        padding = -len(batch) % len(self.devices)
        if padding:
            batch = np.concatenate([batch, np.zeros((padding, *batch.shape[1:]), batch.dtype)])
        trainable, non_trainable = jax.device_put(
            (
                [v.value for v in self.model.trainable_variables],
                [v.value for v in self.model.non_trainable_variables],
            ),
            self.replicated,
        )
        return trainable, non_trainable, batch

    def lower(self, batch: np.ndarray) -> Any:
        """The lowered program for this batch (`.compile().as_text()` shows per-device shapes)."""
        return self.jitted.lower(*self.arguments(batch))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.jitted(*self.arguments(batch)))[: len(batch)]


_SHARDED_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sharded_call(model: Any) -> ShardedCall | None:
    """The model's `ShardedCall` over the current distribution's devices (cached per model, so
    the estimate's compilation serves the real run), or None where there is nothing to shard."""
    devices = data_parallel_devices()
    if devices is None:
        return None
    call = _SHARDED_CALLS.get(model)
    if call is None or call.devices != devices:
        call = _SHARDED_CALLS[model] = ShardedCall(model, devices)
    return call


def run_model(model: Any, batch: np.ndarray) -> np.ndarray:
    """One inference call of a keras model on every replica, each replica painting its share:
    sharded on JAX (`ShardedCall`), `predict_on_batch` otherwise (a TF strategy splits the
    batch itself). The batch should be a multiple of `replica_count(model)`."""
    call = sharded_call(model)
    if call is not None:
        return call(batch)
    return np.asarray(model.predict_on_batch(batch))


def predictor(generator: Any) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 photos [B, S, S, 3] -> uint8 paintings [B, S, S, 3].

    A keras generator is wrapped in a model that scales its input and rounds its output on the
    device, run with predict_on_batch (compiled once, distributed over the model's replicas):
    host work and device->host transfer shrink 4x (uint8, not float32); on JAX with several
    devices the batch is sharded over them (`run_model`). Any other callable gets float32 in
    [-1, 1] and its output is converted with `to_uint8` on the host."""
    import keras

    if isinstance(generator, keras.Model):
        painter_model = _UINT8_MODELS.get(generator)
        if painter_model is None:  # cached: the estimate's compilation serves the real run
            painter_model = _UINT8_MODELS[generator] = _uint8_model(generator)
        io_dtype = painter_model.inputs[0].dtype

        def predict(real_photo: np.ndarray) -> np.ndarray:
            nonlocal painter_model
            real_photo = real_photo.astype(io_dtype, copy=False)
            try:
                return np.asarray(run_model(painter_model, real_photo), np.uint8)
            except Exception:
                if not getattr(painter_model, "_painter_xla", False):
                    raise
                # A layer XLA cannot compile: the same model, run by TensorFlow's executor.
                painter_model = _UINT8_MODELS[generator] = _uint8_model(generator, xla=False)
                return np.asarray(painter_model.predict_on_batch(real_photo), np.uint8)

        return predict
    return lambda real_photo: to_uint8(generator(pixels_to_model_range(real_photo)))


_UINT8_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _uint8_model(generator: Any, *, xla: bool = True) -> Any:
    """keras.Model: uint8 photo -> generator -> uint8 painting, rounding like `to_uint8`
    (round half to even, clip to 0..255), built in the generator's TF strategy scope.

    On TensorFlow without a distribution strategy the model is XLA-compiled (`xla`): XLA fuses
    the cast, scaling, rounding and clipping into the generator's passes over memory (a 1x1-conv
    generator runs 2.2x faster on CPU). keras leaves XLA off on CPU and under tf.distribute by
    default; JAX and TPUs compile with XLA anyway."""
    import keras

    strategy = getattr(generator, "_distribute_strategy", None)
    # TensorFlow's TPU runtime does not take uint8 tensors: int32 there (uint8 on the host).
    io_dtype = "int32" if "TPU" in type(strategy).__name__ else "uint8"
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        real_photo = keras.Input((None, None, 3), dtype=io_dtype, name="real_photo")
        scaled = keras.ops.cast(real_photo, "float32") / 127.5 - 1.0
        fake_monet = keras.ops.cast(generator(scaled, training=False), "float32")
        pixels = keras.ops.clip(keras.ops.round((fake_monet + 1.0) * 127.5), 0.0, 255.0)
        model = keras.Model(real_photo, keras.ops.cast(pixels, io_dtype), name="uint8_painter")
    model._painter_xla = bool(
        xla
        and strategy is None
        and keras.backend.backend() == "tensorflow"
        and xla_compiles(generator)
    )
    if model._painter_xla:
        model.jit_compile = True
    return model


# The interpolations TensorFlow's XLA bridge compiles without antialiasing (ResizeBilinear,
# ResizeNearestNeighbor); bicubic, area, lanczos and any antialiased resize are not.
XLA_RESIZE_INTERPOLATIONS = ("bilinear", "nearest")


def xla_compiles(model: Any) -> bool:
    """False when `model` holds a layer TensorFlow's XLA bridge cannot compile: a `Resizing`
    with antialiasing or another interpolation than bilinear / nearest (`at_submission_size`'s,
    which become ScaleAndTranslate or ResizeBicubic). Trying anyway works (the predictor falls
    back to TensorFlow's executor) but prints a long C++ traceback on stderr first."""
    import keras

    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.Resizing) and (
            layer.antialias or layer.interpolation not in XLA_RESIZE_INTERPOLATIONS
        ):
            return False
    return True


def at_submission_size(
    generator: Any, train_size: int, out_size: int = SUBMISSION_IMAGE_SIZE
) -> Any:
    """The generator as it was trained: photos are scaled to `train_size`, painted, and the
    painting scaled back to `out_size` (the identity when the sizes agree)."""
    if train_size == out_size:
        return generator
    import keras

    inputs = keras.Input((out_size, out_size, 3))
    small = keras.layers.Resizing(train_size, train_size, antialias=True)(inputs)
    painted = generator(small)
    outputs = keras.layers.Resizing(out_size, out_size, interpolation="bicubic")(painted)
    return keras.Model(inputs, keras.ops.clip(outputs, -1.0, 1.0), name="painter_at_size")


__all__ = [
    "replica_count",
    "data_parallel_devices",
    "ShardedCall",
    "sharded_call",
    "run_model",
    "predictor",
    "at_submission_size",
    "xla_compiles",
]
