"""painter: unpaired image-to-image translation (CycleGAN) with Keras 3 on TPU, GPU or CPU.

Built for Kaggle's "I'm Something of a Painter Myself": photos in, Monet paintings out, images.zip
written inside one TPU session. Works for any two image folders.

Importing `painter` loads neither Keras nor TensorFlow: choose the runtime first
(`painter.select_runtime()`), then use the rest. Public names load lazily on first use.

painter's Keras layers register themselves with Keras (`painter.models.layers`, `.strided`), so that
`keras.saving.load_model("monet_generator.keras")` finds them. After `import painter` that works
whichever of the two was imported first: if Keras is loaded already they register now, otherwise
right after Keras finishes loading (`_RegisterLayersAfterKeras`), without importing it early.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access, after the runtime is chosen)
_LAZY = {
    "Config": "painter.config",
    "preset": "painter.config",
    "PainterError": "painter.errors",
    "select_runtime": "painter.runtime",
    "train": "painter.training.train",
    "CycleGAN": "painter.cyclegan.model",
    "submit": "painter.submission.submitter",
    "write_submission": "painter.submission.writer",
    "validate_submission": "painter.submission.validate",
    "stylize": "painter.submission.stylize",
    "mifid_from_features": "painter.evaluate.mifid",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'painter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


# --- painter's layers for keras.saving.load_model ------------------------------------------------


def _register_layers() -> None:
    # importing the module runs its @keras.saving.register_keras_serializable decorators
    importlib.import_module("painter.models.layers")
    importlib.import_module("painter.models.strided")


class _RegisterLayersAfterKeras(importlib.abc.MetaPathFinder):
    """An import hook that finds no module itself: when `keras` is imported, it wraps the loader
    of the spec the other finders return so that painter's layers register right after Keras has
    loaded (with the backend the runtime chose), then removes itself from `sys.meta_path`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_keras = spec.loader.exec_module

        def exec_then_register(module) -> None:
            exec_keras(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register_layers()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    _register_layers()
elif not any(isinstance(finder, _RegisterLayersAfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterLayersAfterKeras())
