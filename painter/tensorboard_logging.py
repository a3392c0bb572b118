"""Optional TensorBoard logging: every epoch's scalars and a few translated samples.

`tensorboard_callback(log_dir, sample_photos=...)` returns a `keras.callbacks.Callback` that writes
with `tf.summary` (TensorFlow is always installed for tf.data), so it works on both Keras
backends; Keras' own `keras.callbacks.TensorBoard` does not log on JAX. View with
`tensorboard --logdir LOG_DIR`. Keras is imported only when a callback is made.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from painter.data.images import pixels_to_model_range, to_uint8

_CLASS: type | None = None


def _to_unit_range(images: Any) -> np.ndarray:
    """[-1, 1] floats or uint8 -> float32 [0, 1], as tf.summary.image expects."""
    return to_uint8(np.asarray(images)).astype(np.float32) / 255.0


def _callback_class() -> type:
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import keras

    class TensorBoardLogger(keras.callbacks.Callback):
        """Writes each epoch's logged scalars (losses, lr, ...) and, given `sample_photos`,
        `real_photo` (once) and `fake_monet = model(real_photo)` images every `image_every`
        epochs to a TensorBoard event file in `log_dir`. Steps are 1-based epoch numbers."""

        def __init__(
            self,
            log_dir: str | os.PathLike,
            *,
            sample_photos: Any = None,
            image_every: int = 1,
            max_images: int = 4,
        ):
            super().__init__()
            if image_every < 1:
                raise ValueError(f"image_every must be at least 1; got {image_every}.")
            self.log_dir = str(log_dir)
            self.sample_photos = None if sample_photos is None else np.asarray(sample_photos)
            self.image_every = image_every
            self.max_images = max_images
            self._writer = None

        def _get_writer(self):
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            return self._writer

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            import tensorflow as tf

            step = epoch + 1
            writer = self._get_writer()
            with writer.as_default():
                for name, value in (logs or {}).items():
                    try:
                        number = float(np.asarray(value))
                    except (TypeError, ValueError):
                        continue  # only scalars are plotted
                    if math.isfinite(number):
                        tf.summary.scalar(name, number, step=step)
                if self.sample_photos is not None and (step == 1 or step % self.image_every == 0):
                    real_photo = self.sample_photos[: self.max_images]
                    if step == 1:
                        tf.summary.image(
                            "real_photo",
                            _to_unit_range(real_photo),
                            step=step,
                            max_outputs=len(real_photo),
                        )
                    photos = real_photo
                    if photos.dtype == np.uint8:  # the model takes [-1, 1]
                        photos = pixels_to_model_range(photos)
                    fake_monet = keras.ops.convert_to_numpy(self.model(photos, training=False))
                    tf.summary.image(
                        "fake_monet", _to_unit_range(fake_monet), step=step, max_outputs=len(photos)
                    )
            writer.flush()

        def on_train_end(self, logs: dict | None = None) -> None:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    _CLASS = TensorBoardLogger
    return _CLASS


def tensorboard_callback(
    log_dir: str | os.PathLike,
    *,
    sample_photos: Any = None,
    image_every: int = 1,
    max_images: int = 4,
):
    """A Keras callback logging scalars (and, with `sample_photos` [N, H, W, 3] in [-1, 1] or
    uint8, `model(sample_photos)` images every `image_every` epochs) to TensorBoard in `log_dir`.
    Works on the TensorFlow and the JAX backend."""
    return _callback_class()(
        log_dir, sample_photos=sample_photos, image_every=image_every, max_images=max_images
    )


def __getattr__(name: str) -> Any:
    if name == "TensorBoardLogger":
        return _callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
