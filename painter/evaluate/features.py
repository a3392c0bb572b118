"""Image features for FID / MiFID: Inception-v3's 2,048-value pool layer, or any Keras model.

Kaggle's scorer feeds 0-255 pixels to the 2015-12-05 TensorFlow Inception graph
(`classify_image_graph_def.pb`) and reads `pool_3`. That graph cannot run in Keras 3, so painter
uses `keras.applications.InceptionV3(include_top=False, pooling="avg")` with ImageNet weights: the
same architecture and layer (global average pool of the last mixed block, 2,048 values), images
resized bilinearly to 299x299 and scaled to [-1, 1] as that model expects. Its weights were
trained separately from the 2015 graph's, so absolute FID/MiFID numbers differ somewhat from the
leaderboard's; the formula (painter.evaluate.mifid) is Kaggle's, and comparisons between your own
runs are sound.

Random weights would give a meaningless score, so none is ever computed: without ImageNet weights
(offline, nothing cached) `load_feature_extractor` raises a PainterError saying how to supply them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from painter.errors import DataError, PainterError

WEIGHTS_FILENAME = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILENAME
)
WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # keras.applications.inception_v3's file_hash
INCEPTION_SIZE = (299, 299)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
KAGGLE_INPUT = Path("/kaggle/input")


class WeightsUnavailableError(PainterError, RuntimeError):
    """Inception's ImageNet weights cannot be found or downloaded."""


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights: $KERAS_HOME/models, else ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def _search_folder(folder: Path) -> Path | None:
    """WEIGHTS_FILENAME anywhere under `folder`, else its only .h5 file, else None."""
    matches = sorted(folder.rglob(WEIGHTS_FILENAME))
    if matches:
        return matches[0]
    h5_files = sorted(folder.rglob("*.h5"))
    return h5_files[0] if len(h5_files) == 1 else None


def _how_to_supply() -> str:
    return (
        f"Download {WEIGHTS_URL} on a machine with internet and either put it in "
        f"{keras_cache_dir()} (keeping the name {WEIGHTS_FILENAME}) or pass its path with "
        "--weights FILE (weights=... in Python); on Kaggle, attach a dataset or model holding "
        "that "
        f"file and pass its folder under {KAGGLE_INPUT}. painter never scores with random weights."
    )


def resolve_inception_weights(weights: str | os.PathLike | None = None) -> Path:
    """The ImageNet weights file for InceptionV3 without its top.

    `weights` may be the file, or a folder (e.g. a Kaggle dataset/model input) holding it. Without
    it: Keras' cache, then /kaggle/input, then a download into Keras' cache. Raises
    WeightsUnavailableError, with instructions, when none of these works."""
    if weights is not None:
        path = Path(weights)
        if path.is_file():
            return path
        if path.is_dir():
            found = _search_folder(path)
            if found is not None:
                return found
            raise WeightsUnavailableError(
                f"{path} holds neither {WEIGHTS_FILENAME} nor a single .h5 file. "
                + _how_to_supply()
            )
        raise WeightsUnavailableError(
            f"the weights file {path} does not exist. " + _how_to_supply()
        )
    cached = keras_cache_dir() / WEIGHTS_FILENAME
    if cached.is_file():
        return cached
    if KAGGLE_INPUT.is_dir():
        matches = sorted(KAGGLE_INPUT.glob(f"**/{WEIGHTS_FILENAME}"))
        if matches:
            return matches[0]
    import keras

    try:
        downloaded = keras.utils.get_file(
            WEIGHTS_FILENAME,
            WEIGHTS_URL,
            cache_dir=str(keras_cache_dir().parent),
            cache_subdir="models",
            file_hash=WEIGHTS_MD5,
        )
    except Exception as error:  # noqa: BLE001  (get_file raises bare Exception when offline)
        raise WeightsUnavailableError(
            f"Inception-v3's ImageNet weights are not in {keras_cache_dir()} and could not be "
            f"downloaded ({error}). " + _how_to_supply()
        ) from error
    return Path(downloaded)


