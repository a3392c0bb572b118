"""Write images.zip as fast as the hardware allows: batched inference, parallel JPEG encoding,
streamed into the zip.

The starter notebook calls the generator once per photo and saves each JPEG with PIL before
zipping a folder: 33 to 47 minutes of a 3-hour TPU session. Here:

1. photos are read in batches (painter.data's tf.data reader, or any iterable of batches);
2. each batch runs through the generator on every replica, each replica painting its share of
   the batch (`predict_on_batch` splits it over a TF strategy's replicas; on JAX, where
   `predict_on_batch` would hand the whole batch to every device, `ShardedCall` jits the model
   with the batch sharded over the devices of keras' global distribution); the last batch is
   padded to the full batch size, so one compiled program serves every batch, and the padding is
   dropped;
3. float outputs become uint8 (`(x + 1) * 127.5`, rounded, clipped) and are JPEG-encoded by a thread
   pool while the next batch is inferred (PIL releases the GIL while encoding);
4. encoded images are streamed, in order, into a ZIP_STORED archive (JPEGs do not compress) under a
   temporary name, which is validated and then renamed: an interrupted write leaves no images.zip.

At most `max_in_flight` batches are held at once, so memory does not grow with the photo count.
"""

from __future__ import annotations

import io
import math
import os
import queue
import sys
import tempfile
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from painter.data.images import encode_jpeg, to_uint8
from painter.errors import DataError, PainterError
from painter.submission.validate import MAX_COUNT, MIN_COUNT, ValidationReport, validate_submission

JPEG_QUALITY = 95  # the score is FID on these JPEGs: keep compression artefacts below the model's
# A fixed timestamp makes the archive a function of the images alone (reproducible bytes).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

# Test-time variants used to fill a submission from fewer photos than required: the generator is
# run on the transformed photo, so each variant is a distinct painting. Order = order of use.
VARIANTS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("flip", lambda batch: batch[:, :, ::-1]),  # horizontal flip: still a natural photo
    ("vflip", lambda batch: batch[:, ::-1, :]),
    ("rot180", lambda batch: batch[:, ::-1, ::-1]),
    ("rot90", lambda batch: np.rot90(batch, 1, axes=(1, 2))),
    ("rot270", lambda batch: np.rot90(batch, 3, axes=(1, 2))),
    ("transpose", lambda batch: batch.transpose(0, 2, 1, 3)),
    ("transverse", lambda batch: np.rot90(batch, 2, axes=(1, 2)).transpose(0, 2, 1, 3)),
)

PhotoBatch = tuple[list[str], np.ndarray]  # (image names, uint8 [B, S, S, 3])


class SubmissionError(PainterError):
    """The submission cannot be written as asked (too few photos, duplicate names, invalid zip)."""


@dataclass
class SubmissionReport:
    """What `write_submission` wrote."""

    path: Path
    count: int  # entries in the zip
    photo_count: int  # source photos
    filled: int  # test-time variants added to reach fill_to
    seconds: float  # wall time of inference + encoding + zip (validation excluded)
    images_per_second: float
    batch_size: int  # the batch actually used (a multiple of the replica count)
    validation: ValidationReport

    def summary(self) -> str:
        filled = f" ({self.filled} test-time variants)" if self.filled else ""
        return (
            f"wrote {self.path}: {self.count} images{filled} from {self.photo_count} photos in "
            f"{self.seconds:.1f} s ({self.images_per_second:.1f} images/s, batch {self.batch_size})"
        )


def entry_name(image_name: str | bytes) -> str:
    """The zip entry for a photo: its name without folder or image suffix, plus ".jpg"."""
    if isinstance(image_name, bytes):
        image_name = image_name.decode("utf-8")
    name = image_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() in ("jpg", "jpeg", "png", "tfrec", "tfrecord"):
        name = stem
    if not name:
        raise DataError(f"image name {image_name!r} gives an empty file name; name the photo")
    return name + ".jpg"


# --- inference ---------------------------------------------------------------------------------
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


def _predictor(generator: Any) -> Callable[[np.ndarray], np.ndarray]:
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
    return lambda real_photo: to_uint8(generator(_to_model_input(real_photo)))