@dataclass
class FeatureExtractor:
    """A Keras model mapping float32 0-255 pixels [N, H, W, 3] (any size: it resizes) to features
    [N, D], and a description for reports."""

    model: Any
    description: str

    def extract(
        self,
        images: Iterable[tuple[str, np.ndarray]],
        *,
        batch_size: int = 32,
        progress: str | None = None,
    ) -> np.ndarray:
        """Features [N, D] (float64) of `(name, uint8 [H, W, 3])` images, in order, batch by batch.

        Consecutive images of equal size share a batch (a size change starts a new one), so images
        of any size work and memory holds one batch. `progress` labels a count printed to stderr
        every 1,000 images."""
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1; got {batch_size}.")
        outputs: list[np.ndarray] = []
        batch: list[np.ndarray] = []
        count = 0

        def flush() -> None:
            nonlocal count
            if batch:
                features = np.asarray(self.model.predict_on_batch(np.stack(batch)))
                if features.ndim != 2:
                    raise DataError(
                        f"the feature model {self.description} returns shape {features.shape}; "
                        "it must return [images, features] (add global pooling, e.g. "
                        'pooling="avg").'
                    )
                outputs.append(features.astype(np.float64))
                if progress and (count + len(batch)) // 1000 > count // 1000:
                    print(f"{progress}: {count + len(batch)} images", file=sys.stderr, flush=True)
                count += len(batch)
                batch.clear()

        for name, image in images:
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[-1] != 3:
                raise DataError(f"image {name} has shape {image.shape}; expected [H, W, 3].")
            if batch and (image.shape != batch[0].shape or len(batch) >= batch_size):
                flush()
            batch.append(image.astype(np.float32))
        flush()
        if progress:
            print(f"{progress}: {count} images, done", file=sys.stderr, flush=True)
        if not outputs:
            raise DataError("no images to extract features from.")
        return np.concatenate(outputs, axis=0)


def _wrap(model: Any, image_size: tuple[int, int] | None, scale: bool, description: str):
    """Input of any size (0-255) -> [resize] -> [scale to [-1, 1]] -> model."""
    import keras

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="pixels_0_255")
    x = inputs
    if image_size is not None:
        x = keras.layers.Resizing(*image_size, interpolation="bilinear", name="resize")(x)
    if scale:
        # keras.applications.inception_v3.preprocess_input: x / 127.5 - 1
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="inception_preprocess")(x)
    outputs = model(x)
    return FeatureExtractor(keras.Model(inputs, outputs, name="feature_extractor"), description)


def _model_image_size(model: Any) -> tuple[int, int] | None:
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list):
        shape = shape[0]
    if shape is None or len(shape) != 4 or shape[-1] != 3:
        raise DataError(
            f"the feature model {getattr(model, 'name', model)} takes input shape {shape}; it must "
            "take images [batch, height, width, 3]."
        )
    height, width = shape[1], shape[2]
    return (int(height), int(width)) if height and width else None


def load_feature_extractor(
    weights: str | os.PathLike | None = None, model: Any = None
) -> FeatureExtractor:
    """Inception-v3 (ImageNet weights, pool layer, 2,048 features) or the Keras `model` given
    (a model, or a path to a `.keras`/`.h5` file) as a FeatureExtractor.

    A custom model receives float32 0-255 pixels, resized to its input size when it declares one
    (as Kaggle feeds 0-255 to its graph): put any preprocessing inside the model."""
    import keras

    if model is not None:
        if weights is not None:
            raise PainterError("give either a feature model or Inception weights, not both.")
        if isinstance(model, (str, os.PathLike)):
            path = Path(model)
            if not path.is_file():
                raise DataError(f"the feature model file {path} does not exist.")
            try:
                model = keras.saving.load_model(path, compile=False)
            except Exception as error:  # noqa: BLE001  (Keras raises many kinds for bad files)
                raise DataError(
                    f"cannot load the feature model {path}: {error}. Save it with "
                    "model.save('name.keras')."
                ) from error
            description = str(path)
        else:
            description = f"Keras model {getattr(model, 'name', type(model).__name__)}"
        return _wrap(model, _model_image_size(model), scale=False, description=description)

    weights_path = resolve_inception_weights(weights)
    with open(weights_path, "rb") as stream:
        if stream.read(8) != HDF5_SIGNATURE:  # checked before building the 22M-weight network
            raise WeightsUnavailableError(
                f"{weights_path} is not an HDF5 weights file; it must be Keras' "
                f"{WEIGHTS_FILENAME}. " + _how_to_supply()
            )
    try:
        inception = keras.applications.InceptionV3(
            include_top=False,
            pooling="avg",
            weights=str(weights_path),
            input_shape=(*INCEPTION_SIZE, 3),
        )
    except Exception as error:  # noqa: BLE001  (h5py/Keras errors for a wrong or broken file)
        raise WeightsUnavailableError(
            f"cannot load {weights_path} into InceptionV3(include_top=False): {error}. It must be "
            f"Keras' {WEIGHTS_FILENAME}. " + _how_to_supply()
        ) from error
    return _wrap(
        inception,
        INCEPTION_SIZE,
        scale=True,
        description=f"InceptionV3 ImageNet pool (2048) from {weights_path}",
    )