_UINT8_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _uint8_model(generator: Any, *, xla: bool = True) -> Any:
    """keras.Model: uint8 photo -> generator -> uint8 painting, rounding like `to_uint8`
    (round half to even, clip to 0..255), built in the generator's TF strategy scope.

    On TensorFlow without a distribution strategy the model is XLA-compiled (`xla`): XLA fuses
    the cast, scaling, rounding and clipping into the generator's passes over memory (a 1x1-conv
    generator runs 2.2x faster on CPU). keras leaves XLA off on CPU and under tf.distribute by
    default; JAX and TPUs compile with XLA anyway."""
    import contextlib

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
    model._painter_xla = bool(xla and strategy is None and keras.backend.backend() == "tensorflow")
    if model._painter_xla:
        model.jit_compile = True
    return model


def _to_model_input(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 127.5 - 1.0


# --- photo batches ---------------------------------------------------------------------------
class _Photos:
    """Re-openable stream of fixed-size (names, uint8 images) batches, from a path, an
    ImageSource or an iterable of batches (a one-shot iterator can be read only once)."""

    def __init__(self, photos: Any, image_size: int, batch_size: int):
        self.image_size = image_size
        self.batch_size = batch_size
        self.count: int | None = None
        self.one_shot = False
        if isinstance(photos, (str, os.PathLike)) or (
            hasattr(photos, "kind") and hasattr(photos, "files")
        ):
            self._open = self._source_opener(photos)
        else:
            if not isinstance(photos, Iterable):
                raise TypeError(
                    "`photos` must be a path, an ImageSource or an iterable of (names, images) "
                    f"batches. Received: {type(photos).__name__}"
                )
            self.one_shot = iter(photos) is photos
            self._open = lambda: iter(photos)
            if isinstance(photos, (list, tuple)):
                self.count = sum(len(names) for names, _ in photos)
        self.opened = 0

    def _source_opener(self, photos: Any) -> Callable[[], Iterator[PhotoBatch]]:
        from painter.data import reader, sources

        source = sources.find_source(photos)
        if source.kind == "images":
            self.count = len(source.files)

        def open_source() -> Iterator[PhotoBatch]:
            import tensorflow as tf

            # Fixed decoders (one per core) and no tf.data autotuning: on 2 cores shared with
            # the encoders and inference, AUTOTUNE stalled the decoders in about one run in
            # three (images.zip then took 11 s instead of 6 s); fixed, 0 slow runs in 10.
            dataset = reader.read_images(
                source, image_size=self.image_size, parallel_calls=max(2, os.cpu_count() or 1)
            )
            options = tf.data.Options()
            options.autotune.enabled = False
            dataset = dataset.with_options(options)
            for element in dataset.batch(self.batch_size).prefetch(2).as_numpy_iterator():
                yield [n.decode("utf-8") for n in element["image_name"]], element["image"]

        return open_source

    def batches(self) -> Iterator[PhotoBatch]:
        """Batches of exactly batch_size (the last may be smaller), whatever the input's."""
        if self.one_shot and self.opened:
            raise SubmissionError(
                "filling the submission reads the photos again, but `photos` is a one-shot "
                "iterator; pass a list of batches, a path or an ImageSource"
            )
        self.opened += 1
        names: list[str] = []
        images: list[np.ndarray] = []
        held = 0
        for batch_names, batch_images in self._open():
            batch_images = np.asarray(batch_images)
            self._check(batch_names, batch_images)
            names.extend(str(n) if not isinstance(n, bytes) else n.decode() for n in batch_names)
            images.append(batch_images)
            held += len(batch_images)
            while held >= self.batch_size:
                stacked = np.concatenate(images) if len(images) > 1 else images[0]
                yield names[: self.batch_size], stacked[: self.batch_size]
                names, images = names[self.batch_size :], [stacked[self.batch_size :]]
                held -= self.batch_size
        if held:
            yield names, np.concatenate(images) if len(images) > 1 else images[0]

    def _check(self, names: Any, images: np.ndarray) -> None:
        size = self.image_size
        if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
            raise DataError(
                f"photo batch starting with {names[0] if len(names) else '?'!r}: expected uint8 "
                f"images of shape [B, {size}, {size}, 3], got {images.dtype} {images.shape}"
            )
        if len(names) != len(images):
            raise DataError(f"photo batch has {len(names)} names for {len(images)} images")


# The competition's images: images.zip is written at this size whatever the training size.
SUBMISSION_IMAGE_SIZE = 256


def at_submission_size(generator: Any, train_size: int, out_size: int = 256) -> Any:
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


# --- the writer --------------------------------------------------------------------------------
def write_submission(
    generator: Any,
    photos: Any,
    out_path: str | os.PathLike,
    *,
    image_size: int = 256,
    batch_size: int = 64,
    min_count: int = MIN_COUNT,
    max_count: int = MAX_COUNT,
    fill_to: int | None = None,
    progress: bool = True,
    jpeg_quality: int = JPEG_QUALITY,
    max_in_flight: int = 4,
) -> SubmissionReport:
    """Run `generator` over every photo and write the paintings as JPEGs into a zip.

    Args:
        generator: photo -> Monet keras model (float32 [-1, 1] in and out), or any callable.
            Call inside the runtime's scope; the writer uses every replica the model has.
        photos: a path or `painter.data.sources.ImageSource` (read with painter.data), or an
            iterable of `(names, uint8 [B, image_size, image_size, 3])` batches of any size.
        out_path: the zip to write (its folder is created); replaced only when complete.
        image_size: the side of the square photos.
        batch_size: images per generator call; rounded up to a multiple of the replica count.
        min_count, max_count: allowed number of images (the competition's 7,000 and 10,000).
        fill_to: with fewer photos than min_count, add test-time variants of the photos
            (generator run on the flipped/rotated photo; entries `NAME_flip.jpg`, `NAME_vflip.jpg`,
            `NAME_rot180.jpg`, ...) until the zip holds this many images. None: refuse instead.
        progress: a text progress line on stderr.
        jpeg_quality: PIL JPEG quality.
        max_in_flight: batches held at once (inferred, being encoded or waiting for the zip).

    Returns:
        SubmissionReport with the count, speed and the validation of the written zip.

    Raises:
        SubmissionError: too few or too many photos, a duplicate name (two photos would become
            the same entry; the error names it), or a written zip that fails validation.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise SubmissionError(f"{out_path} is a folder; pass the zip's file name, e.g. images.zip")
    if fill_to is not None and not min_count <= fill_to <= max_count:
        raise SubmissionError(
            f"`fill_to` must be between min_count={min_count} and max_count={max_count}. "
            f"Received: {fill_to}"
        )
    replicas = replica_count(generator) if hasattr(generator, "predict_on_batch") else 1
    batch_size = int(math.ceil(batch_size / replicas) * replicas)
    stream = _Photos(photos, image_size, batch_size)
    if stream.count is not None:
        _check_count(stream.count, min_count, max_count, fill_to)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent
    )
    os.close(handle)
    temporary = Path(temporary)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would make images.zip private
    meter = _Progress(stream.count if fill_to is None else fill_to, enabled=progress)
    try:
        start = time.perf_counter()
        with (
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive,
            _Pipeline(
                generator, archive, batch_size, jpeg_quality, max_in_flight, meter
            ) as pipeline,
        ):
            for names, images in stream.batches():
                pipeline.submit(names, images)
            pipeline.drain()
            photo_count = pipeline.count
            _check_count(photo_count, min_count, max_count, fill_to)
            filled = 0
            for suffix, transform in VARIANTS:
                if fill_to is None or pipeline.submitted >= fill_to:
                    break
                for names, images in stream.batches():
                    wanted = fill_to - pipeline.submitted
                    if wanted <= 0:
                        break
                    names, images = names[:wanted], images[:wanted]
                    variant_names = [f"{entry_name(n)[:-4]}_{suffix}" for n in names]
                    pipeline.submit(variant_names, np.ascontiguousarray(transform(images)))
                    filled += len(names)
                pipeline.drain()
            if fill_to is not None and pipeline.count < fill_to:
                raise SubmissionError(
                    f"only {pipeline.count} images can be made from {photo_count} photos and "
                    f"their {len(VARIANTS)} flips/rotations; `fill_to` ({fill_to}) is too high"
                )
        seconds = time.perf_counter() - start
        meter.close()
        with open(temporary, "rb+") as stream_handle:
            os.fsync(stream_handle.fileno())
        count = photo_count + filled
        # Structure, names, count and every JPEG header; not a full decode: each entry was
        # just encoded by PIL from a uint8 [S, S, 3] array (`validate` decodes everything).
        validation = validate_submission(
            temporary,
            min_count=min_count,
            max_count=max_count,
            image_size=image_size,
            decode=False,
        )
        if not validation.ok:
            raise SubmissionError(
                f"the written zip failed validation ({len(validation.violations)} violations): "
                + "; ".join(validation.violations[:5])
            )
        os.replace(temporary, out_path)
    except BaseException:
        meter.close()
        temporary.unlink(missing_ok=True)
        raise
    validation.path = out_path
    return SubmissionReport(
        path=out_path,
        count=count,
        photo_count=photo_count,
        filled=filled,
        seconds=seconds,
        images_per_second=count / max(seconds, 1e-9),
        batch_size=batch_size,
        validation=validation,
    )


def _check_count(count: int, min_count: int, max_count: int, fill_to: int | None) -> None:
    if count == 0:
        raise SubmissionError("no photos to paint: the photo source is empty")
    if count > max_count:
        raise SubmissionError(
            f"{count} photos, more than the {max_count} images a submission may hold; "
            "pass fewer photos (or --max-count for custom data)"
        )
    if count < min_count and fill_to is None:
        raise SubmissionError(
            f"{count} photos, fewer than the {min_count} images a submission needs; add photos, "
            f"or fill up with flipped/rotated test-time variants (fill_to={min_count}, "
            f"`--fill-to {min_count}`), or lower --min-count for custom data"
        )


class _Pipeline:
    """Inference on the calling thread, JPEG encoding on a thread pool, zip writes in order on a
    writer thread (the zip's CRC and file writes no longer hold up the next batch's inference).

    Each batch's encoding is split over the pool's threads; at most `max_in_flight` batches wait
    for encoding or writing, which bounds memory whatever the number of photos."""

    def __init__(self, generator, archive, batch_size, quality, max_in_flight, meter):
        self.predict = _predictor(generator)
        self.archive = archive
        self.batch_size = batch_size
        self.quality = quality
        self.meter = meter
        self.workers = max(1, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="painter-jpeg")
        # Batches handed to the writer thread; put() blocks while max_in_flight are waiting.
        self.pending: queue.Queue[list[Future] | None] = queue.Queue(max(1, max_in_flight))
        self.error: BaseException | None = None
        self.names: dict[str, int] = {}
        self.count = 0  # images written into the zip
        self.submitted = 0  # images given to submit() (written, encoding, or waiting)
        self.writer = threading.Thread(target=self._write_loop, name="painter-zip", daemon=True)
        self.writer.start()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is not None and self.error is None:
            self.error = SubmissionError("the submission was interrupted")  # writer: discard
        self.pending.put(None)
        self.writer.join()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, names: list[str], images: np.ndarray) -> None:
        self._raise_writer_error()
        entries = [self._claim(name) for name in names]
        self.submitted += len(entries)
        real = len(images)
        if real < self.batch_size:  # one program for every batch: pad, then drop the padding
            padding = np.zeros((self.batch_size - real, *images.shape[1:]), images.dtype)
            images = np.concatenate([images, padding])
        fake_monet = self.predict(images)[:real]  # uint8 paintings
        chunk = math.ceil(real / self.workers)
        self.pending.put(
            [
                self.pool.submit(self._encode, entries[i : i + chunk], fake_monet[i : i + chunk])
                for i in range(0, real, chunk)
            ]
        )

    def drain(self) -> None:
        """Wait until every submitted image is in the zip."""
        self.pending.join()
        self._raise_writer_error()

    def _raise_writer_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _claim(self, name: str) -> str:
        entry = entry_name(name)
        if entry in self.names:
            raise SubmissionError(
                f"two photos become the zip entry {entry!r} (photo #{self.names[entry] + 1} and "
                f"#{len(self.names) + 1}, named {name!r}); entry names must be unique: rename one"
            )
        self.names[entry] = len(self.names)
        return entry

    def _encode(self, entries: list[str], fake_monet: np.ndarray) -> list[tuple[str, bytes]]:
        return [(e, encode_jpeg(p, self.quality)) for e, p in zip(entries, fake_monet, strict=True)]

    def _write_loop(self) -> None:
        """The writer thread: batches in submission order into the zip. After an error it keeps
        taking (and dropping) batches, so the submitting thread never blocks on a full queue."""
        while True:
            futures = self.pending.get()
            try:
                if futures is None:
                    return
                if self.error is None:
                    self._write(futures)
                else:
                    for future in futures:
                        future.cancel()
            except BaseException as error:  # noqa: BLE001 - re-raised on the submitting thread
                self.error = error
            finally:
                self.pending.task_done()

    def _write(self, futures: list[Future]) -> None:
        for future in futures:
            for entry, data in future.result():
                info = zipfile.ZipInfo(entry, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_STORED
                self.archive.writestr(info, data)
                self.count += 1
        self.meter.update(self.count)


class _Progress:
    """`submission: 3200/7038 images, 412.5 images/s, ~9 s left` on stderr: rewritten in place on
    a terminal, one line per ~10% otherwise (logs, notebooks)."""

    def __init__(self, total: int | None, *, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.start = time.perf_counter()
        self.last_print = 0.0
        self.last_decile = -1
        self.tty = sys.stderr.isatty()
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = done / max(now - self.start, 1e-9)
        total = f"/{self.total}" if self.total else ""
        left = f", ~{(self.total - done) / rate:.0f} s left" if self.total and rate else ""
        line = f"submission: {done}{total} images, {rate:.1f} images/s{left}"
        if self.tty:
            if now - self.last_print >= 0.25:
                print("\r" + line, end="", file=sys.stderr, flush=True)
                self.last_print, self.shown = now, True
        else:
            decile = int(10 * done / self.total) if self.total else done // 1000
            if decile != self.last_decile:
                print(line, file=sys.stderr, flush=True)
                self.last_decile = decile

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            print(file=sys.stderr, flush=True)
            self.shown = False


# --- time budget ---------------------------------------------------------------------------------
def estimate_submission_seconds(
    generator: Any,
    photo_count: int,
    *,
    batch_size: int = 64,
    image_size: int = 256,
    timed_batches: int = 3,
    jpeg_quality: int = JPEG_QUALITY,
) -> float:
    """Seconds `write_submission` will take for `photo_count` photos, measured, not guessed.

    One batch warms up (compilation), `timed_batches` real batches are timed, and their mean is
    extrapolated; reading (a JPEG decode per photo), JPEG encoding and validation are timed on one
    batch the same way. The estimate adds the warm-up and assumes no overlap between reading,
    inference and encoding, so it errs long: the time budget reserves it. The compiled model is
    cached, so a `write_submission` with the same generator and batch size does not compile
    again."""
    if photo_count <= 0:
        return 0.0
    replicas = replica_count(generator) if hasattr(generator, "predict_on_batch") else 1
    batch_size = int(math.ceil(batch_size / replicas) * replicas)
    predict = _predictor(generator)
    rng = np.random.default_rng(0)
    real_photo = rng.integers(0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8)
    start = time.perf_counter()
    fake_monet = predict(real_photo)  # compiles
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(max(1, timed_batches)):
        fake_monet = predict(real_photo)
    infer = (time.perf_counter() - start) / max(1, timed_batches)

    workers = max(1, os.cpu_count() or 1)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        encoded = list(pool.map(lambda p: encode_jpeg(p, jpeg_quality), fake_monet))
    encode = time.perf_counter() - start
    start = time.perf_counter()
    for data in encoded:  # the writer's validation reads each JPEG header
        with Image.open(io.BytesIO(data)) as image:
            image.size  # noqa: B018 - parsing the header is the cost being measured
    validate = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # reading the photos: a JPEG decode each
        list(pool.map(lambda data: Image.open(io.BytesIO(data)).load(), encoded))
    read = time.perf_counter() - start

    batches = math.ceil(photo_count / batch_size)
    return warm_up + batches * (read + infer + encode + validate)
